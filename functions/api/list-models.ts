import { listQuery, model, page, projectPath } from '../../core/schemas/index.js';
import { listModels } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}/models',
  summary: 'List the models of a project (name prefix search, cursor pagination)',
  responses: { 200: page(model) },
  params: projectPath,
  query: listQuery,
  main: ({ deps, params, query }) => listModels(deps, params, query),
});
export const handler = httpHandler(route);
