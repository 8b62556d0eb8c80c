/**
 * The one factory behind every API handler: fixed middy stack (Powertools, headers, CORS, errors), zod parsing of
 * path/query/body, one error mapping. A route file is `defineRoute({...})` + `export const handler =
 * httpHandler(route)`; a route group (one Lambda per group on AWS, functions/api/groups/*) is
 * `routeGroup(group, [routeModule, ...])`, which hands each event to the handler of its route.
 */
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import type { Deps } from '../../core/ports.js';
import { parseOrThrow } from '../../core/validation.js';
import { API_ROUTES, type HttpMethod, type RouteGroup } from '../api/routes.js';
import { getDeps } from './container.js';
import { errorResponse, HttpError } from './http-errors.js';
import { idempotent } from './idempotency.js';
import { metrics, observability } from './observability.js';

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  /** The parsed JSON body when the route validates it itself (no `body` schema). */
  rawBody: unknown;
  /** The revision an `If-Match` header demands (undefined when absent or `*`). */
  ifMatch: number | undefined;
  headers: Record<string, string | undefined>;
  deps: Deps;
}

const RESPONSE = Symbol('http-response');

/** A handler may answer with a plain body (status from the route) or set status/headers itself with `respond`. */
export interface HttpResult {
  [RESPONSE]: true;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const respond = (status: number, body?: unknown, headers: Record<string, string> = {}): HttpResult => ({
  [RESPONSE]: true,
  status,
  body,
  headers,
});

export interface RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  method: HttpMethod;
  path: string;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  /** An absent body is read as `{}` (all fields optional). */
  bodyOptional?: boolean;
  /**
   * Every success status the route answers with and the schema of its body (null: no body). The single source of
   * the OpenAPI document's responses; a plain result is sent with the first status listed.
   */
  responses: Record<number, z.ZodType | null>;
  main: (input: RouteInput<P, Q, B>) => Promise<unknown> | unknown;
}

export const defineRoute = <
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  spec: RouteSpec<P, Q, B>,
) => spec;

const isHttpResult = (r: unknown): r is HttpResult => typeof r === 'object' && r !== null && RESPONSE in r;

const MAX_BODY_BYTES = 1024 * 1024;

function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === null || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  try {
    // JSON is accepted whatever the content-type says (curl -d sends form-urlencoded by default).
    return JSON.parse(text);
  } catch (e) {
    const type = event.headers?.['content-type'];
    if (type && !/^application\/(.+\+)?json\b/i.test(type)) {
      throw new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `send the body as JSON with content-type: application/json (got ${type})`,
      );
    }
    throw new ValidationError(`request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** `If-Match: "3"` (or `3`, `W/"3"`) → 3; `*` or absent → undefined. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?([1-9][0-9]{0,15})"?\s*$/.exec(header);
  if (!m) {
    throw new ValidationError(`If-Match must be the ETag of a previous response, like "3" (got ${header})`);
  }
  return Number(m[1]);
}

/** ETag of an entity: its revision (DESIGN §4 write safety). */
const etagOf = (body: unknown): Record<string, string> =>
  typeof body === 'object' && body !== null && typeof (body as { revision?: unknown }).revision === 'number'
    ? { etag: `"${(body as { revision: number }).revision}"` }
    : {};

export function httpHandler<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(route: RouteSpec<P, Q, B>) {
  const defaultStatus = Number(Object.keys(route.responses)[0] ?? 200);
  // Routes that start a workflow answer 202 with the Deployment they started (DESIGN §4).
  const startsDeployments = API_ROUTES.some(
    (r) => r.startsWorkflow && r.method === route.method && r.path === route.path,
  );

  const produce = async (event: APIGatewayProxyEventV2, raw: unknown): Promise<APIGatewayProxyStructuredResultV2> => {
    const params = route.params ? parseOrThrow(route.params, event.pathParameters ?? {}, 'path') : undefined;
    const query = route.query ? parseOrThrow(route.query, event.queryStringParameters ?? {}, 'query') : undefined;
    let body: unknown;
    if (route.body) {
      if (raw === undefined && !route.bodyOptional) throw new ValidationError('a JSON request body is required');
      body = parseOrThrow(route.body, raw ?? {}, 'body');
    }
    const result = await route.main({
      params: params as Infer<P>,
      query: query as Infer<Q>,
      body: body as Infer<B>,
      rawBody: raw,
      ifMatch: parseIfMatch(event.headers?.['if-match']),
      headers: event.headers ?? {},
      // Lazy: routes that need no adapters (health, OpenAPI) answer without any configuration.
      get deps() {
        return getDeps();
      },
    });
    const {
      status,
      body: out,
      headers,
    } = isHttpResult(result) ? result : { status: defaultStatus, body: result, headers: {} };
    return {
      statusCode: status,
      headers: { 'content-type': 'application/json', ...etagOf(out), ...headers },
      ...(out !== undefined && { body: JSON.stringify(out) }),
    };
  };

  const respondOnce = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const raw = parseBody(event);
    const key = event.headers?.['idempotency-key'];
    if (route.method !== 'POST' || key === undefined) return produce(event, raw);
    const requestId = event.requestContext?.requestId;
    return idempotent(
      getDeps().idempotency,
      { key, method: route.method, path: event.rawPath, body: raw ?? null, now: getDeps().clock.now() },
      () => produce(event, raw).catch((e) => errorResponse(e, requestId)),
    );
  };

  const run = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const response = await respondOnce(event);
    // A replayed idempotent answer (idempotent-replayed) started nothing new.
    if (startsDeployments && response.statusCode === 202 && !response.headers?.['idempotent-replayed']) {
      metrics().count('DeploymentStarted');
    }
    return response;
  };

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(observability<APIGatewayProxyEventV2>((event) => event.requestContext?.requestId))
    .use(httpHeaderNormalizer())
    .use(httpCors({ origins: ['*'], exposeHeaders: 'etag,location,idempotent-replayed' }))
    .use({
      onError: async (request) => {
        request.response = errorResponse(request.error, request.event?.requestContext?.requestId);
      },
    })
    .handler(run);
}

type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** What a route module (functions/api/<entry>.ts) exports. */
export interface RouteModule {
  route: { method: HttpMethod; path: string };
  handler: LambdaHttpHandler;
}

/**
 * The Lambda handler of a route group: API Gateway names the matched route in `routeKey` (`POST /v1/projects`; the
 * local gateway does the same), and the group hands the event to that route's handler. A group holds exactly the
 * routes API_ROUTES assigns to it; anything else is a bug in the wiring and fails the cold start.
 */
export function routeGroup(
  group: RouteGroup,
  modules: readonly RouteModule[],
): LambdaHttpHandler & { routeKeys: string[] } {
  const handlers = new Map(modules.map((m) => [`${m.route.method} ${m.route.path}`, m.handler]));
  const expected = API_ROUTES.filter((r) => r.group === group).map((r) => `${r.method} ${r.path}`);
  const missing = expected.filter((k) => !handlers.has(k));
  const extra = [...handlers.keys()].filter((k) => !expected.includes(k));
  if (missing.length > 0 || extra.length > 0 || handlers.size !== modules.length) {
    throw new Error(
      `route group "${group}" does not match API_ROUTES: missing ${missing.join(', ') || 'none'}; not in the group ${extra.join(', ') || 'none'}`,
    );
  }
  const dispatch = async (event: APIGatewayProxyEventV2, context: Context) => {
    const handler = handlers.get(event.routeKey);
    if (handler) return handler(event, context);
    return errorResponse(
      new HttpError(404, 'NOT_FOUND', `no route ${event.routeKey} in the ${group} group`),
      event.requestContext?.requestId,
    );
  };
  return Object.assign(dispatch, { routeKeys: expected });
}
