/**
 * What the CLI writes. Human output: each step on its own line as it ends, with its duration (on a terminal the
 * step in progress and upload percentages show on a transient line), results as tables. `--json`: one JSON document
 * on stdout at the end, nothing else there; errors as `{"error": {...}}` on stderr.
 */
import { DeploymentFailedError, MerlinApiError, MerlinError, MerlinTimeoutError } from '../errors.js';
import { formatBytes, formatDuration } from '../format.js';
import type { ProgressEvent } from '../watch.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stdout is a terminal: transient progress lines are allowed. */
  isTTY: boolean;
  /** Registers what to do on Ctrl+C (the bin: SIGINT), which must end the process. */
  onInterrupt?: ((handler: () => void) => void) | undefined;
  env: Record<string, string | undefined>;
}

/** A usage mistake: exit code 2, the message and a pointer to `--help`. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3, unreachable: 4 } as const;

export class Output {
  readonly json: boolean;
  readonly #io: Io;
  #transient = false;
  /** Every step event, in order: part of `--json` results. */
  readonly steps: {
    step: string;
    status: string;
    durationMs?: number;
    detail?: string;
    error?: string;
    deploymentId?: string;
  }[] = [];

  constructor(io: Io, json: boolean) {
    this.#io = io;
    this.json = json;
  }

  #clear() {
    if (this.#transient) {
      this.#io.stdout('\r\x1b[2K');
      this.#transient = false;
    }
  }

  /** A line of human output (nothing in `--json` mode). */
  line(text = '') {
    if (this.json) return;
    this.#clear();
    this.#io.stdout(`${text}\n`);
  }

  #temp(text: string) {
    if (this.json || !this.#io.isTTY) return;
    this.#clear();
    this.#io.stdout(text);
    this.#transient = true;
  }

  /** A note on stderr (human mode only): hints that must not mix with a command's output. */
  note(text: string) {
    if (this.json) return;
    this.#clear();
    this.#io.stderr(`${text}\n`);
  }

  /** A step that the CLI itself carries out and times (e.g. `Project demo`). */
  done(step: string, durationMs: number, detail?: string) {
    this.progress({ type: 'step', step, status: 'succeeded', durationMs, ...(detail && { detail }) });
  }

  /** The deployment being followed, if any. */
  deploymentId: string | undefined;

  readonly progress = (e: ProgressEvent) => {
    if (e.type === 'step' && e.deploymentId) this.deploymentId = e.deploymentId;
    if (e.type === 'upload') {
      if (e.total > 0) {
        const pct = Math.floor((100 * e.loaded) / e.total);
        const retry = e.attempt > 0 ? ` (retry ${e.attempt})` : '';
        this.#temp(`  ↑ ${e.path} ${pct}% of ${formatBytes(e.total)}${retry}`);
      }
      return;
    }
    if (e.status !== 'running') {
      this.steps.push({
        step: e.step,
        status: e.status,
        ...(e.durationMs !== undefined && { durationMs: e.durationMs }),
        ...(e.detail !== undefined && { detail: e.detail }),
        ...(e.error !== undefined && { error: e.error }),
        ...(e.deploymentId !== undefined && { deploymentId: e.deploymentId }),
      });
    }
    const indent = e.depth === 1 ? '    ' : '  ';
    if (e.status === 'running') {
      // A step that starts a workflow gets a header line; the workflow's own steps a transient "…" line.
      if (e.depth === 1 || !e.deploymentId) this.#temp(`${indent}… ${e.step}`);
      else this.line(`${indent}▸ ${e.step}${e.detail ? ` (${e.detail})` : ''}`);
      return;
    }
    const mark = e.status === 'succeeded' ? '✓' : e.status === 'failed' ? '✗' : '-';
    const took = e.durationMs !== undefined ? ` (${formatDuration(e.durationMs)})` : '';
    const what = e.status === 'skipped' ? ' skipped' : '';
    const detail = e.detail && !e.deploymentId ? ` — ${e.detail}` : '';
    // The reason of a failure is printed once, at the end (`fail`).
    this.line(`${indent}${mark} ${e.step}${what}${took}${detail}`);
  };

  /** Ctrl+C: what goes on without us. Returns the exit code (130, as shells report SIGINT). */
  interrupted(): number {
    this.#clear();
    const id = this.deploymentId;
    const what = id
      ? `deployment ${id} goes on on the server; follow it with: npx merlin deployments watch ${id}`
      : 'stopped before a deployment started';
    this.#io.stderr(
      this.json ? `${JSON.stringify({ error: { code: 'INTERRUPTED', message: what } })}\n` : `\ninterrupted: ${what}\n`,
    );
    return 130;
  }

  /** The `--json` result. */
  result(value: unknown) {
    if (this.json) this.#io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Prints an error and returns the exit code for it. */
  fail(e: unknown): number {
    this.#clear();
    const code = exitCodeOf(e);
    if (this.json) {
      this.#io.stderr(`${JSON.stringify({ error: errorJson(e) })}\n`);
      return code;
    }
    this.#io.stderr(`merlin: ${(e as Error)?.message ?? String(e)}\n`);
    if (e instanceof UsageError) this.#io.stderr('Run `merlin --help` for usage.\n');
    if (e instanceof DeploymentFailedError) this.#io.stderr(`  deployment ${e.deployment.id} (${e.code})\n`);
    if (e instanceof MerlinApiError && e.requestId) this.#io.stderr(`  request ${e.requestId}\n`);
    return code;
  }
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof MerlinTimeoutError) return EXIT.timeout;
  if (e instanceof MerlinError && e.name === 'MerlinConnectionError') return EXIT.unreachable;
  return EXIT.failed;
}

function errorJson(e: unknown): Record<string, unknown> {
  const message = (e as Error)?.message ?? String(e);
  if (e instanceof MerlinApiError) {
    return {
      code: e.code,
      message,
      status: e.status,
      ...(e.details !== undefined && { details: e.details }),
      ...(e.requestId && { requestId: e.requestId }),
    };
  }
  if (e instanceof DeploymentFailedError) {
    return {
      code: e.code,
      message,
      reason: e.reason,
      ...(e.step && { step: e.step }),
      deploymentId: e.deployment.id,
    };
  }
  if (e instanceof MerlinTimeoutError) {
    return {
      code: 'TIMEOUT',
      message,
      ...(e.deployment && { deploymentId: e.deployment.id }),
      ...(e.step && { step: e.step }),
    };
  }
  if (e instanceof UsageError) return { code: 'USAGE', message };
  if (e instanceof MerlinError && e.name === 'MerlinConnectionError') return { code: 'UNREACHABLE', message };
  return { code: 'ERROR', message };
}

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
