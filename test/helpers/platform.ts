import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../adapters/s3/artifact-store.js';
import { artifactPrefix } from '../../core/names.js';
import type { Deps, VersionKey } from '../../core/ports.js';
import type { EnvironmentConfig } from '../../core/schemas/environment.js';
import { completeArtifact } from '../../core/use-cases/artifacts.js';
import { createModel, createProject, createVersion } from '../../core/use-cases/catalog.js';
import { getDeps } from '../../functions/shared/container.js';
import { ARTIFACT_BUCKET, type Platform, startPlatform } from '../../local/platform.js';

export const IRIS = new URL('../../examples/iris/model.onnx', import.meta.url).pathname;
export const BROKEN = new URL('../../examples/iris/broken/model.onnx', import.meta.url).pathname;

/** The embedded platform in this test process, in a fresh data dir, on a free port. */
export async function startTestPlatform(o: { environments?: EnvironmentConfig[]; dataDir?: string } = {}) {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'merlin-platform-'));
  let configPath: string | undefined;
  if (o.environments) {
    configPath = join(dataDir, 'merlin.config.json');
    writeFileSync(configPath, JSON.stringify({ environments: o.environments }));
  }
  const platform: Platform = await startPlatform({
    port: 0,
    dataDir,
    retryIntervalMs: 0,
    ...(configPath && { configPath }),
  });
  return {
    platform,
    dataDir,
    deps: (): Deps => getDeps(),
    stop: async (keepData = false) => {
      await platform.stop();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Project → model → version with `file` uploaded straight to the bucket and the artifact completed. */
export async function versionWithArtifact(
  deps: Deps,
  names: { project: string; model: string },
  file: string,
): Promise<VersionKey> {
  const project = await deps.projects.get({ project: names.project });
  if (!project) await createProject(deps, { name: names.project });
  if (!(await deps.models.get(names))) await createModel(deps, names, { name: names.model, type: 'onnx' });
  const v = await createVersion(deps, names, {});
  const key = { ...names, version: v.version };
  const bytes = readFileSync(file);
  const s3 = s3Client({ forcePathStyle: true });
  await s3.send(
    new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${artifactPrefix(key)}model.onnx`, Body: bytes }),
  );
  s3.destroy();
  await completeArtifact(deps, key, {
    files: [{ path: 'model.onnx', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
  });
  return key;
}
