import { modelVersion, patchVersionBody, versionPath } from '../../core/schemas/index.js';
import { updateVersion } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PATCH',
  path: '/v1/projects/{project}/models/{model}/versions/{version}',
  summary: 'Replace a version’s labels, params, metrics, tags or properties (its artifact never changes)',
  responses: { 200: modelVersion },
  params: versionPath,
  body: patchVersionBody,
  main: ({ deps, params, body, ifMatch }) => updateVersion(deps, params, body, ifMatch),
});
export const handler = httpHandler(route);
