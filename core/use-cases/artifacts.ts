/** Artifact upload (presigned PUT URLs) and completion (verify every file, record the manifest). */
import { ConflictError, UnprocessableError } from '../errors.js';
import { artifactPrefix, describeVersion } from '../names.js';
import type { Deps, VersionKey } from '../ports.js';
import type { ArtifactCompleteBody, ArtifactUploadBody, ManifestFile, ModelVersion } from '../schemas/index.js';
import { isoNow } from '../time.js';
import { updateItem } from '../update.js';
import { getVersion } from './catalog.js';

export const UPLOAD_URL_TTL_SECONDS = 3600;
export const DOWNLOAD_URL_TTL_SECONDS = 900;

type ArtifactDeps = Pick<Deps, 'versions' | 'artifacts' | 'clock'>;

const assertNoDuplicates = (paths: string[]): void => {
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) throw new UnprocessableError(`file "${p}" is named twice`, { path: p }, 'DUPLICATE_FILE');
    seen.add(p);
  }
};

const assertOpen = (version: ModelVersion): void => {
  if (version.artifact.status === 'complete') {
    throw new ConflictError(
      `the artifact of ${describeVersion(version)} is complete and immutable; create a new version to change it`,
      { version: version.version },
      'ARTIFACT_IMMUTABLE',
    );
  }
};

/** A retried complete call with the recorded manifest succeeds again (idempotent); any other is refused. */
const sameManifest = (recorded: ManifestFile[], asked: ArtifactCompleteBody['files']): boolean =>
  recorded.length === asked.length &&
  asked.every((a) =>
    recorded.some((r) => r.path === a.path && r.size === a.size && r.sha256 === a.sha256.toLowerCase()),
  );

export async function requestArtifactUpload(deps: ArtifactDeps, key: VersionKey, body: ArtifactUploadBody) {
  const version = await getVersion(deps, key);
  assertOpen(version);
  assertNoDuplicates(body.files.map((f) => f.path));
  const prefix = artifactPrefix(key);
  const uploads = await Promise.all(
    body.files.map(async (f) => {
      const { url, headers } = await deps.artifacts.presignPut(prefix + f.path, {
        ...(f.contentType !== undefined && { contentType: f.contentType }),
        ...(f.size !== undefined && { contentLength: f.size }),
        expiresInSeconds: UPLOAD_URL_TTL_SECONDS,
      });
      return { path: f.path, method: 'PUT' as const, url, headers };
    }),
  );
  const expiresAt = new Date(deps.clock.now().getTime() + UPLOAD_URL_TTL_SECONDS * 1000).toISOString();
  return { uploads, expiresAt };
}

/**
 * Checks that every named file is present with the stated size and SHA-256, then records the manifest and
 * marks the artifact complete. Any mismatch is a 422 listing every problem; nothing is recorded then.
 */
export async function completeArtifact(
  deps: ArtifactDeps,
  key: VersionKey,
  body: ArtifactCompleteBody,
): Promise<ModelVersion> {
  const version = await getVersion(deps, key);
  if (version.artifact.status === 'complete' && sameManifest(version.artifact.files, body.files)) return version;
  assertOpen(version);
  assertNoDuplicates(body.files.map((f) => f.path));
  if (version.modelFile && !body.files.some((f) => f.path === version.modelFile)) {
    throw new UnprocessableError(
      `the manifest must include the model file "${version.modelFile}" (set "modelFile" on the version to use another name)`,
      { modelFile: version.modelFile },
      'MODEL_FILE_MISSING',
    );
  }
  const prefix = artifactPrefix(key);
  const problems: { path: string; problem: string }[] = [];
  const files: ManifestFile[] = [];
  await Promise.all(
    body.files.map(async (f) => {
      const stat = await deps.artifacts.stat(prefix + f.path);
      if (!stat) return void problems.push({ path: f.path, problem: 'not uploaded' });
      if (stat.size !== f.size) {
        return void problems.push({ path: f.path, problem: `size is ${stat.size} bytes, expected ${f.size}` });
      }
      const sha256 = await deps.artifacts.sha256(prefix + f.path);
      if (sha256 !== f.sha256.toLowerCase()) {
        return void problems.push({ path: f.path, problem: `sha256 is ${sha256}, expected ${f.sha256.toLowerCase()}` });
      }
      files.push({ path: f.path, size: f.size, sha256 });
    }),
  );
  if (problems.length > 0) {
    problems.sort((a, b) => a.path.localeCompare(b.path));
    throw new UnprocessableError(
      `artifact verification failed: ${problems.map((p) => `${p.path}: ${p.problem}`).join('; ')}`,
      { files: problems },
      'ARTIFACT_MISMATCH',
    );
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  const now = isoNow(deps.clock);
  return updateItem(
    deps.versions,
    key,
    (v) => {
      assertOpen(v);
      return { ...v, artifact: { ...v.artifact, status: 'complete', files, completedAt: now }, updatedAt: now };
    },
    { current: version, what: describeVersion(key) },
  );
}

export async function getArtifact(deps: ArtifactDeps, key: VersionKey) {
  const version = await getVersion(deps, key);
  const prefix = artifactPrefix(key);
  const files = await Promise.all(
    version.artifact.files.map(async (f) => ({
      ...f,
      url: await deps.artifacts.presignGet(prefix + f.path, DOWNLOAD_URL_TTL_SECONDS),
    })),
  );
  return { ...version.artifact, files };
}
