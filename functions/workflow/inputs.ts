import * as z from 'zod';

/** What the state machines pass to their Task states (state carries ids, not blobs). */
export const idInput = z.object({ deploymentId: z.string().min(1) });
export const checkInput = idInput.extend({ deadline: z.iso.datetime() });
export const failureInput = idInput.extend({
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});
