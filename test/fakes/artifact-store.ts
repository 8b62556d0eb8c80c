import { createHash } from 'node:crypto';
import { NotFoundError } from '../../core/errors.js';
import type { ArtifactStore } from '../../core/ports.js';

export const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** An S3 bucket in a Map: the bytes are real, so sizes and SHA-256 digests are computed, not stubbed. */
export class MemoryArtifactStore implements ArtifactStore {
  readonly objects = new Map<string, Buffer>();
  readonly presignedPuts: { key: string; contentType?: string; contentLength?: number; expiresInSeconds: number }[] =
    [];
  readonly presignedGets: { key: string; expiresInSeconds: number }[] = [];

  constructor(readonly bucket = 'merlin-test-artifacts') {}

  uri(prefix: string): string {
    return `s3://${this.bucket}/${prefix}`;
  }

  async presignPut(
    key: string,
    options: { contentType?: string; contentLength?: number; expiresInSeconds: number },
  ): Promise<{ url: string; headers: Record<string, string> }> {
    this.presignedPuts.push({ key, ...options });
    const headers: Record<string, string> = {};
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    return { url: `${this.urlOf(key)}?X-Amz-Expires=${options.expiresInSeconds}&X-Amz-Method=PUT`, headers };
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    this.presignedGets.push({ key, expiresInSeconds });
    return `${this.urlOf(key)}?X-Amz-Expires=${expiresInSeconds}&X-Amz-Method=GET`;
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const bytes = this.objects.get(key);
    return bytes ? { size: bytes.length } : undefined;
  }

  async sha256(key: string): Promise<string> {
    const bytes = this.objects.get(key);
    if (!bytes) throw new NotFoundError(`object "${key}" not found in bucket "${this.bucket}"`);
    return sha256Hex(bytes);
  }

  // ---- test helpers ----

  /** What a client's PUT to a presigned URL does. Returns the manifest entry of the object. */
  putObject(key: string, content: Uint8Array | string): { size: number; sha256: string } {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    this.objects.set(key, bytes);
    return { size: bytes.length, sha256: sha256Hex(bytes) };
  }

  private urlOf(key: string): string {
    return `https://${this.bucket}.s3.test.amazonaws.com/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const key of [...this.objects.keys()]) if (key.startsWith(prefix)) this.objects.delete(key);
  }
}
