import { putSecretBody, secret, secretPath } from '../../core/schemas/index.js';
import { putSecret } from '../../core/use-cases/secrets.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PUT',
  path: '/v1/projects/{project}/secrets/{name}',
  summary: 'Create or replace a project secret (201 created, 200 replaced); the answer is metadata, never the value',
  responses: { 201: secret, 200: secret },
  params: secretPath,
  body: putSecretBody,
  main: async ({ deps, params, body }) => {
    const { secret: saved, created } = await putSecret(deps, params, body);
    return respond(created ? 201 : 200, saved, {
      location: `/v1/projects/${saved.project}/secrets/${encodeURIComponent(saved.name)}`,
    });
  },
});
export const handler = httpHandler(route);
