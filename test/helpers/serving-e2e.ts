/**
 * Helpers for e2e tests that drive a spawned local platform over HTTP only: start it with a config file, register
 * and deploy versions of the iris example, wait for Deployments, change a model endpoint's rule, send bursts of
 * predictions, find a version's model-server process, and read its request counter from `/metrics`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentConfig } from '../../core/schemas/environment.js';
import { http, type Reply } from './http.js';
import { eventually, modelServerPids, type RunningPlatform, spawnPlatform } from './spawn-platform.js';

const ROOT = new URL('../..', import.meta.url).pathname;
export const IRIS_MODEL = readFileSync(join(ROOT, 'examples/iris/model.onnx'));
const IRIS_SHA = createHash('sha256').update(IRIS_MODEL).digest('hex');

/** Like `spawnPlatform`, with a merlin.config.json (e.g. to raise `maxActiveVersionsPerModel`). */
export const spawnPlatformWithConfig = (args: { port: number; dataDir: string; environments: EnvironmentConfig[] }) =>
  spawnPlatform(args);

export interface Rule {
  destinations: { version: number; weight: number }[];
  mirror?: { version: number; percent: number };
}

/** The control plane of one model, over HTTP. */
export class ModelApi {
  constructor(
    readonly api: string,
    readonly project: string,
    readonly model: string,
  ) {}

  get versionsUrl(): string {
    return `${this.api}/projects/${this.project}/models/${this.model}/versions`;
  }

  get modelEndpointUrl(): string {
    return `${this.api}/projects/${this.project}/models/${this.model}/endpoints/local`;
  }

  /** Creates the project (if needed) and the model. */
  async create(): Promise<void> {
    const p = await http('POST', `${this.api}/projects`, { name: this.project });
    if (p.status !== 201 && p.status !== 409) throw new Error(`create project: ${p.status} ${JSON.stringify(p.body)}`);
    const m = await http('POST', `${this.api}/projects/${this.project}/models`, { name: this.model, type: 'onnx' });
    if (m.status !== 201) throw new Error(`create model: ${m.status} ${JSON.stringify(m.body)}`);
  }

  /** Uploads the iris model into an existing version through presigned URLs and verifies it. */
  async uploadIris(version: number): Promise<void> {
    const up = await http('POST', `${this.versionsUrl}/${version}/artifact:upload`, {
      files: [{ path: 'model.onnx' }],
    });
    if (up.status !== 200) throw new Error(`artifact:upload: ${up.status} ${JSON.stringify(up.body)}`);
    const put = await fetch(up.body.uploads[0].url, {
      method: 'PUT',
      body: IRIS_MODEL,
      headers: up.body.uploads[0].headers,
    });
    await put.arrayBuffer();
    if (put.status !== 200) throw new Error(`upload PUT: ${put.status}`);
    const done = await http('POST', `${this.versionsUrl}/${version}/artifact:complete`, {
      files: [{ path: 'model.onnx', size: IRIS_MODEL.length, sha256: IRIS_SHA }],
    });
    if (done.status !== 200) throw new Error(`artifact:complete: ${done.status} ${JSON.stringify(done.body)}`);
  }

  /** A new version with the iris model uploaded and verified; its number. */
  async irisVersion(): Promise<number> {
    const v = await http('POST', this.versionsUrl, {});
    if (v.status !== 201) throw new Error(`create version: ${v.status} ${JSON.stringify(v.body)}`);
    await this.uploadIris(v.body.version);
    return v.body.version;
  }

  /** Deploys a version into `local` and waits until its Deployment succeeded. */
  async deploy(version: number): Promise<void> {
    const d = await http('POST', `${this.versionsUrl}/${version}/endpoints`, {});
    if (d.status !== 202) throw new Error(`deploy v${version}: ${d.status} ${JSON.stringify(d.body)}`);
    const done = await untilDeployment(this.api, d.body.id);
    if (done.status !== 'succeeded') throw new Error(`deploy v${version} failed: ${JSON.stringify(done.error)}`);
  }

  /** PUTs the model endpoint's rule and waits until the routing change succeeded; the Deployment. */
  async route(rule: Rule): Promise<Deployment> {
    const r = await http('PUT', this.modelEndpointUrl, { rule });
    if (r.status !== 202) throw new Error(`PUT rule: ${r.status} ${JSON.stringify(r.body)}`);
    const done = await untilDeployment(this.api, r.body.id);
    if (done.status !== 'succeeded') throw new Error(`routing change failed: ${JSON.stringify(done.error)}`);
    return done;
  }
}

export interface Deployment {
  id: string;
  status: string;
  error?: { code: string; message: string };
  [k: string]: unknown;
}

/** Waits until a Deployment ended (succeeded or failed) and returns it. */
export async function untilDeployment(api: string, id: string, timeoutMs = 60_000): Promise<Deployment> {
  const r = await eventually(
    () => http<Deployment>('GET', `${api}/deployments/${id}`),
    (r) => r.status === 200 && (r.body.status === 'succeeded' || r.body.status === 'failed'),
    timeoutMs,
  );
  return r.body;
}

export const IRIS_INSTANCE = [5.1, 3.5, 1.4, 0.2];

/** One V1 prediction; never throws (a network failure is status 0 with the message as body). */
export async function predictV1(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  try {
    return await http('POST', url, { instances: [IRIS_INSTANCE] }, headers);
  } catch (e) {
    return { status: 0, body: String((e as Error).cause ?? e), headers: new Headers() };
  }
}

/** Runs `count` calls of `fn(i)` with at most `concurrency` in flight; the results in call order. */
export async function inParallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) out[i] = await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

/** The version that answered: `x-model-version`, as a number (NaN when absent). */
export const answeredBy = (r: Reply): number => Number(r.headers.get('x-model-version'));

/**
 * The pids of the model servers a platform runs for one version of a model: its direct children whose command line
 * runs `serving/main.ts` and whose environment names the model and version.
 */
export function modelServerPidsOf(platformPid: number, model: string, version: number): number[] {
  return modelServerPids(platformPid).filter((pid) => {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return env.includes(`MODEL_VERSION=${version}`) && env.includes(`MODEL_NAME=${model}`);
    } catch {
      return false;
    }
  });
}

/** The pid of the model server for one version of a model (the first, if there are several). */
export const modelServerPid = (platformPid: number, model: string, version: number): number | undefined =>
  modelServerPidsOf(platformPid, model, version)[0];

/** Sum of `merlin_requests_total` samples of one protocol in a Prometheus text. */
export function requestsTotal(metrics: string, protocol: 'v1' | 'v2' | 'other'): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('merlin_requests_total{') || !line.includes(`protocol="${protocol}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The V1 request count of a version's model server, read through its version endpoint. */
export async function v1RequestCount(platform: RunningPlatform, project: string, model: string, version: number) {
  const r = await http('GET', `${platform.url}/serving/${project}/${model}/versions/${version}/metrics`);
  if (r.status !== 200) throw new Error(`metrics of version ${version}: ${r.status} ${JSON.stringify(r.body)}`);
  return requestsTotal(String(r.body), 'v1');
}
