/**
 * A custom model on the embedded platform, over HTTP: a model of type `custom`, a version whose artifact is the
 * fixture user server (`server.mjs`, uploaded to the bucket) and whose `custom` says `node server.mjs` speaking V2;
 * deployed, routed, predicted through the model endpoint (V2) and the version endpoint (V1), its output in the
 * endpoint logs, then unrouted and undeployed, with no process left behind.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../../adapters/s3/artifact-store.js';
import { artifactPrefix } from '../../../core/names.js';
import type { VersionKey } from '../../../core/ports.js';
import { completeArtifact } from '../../../core/use-cases/artifacts.js';
import { createModel, createProject, createVersion } from '../../../core/use-cases/catalog.js';
import { ARTIFACT_BUCKET } from '../../../local/platform.js';
import { http } from '../../helpers/http.js';
import { startTestPlatform } from '../../helpers/platform.js';

const PROJECT = 'custom-local';
const MODEL = 'doubler';
const SERVER = new URL('../../fixtures/models/custom/server.mjs', import.meta.url);

/** Gone, or a zombie nobody reaps (this machine's init does not reap orphans): not running either way. */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitForDeployment(api: string, id: string) {
  for (let i = 0; i < 1200; i++) {
    const d = await http('GET', `${api}/deployments/${id}`);
    if (d.body.status === 'succeeded' || d.body.status === 'failed') return d.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deployment ${id} did not finish`);
}

describe('Local platform: a custom model (a user command speaking V2)', () => {
  let started: Awaited<ReturnType<typeof startTestPlatform>>;
  let api: string;
  let serving: string;
  let version: VersionKey;
  let endpointPath: string;
  const pids: { server?: number; command?: number } = {};

  beforeAll(async () => {
    started = await startTestPlatform();
    api = started.platform.apiUrl;
    serving = started.platform.servingUrls.local as string;
    const deps = started.deps();
    await createProject(deps, { name: PROJECT });
    await createModel(deps, { project: PROJECT }, { name: MODEL, type: 'custom' });
    const v = await createVersion(
      deps,
      { project: PROJECT, model: MODEL },
      { custom: { command: ['node', 'server.mjs'], protocol: 'v2' } },
    );
    version = { project: PROJECT, model: MODEL, version: v.version };
    const bytes = readFileSync(SERVER);
    const s3 = s3Client({ forcePathStyle: true });
    await s3.send(
      new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${artifactPrefix(version)}server.mjs`, Body: bytes }),
    );
    s3.destroy();
    await completeArtifact(deps, version, {
      files: [{ path: 'server.mjs', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
    });
    endpointPath = `${api}/projects/${PROJECT}/models/${MODEL}/versions/${version.version}/endpoints/local`;
  });
  afterAll(async () => {
    await started?.stop();
    for (const pid of [pids.command, pids.server]) {
      if (pid !== undefined && !isGone(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('should deploy the version: the model server starts the command and turns running', async () => {
    const deploy = await http(
      'POST',
      `${api}/projects/${PROJECT}/models/${MODEL}/versions/${version.version}/endpoints`,
      {},
    );
    expect(deploy.status).toBe(202);

    const done = await waitForDeployment(api, deploy.body.id);

    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect((await http('GET', endpointPath)).body).toMatchObject({ status: 'running' });
    const cluster = started.platform.clusters.get('local');
    pids.server = cluster?.list().revisions.find((r) => r.version === version.version)?.pid;
    expect(pids.server).toBeGreaterThan(0);
  });

  it('should predict through the model endpoint (V2) and the version endpoint (V1)', async () => {
    const route = await http('PUT', `${api}/projects/${PROJECT}/models/${MODEL}/endpoints/local`, {
      rule: { destinations: [{ version: version.version, weight: 100 }] },
    });
    expect(route.status).toBe(202);
    expect((await waitForDeployment(api, route.body.id)).status).toBe('succeeded');

    const infer = await http('POST', `${serving}/${PROJECT}/${MODEL}/v2/models/${MODEL}/infer`, {
      inputs: [{ name: 'x', datatype: 'FP64', shape: [3], data: [1, 2, 3] }],
    });
    const predict = await http(
      'POST',
      `${serving}/${PROJECT}/${MODEL}/versions/${version.version}/v1/models/${MODEL}:predict`,
      { instances: [[0.5, 1]] },
    );

    expect(infer.status).toBe(200);
    expect(infer.headers.get('x-model-version')).toBe(String(version.version));
    expect(infer.body).toEqual({
      model_name: MODEL,
      outputs: [{ name: 'x_doubled', datatype: 'FP64', shape: [3], data: [2, 4, 6] }],
    });
    expect(predict.status).toBe(200);
    expect(predict.body).toEqual({ predictions: [[1, 2]] });
  });

  it("should show the command's output in the endpoint logs, run from the downloaded artifact", async () => {
    const logs = await http('GET', `${endpointPath}/logs?tail=1000`);
    const lines = (logs.body.lines as string[]).map((l) => JSON.parse(l) as Record<string, unknown>);
    const startedLine = lines.find((l) => l.msg === 'custom command started');

    expect(logs.status).toBe(200);
    expect(lines.some((l) => l.msg === 'artifact downloaded')).toBe(true);
    expect(startedLine).toMatchObject({ command: ['node', 'server.mjs'], protocol: 'v2' });
    expect(String(startedLine?.cwd)).toContain(`${started.dataDir}/model-cache/`);
    expect(lines).toContainEqual(
      expect.objectContaining({ source: 'custom', stream: 'stdout', msg: expect.stringMatching(/^fixture listening/) }),
    );
    pids.command = startedLine?.pid as number;
    expect(isGone(pids.command)).toBe(false);
  });

  it('should undeploy, leaving neither the model server nor the command running', async () => {
    const unroute = await http('DELETE', `${api}/projects/${PROJECT}/models/${MODEL}/endpoints/local`);
    expect(unroute.status).toBe(202);
    expect((await waitForDeployment(api, unroute.body.id)).status).toBe('succeeded');

    const undeploy = await http('DELETE', endpointPath);
    expect(undeploy.status).toBe(202);
    expect((await waitForDeployment(api, undeploy.body.id)).status).toBe('succeeded');

    expect((await http('GET', endpointPath)).body).toMatchObject({ status: 'terminated' });
    expect(isGone(pids.server as number)).toBe(true);
    expect(isGone(pids.command as number)).toBe(true);
    const after = await http(
      'POST',
      `${serving}/${PROJECT}/${MODEL}/versions/${version.version}/v2/models/${MODEL}/infer`,
      {
        inputs: [],
      },
    );
    expect(after.status).toBe(404);
  });

  it('should fail the deployment with the reason when the command cannot start', async () => {
    const deps = started.deps();
    const v = await createVersion(
      deps,
      { project: PROJECT, model: MODEL },
      { custom: { command: ['node', 'missing.mjs'], protocol: 'v2' } },
    );
    const broken = { project: PROJECT, model: MODEL, version: v.version };
    const bytes = readFileSync(SERVER);
    const s3 = s3Client({ forcePathStyle: true });
    await s3.send(
      new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${artifactPrefix(broken)}server.mjs`, Body: bytes }),
    );
    s3.destroy();
    await completeArtifact(deps, broken, {
      files: [{ path: 'server.mjs', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
    });

    const deploy = await http('POST', `${api}/projects/${PROJECT}/models/${MODEL}/versions/${v.version}/endpoints`, {});
    const done = await waitForDeployment(api, deploy.body.id);

    expect(done.status).toBe('failed');
    expect(done.error.message).toMatch(
      /model failed to load: custom command exited with code 1 before it was ready: Error: Cannot find module '.*\/missing\.mjs'/,
    );
  });
});
