import { listQuery, page, project } from '../../core/schemas/index.js';
import { listProjects } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects',
  summary: 'List projects (name prefix search, cursor pagination)',
  responses: { 200: page(project) },
  query: listQuery,
  main: ({ deps, query }) => listProjects(deps, query),
});
export const handler = httpHandler(route);
