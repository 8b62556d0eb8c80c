/**
 * The HTTP front of the model server: both protocols on one port (node:http, no framework).
 *
 * KServe V1:  GET /   GET /v1/models   GET /v1/models/{m}   POST /v1/models/{m}:predict
 * OIP V2:     GET /v2/health/live|ready   GET /v2   GET /v2/models/{m}[/versions/{v}][/ready]
 *             POST /v2/models/{m}[/versions/{v}]/infer
 * Other:      GET /metrics (Prometheus)
 *
 * Every response carries `x-model-version`. Errors are `{"error": "<message>"}`: 400 bad input, 404 unknown model,
 * version or route, 405 wrong method (with `allow`), 413 body too large, 500 inference failure, 501 not
 * implemented, 503 not ready, 504 inference timed out (REQUEST_TIMEOUT_MS).
 *
 * Inference goes through the adaptive batcher (batching.ts) when BATCH_MAX_SIZE is set and the runtime is
 * `batchable`; otherwise each request calls the runtime itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Batcher } from './batching.js';
import { parseServingOptions, type ServingOptions } from './config.js';
import { BadRequestError, HttpError, InferenceError, NotFoundError, NotReadyError } from './errors.js';
import { errorMessage, type Logger } from './log.js';
import type { Metrics, Protocol } from './metrics.js';
import { isObject, type ServedModel } from './protocols/common.js';
import * as v1 from './protocols/v1.js';
import * as v2 from './protocols/v2.js';
import type { InferOptions, Runtime } from './runtimes/runtime.js';
import type { Tensor } from './tensors.js';

export interface ModelServerOptions {
  readonly model: ServedModel;
  /** Request bodies above this many bytes are answered with 413. */
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Batching and time limit; read from BATCH_MAX_SIZE, BATCH_MAX_LATENCY_MS and REQUEST_TIMEOUT_MS when absent. */
  readonly serving?: ServingOptions | undefined;
}

export interface ModelServer {
  readonly server: http.Server;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections and waits for in-flight requests, at most `graceMs`; then closes the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/** Bodies beyond the limit are read and discarded (so the client sees the 413) up to this much; then the socket closes. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

type Res = http.ServerResponse;

export function createModelServer(options: ModelServerOptions): ModelServer {
  const { model, maxBodyBytes, logger, metrics } = options;
  const { batching, requestTimeoutMs } = options.serving ?? parseServingOptions(process.env);
  metrics.batching = batching !== undefined;
  let draining = false;

  const baseHeaders = (): http.OutgoingHttpHeaders =>
    draining ? { 'x-model-version': model.version, connection: 'close' } : { 'x-model-version': model.version };

  const sendJson = (res: Res, protocol: Protocol, status: number, body: unknown, extra?: http.OutgoingHttpHeaders) => {
    const text = JSON.stringify(body);
    const headers = baseHeaders();
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(text);
    res.writeHead(status, extra ? { ...headers, ...extra } : headers);
    res.end(text);
    metrics.request(protocol, status);
  };

  const sendEmpty = (res: Res, protocol: Protocol, status: number) => {
    const headers = baseHeaders();
    headers['content-length'] = 0;
    res.writeHead(status, headers);
    res.end();
    metrics.request(protocol, status);
  };

  const sendError = (res: Res, protocol: Protocol, err: unknown) => {
    if (res.headersSent || res.destroyed) return;
    if (err instanceof HttpError) {
      sendJson(res, protocol, err.status, { error: err.message }, err.headers);
      return;
    }
    logger.error('request failed', { error: errorMessage(err) });
    sendJson(res, protocol, 500, { error: `internal error: ${errorMessage(err)}` });
  };

  // ---- model checks ----

  const checkModel = (name: string): void => {
    if (name !== model.name) throw new NotFoundError(`model '${name}' not found (this server serves '${model.name}')`);
  };
  const checkVersion = (encodedVersion: string | undefined): void => {
    if (encodedVersion === undefined) return;
    const version = decode(encodedVersion);
    if (version !== model.version) {
      throw new NotFoundError(
        `model '${model.name}' has no version '${version}' (this server serves version '${model.version}')`,
      );
    }
  };
  /** A model that failed to load for good (a function model: the server stays up) says why. */
  const notReady = (state: string): NotReadyError =>
    new NotReadyError(`model '${model.name}' is ${model.failure ? `not ready: ${model.failure}` : state}`);
  const loaded = (): Runtime => {
    if (!model.runtime) throw notReady('not loaded yet');
    return model.runtime;
  };
  const ready = (): Runtime => {
    if (!model.ready || !model.runtime) throw notReady('not ready');
    return model.runtime;
  };

  const inferenceFailed = (err: unknown): HttpError => {
    // A runtime's own answer keeps its status and message (e.g. 400 for input the model cannot take).
    if (err instanceof HttpError) return err;
    logger.error('inference failed', { error: errorMessage(err) });
    return new InferenceError(`inference failed: ${errorMessage(err)}`);
  };

  // ---- inference: batching, time limit, metrics ----

  let batcherState: { runtime: Runtime; batcher: Batcher | undefined } | undefined;
  /** The batcher of the loaded runtime, created on first use; undefined when batching is off or impossible. */
  const batcherFor = (runtime: Runtime): Batcher | undefined => {
    if (batching === undefined) return undefined;
    if (batcherState?.runtime !== runtime) {
      const batcher = runtime.batchable
        ? new Batcher(
            (inputs, outputs) => runtime.infer(inputs, outputs),
            runtime.inputs.map((m) => m.name),
            batching,
            {
              onInference: (seconds, rows, requests, ok) => {
                if (ok) metrics.inference(seconds);
                metrics.batch(rows, requests);
              },
              onUnsplittable: (reason) =>
                logger.warn('adaptive batching turned off: a batched result cannot be split by rows', { reason }),
            },
          )
        : undefined;
      batcherState = { runtime, batcher };
      if (batcher) logger.info('adaptive batching on', { ...batching });
      else logger.warn('adaptive batching is configured, but this model cannot be batched; requests run one by one');
    }
    return batcherState.batcher;
  };

  const direct = async (
    runtime: Runtime,
    inputs: ReadonlyMap<string, Tensor>,
    outputs: readonly string[] | undefined,
    options?: InferOptions,
  ): Promise<Map<string, Tensor>> => {
    const start = performance.now();
    const outputsMap = await runtime.infer(inputs, outputs, options);
    metrics.inference((performance.now() - start) / 1000);
    return outputsMap;
  };

  const timedOut = () => new HttpError(504, `inference timed out after ${requestTimeoutMs} ms`);

  /**
   * Runs the model for one validated request, merged with others when batching applies. With REQUEST_TIMEOUT_MS, a
   * request not answered within that time (queueing included) gets 504: a queued request is withdrawn, a running
   * one's result is dropped. A runtime that blocks the event loop (onnxruntime-node runs on the main thread) is
   * caught when it returns.
   */
  const infer = async (
    runtime: Runtime,
    inputs: ReadonlyMap<string, Tensor>,
    outputs: readonly string[] | undefined,
    options?: InferOptions,
  ): Promise<Map<string, Tensor>> => {
    const batcher = options?.parameters === undefined ? batcherFor(runtime) : undefined;
    try {
      if (requestTimeoutMs === undefined) {
        return await (batcher ? batcher.submit(inputs, outputs) : direct(runtime, inputs, outputs, options));
      }
      const start = performance.now();
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = timedOut();
          controller.abort(err);
          reject(err);
        }, requestTimeoutMs);
      });
      try {
        const work = batcher
          ? batcher.submit(inputs, outputs, controller.signal)
          : direct(runtime, inputs, outputs, options);
        const result = await Promise.race([work, deadline]);
        if (performance.now() - start > requestTimeoutMs) throw timedOut();
        return result;
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      throw inferenceFailed(err);
    }
  };

  // ---- routes ----

  /** V1 for models of any JSON (`Runtime.predictJson`, function models): rows in, predictions out, no tensors. */
  const v1PredictJson = async (runtime: Runtime, body: unknown, res: Res) => {
    const { rows, parameters } = v1.parseJsonPredictRequest(body);
    const start = performance.now();
    let predictions: unknown[];
    try {
      predictions = await runtime.predictJson!(rows, { parameters });
    } catch (err) {
      throw inferenceFailed(err);
    }
    metrics.inference((performance.now() - start) / 1000);
    sendJson(res, 'v1', 200, { predictions, model_name: model.name, model_version: model.version });
  };

  const v1Predict = async (req: http.IncomingMessage, res: Res) => {
    const arrived = performance.now();
    metrics.inFlight++;
    try {
      const runtime = ready();
      const body = await readJson(req, maxBodyBytes);
      if (runtime.predictJson) return await v1PredictJson(runtime, body, res);
      const inputs = v1.parsePredictRequest(body, runtime);
      const outputs = await infer(runtime, inputs, undefined);
      sendJson(res, 'v1', 200, v1.predictResponse(model.name, model.version, outputs, runtime.outputs));
    } finally {
      metrics.inFlight--;
      metrics.requestDuration('v1', (performance.now() - arrived) / 1000);
    }
  };

  const v2Infer = async (req: http.IncomingMessage, res: Res) => {
    const arrived = performance.now();
    metrics.inFlight++;
    try {
      const runtime = ready();
      const body = await readJson(req, maxBodyBytes);
      const request = v2.parseInferRequest(body, runtime);
      const outputs = await infer(runtime, request.inputs, request.outputs, { parameters: request.parameters });
      const response = v2.inferResponse(model.name, model.version, request.id, outputs, runtime.outputs);
      sendJson(res, 'v2', 200, withParameters(response, body));
    } finally {
      metrics.inFlight--;
      metrics.requestDuration('v2', (performance.now() - arrived) / 1000);
    }
  };

  const routeV1 = (method: string, seg: string[], req: http.IncomingMessage, res: Res): Promise<void> | void => {
    // seg: ['', 'v1', 'models', ...]
    if (seg[2] !== 'models' || seg.length > 4) throw notFoundRoute(req);
    if (seg.length === 3) {
      allow(method, 'GET');
      return sendJson(res, 'v1', 200, { models: [model.name] });
    }
    const last = decode(seg[3] as string);
    const colon = last.lastIndexOf(':');
    if (colon === -1) {
      allow(method, 'GET');
      checkModel(last);
      const isReady = model.ready;
      return sendJson(res, 'v1', isReady ? 200 : 503, { name: model.name, ready: isReady });
    }
    const verb = last.slice(colon + 1);
    if (verb !== 'predict' && verb !== 'explain') throw notFoundRoute(req);
    allow(method, 'POST');
    checkModel(last.slice(0, colon));
    if (verb === 'explain') throw new HttpError(501, 'explain is not implemented by this server');
    return v1Predict(req, res);
  };

  const routeV2 = (method: string, seg: string[], req: http.IncomingMessage, res: Res): Promise<void> | void => {
    // seg: ['', 'v2', ...]
    if (seg.length === 2) {
      allow(method, 'GET');
      return sendJson(res, 'v2', 200, v2.serverMetadata());
    }
    if (seg[2] === 'health' && seg.length === 4 && (seg[3] === 'live' || seg[3] === 'ready')) {
      allow(method, 'GET');
      if (seg[3] === 'live') return sendEmpty(res, 'v2', 200);
      ready();
      return sendEmpty(res, 'v2', 200);
    }
    if (seg[2] !== 'models' || seg.length < 4) throw notFoundRoute(req);
    // /v2/models/{m} [/versions/{v}] [/ready|/infer]
    let rest = 4;
    let version: string | undefined;
    if (seg[4] === 'versions') {
      if (seg.length < 6) throw notFoundRoute(req);
      version = seg[5];
      rest = 6;
    }
    const action = seg[rest];
    if (seg.length > rest + 1 || (action !== undefined && action !== 'ready' && action !== 'infer')) {
      throw notFoundRoute(req);
    }
    allow(method, action === 'infer' ? 'POST' : 'GET');
    checkModel(decode(seg[3] as string));
    checkVersion(version);
    if (action === 'infer') return v2Infer(req, res);
    if (action === 'ready') {
      ready();
      return sendEmpty(res, 'v2', 200);
    }
    return sendJson(res, 'v2', 200, v2.modelMetadata(model.name, model.version, loaded()));
  };

  const route = (req: http.IncomingMessage, res: Res, protocolOut: { p: Protocol }): Promise<void> | void => {
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const seg = pathOf(req.url).split('/');
    if (seg[1] === 'v2') {
      protocolOut.p = 'v2';
      return routeV2(method, seg, req, res);
    }
    if (seg[1] === 'v1') {
      protocolOut.p = 'v1';
      return routeV1(method, seg, req, res);
    }
    if (seg.length === 2 && seg[1] === '') {
      protocolOut.p = 'v1';
      allow(method, 'GET');
      return sendJson(res, 'v1', 200, { status: 'alive' });
    }
    if (seg.length === 2 && seg[1] === 'metrics') {
      allow(method, 'GET');
      const text = metrics.render();
      const headers = baseHeaders();
      headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8';
      headers['content-length'] = Buffer.byteLength(text);
      res.writeHead(200, headers);
      res.end(text);
      return;
    }
    throw notFoundRoute(req);
  };

  const server = http.createServer((req, res) => {
    const protocol: { p: Protocol } = { p: 'other' };
    try {
      const pending = route(req, res, protocol);
      if (pending) pending.catch((err: unknown) => sendError(res, protocol.p, err));
    } catch (err) {
      sendError(res, protocol.p, err);
    }
  });
  // Requests may stay idle between keep-alive uses; keep node's defaults for timeouts.

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
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          server.closeAllConnections();
          finish();
        }, graceMs);
        if (!server.listening) return finish();
        server.close(() => finish());
        server.closeIdleConnections();
      }),
  };
}

/** OIP: the request's `parameters` pass through to the response. */
function withParameters<T extends object>(response: T, body: unknown): T {
  if (isObject(body) && isObject(body.parameters)) return { ...response, parameters: body.parameters };
  return response;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  let p = q === -1 ? url : url.slice(0, q);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequestError(`malformed URL path segment '${segment}'`);
  }
}

function allow(method: string, allowed: 'GET' | 'POST'): void {
  if (method !== allowed) {
    throw new HttpError(405, `method ${method} is not allowed here (allowed: ${allowed})`, {
      allow: allowed === 'GET' ? 'GET, HEAD' : 'POST',
    });
  }
}

function notFoundRoute(req: http.IncomingMessage): NotFoundError {
  return new NotFoundError(`no route for ${req.method} ${pathOf(req.url)}`);
}

/** The Content-Length header, read from `rawHeaders` (the `headers` object is built lazily; the hot path skips it). */
function declaredLength(req: http.IncomingMessage): number {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return Number(raw[i + 1]);
  }
  return Number.NaN;
}

/** Reads and parses a JSON body of at most `max` bytes (413 beyond, 400 when malformed). */
function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = () =>
      new HttpError(413, `request body exceeds the limit of ${max} bytes`, { connection: 'close' });
    const declared = declaredLength(req);
    if (declared > max + MAX_DISCARD_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > max;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over) {
        if (size > max + MAX_DISCARD_BYTES) {
          req.removeAllListeners('data');
          reject(tooLarge());
        }
        return;
      }
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return reject(tooLarge());
      if (size === 0) return reject(new BadRequestError('request body is empty; expected JSON'));
      const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      try {
        resolve(JSON.parse(buf.toString('utf8')));
      } catch (err) {
        reject(new BadRequestError(`malformed JSON in request body: ${errorMessage(err)}`));
      }
    });
    req.on('error', reject);
  });
}
