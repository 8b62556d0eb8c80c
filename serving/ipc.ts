/**
 * Messages the model server sends to its parent over the IPC channel, when spawned with one (the local cluster
 * spawns it with `stdio: [..., 'ipc']`). Unknown message types must be ignored by the parent.
 *
 * - `{type: 'listening', port}`: the HTTP server is up (liveness answers).
 * - `{type: 'loaded', loadMs}`: the model is loaded; warm-up follows.
 * - `{type: 'ready'}`: the warm-up inference succeeded; the server takes traffic.
 * - `{type: 'failed', reason}`: startup failed; the process exits with code 1 right after. `reason` equals the
 *   last log line's `msg`, e.g. `model failed to load: onnxruntime: ...`.
 * - `{type: 'failed', reason, alive: true}`: a function model failed to load; the process stays up, never ready
 *   (readiness answers 503 with the reason), until SIGTERM or a disconnect.
 *
 * When the channel disconnects (the parent died or called `disconnect()`), the server exits with code 0.
 */
export type ServerMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'loaded'; readonly loadMs: number }
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly reason: string; readonly alive?: true };

/** Sent by the parent, only honoured when `SERVING_TEST_HOLD_WARMUP=1`: start the warm-up. */
export type ParentMessage = { readonly type: 'warmup' };

export const hasParent = (): boolean => typeof process.send === 'function' && process.connected;

/** Sends a message to the parent, if any; resolves when it was handed to the channel (or at once without one). */
export function notifyParent(message: ServerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!hasParent()) return resolve();
    try {
      process.send?.(message, undefined, {}, () => resolve());
    } catch {
      resolve(); // the channel closed in between
    }
  });
}

/** Resolves when the parent sends a message of the given type. */
export function waitForParent(type: ParentMessage['type']): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (msg: unknown) => {
      if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type) {
        process.off('message', onMessage);
        resolve();
      }
    };
    process.on('message', onMessage);
  });
}
