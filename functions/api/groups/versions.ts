/** The `versions` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as createVersion from '../create-version.js';
import * as deleteVersion from '../delete-version.js';
import * as getArtifact from '../get-artifact.js';
import * as getVersion from '../get-version.js';
import * as listVersions from '../list-versions.js';
import * as patchVersion from '../patch-version.js';
import * as postArtifactAction from '../post-artifact-action.js';

export const handler = routeGroup('versions', [
  createVersion,
  listVersions,
  getVersion,
  patchVersion,
  deleteVersion,
  postArtifactAction,
  getArtifact,
]);
