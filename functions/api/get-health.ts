import { healthResponse } from '../../core/schemas/index.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/healthz',
  summary: 'Liveness of the control plane',
  responses: { 200: healthResponse },
  main: () => ({ status: 'ok' }),
});
export const handler = httpHandler(route);
