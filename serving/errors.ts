/**
 * Errors that carry their HTTP status. Every failure answers `{"error": message}`; the mapping follows KServe's
 * (`reference/protocols.md` §4.1): bad input 400, unknown model or route 404, method 405, body too large 413,
 * inference failure 500, not implemented 501, not ready 503.
 */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers, e.g. `allow` for 405. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** The request is malformed or does not fit the model's inputs. HTTP 400. */
export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError';
  constructor(message: string) {
    super(400, message);
  }
}

export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(404, message);
  }
}

export class NotReadyError extends HttpError {
  override readonly name = 'NotReadyError';
  constructor(message: string) {
    super(503, message);
  }
}

/** The runtime failed on input that passed validation. HTTP 500. */
export class InferenceError extends HttpError {
  override readonly name = 'InferenceError';
  constructor(message: string) {
    super(500, message);
  }
}
