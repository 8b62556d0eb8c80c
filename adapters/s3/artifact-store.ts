import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DependencyError } from '../../core/errors.js';
import type { ArtifactStore } from '../../core/ports.js';

/**
 * Artifacts in S3 (s3rver locally). Checksums are computed only when a request needs them: the SDK's default
 * streaming checksums corrupt uploads to s3rver (toolchain.md), and presigned URLs must not demand them.
 */
export const s3Client = (config: S3ClientConfig = {}): S3Client =>
  new S3Client({
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });

const isMissing = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
};

const dependency = (what: string, e: unknown): DependencyError => {
  const err = e as { name?: string; message?: string };
  return new DependencyError(`S3 ${what} failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
};

export class S3ArtifactStore implements ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  uri(prefix: string): string {
    return `s3://${this.bucket}/${prefix}`;
  }

  async presignPut(key: string, o: { contentType?: string; contentLength?: number; expiresInSeconds: number }) {
    const contentType = o.contentType ?? 'application/octet-stream';
    const url = await getSignedUrl(
      this.s3,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: contentType,
        ...(o.contentLength !== undefined && { ContentLength: o.contentLength }),
      }),
      { expiresIn: o.expiresInSeconds },
    ).catch((e) => {
      throw dependency('presign', e);
    });
    return { url, headers: { 'content-type': contentType } };
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    }).catch((e) => {
      throw dependency('presign', e);
    });
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0 };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw dependency('head', e);
    }
  }

  async sha256(key: string): Promise<string> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const hash = createHash('sha256');
      for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
      return hash.digest('hex');
    } catch (e) {
      throw dependency('get', e);
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    try {
      let token: string | undefined;
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (keys.length > 0) {
          await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }));
        }
        token = page.NextContinuationToken;
      } while (token);
    } catch (e) {
      throw dependency('delete', e);
    }
  }
}
