import { deployment, modelEndpointPath } from '../../core/schemas/index.js';
import { deleteModelEndpoint } from '../../core/use-cases/model-endpoints.js';
import { defineRoute, httpHandler, respond } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'DELETE',
  path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
  summary: 'Take the model endpoint down (its versions keep running); answers 202 with the Deployment',
  responses: { 202: deployment },
  params: modelEndpointPath,
  main: async ({ deps, params, ifMatch }) => {
    const d = await deleteModelEndpoint(deps, params, ifMatch);
    return respond(202, d, { location: `/v1/deployments/${d.id}` });
  },
});
export const handler = httpHandler(route);
