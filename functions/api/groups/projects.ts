/** The `projects` route group: one Lambda on AWS for these routes (functions/api/routes.ts). */

import { routeGroup } from '../../shared/http-handler.js';
import * as createProject from '../create-project.js';
import * as deleteProject from '../delete-project.js';
import * as getProject from '../get-project.js';
import * as listProjects from '../list-projects.js';
import * as patchProject from '../patch-project.js';

export const handler = routeGroup('projects', [createProject, listProjects, getProject, patchProject, deleteProject]);
