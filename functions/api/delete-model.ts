import { modelPath } from '../../core/schemas/index.js';
import { deleteModel } from '../../core/use-cases/deletion.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}/models/{model}',
  summary: 'Delete a model with its versions, endpoints records and files; 409 naming them while endpoints are active',
  responses: { 204: null },
  params: modelPath,
  main: async ({ deps, params, ifMatch }) => {
    await deleteModel(deps, params, ifMatch);
    return respond(204);
  },
});
export const handler = httpHandler(route);
