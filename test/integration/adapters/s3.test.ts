import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore, s3Client } from '../../../adapters/s3/artifact-store.js';
import { withEmulators } from '../../helpers/emulators.js';

describe('Adapter: S3 artifact store (s3rver)', () => {
  let emu: Awaited<ReturnType<typeof withEmulators>>;
  let store: S3ArtifactStore;

  beforeAll(async () => {
    emu = await withEmulators();
    store = new S3ArtifactStore(s3Client(emu.s3Config), emu.bucket);
  });
  afterAll(() => emu.stop());

  it('should hand out a presigned PUT that a plain fetch can use, then stat and hash the bytes', async () => {
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const { url, headers } = await store.presignPut('a/b/model.onnx', {
      contentType: 'application/octet-stream',
      expiresInSeconds: 60,
    });
    const put = await fetch(url, { method: 'PUT', body: bytes, headers });
    expect(put.status).toBe(200);
    expect(await store.stat('a/b/model.onnx')).toEqual({ size: 100_000 });
    expect(await store.sha256('a/b/model.onnx')).toBe(createHash('sha256').update(bytes).digest('hex'));
    const get = await fetch(await store.presignGet('a/b/model.onnx', 60));
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('should report a missing object as undefined, not an error', async () => {
    expect(await store.stat('a/b/missing.bin')).toBeUndefined();
  });

  it('should name artifacts by s3 URI', () => {
    expect(store.uri('artifacts/p/m/1/')).toBe(`s3://${emu.bucket}/artifacts/p/m/1/`);
  });

  it('should delete every object under a prefix and nothing else', async () => {
    for (const k of ['del/p/1/a.bin', 'del/p/1/sub/b.bin', 'del/p/10/c.bin']) {
      const { url, headers } = await store.presignPut(k, { expiresInSeconds: 60 });
      await fetch(url, { method: 'PUT', body: 'x', headers });
    }
    await store.deletePrefix('del/p/1/');
    expect(await store.stat('del/p/1/a.bin')).toBeUndefined();
    expect(await store.stat('del/p/1/sub/b.bin')).toBeUndefined();
    expect(await store.stat('del/p/10/c.bin')).toEqual({ size: 1 });
    await store.deletePrefix('del/nothing/');
  });
});
