import { deployBody, deployment, versionPath } from '../../core/schemas/index.js';
import { deployVersion } from '../../core/use-cases/endpoints.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'POST',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints',
  summary: 'Deploy a version into an environment; answers 202 with the Deployment',
  responses: { 202: deployment },
  params: versionPath,
  body: deployBody,
  bodyOptional: true,
  main: async ({ deps, params, body }) => {
    const d = await deployVersion(deps, params, body);
    return respond(202, d, { location: `/v1/deployments/${d.id}` });
  },
});
export const handler = httpHandler(route);
