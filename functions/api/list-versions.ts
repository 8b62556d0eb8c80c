import { modelPath, modelVersion, page, versionListQuery } from '../../core/schemas/index.js';
import { listVersions } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models/{model}/versions',
  summary: 'List the versions of a model, newest first',
  responses: { 200: page(modelVersion) },
  params: modelPath,
  query: versionListQuery,
  main: ({ deps, params, query }) => listVersions(deps, params, query),
});
export const handler = httpHandler(route);
