import { versionPath } from '../../core/schemas/index.js';
import { deleteVersion } from '../../core/use-cases/deletion.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}/models/{model}/versions/{version}',
  summary: 'Delete a version and its files (its number is never reused); 409 naming them while endpoints are active',
  responses: { 204: null },
  params: versionPath,
  main: async ({ deps, params, ifMatch }) => {
    await deleteVersion(deps, params, ifMatch);
    return respond(204);
  },
});
export const handler = httpHandler(route);
