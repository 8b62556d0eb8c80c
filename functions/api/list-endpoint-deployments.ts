import { deployment, endpointPath, listQuery, page } from '../../core/schemas/index.js';
import { listDeployments } from '../../core/use-cases/deployments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}/deployments',
  summary: 'Deployment history of a version endpoint, newest first',
  responses: { 200: page(deployment) },
  params: endpointPath,
  query: listQuery,
  main: ({ deps, params, query }) => listDeployments(deps, params, query),
});
export const handler = httpHandler(route);
