import { model, modelPath } from '../../core/schemas/index.js';
import { getModel } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}',
  summary: 'Get a model',
  responses: { 200: model },
  params: modelPath,
  main: ({ deps, params }) => getModel(deps, params),
});
export const handler = httpHandler(route);
