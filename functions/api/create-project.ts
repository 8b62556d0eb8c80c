import { createProjectBody, project } from '../../core/schemas/index.js';
import { createProject } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'POST',
  path: '/v1/projects',
  summary: 'Create a project',
  responses: { 201: project },
  body: createProjectBody,
  main: async ({ deps, body }) => {
    const project = await createProject(deps, body);
    return respond(201, project, { location: `/v1/projects/${project.name}` });
  },
});
export const handler = httpHandler(route);
