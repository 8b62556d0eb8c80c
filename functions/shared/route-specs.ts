/**
 * Every route's spec, imported statically (bundlers need static imports): the OpenAPI document is generated from
 * these. test/unit/functions/openapi.test.ts checks that the list matches functions/api/routes.ts.
 */

import { route as createModel } from '../api/create-model.js';
import { route as createProject } from '../api/create-project.js';
import { route as createVersion } from '../api/create-version.js';
import { route as deleteModel } from '../api/delete-model.js';
import { route as deleteModelEndpoint } from '../api/delete-model-endpoint.js';
import { route as deleteProject } from '../api/delete-project.js';
import { route as deleteSecret } from '../api/delete-secret.js';
import { route as deleteVersion } from '../api/delete-version.js';
import { route as deployVersion } from '../api/deploy-version.js';
import { route as getArtifact } from '../api/get-artifact.js';
import { route as getDeployment } from '../api/get-deployment.js';
import { route as getEndpointLogs } from '../api/get-endpoint-logs.js';
import { route as getEnvironment } from '../api/get-environment.js';
import { route as getHealth } from '../api/get-health.js';
import { route as getModel } from '../api/get-model.js';
import { route as getModelEndpoint } from '../api/get-model-endpoint.js';
import { route as getProject } from '../api/get-project.js';
import { route as getSecret } from '../api/get-secret.js';
import { route as getVersion } from '../api/get-version.js';
import { route as getVersionEndpoint } from '../api/get-version-endpoint.js';
import { route as listEndpointDeployments } from '../api/list-endpoint-deployments.js';
import { route as listEnvironments } from '../api/list-environments.js';
import { route as listModelEndpoints } from '../api/list-model-endpoints.js';
import { route as listModels } from '../api/list-models.js';
import { route as listProjects } from '../api/list-projects.js';
import { route as listSecrets } from '../api/list-secrets.js';
import { route as listVersionEndpoints } from '../api/list-version-endpoints.js';
import { route as listVersions } from '../api/list-versions.js';
import { route as patchModel } from '../api/patch-model.js';
import { route as patchProject } from '../api/patch-project.js';
import { route as patchVersion } from '../api/patch-version.js';
import { route as postArtifactAction } from '../api/post-artifact-action.js';
import { route as putModelEndpoint } from '../api/put-model-endpoint.js';
import { route as putSecret } from '../api/put-secret.js';
import { route as redeployVersion } from '../api/redeploy-version.js';
import { route as undeployVersion } from '../api/undeploy-version.js';

export const ROUTE_SPECS = [
  getHealth,
  listEnvironments,
  getEnvironment,
  createProject,
  listProjects,
  getProject,
  patchProject,
  deleteProject,
  createModel,
  listModels,
  getModel,
  patchModel,
  deleteModel,
  createVersion,
  listVersions,
  getVersion,
  patchVersion,
  deleteVersion,
  postArtifactAction,
  getArtifact,
  deployVersion,
  listVersionEndpoints,
  getVersionEndpoint,
  redeployVersion,
  undeployVersion,
  listEndpointDeployments,
  getEndpointLogs,
  listModelEndpoints,
  getModelEndpoint,
  putModelEndpoint,
  deleteModelEndpoint,
  getDeployment,
  listSecrets,
  putSecret,
  getSecret,
  deleteSecret,
];
