import { listQuery, page, projectPath, secret } from '../../core/schemas/index.js';
import { listSecrets } from '../../core/use-cases/secrets.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/secrets',
  summary: 'List the secrets of a project, metadata only (name prefix search, cursor pagination)',
  responses: { 200: page(secret) },
  params: projectPath,
  query: listQuery,
  main: ({ deps, params, query }) => listSecrets(deps, params, query),
});
export const handler = httpHandler(route);
