/**
 * The `local` cluster (DESIGN §2): every revision of a version endpoint is a model-server child process on a free
 * loopback port; version and model routes are tables the local router reads at request time.
 *
 * Children are spawned with an IPC channel: the model server reports its port (`listening`), readiness (`ready`,
 * after a warm-up inference) or a load failure (`failed`), and exits by itself when the channel disconnects, so a
 * platform killed with SIGKILL leaves no orphans. Readiness is only granted after one successful
 * `GET /v2/health/ready`. A `failed` message with `alive: true` (a function model that cannot load; its server stays
 * up, never ready) fails the revision at once with the message's reason; the process lives until the revision is
 * removed. Nothing is printed: progress goes to the optional `onEvent` callback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { type ClientRequest, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ClusterGateway,
  ModelKey,
  RevisionIdentity,
  RevisionSpec,
  RevisionState,
  VersionKey,
} from '../../core/ports.js';
import type { RouteRule } from '../../core/schemas/index.js';
import { LineSplitter, RingBuffer } from './ring-buffer.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default model-server command: the repository's `serving/main.ts` run through tsx. */
export const DEFAULT_MODEL_SERVER_COMMAND: readonly string[] = [
  process.execPath,
  '--import',
  'tsx',
  resolve(REPO_ROOT, 'serving', 'main.ts'),
];

/** Variables of the platform's own environment a model server inherits (everything else is passed explicitly). */
export const DEFAULT_INHERITED_ENV: readonly string[] = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LANG',
  'LC_ALL',
  'TZ',
  'SYSTEMROOT',
  'NODE_EXTRA_CA_CERTS',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
];

export type ProcessClusterEvent =
  | { type: 'spawned'; revision: string; pid: number | undefined }
  | { type: 'listening'; revision: string; port: number }
  | { type: 'ready'; revision: string; port: number }
  | { type: 'failed'; revision: string; reason: string }
  | { type: 'stopped'; revision: string };

export interface ProcessClusterOptions {
  /** argv of the model server (default: DEFAULT_MODEL_SERVER_COMMAND). */
  command?: readonly string[];
  /** Platform variables every model server gets (S3 endpoint and credentials, region). */
  baseEnv?: Record<string, string>;
  /** Loopback address the model servers listen on and are reached at (default 127.0.0.1). */
  host?: string;
  /** Captured output lines kept per revision (default 1000). */
  logLines?: number;
  /** Interval between readiness probes while a revision starts (default 50 ms). */
  healthIntervalMs?: number;
  /** Grace period between SIGTERM and SIGKILL (default 5000 ms). */
  stopTimeoutMs?: number;
  /** Working directory of the children (default: the repository root, where `tsx` resolves). */
  cwd?: string;
  /** Names of the platform's own environment variables passed through (default DEFAULT_INHERITED_ENV). */
  inheritEnv?: readonly string[];
  /**
   * Directory under which each revision gets its own model cache (`MODEL_CACHE_DIR`), removed with the revision.
   * Unset: the model server uses a temporary directory of its own.
   */
  cacheRoot?: string;
  /** Observer for lifecycle events; exceptions it throws are swallowed. */
  onEvent?: (event: ProcessClusterEvent) => void;
}

/** Where a ready revision of a version endpoint answers. */
export interface VersionTarget {
  host: string;
  port: number;
  version: number;
  /** The revision's name, e.g. `iris-3-r2`. */
  revision: string;
}

export interface ResolvedModelRoute {
  destinations: { version: number; weight: number; target?: VersionTarget | undefined }[];
  mirror?: { version: number; percent: number; target?: VersionTarget | undefined } | undefined;
}

export interface ProcessClusterSnapshot {
  revisions: {
    key: string;
    namespace: string;
    name: string;
    version: number;
    pid: number | undefined;
    port: number | undefined;
    state: 'starting' | 'ready' | 'failed' | 'stopping';
    reason?: string;
  }[];
  versionRoutes: { version: string; revision: string }[];
  modelRoutes: { model: string; rule: RouteRule }[];
}

type Phase = 'starting' | 'ready' | 'failed' | 'stopping';

interface Revision {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly version: number;
  readonly child: ChildProcess | undefined;
  readonly logs: RingBuffer;
  readonly listeners: Set<() => void>;
  /** Resolves once the process is gone (or never started). */
  readonly gone: Promise<void>;
  markGone: () => void;
  phase: Phase;
  reason?: string;
  port?: number;
  target?: VersionTarget;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  exited: boolean;
  stopping?: Promise<void>;
  healthTimer?: NodeJS.Timeout;
  healthRequest?: ClientRequest;
  /** The IPC `ready` arrived while a probe was in flight: probe again at once if that one says no. */
  probeAgain: boolean;
  timers: Set<NodeJS.Timeout>;
}

/** Logs of removed revisions are kept for diagnosis (a failed deploy removes its revision), up to this many. */
const REMOVED_LOGS_KEPT = 100;
const HEALTH_PATH = '/v2/health/ready';
const HEALTH_TIMEOUT_MS = 2_000;
/** After `exit`, how long to wait for the pipes to drain (`close`) before concluding anyway. */
const CLOSE_GRACE_MS = 500;

/** Every live child of every ProcessCluster, killed synchronously if the platform exits without a shutdown. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) signal(c, 'SIGKILL');
  });
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    child.kill(name);
  } catch {
    // already gone
  }
}

const revisionKey = (r: { namespace: string; name: string }): string => `${r.namespace}/${r.name}`;
const versionRouteKey = (v: VersionKey): string => `${v.project}/${v.model}/${v.version}`;
const modelRouteKey = (m: ModelKey): string => `${m.project}/${m.model}`;

/** The message of a captured output line: a JSON log line's `msg`, otherwise the raw line. */
export function messageOf(line: string): string {
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object') {
        const msg = (parsed as Record<string, unknown>)['msg'] ?? (parsed as Record<string, unknown>)['message'];
        if (typeof msg === 'string' && msg !== '') return msg;
      }
    } catch {
      // not JSON after all
    }
  }
  return line.trim();
}

/**
 * Whether a line says something on its own: skips blank lines, indented continuation lines (stack frames, object
 * dumps), and the trailer Node prints after an uncaught exception (`Node.js v20…`, `^`, `}`).
 */
function isTelling(line: string): boolean {
  if (line === '' || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) return false;
  const t = line.trim();
  return t !== '' && t !== '}' && !/^\^+$/.test(t) && !/^Node\.js v\d/.test(t);
}

export class ProcessCluster implements ClusterGateway {
  readonly #command: readonly string[];
  readonly #baseEnv: Record<string, string>;
  readonly #host: string;
  readonly #logLines: number;
  readonly #healthIntervalMs: number;
  readonly #stopTimeoutMs: number;
  readonly #cwd: string;
  readonly #inheritEnv: readonly string[];
  readonly #onEvent: ((event: ProcessClusterEvent) => void) | undefined;
  readonly #cacheRoot: string | undefined;

  readonly #revisions = new Map<string, Revision>();
  readonly #removedLogs = new Map<string, RingBuffer>();
  /** `${project}/${model}/${version}` → revision key. */
  readonly #versionRoutes = new Map<string, string>();
  /** `${project}/${model}` → rule. */
  readonly #modelRoutes = new Map<string, RouteRule>();
  /** Bumped on every change that can alter a resolution, so resolved model routes can be cached. */
  #generation = 0;
  readonly #resolvedModels = new Map<string, { generation: number; route: ResolvedModelRoute }>();
  #shuttingDown = false;

  constructor(options: ProcessClusterOptions = {}) {
    this.#command = options.command ?? DEFAULT_MODEL_SERVER_COMMAND;
    if (this.#command.length === 0) throw new TypeError('command must name a program');
    this.#baseEnv = { ...options.baseEnv };
    this.#host = options.host ?? '127.0.0.1';
    this.#logLines = options.logLines ?? 1_000;
    this.#healthIntervalMs = options.healthIntervalMs ?? 50;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
    this.#cwd = options.cwd ?? REPO_ROOT;
    this.#inheritEnv = options.inheritEnv ?? DEFAULT_INHERITED_ENV;
    this.#onEvent = options.onEvent;
    this.#cacheRoot = options.cacheRoot;
  }

  // ---- ClusterGateway ------------------------------------------------------------------------------------------

  async applyRevision(spec: RevisionSpec): Promise<void> {
    const key = revisionKey(spec);
    for (;;) {
      if (this.#shuttingDown) throw new Error('the local cluster is shutting down');
      const existing = this.#revisions.get(key);
      if (existing === undefined) break;
      if (existing.phase === 'starting' || existing.phase === 'ready') return;
      if (existing.phase === 'stopping') {
        await existing.stopping;
        continue;
      }
      // failed: the process is gone (or about to be); replace it with a fresh one.
      await this.#remove(existing);
    }
    this.#spawn(spec, key);
  }

  async revisionStatus(revision: RevisionIdentity, options: { waitMs?: number } = {}): Promise<RevisionState> {
    const entry = this.#revisions.get(revisionKey(revision));
    const waitMs = options.waitMs ?? 0;
    if (entry !== undefined && entry.phase === 'starting' && waitMs > 0) await this.#waitForChange(entry, waitMs);
    return this.#stateOf(revisionKey(revision));
  }

  async deleteRevision(revision: RevisionIdentity): Promise<void> {
    const entry = this.#revisions.get(revisionKey(revision));
    if (entry !== undefined) await this.#remove(entry);
  }

  async routeVersion(version: VersionKey, revision: RevisionIdentity): Promise<void> {
    this.#versionRoutes.set(versionRouteKey(version), revisionKey(revision));
    this.#changed();
  }

  async unrouteVersion(version: VersionKey): Promise<void> {
    if (this.#versionRoutes.delete(versionRouteKey(version))) this.#changed();
  }

  async applyModelRoute(model: ModelKey, rule: RouteRule): Promise<void> {
    this.#modelRoutes.set(modelRouteKey(model), structuredClone(rule));
    this.#changed();
  }

  async deleteModelRoute(model: ModelKey): Promise<void> {
    if (this.#modelRoutes.delete(modelRouteKey(model))) this.#changed();
  }

  async revisionLogs(revision: RevisionIdentity, options: { tail: number }): Promise<string[]> {
    const key = revisionKey(revision);
    const logs = this.#revisions.get(key)?.logs ?? this.#removedLogs.get(key);
    return logs === undefined ? [] : logs.tail(options.tail);
  }

  // ---- Route table for the local router --------------------------------------------------------------------------

  /** The ready revision behind a version endpoint's address, or undefined. */
  resolveVersion(project: string, model: string, version: number): VersionTarget | undefined {
    const key = this.#versionRoutes.get(`${project}/${model}/${version}`);
    if (key === undefined) return undefined;
    const entry = this.#revisions.get(key);
    return entry !== undefined && entry.phase === 'ready' ? entry.target : undefined;
  }

  /** A model endpoint's rule with every version resolved through the version routes now, or undefined. */
  resolveModel(project: string, model: string): ResolvedModelRoute | undefined {
    const key = `${project}/${model}`;
    const rule = this.#modelRoutes.get(key);
    if (rule === undefined) return undefined;
    const cached = this.#resolvedModels.get(key);
    if (cached !== undefined && cached.generation === this.#generation) return cached.route;
    const route: ResolvedModelRoute = {
      destinations: rule.destinations.map((d) => ({
        version: d.version,
        weight: d.weight,
        target: this.resolveVersion(project, model, d.version),
      })),
    };
    if (rule.mirror !== undefined) {
      route.mirror = {
        version: rule.mirror.version,
        percent: rule.mirror.percent,
        target: this.resolveVersion(project, model, rule.mirror.version),
      };
    }
    this.#resolvedModels.set(key, { generation: this.#generation, route });
    return route;
  }

  /** Diagnostics: every revision and route. */
  list(): ProcessClusterSnapshot {
    return {
      revisions: [...this.#revisions.values()].map((e) => ({
        key: e.key,
        namespace: e.namespace,
        name: e.name,
        version: e.version,
        pid: e.child?.pid,
        port: e.port,
        state: e.phase,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
      })),
      versionRoutes: [...this.#versionRoutes].map(([version, revision]) => ({ version, revision })),
      modelRoutes: [...this.#modelRoutes].map(([model, rule]) => ({ model, rule: structuredClone(rule) })),
    };
  }

  /** Stops every child (SIGTERM, then SIGKILL after the grace period); resolves when all have exited. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    await Promise.all([...this.#revisions.values()].map((e) => this.#remove(e)));
  }

  // ---- Internals -------------------------------------------------------------------------------------------------

  #emit(event: ProcessClusterEvent): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch {
      // an observer must not break the cluster
    }
  }

  #changed(): void {
    this.#generation++;
  }

  #stateOf(key: string): RevisionState {
    const entry = this.#revisions.get(key);
    if (entry === undefined || entry.phase === 'stopping') return { state: 'absent' };
    if (entry.phase === 'ready') return { state: 'ready' };
    if (entry.phase === 'failed') return { state: 'failed', reason: entry.reason ?? 'model server failed' };
    return {
      state: 'starting',
      reason: entry.port === undefined ? 'waiting for the model server to listen' : 'waiting for the model to be ready',
    };
  }

  #setPhase(entry: Revision, phase: Phase, reason?: string): void {
    entry.phase = phase;
    if (reason !== undefined) entry.reason = reason;
    this.#changed();
    for (const listener of [...entry.listeners]) listener();
  }

  #waitForChange(entry: Revision, waitMs: number): Promise<void> {
    return new Promise<void>((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        entry.listeners.delete(finish);
        done();
      };
      const timer = setTimeout(finish, waitMs);
      entry.listeners.add(finish);
    });
  }

  #cacheDir(namespace: string, name: string): string {
    return join(this.#cacheRoot!, namespace, name);
  }

  #childEnv(spec: RevisionSpec): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of this.#inheritEnv) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    // Secrets like plain variables; neither can replace the contract variables set below.
    Object.assign(env, this.#baseEnv, spec.env, spec.secretEnv);
    env['MODEL_NAME'] = spec.model;
    env['MODEL_VERSION'] = String(spec.version);
    env['MODEL_TYPE'] = spec.modelType;
    env['ARTIFACT_URI'] = spec.artifactUri;
    env['MODEL_FILE'] = spec.modelFile;
    env['PORT'] = '0';
    env['HOST'] = this.#host;
    if (this.#cacheRoot !== undefined) env['MODEL_CACHE_DIR'] = this.#cacheDir(spec.namespace, spec.name);
    const { batching, requestTimeoutMs } = spec.serving;
    if (batching) {
      env['BATCH_MAX_SIZE'] = String(batching.maxBatchSize);
      env['BATCH_MAX_LATENCY_MS'] = String(batching.maxLatencyMs);
    }
    if (requestTimeoutMs !== undefined) env['REQUEST_TIMEOUT_MS'] = String(requestTimeoutMs);
    if (spec.custom?.command) {
      env['CUSTOM_COMMAND'] = JSON.stringify(spec.custom.command);
      env['CUSTOM_PROTOCOL'] = spec.custom.protocol;
    }
    return env;
  }

  #spawn(spec: RevisionSpec, key: string): void {
    let markGone!: () => void;
    const gone = new Promise<void>((r) => {
      markGone = r;
    });
    const [program, ...args] = this.#command as [string, ...string[]];
    let child: ChildProcess | undefined;
    let spawnError: Error | undefined;
    try {
      child = spawn(program, args, {
        cwd: this.#cwd,
        env: this.#childEnv(spec),
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        windowsHide: true,
      });
    } catch (err) {
      spawnError = err as Error;
    }
    const entry: Revision = {
      key,
      namespace: spec.namespace,
      name: spec.name,
      version: spec.version,
      child,
      logs: new RingBuffer(Math.max(1, this.#logLines)),
      listeners: new Set(),
      gone,
      markGone,
      phase: 'starting',
      exitCode: null,
      exitSignal: null,
      exited: false,
      probeAgain: false,
      timers: new Set(),
    };
    this.#revisions.set(key, entry);
    this.#changed();
    if (child === undefined) {
      this.#finish(entry, spawnError?.message ?? 'model server could not be spawned');
      return;
    }
    track(child);
    this.#emit({ type: 'spawned', revision: key, pid: child.pid });

    const push = (line: string): void => entry.logs.push(line);
    const out = new LineSplitter(push);
    const err = new LineSplitter(push);
    child.stdout?.on('data', (chunk: Buffer) => out.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.write(chunk));
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});

    child.on('message', (message: unknown) => this.#onMessage(entry, message));
    child.on('error', (error) => {
      // Also raised for a failed kill() or send(); only a spawn failure (no pid) ends the revision here.
      if (child.pid === undefined) this.#finish(entry, error.message);
    });
    child.once('exit', (code, signal) => {
      entry.exitCode = code;
      entry.exitSignal = signal;
      liveChildren.delete(child);
      this.#timer(entry, CLOSE_GRACE_MS, () => this.#finish(entry));
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (!entry.exited) {
        entry.exitCode = entry.exitCode ?? code;
        entry.exitSignal = entry.exitSignal ?? signal;
      }
      out.flush();
      err.flush();
      this.#finish(entry);
    });
  }

  #timer(entry: Revision, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      entry.timers.delete(t);
      fn();
    }, ms);
    entry.timers.add(t);
  }

  #onMessage(entry: Revision, message: unknown): void {
    if (message === null || typeof message !== 'object' || entry.phase !== 'starting') return;
    const m = message as { type?: unknown; port?: unknown; reason?: unknown; alive?: unknown };
    if (m.type === 'listening' && typeof m.port === 'number' && entry.port === undefined) {
      entry.port = m.port;
      this.#emit({ type: 'listening', revision: entry.key, port: m.port });
      this.#probe(entry);
    } else if (m.type === 'ready') {
      // Short-circuits the probe interval; readiness is still confirmed over HTTP.
      if (entry.healthRequest !== undefined) entry.probeAgain = true;
      else this.#probe(entry);
    } else if (m.type === 'failed' && m.alive === true) {
      // The server stays up but will never be ready (a function model that failed to load): fail the revision now,
      // with the server's reason; the process runs until the revision is removed.
      const reason = typeof m.reason === 'string' && m.reason !== '' ? m.reason : 'model server failed to load';
      this.#stopProbing(entry);
      this.#setPhase(entry, 'failed', reason);
      this.#emit({ type: 'failed', revision: entry.key, reason });
    } else if (m.type === 'failed') {
      // The server exits on its own; make sure of it so the failure gets reported.
      this.#timer(entry, this.#stopTimeoutMs, () => {
        if (!entry.exited && entry.child !== undefined) signal(entry.child, 'SIGKILL');
      });
    }
  }

  #probe(entry: Revision): void {
    if (entry.healthTimer !== undefined) {
      clearTimeout(entry.healthTimer);
      entry.healthTimer = undefined;
    }
    if (entry.phase !== 'starting' || entry.port === undefined || entry.healthRequest !== undefined) return;
    const port = entry.port;
    entry.probeAgain = false;
    const next = (): void => {
      entry.healthRequest = undefined;
      if (entry.phase !== 'starting') return;
      if (entry.probeAgain) this.#probe(entry);
      else entry.healthTimer = setTimeout(() => this.#probe(entry), this.#healthIntervalMs);
    };
    const req = request(
      { host: this.#host, port, path: HEALTH_PATH, method: 'GET', agent: false, timeout: HEALTH_TIMEOUT_MS },
      (res) => {
        res.resume();
        if (res.statusCode === 200) {
          entry.healthRequest = undefined;
          if (entry.phase !== 'starting') return;
          entry.target = { host: this.#host, port, version: entry.version, revision: entry.name };
          this.#setPhase(entry, 'ready');
          this.#emit({ type: 'ready', revision: entry.key, port });
        } else {
          next();
        }
      },
    );
    req.on('timeout', () => req.destroy(new Error('health check timed out')));
    req.on('error', () => {
      if (entry.healthRequest === req) next();
    });
    entry.healthRequest = req;
    req.end();
  }

  #stopProbing(entry: Revision): void {
    if (entry.healthTimer !== undefined) clearTimeout(entry.healthTimer);
    entry.healthTimer = undefined;
    const req = entry.healthRequest;
    entry.healthRequest = undefined;
    req?.destroy();
  }

  /** The process is gone: conclude (once). `spawnFailure` is the spawn error when there never was a process. */
  #finish(entry: Revision, spawnFailure?: string): void {
    if (entry.exited) return;
    entry.exited = true;
    for (const t of entry.timers) clearTimeout(t);
    entry.timers.clear();
    this.#stopProbing(entry);
    if (entry.child !== undefined) liveChildren.delete(entry.child);
    entry.markGone();
    if (entry.phase === 'stopping') return; // #remove takes it from here
    if (entry.phase === 'failed') return; // already failed with the server's own reason (`failed` with `alive`)
    let reason: string;
    if (spawnFailure !== undefined) {
      reason = spawnFailure;
    } else {
      const how =
        entry.exitCode !== null ? `with code ${entry.exitCode}` : `with signal ${entry.exitSignal ?? 'unknown'}`;
      const last = entry.logs.findLast(isTelling);
      const detail = last === undefined ? '' : `: ${messageOf(last)}`;
      reason =
        entry.phase === 'ready'
          ? `model server exited unexpectedly ${how}${detail}`
          : `model server exited ${how}${detail}`;
    }
    entry.target = undefined;
    this.#setPhase(entry, 'failed', reason);
    this.#emit({ type: 'failed', revision: entry.key, reason });
  }

  /** Stops the process if it runs (SIGTERM, SIGKILL after the grace period) and forgets the revision. */
  #remove(entry: Revision): Promise<void> {
    if (entry.stopping !== undefined) return entry.stopping;
    this.#stopProbing(entry);
    entry.target = undefined;
    this.#setPhase(entry, 'stopping');
    entry.stopping = (async () => {
      const child = entry.child;
      if (!entry.exited && child !== undefined) {
        signal(child, 'SIGTERM');
        let killTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          entry.gone,
          new Promise<void>((r) => {
            killTimer = setTimeout(r, this.#stopTimeoutMs);
          }),
        ]);
        clearTimeout(killTimer);
        if (!entry.exited) signal(child, 'SIGKILL');
      }
      await entry.gone;
      if (this.#cacheRoot !== undefined) {
        await rm(this.#cacheDir(entry.namespace, entry.name), { recursive: true, force: true }).catch(() => undefined);
      }
      if (this.#revisions.get(entry.key) === entry) {
        this.#revisions.delete(entry.key);
        this.#removedLogs.delete(entry.key);
        this.#removedLogs.set(entry.key, entry.logs);
        if (this.#removedLogs.size > REMOVED_LOGS_KEPT) {
          const oldest = this.#removedLogs.keys().next().value;
          if (oldest !== undefined) this.#removedLogs.delete(oldest);
        }
        this.#changed();
      }
      this.#emit({ type: 'stopped', revision: entry.key });
    })();
    return entry.stopping;
  }
}
