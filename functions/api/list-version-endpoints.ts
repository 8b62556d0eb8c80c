import { listQuery, page, versionEndpoint, versionPath } from '../../core/schemas/index.js';
import { listEndpoints } from '../../core/use-cases/endpoints.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints',
  summary: 'List the endpoints of a version (one per environment)',
  responses: { 200: page(versionEndpoint) },
  params: versionPath,
  query: listQuery,
  main: ({ deps, params, query }) => listEndpoints(deps, params, query),
});
export const handler = httpHandler(route);
