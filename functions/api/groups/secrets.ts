/** The `secrets` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as deleteSecret from '../delete-secret.js';
import * as getSecret from '../get-secret.js';
import * as listSecrets from '../list-secrets.js';
import * as putSecret from '../put-secret.js';

export const handler = routeGroup('secrets', [listSecrets, putSecret, getSecret, deleteSecret]);
