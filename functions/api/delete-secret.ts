import { secretPath } from '../../core/schemas/index.js';
import { deleteSecret } from '../../core/use-cases/secrets.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}/secrets/{name}',
  summary: 'Delete a project secret (204); 409 SECRET_IN_USE while a pending or running version endpoint maps it',
  responses: { 204: null },
  params: secretPath,
  main: async ({ deps, params, ifMatch }) => {
    await deleteSecret(deps, params, ifMatch);
    return respond(204);
  },
});
export const handler = httpHandler(route);
