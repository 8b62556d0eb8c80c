import { modelEndpoint, modelEndpointPath } from '../../core/schemas/index.js';
import { getModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
  summary: 'Get the model endpoint of a model in an environment',
  responses: { 200: modelEndpoint },
  params: modelEndpointPath,
  main: ({ deps, params }) => getModelEndpoint(deps, params),
});
export const handler = httpHandler(route);
