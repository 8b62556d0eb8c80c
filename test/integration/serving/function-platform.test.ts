/**
 * Function models through the embedded platform (in this process: dynalite, s3rver, the local workflow runner, real
 * model-server processes): examples/function uploaded as a version's artifact, deployed, routed and answering through
 * the router like numpy says; and a module whose `load` throws, whose deployment fails with the server's own reason
 * (the server stays up and says so over IPC; the platform removes the revision).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../../adapters/s3/artifact-store.js';
import { artifactPrefix } from '../../../core/names.js';
import type { Deps, VersionKey } from '../../../core/ports.js';
import { completeArtifact } from '../../../core/use-cases/artifacts.js';
import { createModel, createProject, createVersion } from '../../../core/use-cases/catalog.js';
import { deployVersion } from '../../../core/use-cases/endpoints.js';
import { putModelEndpoint } from '../../../core/use-cases/model-endpoints.js';
import { ARTIFACT_BUCKET } from '../../../local/platform.js';
import { startTestPlatform } from '../../helpers/platform.js';
import { post } from './server-process.js';

const EXAMPLE = new URL('../../../examples/function/', import.meta.url);
const LOAD_FAILS = new URL('../../fixtures/models/function/load-fails/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('reference.json', EXAMPLE), 'utf8')) as {
  instances: number[][];
  probabilities: number[];
  decisions: string[];
};

/** A new version of fn/{model} (a function model) whose artifact is `files` from `dir`, uploaded and completed. */
async function functionVersion(deps: Deps, model: string, dir: URL, files: string[]): Promise<VersionKey> {
  if (!(await deps.projects.get({ project: 'fn' }))) await createProject(deps, { name: 'fn' });
  if (!(await deps.models.get({ project: 'fn', model }))) {
    await createModel(deps, { project: 'fn' }, { name: model, type: 'function' });
  }
  const v = await createVersion(deps, { project: 'fn', model }, {});
  expect(v.modelFile).toBe('index.mjs');
  const key = { project: 'fn', model, version: v.version };
  const s3 = s3Client({ forcePathStyle: true });
  const manifest = [];
  for (const path of files) {
    const bytes = readFileSync(new URL(path, dir));
    await s3.send(new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${artifactPrefix(key)}${path}`, Body: bytes }));
    manifest.push({ path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  s3.destroy();
  await completeArtifact(deps, key, { files: manifest });
  return key;
}

describe('Function models on the embedded platform', () => {
  let t: Awaited<ReturnType<typeof startTestPlatform>>;
  let deps: Deps;
  const cluster = () => t.platform.clusters.get('local')!;

  beforeAll(async () => {
    t = await startTestPlatform();
    deps = t.deps();
  });
  afterAll(() => t.stop());

  it('deploys examples/function from S3 and predicts through the model and version endpoints', async () => {
    const key = await functionVersion(deps, 'credit', EXAMPLE, ['index.mjs', 'scorecard.json']);
    const d = await deployVersion(deps, key, {});
    await t.platform.runner.idle();
    const deployed = await deps.deployments.get({ id: d.id });
    expect(deployed?.error).toBeUndefined();
    expect(deployed?.status).toBe('succeeded');

    const route = await putModelEndpoint(
      deps,
      { project: 'fn', model: 'credit', environment: 'local' },
      { rule: { destinations: [{ version: key.version, weight: 100 }] } },
    );
    await t.platform.runner.idle();
    expect((await deps.deployments.get({ id: route.id }))?.status).toBe('succeeded');

    const base = `${t.platform.servingUrls.local}/fn/credit`;
    const v1 = await post(`${base}/v1/models/credit:predict`, { instances: reference.instances });
    expect(v1.status).toBe(200);
    expect(v1.headers.get('x-model-version')).toBe(String(key.version));
    const predictions = (v1.body as { predictions: { probability: number; decision: string }[] }).predictions;
    expect(predictions.map((p) => p.decision)).toEqual(reference.decisions);
    predictions.forEach((p, i) => {
      expect(Math.abs(p.probability - (reference.probabilities[i] as number))).toBeLessThanOrEqual(1e-12);
    });

    const v2 = await post(`${base}/versions/${key.version}/v2/models/credit/infer`, {
      inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], data: reference.instances[2] }],
      outputs: [{ name: 'decision' }],
    });
    expect(v2.status).toBe(200);
    expect(v2.body).toMatchObject({
      model_version: String(key.version),
      outputs: [{ name: 'decision', datatype: 'BYTES', shape: [1], data: [reference.decisions[2]] }],
    });
  });

  it('fails the deployment of a module whose load throws with the server reason, and removes the revision', async () => {
    const key = await functionVersion(deps, 'broken', LOAD_FAILS, ['index.mjs']);
    const d = await deployVersion(deps, key, {});
    await t.platform.runner.idle();

    const failed = await deps.deployments.get({ id: d.id });
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({
      code: 'RevisionFailed',
      // The server's own reason (IPC `failed` with `alive`), not "model server exited ...".
      message: 'model failed to load: load() in index.mjs failed: cannot reach the feature store at 10.0.0.1:6379',
    });
    const endpoint = await deps.endpoints.get({ ...key, environment: 'local' });
    expect(endpoint?.status).toBe('failed');
    expect(
      cluster()
        .list()
        .revisions.filter((r) => r.version === key.version && r.name.startsWith('broken-')),
    ).toEqual([]);
  });
});
