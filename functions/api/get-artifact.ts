import { artifactView, versionPath } from '../../core/schemas/index.js';
import { getArtifact } from '../../core/use-cases/artifacts.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/artifact',
  summary: 'The artifact manifest with presigned GET URLs',
  responses: { 200: artifactView },
  params: versionPath,
  main: ({ deps, params }) => getArtifact(deps, params),
});
export const handler = httpHandler(route);
