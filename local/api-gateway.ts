/**
 * A local stand-in for API Gateway (HTTP API, payload v2): matches the request against the same route table the
 * CDK app deploys (literal segments win over variables, as on API Gateway), builds the APIGatewayProxyEventV2 that
 * API Gateway would send and invokes the very handler that Lambda runs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { API_ROUTES, type RouteEntry } from '../functions/api/routes.js';

export type LambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface CompiledRoute extends RouteEntry {
  segments: { literal?: string; param?: string }[];
  handler: LambdaHandler;
}

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Binds each route to the handler of its group's module (`load('groups/<group>')`, a path under functions/api): the
 * handler Lambda runs for that group on AWS, which dispatches on the route key as it does there.
 */
export async function loadRoutes(load: (module: string) => Promise<unknown>): Promise<CompiledRoute[]> {
  return Promise.all(
    API_ROUTES.map(async (r) => {
      const mod = (await load(`groups/${r.group}`)) as { handler: LambdaHandler };
      const segments = r.path
        .split('/')
        .slice(1)
        .map((s) => {
          const m = /^\{([A-Za-z0-9_]+)\}$/.exec(s);
          return m ? { param: m[1]! } : { literal: s };
        });
      return { ...r, segments, handler: mod.handler };
    }),
  );
}

/** Finds the route for a path: among matches, the one with the most literal segments first (API Gateway's rule). */
export function matchRoute(routes: CompiledRoute[], method: string, path: string) {
  const parts = path.split('/').slice(1);
  let best: { route: CompiledRoute; params: Record<string, string>; literals: number } | undefined;
  let pathMatched = false;
  for (const route of routes) {
    if (route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = route.segments[i]!;
      const part = parts[i]!;
      if (seg.literal !== undefined) {
        ok = seg.literal === part;
        literals++;
      } else if (part === '') ok = false;
      else params[seg.param!] = part;
    }
    if (!ok) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    if (!best || literals > best.literals) best = { route, params, literals };
  }
  return { match: best, pathMatched };
}

/** API Gateway passes text payloads as-is and base64-encodes the rest. */
const isText = (type: string | undefined): boolean => !type || /json|text|xml|urlencoded/i.test(type);

const json = (res: ServerResponse, status: number, body: unknown, requestId: string) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...(body as object), requestId }));
};

const context = (requestId: string, functionName: string): Context =>
  ({
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }) as Context;

export function createApiGateway(routes: CompiledRoute[]) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        return json(
          res,
          413,
          { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds 10 MiB' } },
          requestId,
        );
      }
      chunks.push(chunk as Buffer);
    }
    const { match, pathMatched } = matchRoute(routes, method, url.pathname);
    if (!match) {
      const status = pathMatched ? 405 : 404;
      const message = pathMatched
        ? `${method} is not allowed on ${url.pathname}`
        : `no route for ${method} ${url.pathname}`;
      return json(
        res,
        status,
        { error: { code: status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED', message } },
        requestId,
      );
    }
    let pathParameters: Record<string, string>;
    try {
      pathParameters = Object.fromEntries(Object.entries(match.params).map(([k, v]) => [k, decodeURIComponent(v)]));
    } catch {
      return json(
        res,
        400,
        { error: { code: 'VALIDATION_FAILED', message: 'the path is not valid URL encoding' } },
        requestId,
      );
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
    const body = Buffer.concat(chunks);
    const now = new Date();
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey: `${match.route.method} ${match.route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
      ...(Object.keys(pathParameters).length > 0 && { pathParameters }),
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: headers.host ?? 'localhost',
        domainPrefix: 'local',
        http: {
          method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: `${match.route.method} ${match.route.path}`,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(body.length > 0 && {
        body: isText(headers['content-type']) ? body.toString('utf8') : body.toString('base64'),
      }),
      isBase64Encoded: body.length > 0 && !isText(headers['content-type']),
    };
    const result = await match.route.handler(event, context(requestId, `merlin-local-api-${match.route.group}`));
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) {
      if (v !== undefined && v !== '') out[k] = String(v);
    }
    res.writeHead(result.statusCode ?? 200, out);
    res.end(result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined);
  };
}
