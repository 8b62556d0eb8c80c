import { deployment, endpointPath } from '../../core/schemas/index.js';
import { undeployVersion } from '../../core/use-cases/endpoints.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}/models/{model}/versions/{version}/endpoints/{environment}',
  summary: 'Undeploy a version endpoint; answers 202 with the Deployment',
  responses: { 202: deployment },
  params: endpointPath,
  main: async ({ deps, params }) => {
    const d = await undeployVersion(deps, params);
    return respond(202, d, { location: `/v1/deployments/${d.id}` });
  },
});
export const handler = httpHandler(route);
