import { model, modelPath, patchModelBody } from '../../core/schemas/index.js';
import { updateModel } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PATCH',
  path: '/v1/projects/{project}/models/{model}',
  summary: 'Change a model’s description or labels (its name and type never change)',
  responses: { 200: model },
  params: modelPath,
  body: patchModelBody,
  main: ({ deps, params, body, ifMatch }) => updateModel(deps, params, body, ifMatch),
});
export const handler = httpHandler(route);
