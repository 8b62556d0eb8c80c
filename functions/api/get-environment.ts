import * as z from 'zod';
import { environmentName, environmentView } from '../../core/schemas/index.js';
import { getEnvironment } from '../../core/use-cases/environments.js';
import { defineRoute, httpHandler } from '../shared/http-handler.js';

export const route = defineRoute({
  method: 'GET',
  path: '/v1/environments/{environment}',
  summary: 'Get one environment',
  responses: { 200: environmentView },
  params: z.object({ environment: environmentName }),
  main: ({ deps, params }) => getEnvironment(deps, params.environment),
});
export const handler = httpHandler(route);
