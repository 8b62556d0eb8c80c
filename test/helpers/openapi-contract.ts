/**
 * Checks API answers against the OpenAPI document the platform serves (GET /v1/openapi.json): the e2e tests validate
 * every response they receive through `http()` once `enableContract(baseUrl)` ran.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>> };

export interface Contract {
  check(method: string, url: string, status: number, body: unknown): void;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export function contractFrom(doc: Doc): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(doc as object, 'openapi.json');
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
    literals: template.split('/').filter((s) => !s.startsWith('{')).length,
  }));
  templates.sort((a, b) => b.literals - a.literals);
  return {
    check(method, url, status, body) {
      const path = new URL(url).pathname;
      const m = method.toLowerCase();
      const found = templates.find((t) => t.regex.test(path) && doc.paths[t.template]?.[m]);
      if (!found) {
        // No such operation: the gateway's own 404/405, which must still have the error shape.
        if (status !== 404 && status !== 405) throw new Error(`OpenAPI: no operation for ${method} ${path}`);
        const validateError = ajv.getSchema('openapi.json#/components/schemas/Error');
        if (!validateError?.(body)) throw new Error(`OpenAPI: ${method} ${path} → ${status} is not an Error body`);
        return;
      }
      const responses = doc.paths[found.template]![m]!.responses;
      const documented = responses[String(status)] ?? responses.default;
      if (!documented) throw new Error(`OpenAPI: ${method} ${found.template} does not document status ${status}`);
      if (!documented.content) {
        if (body !== undefined && body !== '')
          throw new Error(`OpenAPI: ${method} ${found.template} ${status} has no body`);
        return;
      }
      const ref = `openapi.json#/${pointer('paths', found.template, m, 'responses', String(status) in responses ? String(status) : 'default', 'content', 'application/json', 'schema')}`;
      const validate = ajv.getSchema(ref);
      if (!validate) throw new Error(`OpenAPI: cannot resolve ${ref}`);
      if (!validate(body)) {
        throw new Error(
          `OpenAPI: ${method} ${path} → ${status} does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
        );
      }
    },
  };
}

const contracts = new Map<string, Contract>();

/** From now on, `http()` validates every answer from `baseUrl`'s /v1 API against the served OpenAPI document. */
export async function enableContract(baseUrl: string): Promise<void> {
  const res = await fetch(`${baseUrl}/v1/openapi.json`);
  if (!res.ok) throw new Error(`GET /v1/openapi.json answered ${res.status}`);
  contracts.set(new URL(baseUrl).origin, contractFrom((await res.json()) as Doc));
}

export function contractFor(url: string): Contract | undefined {
  const u = new URL(url);
  return u.pathname.startsWith('/v1/') ? contracts.get(u.origin) : undefined;
}
