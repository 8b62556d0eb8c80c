import { modelVersion, versionPath } from '../../core/schemas/index.js';
import { getVersion } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}',
  summary: 'Get a model version',
  responses: { 200: modelVersion },
  params: versionPath,
  main: ({ deps, params }) => getVersion(deps, params),
});
export const handler = httpHandler(route);
