/**
 * `Idempotency-Key` on POSTs (DESIGN §4): the first request with a key is carried out and its answer kept for 24 h;
 * a retry with the same key and the same request gets the same answer without doing anything again; the same key with
 * a different request is refused (422); a retry while the first is still running gets 409.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ConflictError, UnprocessableError, ValidationError } from '../../core/errors.js';
import type { IdempotencyRecord, IdempotencyStore } from '../../core/ports.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY = /^[A-Za-z0-9._:-]{1,255}$/;

/** JSON with sorted keys, so that formatting and key order do not make two equal bodies differ. */
const canonical = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
};

export const fingerprintOf = (method: string, path: string, body: unknown): string =>
  createHash('sha256')
    .update(`${method} ${path}\n${canonical(body)}`)
    .digest('hex');

type Result = APIGatewayProxyStructuredResultV2;

function replay(record: IdempotencyRecord, fingerprint: string): Result {
  if (record.fingerprint !== fingerprint) {
    throw new UnprocessableError(
      'this Idempotency-Key was used with a different request; use a new key for a new request',
      undefined,
      'IDEMPOTENCY_KEY_REUSED',
    );
  }
  if (record.state !== 'done' || !record.response) {
    throw new ConflictError(
      'a request with this Idempotency-Key is still being processed; retry in a moment',
      undefined,
      'IDEMPOTENCY_IN_PROGRESS',
    );
  }
  const { status, headers, body } = record.response;
  return {
    statusCode: status,
    headers: { ...headers, 'idempotent-replayed': 'true' },
    ...(body !== undefined && { body }),
  };
}

/**
 * Runs `execute` at most once per key. `execute` answers with a response (errors already rendered); answers below 500
 * are kept, a 5xx releases the key so that a retry runs again.
 */
export async function idempotent(
  store: IdempotencyStore,
  request: { key: string; method: string; path: string; body: unknown; now: Date },
  execute: () => Promise<Result>,
): Promise<Result> {
  if (!KEY.test(request.key)) {
    throw new ValidationError('Idempotency-Key must be 1-255 letters, digits, ".", "_", ":" or "-" (e.g. a UUID)');
  }
  const fingerprint = fingerprintOf(request.method, request.path, request.body);
  const existing = await store.get(request.key);
  if (existing) return replay(existing, fingerprint);
  const claimed = await store.claim({
    key: request.key,
    fingerprint,
    state: 'in-progress',
    createdAt: request.now.toISOString(),
    expiresAt: new Date(request.now.getTime() + IDEMPOTENCY_TTL_MS).toISOString(),
  });
  if (!claimed) {
    const winner = await store.get(request.key);
    if (winner) return replay(winner, fingerprint);
  }
  let result: Result;
  try {
    result = await execute();
  } catch (e) {
    await store.release(request.key).catch(() => undefined);
    throw e;
  }
  const status = result.statusCode ?? 200;
  if (status >= 500) await store.release(request.key).catch(() => undefined);
  else {
    const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)])) as Record<
      string,
      string
    >;
    await store.complete(request.key, { status, headers, ...(result.body !== undefined && { body: result.body }) });
  }
  return result;
}
