import { endpointPath, versionEndpoint } from '../../core/schemas/index.js';
import { getEndpoint } from '../../core/use-cases/endpoints.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}',
  summary: 'Get a version endpoint',
  responses: { 200: versionEndpoint },
  params: endpointPath,
  main: ({ deps, params }) => getEndpoint(deps, params),
});
export const handler = httpHandler(route);
