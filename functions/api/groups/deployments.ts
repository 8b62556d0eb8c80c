/** The `deployments` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as deleteModelEndpoint from '../delete-model-endpoint.js';
import * as deployVersion from '../deploy-version.js';
import * as putModelEndpoint from '../put-model-endpoint.js';
import * as redeployVersion from '../redeploy-version.js';
import * as undeployVersion from '../undeploy-version.js';

export const handler = routeGroup('deployments', [
  deployVersion,
  redeployVersion,
  undeployVersion,
  putModelEndpoint,
  deleteModelEndpoint,
]);
