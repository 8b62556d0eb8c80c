/**
 * The HTTP front of a `custom` model (custom.ts): every request on the model server's port is passed to the user's
 * command unchanged (method, path and query, headers except hop-by-hop ones, body streamed both ways) over pooled
 * keep-alive connections; responses gain `x-model-version` when the command did not set it.
 *
 * Answered here, never passed on: `GET /v2/health/live` (200 while this server runs) and `GET /v2/health/ready`
 * (200 only when the command is up and its own health check — V2 readiness or V1 model status — answers 200 now).
 * Before the command is ready, and while draining, every other request gets 503 `{"error"}`; a command that cannot
 * be reached gets 502, one that does not answer within REQUEST_TIMEOUT_MS (when set) 504.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from './log.js';

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export interface CustomProxyOptions {
  readonly modelName: string;
  readonly modelVersion: string;
  /** Where the command listens, once it is ready; undefined before (and after it is gone). */
  readonly upstream: () => Upstream | undefined;
  /** The command's health, asked on every `GET /v2/health/ready` while it is up. */
  readonly probe: () => Promise<{ ok: boolean; detail: string }>;
  /** No answer headers within this many ms: 504. Undefined: wait as long as the command takes. */
  readonly requestTimeoutMs?: number | undefined;
}

export interface CustomProxy {
  readonly server: http.Server;
  listen(port: number, host: string): Promise<number>;
  /** Requests being passed on right now. */
  inFlight(): number;
  /**
   * Stops accepting connections and answers new requests on open ones with 503; resolves when no request is in
   * flight, or after `graceMs`.
   */
  drain(graceMs: number): Promise<void>;
  /** Closes every connection (in-flight requests included). */
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not passed on; neither is `expect` (this server already answered it). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const REQUEST_ONLY_SKIP = new Set(['expect']);

/** The header names a `Connection` header lists (they are hop-by-hop too). */
function connectionTokens(raw: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'connection') continue;
    for (const t of (raw[i + 1] as string).split(',')) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

/**
 * Request headers for the command, from the client's raw headers (names keep their case, repeats stay repeated):
 * without hop-by-hop headers, those the `Connection` header names, and `expect`. `host` is kept.
 */
export function requestHeaders(raw: readonly string[]): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_SKIP.has(name) || listed.has(name)) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

/**
 * Response headers for the client, from the command's raw headers: without hop-by-hop headers (this server frames
 * the body itself), with `x-model-version: <version>` added when the command did not send one, and with
 * `connection: close` while draining.
 */
export function responseHeaders(raw: readonly string[], version: string, draining: boolean): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  let hasVersion = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'x-model-version') hasVersion = true;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  if (!hasVersion) out.push('x-model-version', version);
  if (draining) out.push('connection', 'close');
  return out;
}

/** Request bodies up to this size are kept while streaming, so a request on a stale pooled socket can be resent. */
const REPLAY_LIMIT = 1024 * 1024;

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function createCustomProxy(options: CustomProxyOptions): CustomProxy {
  const { modelName, modelVersion, upstream, probe, requestTimeoutMs } = options;
  // Idle pooled sockets are dropped after 4 s (earlier when the command announces a shorter keep-alive): most servers
  // close idle connections after 5 s, and a request must not be sent on a socket the command is closing.
  const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
  let draining = false;
  let inFlight = 0;
  const drained = new Set<() => void>();

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = {
      'x-model-version': modelVersion,
      'content-length': Buffer.byteLength(text),
    };
    if (text !== '') headers['content-type'] = 'application/json';
    if (draining) headers['connection'] = 'close';
    res.writeHead(status, headers);
    res.end(text);
  };
  const notReady = (res: http.ServerResponse) => sendJson(res, 503, { error: `model '${modelName}' is not ready` });

  const ready = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    if (draining || upstream() === undefined) return notReady(res);
    probe().then(
      (health) =>
        health.ok
          ? sendJson(res, 200, undefined)
          : sendJson(res, 503, {
              error: `model '${modelName}' is not ready: its server's health check ${health.detail}`,
            }),
      (err: unknown) => sendJson(res, 503, { error: `model '${modelName}' is not ready: ${errorMessage(err)}` }),
    );
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, target: Upstream) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) for (const done of [...drained]) done();
    });
    const headers = requestHeaders(req.rawHeaders);
    const replay: Buffer[] = [];
    let replayBytes = 0;
    let replayable = true;
    let bodyDone = false;
    let answered = false;
    /** The request failed (502/504 sent): the rest of its body is read and dropped. */
    let failed = false;
    let current: http.ClientRequest;

    const open = (retried: boolean): http.ClientRequest => {
      const up = http.request(
        { agent, host: target.host, port: target.port, method: req.method, path: req.url, headers },
        (answer) => {
          if (up !== current) return answer.destroy();
          answered = true;
          if (res.destroyed) return answer.destroy();
          res.writeHead(
            answer.statusCode ?? 502,
            answer.statusMessage,
            responseHeaders(answer.rawHeaders, modelVersion, draining),
          );
          answer.on('error', () => res.destroy());
          answer.on('close', () => {
            if (!answer.complete) res.destroy();
          });
          answer.pipe(res);
        },
      );
      current = up;
      if (requestTimeoutMs !== undefined) {
        up.setTimeout(requestTimeoutMs, () => {
          if (!answered) up.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
        });
      }
      up.on('drain', () => {
        if (up === current) req.resume();
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        if (up !== current || failed) return;
        if (answered) return void res.destroy();
        // A pooled socket the command closed while idle: the request never reached it; send it again, once.
        if (!retried && up.reusedSocket && err.code === 'ECONNRESET' && replayable && !res.destroyed) {
          const again = open(true);
          for (const chunk of replay) again.write(chunk);
          if (bodyDone) again.end();
          else req.resume();
          return;
        }
        failed = true;
        req.resume();
        if (err.code === 'ETIMEDOUT') {
          sendJson(res, 504, { error: `model '${modelName}' did not answer within ${requestTimeoutMs} ms` });
        } else {
          sendJson(res, 502, { error: `model '${modelName}' is unreachable: ${err.message}` });
        }
      });
      return up;
    };

    current = open(false);
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      if (replayable) {
        replayBytes += chunk.length;
        if (replayBytes > REPLAY_LIMIT) {
          replayable = false;
          replay.length = 0;
        } else {
          replay.push(chunk);
        }
      }
      if (!current.write(chunk)) req.pause();
    });
    req.on('end', () => {
      bodyDone = true;
      if (!failed) current.end();
    });
    res.once('close', () => {
      if (!res.writableFinished) current.destroy();
    });
  };

  const server = http.createServer((req, res) => {
    try {
      const path = pathOf(req.url);
      const method = req.method ?? 'GET';
      if ((method === 'GET' || method === 'HEAD') && path === '/v2/health/live') {
        req.resume();
        return sendJson(res, 200, undefined);
      }
      if ((method === 'GET' || method === 'HEAD') && path === '/v2/health/ready') return ready(req, res);
      const target = draining ? undefined : upstream();
      if (target === undefined) {
        req.resume();
        return notReady(res);
      }
      forward(req, res, target);
    } catch (err) {
      sendJson(res, 500, { error: `internal error: ${errorMessage(err)}` });
    }
  });

  return {
    server,
    listen: (port, host) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    inFlight: () => inFlight,
    drain: (graceMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        if (server.listening) server.close();
        server.closeIdleConnections();
        if (inFlight === 0) return resolve();
        const done = () => {
          clearTimeout(timer);
          drained.delete(done);
          resolve();
        };
        const timer = setTimeout(done, graceMs);
        drained.add(done);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        draining = true;
        agent.destroy();
        server.closeAllConnections();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
