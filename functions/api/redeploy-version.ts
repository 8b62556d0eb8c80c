import { deployment, endpointPath, redeployBody } from '../../core/schemas/index.js';
import { redeployVersion } from '../../core/use-cases/endpoints.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PATCH',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}',
  summary:
    'Redeploy with changed settings: a new revision while the current one keeps serving; 202 with the Deployment',
  responses: { 202: deployment },
  params: endpointPath,
  body: redeployBody,
  bodyOptional: true,
  main: async ({ deps, params, body, ifMatch }) => {
    const d = await redeployVersion(deps, params, body, ifMatch);
    return respond(202, d, { location: `/v1/deployments/${d.id}` });
  },
});
export const handler = httpHandler(route);
