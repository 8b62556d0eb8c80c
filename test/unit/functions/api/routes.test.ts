import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { API_ROUTES } from '../../../../functions/api/routes.js';

const API_DIR = new URL('../../../../functions/api/', import.meta.url);
const routeFiles = readdirSync(API_DIR)
  .filter((f) => f.endsWith('.ts') && f !== 'routes.ts')
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

interface RouteModule {
  route: { method: string; path: string; params?: z.ZodType };
  handler: unknown;
}
const load = (entry: string): Promise<RouteModule> => import(new URL(`${entry}.ts`, API_DIR).href);

describe('Route table: functions/api/routes.ts', () => {
  it('should list exactly the route files in functions/api, each once', () => {
    const entries = API_ROUTES.map((r) => r.entry);

    expect([...entries].sort()).toEqual(routeFiles);
    expect(new Set(entries).size).toBe(entries.length);
  });

  it('should not list the same method and path twice', () => {
    const keys = API_ROUTES.map((r) => `${r.method} ${r.path}`);

    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each(API_ROUTES.map((r) => [r.entry, r] as const))(
    'should match %s: its route.method and route.path equal the table entry, and it exports a handler',
    async (entry, row) => {
      const mod = await load(entry);

      expect({ method: mod.route.method, path: mod.route.path }).toEqual({ method: row.method, path: row.path });
      expect(typeof mod.handler).toBe('function');
    },
  );

  it.each(API_ROUTES.map((r) => [r.entry, r.path] as const))(
    'should parse exactly the path variables of %s',
    async (entry, path) => {
      const mod = await load(entry);
      const variables = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const shape = (mod.route.params as unknown as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};

      expect(Object.keys(shape).sort()).toEqual(variables);
    },
  );

  it('should start every path with /v1/ except the health check', () => {
    const outside = API_ROUTES.filter((r) => !r.path.startsWith('/v1/')).map((r) => r.path);

    expect(outside).toEqual(['/healthz']);
  });
});
