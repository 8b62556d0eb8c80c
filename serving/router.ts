/**
 * The local data-plane router (DESIGN §5): maps `/{project}/{model}/versions/{v}/…` to a version endpoint's model
 * server and `/{project}/{model}/…` to a model endpoint's rule (weighted split, deterministic with
 * `x-merlin-route-key`, fire-and-forget mirror). It only knows the route table's shape, never the control plane.
 *
 * Hot path (DESIGN §8, < 0.5 ms p50 added): no logging, no per-request closures beyond the proxy's own, one body
 * buffer, pooled keep-alive sockets.
 */
import {
  Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';

/** Where a ready revision listens. */
export interface RouteTarget {
  readonly host: string;
  readonly port: number;
  /** The revision's name, e.g. `iris-3-r2`. */
  readonly revision: string;
}

export interface VersionTarget extends RouteTarget {
  readonly version: number;
}

export interface ModelRouteDestination {
  readonly version: number;
  readonly weight: number;
  /** Absent when the version has no ready revision. */
  readonly target?: RouteTarget | undefined;
}

export interface ModelRouteMirror {
  readonly version: number;
  readonly percent: number;
  readonly target?: RouteTarget | undefined;
}

export interface ModelRoute {
  readonly destinations: readonly ModelRouteDestination[];
  readonly mirror?: ModelRouteMirror | undefined;
}

/** What the router needs from the cluster (the local ProcessCluster has these two methods). */
export interface RouteTable {
  /** The version endpoint's ready revision, or undefined when unknown or not ready. */
  resolveVersion(project: string, model: string, version: number): VersionTarget | undefined;
  /** The model endpoint's rule with each version resolved, or undefined when the model has no endpoint. */
  resolveModel(project: string, model: string): ModelRoute | undefined;
}

export interface RouterOptions {
  /** Pooled keep-alive agent for upstream calls (default: one per router). */
  agent?: Agent;
  /** Source of randomness in [0, 1) for unkeyed splits and mirror sampling (default Math.random). */
  random?: () => number;
  /** Upstream answer deadline in ms; 0 (default) waits as long as the model takes. Expiry answers 504. */
  timeoutMs?: number;
  /** Deadline for a mirrored copy, after which it is abandoned (default 30 s). */
  mirrorTimeoutMs?: number;
}

export type RouterHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

export const ROUTE_KEY_HEADER = 'x-merlin-route-key';
export const MODEL_VERSION_HEADER = 'x-model-version';
/** Set on mirrored copies so a model server (or its logs) can tell shadow traffic apart. */
export const SHADOW_HEADER = 'x-merlin-shadow';

export type ServingPath =
  | { kind: 'version'; project: string; model: string; version: string; rest: string }
  | { kind: 'model'; project: string; model: string; rest: string };

/**
 * Parses the path after `/serving` (without query string). `rest` always starts with `/`.
 * Returns undefined when no project and model are named.
 */
export function parseServingPath(path: string): ServingPath | undefined {
  if (path.charCodeAt(0) !== 47 /* / */) return undefined;
  const afterProject = path.indexOf('/', 1);
  if (afterProject <= 1) return undefined;
  const project = path.slice(1, afterProject);
  const afterModel = path.indexOf('/', afterProject + 1);
  const model = afterModel === -1 ? path.slice(afterProject + 1) : path.slice(afterProject + 1, afterModel);
  if (model === '') return undefined;
  if (afterModel === -1) return { kind: 'model', project, model, rest: '/' };
  if (path.startsWith('/versions', afterModel) && (path.length === afterModel + 9 || path[afterModel + 9] === '/')) {
    const versionStart = afterModel + 10;
    const afterVersion = path.indexOf('/', versionStart);
    const version = afterVersion === -1 ? path.slice(versionStart) : path.slice(versionStart, afterVersion);
    if (version === '') return undefined;
    return { kind: 'version', project, model, version, rest: afterVersion === -1 ? '/' : path.slice(afterVersion) };
  }
  return { kind: 'model', project, model, rest: path.slice(afterModel) };
}

/** A well-mixed 32-bit hash of a route key (FNV-1a, then the murmur3 finalizer so similar keys spread). */
export function hashRouteKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Chooses a destination in proportion to the weights: from the route key's hash when one is given (same key, same
 * rule → same destination), from `random()` otherwise. Undefined when no destination has a positive weight.
 */
export function pickDestination<D extends { readonly weight: number }>(
  destinations: readonly D[],
  routeKey: string | undefined,
  random: () => number = Math.random,
): D | undefined {
  let total = 0;
  for (const d of destinations) if (d.weight > 0) total += d.weight;
  if (total <= 0) return undefined;
  const point = (routeKey === undefined ? random() : hashRouteKey(routeKey) / 4_294_967_296) * total;
  let cumulative = 0;
  let last: D | undefined;
  for (const d of destinations) {
    if (d.weight <= 0) continue;
    cumulative += d.weight;
    last = d;
    if (point < cumulative) return d;
  }
  return last;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and `host`, which the upstream request sets itself. */
const REQUEST_SKIP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);
const RESPONSE_SKIP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer'];

function upstreamHeaders(src: IncomingHttpHeaders, body: Buffer | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in src) {
    if (!REQUEST_SKIP.has(name)) out[name] = src[name];
  }
  if (body !== undefined) out['content-length'] = body.length;
  return out;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const noop = (): void => {};

interface Forward {
  target: RouteTarget;
  /** The `x-model-version` value. */
  version: string;
  /** Names the upstream in error messages, e.g. `version 3 of p/m`. */
  label: string;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer | undefined;
}

export function createRouter(table: RouteTable, options: RouterOptions = {}): RouterHandler {
  const agent = options.agent ?? new Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256 });
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 0;
  const mirrorTimeoutMs = options.mirrorTimeoutMs ?? 30_000;

  function send(fwd: Forward, res: ServerResponse, retried: boolean): void {
    let answered = false;
    const upstream: ClientRequest = request(
      {
        agent,
        host: fwd.target.host,
        port: fwd.target.port,
        method: fwd.method,
        path: fwd.path,
        headers: fwd.headers,
      },
      (up) => {
        answered = true;
        const headers = up.headers;
        for (const name of RESPONSE_SKIP) if (name in headers) delete headers[name];
        headers[MODEL_VERSION_HEADER] = fwd.version;
        if (res.destroyed) {
          up.destroy();
          return;
        }
        res.writeHead(up.statusCode ?? 502, headers as OutgoingHttpHeaders);
        up.on('error', () => res.destroy());
        up.on('close', () => {
          if (!up.complete) res.destroy();
        });
        up.pipe(res);
      },
    );
    if (timeoutMs > 0) {
      upstream.setTimeout(timeoutMs, () => {
        upstream.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
    }
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) {
        res.destroy();
        return;
      }
      // A pooled socket the server closed while idle: the request never reached it, so one retry is safe.
      if (!retried && upstream.reusedSocket && err.code === 'ECONNRESET' && !res.destroyed) {
        send(fwd, res, true);
        return;
      }
      if (err.code === 'ETIMEDOUT') sendError(res, 504, `${fwd.label} did not answer: ${err.message}`);
      else sendError(res, 502, `${fwd.label} is unreachable: ${err.message}`);
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(fwd.body);
  }

  function mirror(fwd: Forward): void {
    const headers = { ...fwd.headers, [SHADOW_HEADER]: 'true' };
    const copy = request(
      { agent, host: fwd.target.host, port: fwd.target.port, method: fwd.method, path: fwd.path, headers },
      (up) => {
        up.on('error', noop);
        up.resume();
      },
    );
    copy.on('error', noop);
    copy.setTimeout(mirrorTimeoutMs, () => copy.destroy());
    copy.end(fwd.body);
  }

  /** Buffers the request body once (so it can be sent twice and retried), then forwards. */
  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: RouteTarget,
    version: number,
    label: string,
    path: string,
    shadow: { target: RouteTarget; version: number } | undefined,
  ): void {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      try {
        const hasBody = length > 0 || req.headers['content-length'] !== undefined;
        const body = !hasBody ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
        const method = req.method ?? 'GET';
        const headers = upstreamHeaders(req.headers, body);
        send({ target, version: String(version), label, method, path, headers, body }, res, false);
        if (shadow !== undefined) {
          mirror({ target: shadow.target, version: String(shadow.version), label, method, path, headers, body });
        }
      } catch (err) {
        sendError(res, 502, `${label} is unreachable: ${(err as Error).message}`);
      }
    });
  }

  return function route(req: IncomingMessage, res: ServerResponse, rawPath: string): void {
    try {
      let path = rawPath;
      let query = '';
      const q = rawPath.indexOf('?');
      if (q !== -1) {
        path = rawPath.slice(0, q);
        query = rawPath.slice(q);
      } else {
        const url = req.url ?? '';
        const uq = url.indexOf('?');
        if (uq !== -1) query = url.slice(uq);
      }
      const parsed = parseServingPath(path);
      if (parsed === undefined) {
        sendError(res, 404, `no model named in the path '${path}': expected /{project}/{model}/...`);
        return;
      }
      const { project, model } = parsed;
      if (parsed.kind === 'version') {
        const version = /^[1-9][0-9]{0,8}$/.test(parsed.version) ? Number(parsed.version) : undefined;
        const target = version === undefined ? undefined : table.resolveVersion(project, model, version);
        if (target === undefined) {
          sendError(
            res,
            404,
            `no ready version endpoint for ${project}/${model} version ${parsed.version} in this environment`,
          );
          return;
        }
        const label = `version ${target.version} of ${project}/${model}`;
        forward(req, res, target, target.version, label, parsed.rest + query, undefined);
        return;
      }
      const rule = table.resolveModel(project, model);
      if (rule === undefined) {
        sendError(res, 404, `no model endpoint for ${project}/${model} in this environment`);
        return;
      }
      const key = req.headers[ROUTE_KEY_HEADER];
      const destination = pickDestination(rule.destinations, typeof key === 'string' ? key : undefined, random);
      if (destination === undefined) {
        sendError(res, 503, `model endpoint ${project}/${model} has no destination with a positive weight`);
        return;
      }
      const label = `version ${destination.version} of ${project}/${model}`;
      if (destination.target === undefined) {
        sendError(res, 503, `${label} is not ready`);
        return;
      }
      const m = rule.mirror;
      const shadow =
        m?.target !== undefined && m.percent > 0 && random() * 100 < m.percent
          ? { target: m.target, version: m.version }
          : undefined;
      forward(req, res, destination.target, destination.version, label, parsed.rest + query, shadow);
    } catch (err) {
      try {
        sendError(res, 500, `router error: ${(err as Error).message}`);
      } catch {
        res.destroy();
      }
    }
  };
}
