import { environmentView, page } from '../../core/schemas/index.js';
import { listEnvironments } from '../../core/use-cases/environments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/environments',
  summary: 'List the environments (clusters) versions can be deployed into',
  responses: { 200: page(environmentView) },
  main: ({ deps }) => listEnvironments(deps),
});
export const handler = httpHandler(route);
