import { recordFailure } from '../../core/use-cases/workflows.js';
import { workflowHandler } from '../shared/workflow-handler.js';
import { failureInput } from './inputs.js';

export const handler = workflowHandler(failureInput, recordFailure, { endsDeployment: true });
