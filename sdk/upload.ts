/**
 * Artifact uploads through presigned PUT URLs. Each file is read once per attempt: its bytes are hashed (sha256) and
 * counted (progress) as the PUT consumes them, so nothing is buffered whole. A PUT that fails on the way (connection
 * reset, 5xx, 429 — S3's 503 SlowDown after its `Retry-After`) is sent again from the start, the file opened anew
 * (the failed attempt's read is closed): the presigned URL stays valid for an hour. The client then calls
 * `artifact:complete` with each file's size and sha256, and the server verifies them.
 *
 * Browser-safe: files come as `ArtifactFile`s (`fileFromBytes` here; `filesFrom(path)` in `sdk/node.ts` reads the
 * file system) and hashing is pluggable (WebCrypto by default, node:crypto streaming in node).
 */
import { apiErrorOf, MerlinApiError, MerlinConnectionError } from './errors.js';
import { backoffMs, type RetryPolicy, retryDelayMs, sleepUnless } from './transport.js';

/** One file of an artifact. */
export interface ArtifactFile {
  /** Path inside the artifact, `/`-separated (e.g. `model.onnx`, `assets/vocab.txt`). */
  path: string;
  size: number;
  /** Reads the content from the start; called again when an upload is retried. */
  open(): AsyncIterable<Uint8Array>;
  /** The whole content, when it is in memory: sent as is (no streaming request body needed). */
  bytes?: Uint8Array;
}

export interface Sha256 {
  update(chunk: Uint8Array): void;
  /** Lower-case hex. */
  digest(): Promise<string>;
}
export type Sha256Factory = () => Sha256;

const hex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** SHA-256 with WebCrypto (browsers, node ≥ 20). It keeps the chunks until `digest`: node uses node:crypto instead. */
export const webSha256: Sha256Factory = () => {
  const chunks: Uint8Array[] = [];
  return {
    update: (chunk) => {
      chunks.push(chunk);
    },
    digest: async () => {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.byteLength;
      }
      return hex(await globalThis.crypto.subtle.digest('SHA-256', all));
    },
  };
};

/** An artifact file from bytes in memory. */
export function fileFromBytes(path: string, bytes: Uint8Array): ArtifactFile {
  return {
    path,
    size: bytes.byteLength,
    bytes,
    async *open() {
      yield bytes;
    },
  };
}

export interface UploadProgress {
  path: string;
  /** Bytes of this file sent so far in the current attempt (back to 0 when a failed PUT is retried). */
  loaded: number;
  total: number;
  /** 0 for the first attempt, 1 for the first retry… */
  attempt: number;
}

export interface PutOptions {
  fetch: typeof fetch;
  sha256: Sha256Factory;
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onProgress?: ((p: UploadProgress) => void) | undefined;
  /** Aborts the upload (and the waits between its attempts) with the signal's reason. */
  signal?: AbortSignal | undefined;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * PUTs one file to its presigned URL, retrying failed attempts; resolves with the sha256 of exactly the bytes sent.
 * Throws `MerlinApiError` (the storage's refusal, e.g. an expired URL) or `MerlinConnectionError`.
 */
export async function putFile(
  target: { url: string; headers: Record<string, string> },
  file: ArtifactFile,
  o: PutOptions,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    o.signal?.throwIfAborted();
    const canRetry = attempt < o.retry.retries;
    const hash = o.sha256();
    let loaded = 0;
    const count = (chunk: Uint8Array) => {
      hash.update(chunk);
      loaded += chunk.byteLength;
      o.onProgress?.({ path: file.path, loaded, total: file.size, attempt });
    };
    let body: RequestInit['body'];
    let chunks: AsyncIterator<Uint8Array> | undefined;
    let readError: unknown;
    if (file.bytes) {
      count(file.bytes);
      body = file.bytes;
    } else {
      const reader = file.open()[Symbol.asyncIterator]();
      chunks = reader;
      body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await reader.next().catch((e: unknown) => {
            readError = e;
            throw e;
          });
          if (next.done) return controller.close();
          count(next.value);
          controller.enqueue(next.value);
        },
        async cancel() {
          await reader.return?.();
        },
      });
    }
    let res: Response;
    try {
      res = await o.fetch(target.url, {
        method: 'PUT',
        headers: { ...target.headers, 'content-length': String(file.size) },
        body,
        ...(!file.bytes && { duplex: 'half' }),
        ...(o.signal && { signal: o.signal }),
      } as RequestInit);
    } catch (error) {
      await chunks?.return?.(); // close the file: a retry opens it again
      if (o.signal?.aborted) throw o.signal.reason;
      if (readError !== undefined) throw readError; // the file, not the network: retrying would not help
      if (canRetry) {
        await sleepUnless(o.sleep, backoffMs(o.retry, attempt, o.random), o.signal);
        continue;
      }
      throw new MerlinConnectionError(target.url, error);
    }
    // The storage may answer before reading the whole body (an error, S3's SlowDown): close the file either way.
    const text = await res.text().finally(() => chunks?.return?.());
    if (res.ok) {
      if (loaded !== file.size) {
        throw new MerlinApiError({
          status: 0,
          code: 'FILE_CHANGED',
          message: `${file.path}: ${loaded} bytes were read, but the file was ${file.size} bytes when the upload started`,
          method: 'PUT',
          url: target.url,
        });
      }
      return hash.digest();
    }
    if (canRetry && RETRY_STATUSES.has(res.status)) {
      await sleepUnless(o.sleep, retryDelayMs(o.retry, attempt, o.random, res.headers.get('retry-after')), o.signal);
      continue;
    }
    const error = apiErrorOf({
      status: res.status,
      statusText: res.statusText,
      text,
      headers: res.headers,
      method: 'PUT',
      url: target.url,
    });
    throw new MerlinApiError({
      status: error.status,
      code: error.code,
      message: `uploading ${file.path} failed: ${error.message}`,
      details: error.details,
      requestId: error.requestId,
      method: 'PUT',
      url: target.url,
    });
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure, and starts no call after it. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
