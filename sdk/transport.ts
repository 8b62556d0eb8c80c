/**
 * One HTTP exchange with retries. Idempotent calls — GET, PUT, DELETE, and POSTs, which always carry an
 * `Idempotency-Key` (the same key on every attempt, so the server carries the request out once) — are retried on 429,
 * 502, 503, 504 and on connection failures other than a refused connection, with exponential backoff and jitter,
 * honouring `Retry-After`. A POST retried while the first attempt is still being processed gets 409
 * `IDEMPOTENCY_IN_PROGRESS`, which is retried too. PATCH is retried only with `If-Match` (a repeat is then refused
 * instead of applied twice). Everything else fails at once with the server's error.
 */
import type { Authenticator } from './auth.js';
import { apiErrorOf, MerlinConnectionError, MerlinError } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** First backoff (default 200 ms); it doubles each retry, with jitter in its upper half. */
  baseDelayMs: number;
  /** Largest backoff and largest `Retry-After` honoured (default 5 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 5000 };

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
}

export interface Exchange {
  method: HttpMethod;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Retry even though the method alone would not allow it (e.g. a predict call, which changes nothing). */
  idempotent?: boolean;
}

export interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Backoff before retry `attempt` (0-based): base·2^attempt, capped, the upper half randomized. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After: 3` or an HTTP date → ms from now (undefined when absent or unreadable). */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
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
    const retryable =
      x.idempotent === true ||
      x.method === 'GET' ||
      x.method === 'PUT' ||
      x.method === 'DELETE' ||
      (x.method === 'POST' && headers['idempotency-key'] !== undefined) ||
      (x.method === 'PATCH' && headers['if-match'] !== undefined);
    const authenticate = this.#o.auth && new URL(x.url).origin === this.#o.authOrigin ? this.#o.auth : undefined;

    for (let attempt = 0; ; attempt++) {
      const canRetry = retryable && attempt < this.#o.retry.retries;
      const sent = authenticate
        ? { ...headers, ...(await authenticate({ method: x.method, url: x.url, headers: { ...headers }, body })) }
        : headers;
      let res: Response;
      try {
        res = await this.#o.fetch(x.url, { method: x.method, headers: sent, ...(body !== undefined && { body }) });
      } catch (error) {
        // A refused connection means nothing listens there: retrying would only delay the answer.
        if (canRetry && !refused(error)) {
          await this.#o.sleep(backoffMs(this.#o.retry, attempt, this.#o.random));
          continue;
        }
        throw new MerlinConnectionError(x.url, error);
      }
      const text = await res.text();
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
      });
      if (canRetry && (RETRY_STATUSES.has(res.status) || error.code === 'IDEMPOTENCY_IN_PROGRESS')) {
        const wait = retryAfterMs(res.headers.get('retry-after'));
        const backoff = backoffMs(this.#o.retry, attempt, this.#o.random);
        await this.#o.sleep(wait === undefined ? backoff : Math.min(this.#o.retry.maxDelayMs, Math.max(wait, backoff)));
        continue;
      }
      throw error;
    }
  }
}

/** undici's `TypeError: fetch failed` with `cause.code === 'ECONNREFUSED'`. */
function refused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}
