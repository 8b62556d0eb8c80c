/** The `endpoints` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as getDeployment from '../get-deployment.js';
import * as getEndpointLogs from '../get-endpoint-logs.js';
import * as getModelEndpoint from '../get-model-endpoint.js';
import * as getVersionEndpoint from '../get-version-endpoint.js';
import * as listEndpointDeployments from '../list-endpoint-deployments.js';
import * as listModelEndpoints from '../list-model-endpoints.js';
import * as listVersionEndpoints from '../list-version-endpoints.js';

export const handler = routeGroup('endpoints', [
  listVersionEndpoints,
  getVersionEndpoint,
  listEndpointDeployments,
  getEndpointLogs,
  listModelEndpoints,
  getModelEndpoint,
  getDeployment,
]);
