import { project, projectPath } from '../../core/schemas/index.js';
import { getProject } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/projects/{project}',
  summary: 'Get a project',
  responses: { 200: project },
  params: projectPath,
  main: ({ deps, params }) => getProject(deps, params),
});
export const handler = httpHandler(route);
