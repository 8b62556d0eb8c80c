import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

export interface RouteModule {
  route: { method: string; path: string };
  handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
}

export interface ApiRequest {
  method?: string;
  /** Route path with `{var}` placeholders (API Gateway route key). */
  path?: string;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (with content-type: application/json unless headers say otherwise). */
  body?: unknown;
  isBase64Encoded?: boolean;
  requestId?: string;
}

const fill = (path: string, params: Record<string, string>): string =>
  path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? `{${name}}`));

/** An API Gateway HTTP API (payload 2.0) event, as API Gateway or local/api-gateway.ts builds it. */
export function apiEvent(req: ApiRequest = {}): APIGatewayProxyEventV2 {
  const method = req.method ?? 'GET';
  const path = req.path ?? '/';
  const params = req.pathParameters ?? {};
  const rawPath = fill(path, params);
  const headers: Record<string, string> = { host: 'api.test', 'user-agent': 'vitest', ...req.headers };
  let body: string | undefined;
  if (typeof req.body === 'string') body = req.body;
  else if (req.body !== undefined) {
    body = JSON.stringify(req.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  const query = req.query ?? {};
  const requestId = req.requestId ?? 'req-test-0001';
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath,
    rawQueryString: new URLSearchParams(query).toString(),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    ...(Object.keys(params).length > 0 && { pathParameters: params }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'test',
      domainName: 'api.test',
      domainPrefix: 'api',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch: Date.parse('2025-01-01T00:00:00Z'),
    },
    ...(body !== undefined && { body }),
    isBase64Encoded: req.isBase64Encoded ?? false,
  };
}

/**
 * A Lambda context without `getRemainingTimeInMillis`, so middy sets no early-timeout timer (house style 19).
 */
export const lambdaContext = (functionName = 'merlin-test'): Context =>
  ({
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'lambda-req-0001',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: true,
  }) as unknown as Context;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
export type Json = any;

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** The parsed JSON body (undefined when there is none). */
  body: Json;
}

/** Invokes a route module's middy handler with an event built from its own method and path. */
export async function callRoute(mod: RouteModule, req: Omit<ApiRequest, 'method' | 'path'> = {}): Promise<ApiResponse> {
  const event = apiEvent({ ...req, method: mod.route.method, path: mod.route.path });
  const result = await mod.handler(event, lambdaContext());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return {
    status: result.statusCode ?? 200,
    headers,
    body: result.body === undefined ? undefined : JSON.parse(result.body),
  };
}
