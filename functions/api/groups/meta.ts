/** The `meta` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as getEnvironment from '../get-environment.js';
import * as getHealth from '../get-health.js';
import * as getOpenapi from '../get-openapi.js';
import * as listEnvironments from '../list-environments.js';

export const handler = routeGroup('meta', [getHealth, getOpenapi, listEnvironments, getEnvironment]);
