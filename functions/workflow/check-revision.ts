import { checkRevision } from '../../core/use-cases/workflows.js';
import { workflowHandler } from '../shared/workflow-handler.js';
import { checkInput } from './inputs.js';

export const handler = workflowHandler(checkInput, checkRevision);
