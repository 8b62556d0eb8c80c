import { createVersionBody, modelPath, modelVersion } from '../../core/schemas/index.js';
import { createVersion } from '../../core/use-cases/catalog.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'POST',
  path: '/v1/projects/{project}/models/{model}/versions',
  summary: 'Create the next version of a model (labels, params, metrics, tags, properties)',
  responses: { 201: modelVersion },
  params: modelPath,
  body: createVersionBody,
  bodyOptional: true,
  main: async ({ deps, params, body }) => {
    const v = await createVersion(deps, params, body);
    return respond(201, v, { location: `/v1/projects/${v.project}/models/${v.model}/versions/${v.version}` });
  },
});
export const handler = httpHandler(route);
