import { secret, secretPath } from '../../core/schemas/index.js';
import { getSecret } from '../../core/use-cases/secrets.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/secrets/{name}',
  summary: 'Get the metadata of a project secret (never its value)',
  responses: { 200: secret },
  params: secretPath,
  main: ({ deps, params }) => getSecret(deps, params),
});
export const handler = httpHandler(route);
