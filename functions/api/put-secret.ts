import { putSecretBody, secret, secretPath } from '../../core/schemas/index.js';
import { putSecret } from '../../core/use-cases/secrets.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PUT',
  path: '/v1/projects/{project}/secrets/{name}',
  summary:
    'Create or replace a project secret (201/200; If-Match: the ETag you read); answers metadata, never the value',
  responses: { 201: secret, 200: secret },
  params: secretPath,
  body: putSecretBody,
  main: async ({ deps, params, body, ifMatch }) => {
    const { secret: saved, created } = await putSecret(deps, params, body, ifMatch);
    return respond(created ? 201 : 200, saved, {
      location: `/v1/projects/${saved.project}/secrets/${encodeURIComponent(saved.name)}`,
    });
  },
});
export const handler = httpHandler(route);
