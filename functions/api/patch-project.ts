import { patchProjectBody, project, projectPath } from '../../core/schemas/index.js';
import { updateProject } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PATCH',
  path: '/v1/projects/{project}',
  summary: 'Change a project’s description or labels (If-Match: the ETag you read)',
  responses: { 200: project },
  params: projectPath,
  body: patchProjectBody,
  main: ({ deps, params, body, ifMatch }) => updateProject(deps, params, body, ifMatch),
});
export const handler = httpHandler(route);
