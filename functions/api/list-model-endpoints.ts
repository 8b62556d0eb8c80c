import { listQuery, modelEndpoint, modelPath, page } from '../../core/schemas/index.js';
import { listModelEndpoints } from '../../core/use-cases/model-endpoints.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/endpoints',
  summary: 'List the model endpoints of a model (one per environment)',
  responses: { 200: page(modelEndpoint) },
  params: modelPath,
  query: listQuery,
  main: ({ deps, params, query }) => listModelEndpoints(deps, params, query),
});
export const handler = httpHandler(route);
