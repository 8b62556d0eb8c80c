/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (DESIGN §4: never written by hand). Named entity
 * schemas become components; request bodies and parameters use the schemas' input side, responses their output side.
 */
import * as z from 'zod';
import {
  deployment,
  environmentView,
  errorBody,
  model,
  modelEndpoint,
  modelVersion,
  project,
  versionEndpoint,
} from '../../core/schemas/index.js';
import type { RouteSpec } from './http-handler.js';

type AnyRoute = RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;
type JsonSchema = Record<string, unknown>;

const NAMED: [z.ZodType, string][] = [
  [project, 'Project'],
  [model, 'Model'],
  [modelVersion, 'ModelVersion'],
  [versionEndpoint, 'VersionEndpoint'],
  [modelEndpoint, 'ModelEndpoint'],
  [deployment, 'Deployment'],
  [environmentView, 'Environment'],
  [errorBody, 'Error'],
];

/** Error answers every route may give, and their meaning (DESIGN §4). */
const ERRORS: Record<number, string> = {
  400: 'The request is malformed: the message names the field and the rule',
  404: 'A named resource does not exist',
  409: 'Conflict: a duplicate, or a state that forbids the request (the message says what to wait for or do)',
  412: 'If-Match does not match the current revision (ETag)',
  422: 'Well-formed but impossible: e.g. an unknown environment, a checksum mismatch, a reused Idempotency-Key',
  503: 'A dependency (database, storage, workflow engine, cluster) is unavailable; retry',
};

export function buildOpenApi(routes: AnyRoute[], info: { version: string }) {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of NAMED) registry.add(schema, { id });
  const components: Record<string, JsonSchema> = {};

  /** JSON Schema of one zod schema; named sub-schemas are lifted into components and referenced. */
  const convert = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const json = z.toJSONSchema(schema, {
      io,
      metadata: registry,
      unrepresentable: 'any',
      target: 'draft-2020-12',
    }) as JsonSchema & { $defs?: Record<string, JsonSchema>; $schema?: string };
    const { $defs, $schema: _drop, ...rest } = json;
    const named = registry.get(schema)?.id;
    for (const [id, def] of Object.entries($defs ?? {})) components[id] ??= rewrite(def) as JsonSchema;
    if (named && io === 'output') {
      components[named] ??= rewrite(rest) as JsonSchema;
      return { $ref: `#/components/schemas/${named}` };
    }
    return rewrite(rest) as JsonSchema;
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!(schema instanceof z.ZodObject)) continue;
      for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        const optional = field.safeParse(undefined).success;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || !optional,
          schema: convert(field, 'input'),
        });
      }
    }
    if (route.method === 'POST') {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Same key and same request within 24 h ⇒ the same answer, carried out once',
        schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,255}$' },
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      responses[status] = {
        description: route.summary,
        ...(schema && { content: { 'application/json': { schema: convert(schema, 'output') } } }),
      };
    }
    for (const [status, description] of Object.entries(ERRORS)) {
      responses[status] = { description, content: { 'application/json': { schema: convert(errorBody, 'output') } } };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: operationId(route),
      ...(parameters.length > 0 && { parameters }),
      ...(route.body && {
        requestBody: {
          required: !route.bodyOptional,
          content: { 'application/json': { schema: convert(route.body, 'input') } },
        },
      }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Merlin Serverless control plane',
      version: info.version,
      description: 'Projects, models, versions, artifacts, deployments and routing of a model-serving platform.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: { schemas: components },
  };
}

/** `$ref: "#/$defs/X"` (zod's local definitions) → `#/components/schemas/X`. */
function rewrite(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewrite);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : rewrite(v),
      ]),
    );
  }
  return value;
}

const operationId = (route: AnyRoute): string =>
  `${route.method.toLowerCase()}${route.path
    .replace(/\{([^}]+)\}/g, 'By-$1')
    .split(/[/:-]/)
    .filter(Boolean)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join('')}`;
