import { createModelBody, model, projectPath } from '../../core/schemas/index.js';
import { createModel } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'POST',
  path: '/v1/projects/{project}/models',
  summary: 'Create a model in a project',
  responses: { 201: model },
  params: projectPath,
  body: createModelBody,
  main: async ({ deps, params, body }) => {
    const model = await createModel(deps, params, body);
    return respond(201, model, { location: `/v1/projects/${model.project}/models/${model.name}` });
  },
});
export const handler = httpHandler(route);
