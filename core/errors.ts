/**
 * The error taxonomy. Every failure a caller can act on is a DomainError with a stable `code`;
 * `functions/shared/error-mapper.ts` maps each class to exactly one HTTP status.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  readonly details?: unknown;

  constructor(message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The request is malformed: bad JSON, unknown fields, values that break a rule. HTTP 400. */
export class ValidationError extends DomainError {
  readonly code = 'VALIDATION_FAILED';
}

/** A named resource does not exist. HTTP 404. */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}

/** Uniqueness violated or the resource is in a state that forbids the request. HTTP 409. */
export class ConflictError extends DomainError {
  readonly code: string;
  constructor(message: string, details?: unknown, code = 'CONFLICT') {
    super(message, details);
    this.code = code;
  }
}

/** `If-Match` does not match the current revision. HTTP 412. */
export class PreconditionFailedError extends DomainError {
  readonly code = 'PRECONDITION_FAILED';
}

/** Well-formed request that cannot be carried out (unknown environment, checksum mismatch...). HTTP 422. */
export class UnprocessableError extends DomainError {
  readonly code: string;
  constructor(message: string, details?: unknown, code = 'UNPROCESSABLE') {
    super(message, details);
    this.code = code;
  }
}

/** The caller may not do this. HTTP 403. */
export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
}

/** A dependency (S3, DynamoDB, Step Functions, a cluster) is unavailable. HTTP 503. */
export class DependencyError extends DomainError {
  readonly code = 'DEPENDENCY_UNAVAILABLE';
}

/**
 * Raised inside workflow steps. `name` is what the state machine's Retry/Catch match on,
 * so it must stay stable: it is part of the ASL contract.
 */
export class WorkflowStepError extends Error {
  constructor(name: 'RevisionFailed' | 'DeploymentTimeout' | 'PreconditionFailed' | 'RouteFailed', message: string) {
    super(message);
    this.name = name;
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
