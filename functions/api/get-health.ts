import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/healthz',
  summary: 'Liveness of the control plane',
  main: () => ({ status: 'ok' }),
});
export const handler = httpHandler(route);
