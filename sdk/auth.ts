/**
 * How API requests are authenticated. An `Authenticator` sees each request (method, URL, headers, body) just before
 * it is sent — on every attempt, since a signature is bound to its time — and returns the headers to add. Only
 * requests to the platform's own origin are authenticated: presigned upload URLs carry their own signature and must
 * not get a second one.
 *
 * - none: the local platform (`npm start`) needs nothing.
 * - `bearer(token)`: an API Gateway JWT authorizer (or any bearer-token front).
 * - SigV4 (IAM authorization on API Gateway): `sigv4()` in `sdk/node.ts`, node-only, so that this module and the
 *   client stay free of the AWS SDK.
 */
export interface RequestToSign {
  method: string;
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string | undefined;
}

export type Authenticator = (request: RequestToSign) => Promise<Record<string, string>>;

/** `Authorization: Bearer <token>`; `token` may be a function, called per request (e.g. to refresh it). */
export function bearer(token: string | (() => string | Promise<string>)): Authenticator {
  return async () => ({ authorization: `Bearer ${typeof token === 'function' ? await token() : token}` });
}
