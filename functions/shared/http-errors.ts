/** The single place where errors become HTTP responses (DESIGN §4 error shape). */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  ConflictError,
  DependencyError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  UnprocessableError,
  ValidationError,
} from '../../core/errors.js';
import { logger } from './observability.js';

/** HTTP-only failures (media type, body size) that have no domain meaning. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const STATUS: [new (...a: never[]) => DomainError, number][] = [
  [ValidationError, 400],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [PreconditionFailedError, 412],
  [UnprocessableError, 422],
  [DependencyError, 503],
];

export function errorResponse(error: unknown, requestId: string | undefined): APIGatewayProxyStructuredResultV2 {
  let status = 500;
  let payload: { code: string; message: string; details?: unknown };
  if (error instanceof DomainError) {
    status = STATUS.find(([cls]) => error instanceof cls)?.[1] ?? 500;
    payload = {
      code: error.code,
      message: error.message,
      ...(error.details !== undefined && { details: error.details }),
    };
  } else if (error instanceof HttpError) {
    status = error.status;
    payload = { code: error.code, message: error.message };
  } else {
    logger.error('unhandled error', { requestId, error: error as Error });
    payload = { code: 'INTERNAL', message: 'internal error; the request id identifies it in the logs' };
  }
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: payload, requestId: requestId ?? null }),
  };
}
