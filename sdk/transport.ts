/**
 * One HTTP exchange with retries. A request is retried only when sending it again cannot do twice what the server
 * already did:
 *
 * - requests that are safe to repeat — GET, HEAD, a call marked `idempotent` (a prediction), and POSTs, which always
 *   carry an `Idempotency-Key` the server honours (the same key on every attempt, so it carries the request out once)
 *   — are retried on 429, 502, 503, 504, on an attempt that got no answer in time and on connection failures other
 *   than a refused connection or an unknown host. A POST retried while the first attempt is still being processed
 *   gets 409 `IDEMPOTENCY_IN_PROGRESS`, which is retried too;
 * - every other request (PUT, DELETE, PATCH: the server honours no key there, and a PUT or DELETE of an endpoint
 *   starts a Deployment) is retried only when the server certainly did not act on it: 429 and 503. A reset
 *   connection, a 502/504 or no answer in time may come after the server acted, so they fail at once, saying so.
 *
 * Backoff is exponential with jitter; `Retry-After` is honoured up to `maxRetryAfterMs` (default 60 s). Each attempt
 * has a timeout (`timeoutMs`, default 30 s) and the caller's `signal` aborts the exchange, waits included.
 */
import type { Authenticator } from './auth.js';
import { apiErrorOf, causeOf, MerlinConnectionError, MerlinError, MerlinTimeoutError } from './errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** First backoff (default 200 ms); it doubles each retry, with jitter in its upper half. */
  baseDelayMs: number;
  /** Largest backoff of the client's own (default 5 s). */
  maxDelayMs: number;
  /** Largest `Retry-After` honoured (default 60 s): a server asking for a longer wait gets this one. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 5000, maxRetryAfterMs: 60_000 };

/** Default timeout of one attempt of an API call. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface TransportOptions {
  fetch: typeof fetch;
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  idempotencyKey: () => string;
  /** Adds authentication headers to requests sent to `authOrigin`. */
  auth: Authenticator | undefined;
  authOrigin: string;
  /** Sent with every request (e.g. a user-agent in node). */
  headers: Record<string, string>;
  /** Timeout of one attempt (default `DEFAULT_REQUEST_TIMEOUT_MS`). */
  timeoutMs?: number | undefined;
}

export interface Exchange {
  method: HttpMethod;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Retry even though the method alone would not allow it (e.g. a predict call, which changes nothing). */
  idempotent?: boolean;
  /** Aborts the exchange (its attempts and the waits between them) with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Timeout of one attempt (default: the transport's). */
  timeoutMs?: number | undefined;
}

export interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Statuses worth another attempt of a request that is safe to repeat. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
/** Statuses that say the server did not act on the request (throttled, or unavailable): any request may be repeated. */
const NOT_ACTED_STATUSES = new Set([429, 503]);

/** Backoff before retry `attempt` (0-based): base·2^attempt, capped, the upper half randomized. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After: 3` or an HTTP date → ms from now (undefined when absent or unreadable). */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The wait before retry `attempt`: the backoff, or the server's `Retry-After` when longer (up to its cap). */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number,
  retryAfter: string | null,
): number {
  const backoff = backoffMs(policy, attempt, random);
  const asked = retryAfterMs(retryAfter);
  return asked === undefined ? backoff : Math.max(backoff, Math.min(policy.maxRetryAfterMs, asked));
}

/** `AbortSignal.timeout`, or its equivalent where it is missing (older browsers). */
export function timeoutSignal(ms: number): AbortSignal {
  if (typeof AbortSignal.timeout === 'function') return AbortSignal.timeout(ms);
  const c = new AbortController();
  setTimeout(() => c.abort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
  return c.signal;
}

/** A signal aborted when any of `signals` is (`AbortSignal.any`, or its equivalent where it is missing). */
export function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(present);
  const c = new AbortController();
  for (const s of present) {
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}

/** `sleep(ms)`, cut short with the signal's reason when it aborts. */
export async function sleepUnless(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!signal) return sleep(ms);
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export class Transport {
  readonly #o: TransportOptions;

  constructor(options: TransportOptions) {
    this.#o = options;
  }

  /** Sends a JSON request; resolves with the parsed 2xx answer or throws `MerlinApiError` / `MerlinConnectionError`. */
  async json<T>(x: Exchange): Promise<Reply<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#o.headers };
    for (const [k, v] of Object.entries(x.headers ?? {})) headers[k.toLowerCase()] = v;
    const body = x.body === undefined ? undefined : JSON.stringify(x.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    // A prediction (`idempotent`) changes nothing: it needs no key, and the data plane would not read one.
    if (x.method === 'POST' && !x.idempotent) headers['idempotency-key'] ??= this.#o.idempotencyKey();
    // Safe to send again whatever became of the previous attempt.
    const repeatable =
      x.idempotent === true ||
      x.method === 'GET' ||
      x.method === 'HEAD' ||
      (x.method === 'POST' && headers['idempotency-key'] !== undefined);
    const authenticate = this.#o.auth && new URL(x.url).origin === this.#o.authOrigin ? this.#o.auth : undefined;
    const timeoutMs = x.timeoutMs ?? this.#o.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const maybeDone = `the ${x.method} may have been carried out: check before repeating it`;

    for (let attempt = 0; ; attempt++) {
      x.signal?.throwIfAborted();
      const canRetry = attempt < this.#o.retry.retries;
      const sent = authenticate
        ? { ...headers, ...(await authenticate({ method: x.method, url: x.url, headers: { ...headers }, body })) }
        : headers;
      const timeout = timeoutSignal(timeoutMs);
      let res: Response;
      let text: string;
      try {
        res = await this.#o.fetch(x.url, {
          method: x.method,
          headers: sent,
          ...(body !== undefined && { body }),
          signal: anySignal([x.signal, timeout]),
        });
        text = await res.text();
      } catch (error) {
        if (x.signal?.aborted) throw x.signal.reason;
        const timedOut = timeout.aborted;
        // A refused connection or an unknown host: nothing listens there, retrying would only delay the answer.
        if (canRetry && repeatable && !unreachable(error)) {
          await sleepUnless(this.#o.sleep, backoffMs(this.#o.retry, attempt, this.#o.random), x.signal);
          continue;
        }
        if (timedOut) {
          throw new MerlinTimeoutError(
            `${x.method} ${x.url}: no answer within ${formatSeconds(timeoutMs)}${repeatable ? '' : `; ${maybeDone}`}`,
            { timeoutMs },
          );
        }
        throw new MerlinConnectionError(x.url, error, repeatable || unreachable(error) ? undefined : maybeDone);
      }
      if (res.ok) {
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          throw new MerlinError(
            `${x.method} ${x.url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
          );
        }
        return { status: res.status, body: parsed as T, headers: res.headers };
      }
      const error = apiErrorOf({
        status: res.status,
        statusText: res.statusText,
        text,
        headers: res.headers,
        method: x.method,
        url: x.url,
        attempts: attempt + 1,
      });
      const retry = repeatable
        ? RETRY_STATUSES.has(res.status) || error.code === 'IDEMPOTENCY_IN_PROGRESS'
        : NOT_ACTED_STATUSES.has(res.status);
      if (canRetry && retry) {
        const wait = retryDelayMs(this.#o.retry, attempt, this.#o.random, res.headers.get('retry-after'));
        await sleepUnless(this.#o.sleep, wait, x.signal);
        continue;
      }
      throw error;
    }
  }
}

const formatSeconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`);

/** undici's `TypeError: fetch failed` with `cause.code` `ECONNREFUSED` (nothing listens) or `ENOTFOUND` (no such host). */
export function unreachable(error: unknown): boolean {
  const code = causeOf(error);
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND';
}
