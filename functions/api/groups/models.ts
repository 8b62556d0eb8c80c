/** The `models` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as createModel from '../create-model.js';
import * as deleteModel from '../delete-model.js';
import * as getModel from '../get-model.js';
import * as listModels from '../list-models.js';
import * as patchModel from '../patch-model.js';

export const handler = routeGroup('models', [createModel, listModels, getModel, patchModel, deleteModel]);
