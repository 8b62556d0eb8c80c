import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import * as getOpenApi from '../../../functions/api/get-openapi.js';
import { API_ROUTES } from '../../../functions/api/routes.js';
import { ROUTE_SPECS } from '../../../functions/shared/route-specs.js';
import { callRoute } from '../../fakes/index.js';

describe('OpenAPI 3.1 document (GET /v1/openapi.json)', () => {
  it('should be generated from every route of the route table, and only those', () => {
    const specs = [...ROUTE_SPECS, getOpenApi.route].map((r) => `${r.method} ${r.path}`).sort();
    expect(specs).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('should be a valid OpenAPI 3.1 document', async () => {
    const res = await callRoute(getOpenApi);
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const result = await new Validator().validate(res.body);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('should describe each route: parameters, body, success and error answers, unique operation ids', async () => {
    const doc = (await callRoute(getOpenApi)).body;
    const ids = new Set<string>();
    for (const r of API_ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      ids.add(op.operationId);
      for (const name of r.path.match(/\{([^}]+)\}/g) ?? []) {
        expect(
          op.parameters.map((p: { name: string }) => `{${p.name}}`),
          r.path,
        ).toContain(name);
      }
      expect(op.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      if (r.method === 'POST') expect(op.parameters.map((p: { name: string }) => p.name)).toContain('Idempotency-Key');
    }
    expect(ids.size).toBe(API_ROUTES.length);
    expect(doc.paths['/v1/projects'].post.requestBody.content['application/json'].schema.required).toEqual(['name']);
    expect(doc.paths['/v1/projects'].post.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Project',
    });
  });
});
