import { projectPath } from '../../core/schemas/index.js';
import { deleteProject } from '../../core/use-cases/deletion.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}',
  summary: 'Delete a project with its models, versions and files; 409 naming them while endpoints are active',
  responses: { 204: null },
  params: projectPath,
  main: async ({ deps, params, ifMatch }) => {
    await deleteProject(deps, params, ifMatch);
    return respond(204);
  },
});
export const handler = httpHandler(route);
