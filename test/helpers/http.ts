import { contractFor } from './openapi-contract.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers and assert on their shape
export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** JSON over HTTP without any client library: what a user's script does. */
// biome-ignore lint/suspicious/noExplicitAny: as above
export async function http<T = any>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body !== undefined && typeof body !== 'string' && { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  contractFor(url)?.check(method, url, res.status, parsed);
  return { status: res.status, body: parsed as T, headers: res.headers };
}
