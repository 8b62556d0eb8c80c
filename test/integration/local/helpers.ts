import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ProcessCluster } from '../../../adapters/local/process-cluster.js';
import type { RevisionIdentity, RevisionSpec, RevisionState } from '../../../core/ports.js';

export const FAKE_SERVER = fileURLToPath(new URL('../../fixtures/fake-model-server.mjs', import.meta.url));
export const FAKE_COMMAND = [process.execPath, FAKE_SERVER];

export function revisionSpec(
  name: string,
  env: Record<string, string> = {},
  overrides: Partial<RevisionSpec> = {},
): RevisionSpec {
  return {
    namespace: 'proj',
    name,
    project: 'proj',
    model: 'iris',
    version: 1,
    number: 1,
    modelType: 'onnx',
    artifactUri: 'file:///nowhere/',
    modelFile: 'model.onnx',
    resources: { cpu: '500m', memory: '512Mi', minReplicas: 1, maxReplicas: 1 },
    env,
    secretEnv: {},
    serving: {},
    ...overrides,
  };
}

/** Waits (event-driven, through revisionStatus) until the revision has left `starting`. */
export async function settle(cluster: ProcessCluster, revision: RevisionIdentity): Promise<RevisionState> {
  for (let i = 0; i < 100; i++) {
    const status = await cluster.revisionStatus(revision, { waitMs: 1_000 });
    if (status.state !== 'starting') return status;
  }
  throw new Error(`${revision.name} is still starting`);
}

/** Polls until `check` returns true; fails after `attempts` polls (a bound, not a timing assertion). */
export async function eventually(check: () => boolean | Promise<boolean>, attempts = 500, everyMs = 20) {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not reached');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function pidOf(cluster: ProcessCluster, name: string): number {
  const pid = cluster.list().revisions.find((r) => r.name === name)?.pid;
  if (pid === undefined) throw new Error(`no process for ${name}`);
  return pid;
}

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
