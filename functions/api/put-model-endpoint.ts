import { deployment, modelEndpointPath, putModelEndpointBody } from '../../core/schemas/index.js';
import { putModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'PUT',
  path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
  summary: 'Set the routing rule of the model endpoint; answers 202 with the Deployment',
  responses: { 202: deployment },
  params: modelEndpointPath,
  body: putModelEndpointBody,
  main: async ({ deps, params, body, ifMatch }) => {
    const d = await putModelEndpoint(deps, params, body, ifMatch);
    return respond(202, d, { location: `/v1/deployments/${d.id}` });
  },
});
export const handler = httpHandler(route);
