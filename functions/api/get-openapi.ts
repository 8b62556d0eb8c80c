import * as z from 'zod';
import { defineRoute, httpHandler } from '../shared/http-handler.js';
import { buildOpenApi } from '../shared/openapi.js';
import { ROUTE_SPECS } from '../shared/route-specs.js';

let document: unknown;

export const route = defineRoute({
  method: 'GET',
  path: '/v1/openapi.json',
  summary: 'This API as an OpenAPI 3.1 document, generated from its zod schemas',
  responses: { 200: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }) },
  main: () => {
    document ??= buildOpenApi([...ROUTE_SPECS, route], { version: '1' });
    return document;
  },
});
export const handler = httpHandler(route);
