import { endpointLogs, endpointPath, logsQuery } from '../../core/schemas/index.js';
import { getEndpointLogs } from '../../core/use-cases/logs.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}/logs',
  summary: 'Recent output of the endpoint’s model server (?tail=100&since=15m, or since=<time>)',
  responses: { 200: endpointLogs },
  params: endpointPath,
  query: logsQuery,
  main: ({ deps, params, query }) => getEndpointLogs(deps, params, query),
});
export const handler = httpHandler(route);
