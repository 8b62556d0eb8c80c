/**
 * Fetching a model artifact: the set of files under `ARTIFACT_URI`.
 * - `file:///abs/dir/`: used in place, nothing is copied.
 * - `s3://bucket/prefix/`: every object under the prefix is downloaded into the cache directory, keeping relative
 *   paths (models may have external data files next to them), with the AWS SDK's standard configuration
 *   (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_S3` for s3rver or other S3-compatible stores).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactLocation } from './config.js';
import { errorMessage } from './log.js';
import { ModelLoadError } from './runtimes/runtime.js';

export interface FetchedArtifact {
  /** The local artifact root. */
  readonly dir: string;
  /** The model file inside `dir`. */
  readonly modelPath: string;
  /** Files and bytes downloaded (0 for `file://`). */
  readonly files: number;
  readonly bytes: number;
}

const DOWNLOAD_CONCURRENCY = 8;

/**
 * Makes the artifact available locally and checks that `modelFile` is in it. `cacheDir` is called only when files
 * must be downloaded. Throws {@link ModelLoadError} with a precise message.
 */
export async function fetchArtifact(
  location: ArtifactLocation,
  modelFile: string,
  cacheDir: () => Promise<string>,
): Promise<FetchedArtifact> {
  if (location.kind === 'file') {
    const modelPath = path.join(location.dir, modelFile);
    const info = await stat(modelPath).catch(() => undefined);
    if (!info?.isFile()) throw new ModelLoadError(`artifact file ${modelFile} not found under ${location.uri}`);
    return { dir: location.dir, modelPath, files: 0, bytes: 0 };
  }
  return downloadS3(location, modelFile, await cacheDir());
}

function s3Failure(location: ArtifactLocation, err: unknown): ModelLoadError {
  const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
  return new ModelLoadError(`cannot download artifact from ${location.uri}: ${name}${errorMessage(err)}`);
}

async function downloadS3(
  location: Extract<ArtifactLocation, { kind: 's3' }>,
  modelFile: string,
  dir: string,
): Promise<FetchedArtifact> {
  // Imported lazily: file:// artifacts never load the SDK.
  const { S3Client, ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const endpoint = process.env.AWS_ENDPOINT_URL_S3;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  const client = new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(region ? { region } : {}),
    // s3rver stores the aws-chunked framing of checksummed streams; only compute checksums where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    const keys: { key: string; rel: string }[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix, ContinuationToken: token }),
        );
        for (const obj of page.Contents ?? []) {
          if (!obj.Key || obj.Key.endsWith('/')) continue; // "directory" markers
          const rel = path.posix.normalize(obj.Key.slice(location.prefix.length));
          if (rel.startsWith('../') || rel === '..' || path.posix.isAbsolute(rel)) continue;
          keys.push({ key: obj.Key, rel });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw s3Failure(location, err);
    }
    if (!keys.some((k) => k.rel === modelFile)) {
      const detail = keys.length === 0 ? ' (no objects under that prefix)' : '';
      throw new ModelLoadError(`artifact file ${modelFile} not found under ${location.uri}${detail}`);
    }

    let bytes = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const item = keys[next++] as { key: string; rel: string };
        const target = path.join(dir, ...item.rel.split('/'));
        await mkdir(path.dirname(target), { recursive: true });
        try {
          const res = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: item.key }));
          if (!(res.Body instanceof Readable)) throw new Error(`object ${item.key} has no readable body`);
          await pipeline(res.Body, createWriteStream(target));
        } catch (err) {
          throw s3Failure(location, err);
        }
        bytes += (await stat(target)).size;
      }
    };
    await Promise.all(Array.from({ length: Math.min(DOWNLOAD_CONCURRENCY, keys.length) }, worker));
    return { dir, modelPath: path.join(dir, ...modelFile.split('/')), files: keys.length, bytes };
  } finally {
    client.destroy();
  }
}
