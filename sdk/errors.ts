/**
 * The SDK's errors. Every failure a caller can act on is one of these, carrying what the server said: the API's
 * `{"error": {"code", "message", "details"}, "requestId"}` (DESIGN §4), the data plane's `{"error": "..."}`, API
 * Gateway's own `{"message": "..."}`, or S3's XML error.
 */
import type { Deployment } from '../core/schemas/deployment.js';

/** Base class: `instanceof MerlinError` catches everything the SDK throws on purpose. */
export class MerlinError extends Error {
  override name = 'MerlinError';
}

/** A non-2xx answer. `code` is the API's error code (e.g. `ALREADY_EXISTS`), or one derived from the status. */
export class MerlinApiError extends MerlinError {
  override name = 'MerlinApiError';
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly requestId: string | undefined;
  readonly method: string;
  readonly url: string;
  /** Requests sent for this call, the retries included (1: no retry). */
  readonly attempts: number;

  constructor(o: {
    status: number;
    code: string;
    message: string;
    details?: unknown;
    requestId?: string | undefined;
    method: string;
    url: string;
    attempts?: number | undefined;
  }) {
    super(o.message);
    this.status = o.status;
    this.code = o.code;
    this.details = o.details;
    this.requestId = o.requestId;
    this.method = o.method;
    this.url = o.url;
    this.attempts = o.attempts ?? 1;
  }
}

/**
 * The platform could not be reached (refused, reset, DNS), after the retries a call that is safe to repeat gets. A
 * call that is not (a PUT or DELETE) fails at the first reset, its message saying it may have been carried out.
 */
export class MerlinConnectionError extends MerlinError {
  override name = 'MerlinConnectionError';
  readonly url: string;
  constructor(url: string, cause: unknown, note?: string) {
    const reason = causeOf(cause);
    super(`cannot reach ${new URL(url).origin} (${reason})${note ? `; ${note}` : ''}`, { cause });
    this.url = url;
  }
}

/** Something did not finish in the time the caller allowed. It may still finish on the server. */
export class MerlinTimeoutError extends MerlinError {
  override name = 'MerlinTimeoutError';
  readonly timeoutMs: number;
  /** The deployment being waited for, as last seen. */
  readonly deployment: Deployment | undefined;
  /** The step the deployment was in when the time ran out. */
  readonly step: string | undefined;
  constructor(message: string, o: { timeoutMs: number; deployment?: Deployment; step?: string }) {
    super(message);
    this.timeoutMs = o.timeoutMs;
    this.deployment = o.deployment;
    this.step = o.step;
  }
}

/** A deployment (deploy, undeploy or route) ended `failed`: the message is the server's precise reason. */
export class DeploymentFailedError extends MerlinError {
  override name = 'DeploymentFailedError';
  readonly deployment: Deployment;
  /** The error code the workflow recorded (e.g. `RevisionFailed`). */
  readonly code: string;
  /** The step that failed, when one did. */
  readonly step: string | undefined;
  /** The reason alone, e.g. `model server exited with code 1: model failed to load: …`. */
  readonly reason: string;
  constructor(deployment: Deployment) {
    const failed = deployment.steps.find((s) => s.status === 'failed');
    const reason = deployment.error?.message ?? failed?.error ?? 'no reason recorded';
    const what = `${deployment.kind} of ${targetOf(deployment)} in ${deployment.environment}`;
    super(`${what} failed${failed ? ` in step "${failed.name}"` : ''}: ${reason}`);
    this.deployment = deployment;
    this.code = deployment.error?.code ?? 'DEPLOYMENT_FAILED';
    this.step = failed?.name;
    this.reason = reason;
  }
}

export const targetOf = (d: Pick<Deployment, 'project' | 'model' | 'version'>): string =>
  `${d.project}/${d.model}${d.version === undefined ? '' : `@${d.version}`}`;

/** Codes for answers that carry no API error code (the gateway's own, the data plane's, S3's). */
const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_ERROR',
  502: 'BAD_GATEWAY',
  503: 'UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

/** The error for a non-2xx answer, from whichever error shape its body has. */
export function apiErrorOf(o: {
  status: number;
  statusText?: string;
  text: string;
  headers: Headers;
  method: string;
  url: string;
  attempts?: number | undefined;
}): MerlinApiError {
  let code = STATUS_CODES[o.status] ?? `HTTP_${o.status}`;
  let message = '';
  let details: unknown;
  let requestId = o.headers.get('apigw-requestid') ?? o.headers.get('x-amzn-requestid') ?? undefined;
  let json: unknown;
  try {
    json = o.text ? JSON.parse(o.text) : undefined;
  } catch {
    json = undefined;
  }
  if (json && typeof json === 'object') {
    const body = json as { error?: unknown; requestId?: unknown; message?: unknown; Message?: unknown };
    if (body.error && typeof body.error === 'object') {
      const e = body.error as { code?: unknown; message?: unknown; details?: unknown };
      if (typeof e.code === 'string') code = e.code;
      if (typeof e.message === 'string') message = e.message;
      details = e.details;
    } else if (typeof body.error === 'string') {
      message = body.error;
    } else if (typeof body.message === 'string') {
      message = body.message;
    } else if (typeof body.Message === 'string') {
      message = body.Message;
    }
    if (typeof body.requestId === 'string') requestId = body.requestId;
  } else if (o.text.trimStart().startsWith('<')) {
    // S3 (presigned uploads): <Error><Code>…</Code><Message>…</Message></Error>
    const xml = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(o.text)?.[1];
    code = xml('Code') ?? code;
    message = xml('Message') ?? '';
  } else {
    message = o.text.trim().slice(0, 500);
  }
  if (!message) message = `${o.method} ${new URL(o.url).pathname} answered ${o.status} ${o.statusText ?? ''}`.trim();
  return new MerlinApiError({
    status: o.status,
    code,
    message,
    details,
    requestId,
    method: o.method,
    url: o.url,
    attempts: o.attempts,
  });
}

/** `ECONNREFUSED 127.0.0.1:8080` from undici's `TypeError: fetch failed` (cause chain), or the message. */
export function causeOf(error: unknown): string {
  let e: unknown = error;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    if (!cause) break;
    e = cause;
  }
  return error instanceof Error ? error.message : String(error);
}
