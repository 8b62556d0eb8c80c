import { listEnvironments } from '../../core/use-cases/environments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/environments',
  summary: 'List the environments (clusters) versions can be deployed into',
  main: ({ deps }) => listEnvironments(deps),
});
export const handler = httpHandler(route);
