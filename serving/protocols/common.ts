/** Shared by both protocols: the model being served and small JSON-shape helpers. */
import { BadRequestError } from '../errors.js';
import type { Runtime } from '../runtimes/runtime.js';

/** The one model this server serves. `runtime` is set once loaded; `ready` once warm-up succeeded. */
export interface ServedModel {
  readonly name: string;
  readonly version: string;
  runtime: Runtime | undefined;
  ready: boolean;
  /** Why the model will never be ready (a function model that failed to load; the server stays up). */
  failure?: string;
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new BadRequestError(`${what} must be a JSON object`);
  return value;
}

export function names(items: readonly { readonly name: string }[]): string {
  return items.map((i) => i.name).join(', ');
}
