import { promoteRevision } from '../../core/use-cases/workflows.js';
import { workflowHandler } from '../shared/workflow-handler.js';
import { idInput } from './inputs.js';

export const handler = workflowHandler(idInput, promoteRevision, { endsDeployment: true });
