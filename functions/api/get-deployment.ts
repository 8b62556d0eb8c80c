import { deployment, deploymentPath } from '../../core/schemas/index.js';
import { getDeployment } from '../../core/use-cases/deployments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/deployments/{id}',
  summary: 'A deployment: status, steps with timings, error, execution reference',
  responses: { 200: deployment },
  params: deploymentPath,
  main: ({ deps, params }) => getDeployment(deps, params.id),
});
export const handler = httpHandler(route);
