import { environmentView, listQuery, page } from '../../core/schemas/index.js';
import { listEnvironments } from '../../core/use-cases/environments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/environments',
  summary: 'List the environments (clusters) versions can be deployed into',
  responses: { 200: page(environmentView) },
  query: listQuery,
  main: ({ deps, query }) => listEnvironments(deps, query),
});
export const handler = httpHandler(route);
