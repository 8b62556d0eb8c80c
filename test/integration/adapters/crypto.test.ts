/**
 * The two SecretCipher adapters. The KMS one talks to a small fake of the KMS JSON API on loopback, through the real
 * SDK client (request signing, serialization, error parsing): it issues real data keys, wraps them under a master
 * key of its own, and refuses a Decrypt whose encryption context differs from the GenerateDataKey's, as KMS does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KMS_ALGORITHM, KmsCipher, kmsClient } from '../../../adapters/crypto/kms-cipher.js';
import { LocalKeyCipher, unconfiguredCipher } from '../../../adapters/crypto/local-key-cipher.js';
import { DependencyError, UnprocessableError } from '../../../core/errors.js';
import type { SecretContext } from '../../../core/ports.js';
import { rejectionOf } from '../../fakes/index.js';

const SECRET = 'tok-3f9a1c-very-secret';
const CTX: SecretContext = { project: 'fraud-detection', name: 'api-token' };

describe('Adapter: LocalKeyCipher (key file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'merlin-keys-'));
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it('should round-trip values, with a fresh IV each time and no trace of the plaintext', async () => {
    const cipher = new LocalKeyCipher(join(dir, 'secrets.key'));

    const a = await cipher.encrypt(SECRET, CTX);
    const b = await cipher.encrypt(SECRET, CTX);

    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(JSON.stringify(a)).not.toContain(SECRET);
    expect(Buffer.from(a.ciphertext, 'base64').toString('latin1')).not.toContain(SECRET);
    expect(a).toMatchObject({ algorithm: 'AES-256-GCM', keyRef: expect.stringMatching(/^local:[0-9a-f]{16}$/) });
    expect(a.encryptedDataKey).toBeUndefined();
    expect(await cipher.decrypt(a, CTX)).toBe(SECRET);
    expect(await cipher.decrypt(b, CTX)).toBe(SECRET);
  });

  it('should round-trip unicode and a 32 KiB value', async () => {
    const cipher = new LocalKeyCipher(join(dir, 'secrets.key'));
    for (const value of ['pässwörd ✓ 🔑', 'x'.repeat(32 * 1024), '']) {
      expect(await cipher.decrypt(await cipher.encrypt(value, CTX), CTX)).toBe(value);
    }
  });

  it.each([
    ['another name', { ...CTX, name: 'db.password' }],
    ['another project', { ...CTX, project: 'other-project' }],
  ])('should refuse to decrypt under %s (the ciphertext is bound to its secret)', async (_, other) => {
    const cipher = new LocalKeyCipher(join(dir, 'secrets.key'));
    const value = await cipher.encrypt(SECRET, CTX);

    const error = await rejectionOf(cipher.decrypt(value, other));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('SECRET_UNREADABLE');
  });

  it('should refuse an altered ciphertext', async () => {
    const cipher = new LocalKeyCipher(join(dir, 'secrets.key'));
    const value = await cipher.encrypt(SECRET, CTX);
    const bytes = Buffer.from(value.ciphertext, 'base64');
    bytes[bytes.length - 1]! ^= 1;

    const error = await rejectionOf(cipher.decrypt({ ...value, ciphertext: bytes.toString('base64') }, CTX));

    expect(error.code).toBe('SECRET_UNREADABLE');
  });

  it('should create a 32-byte key file with mode 0600 on first use (and its directory), not before', async () => {
    const file = join(dir, 'nested', 'data', 'secrets.key');
    const cipher = new LocalKeyCipher(file);
    expect(() => statSync(file)).toThrow();

    await cipher.encrypt(SECRET, CTX);

    const stat = statSync(file);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.size).toBe(32);
  });

  it('should reuse the key file across instances (a restarted platform reads what it stored)', async () => {
    const file = join(dir, 'secrets.key');
    const value = await new LocalKeyCipher(file).encrypt(SECRET, CTX);
    const key = readFileSync(file);

    const restarted = new LocalKeyCipher(file);

    expect(await restarted.decrypt(value, CTX)).toBe(SECRET);
    expect(readFileSync(file).equals(key)).toBe(true);
  });

  it('should agree on one key when several instances create it at once', async () => {
    const file = join(dir, 'secrets.key');
    const ciphers = Array.from({ length: 8 }, () => new LocalKeyCipher(file));

    const values = await Promise.all(ciphers.map((c, i) => c.encrypt(`value ${i}`, CTX)));

    expect(new Set(values.map((v) => v.keyRef)).size).toBe(1);
    for (const [i, v] of values.entries()) expect(await ciphers[(i + 1) % 8]!.decrypt(v, CTX)).toBe(`value ${i}`);
  });

  it('should name the key when a value was encrypted with another key file', async () => {
    const value = await new LocalKeyCipher(join(dir, 'a.key')).encrypt(SECRET, CTX);

    const error = await rejectionOf(new LocalKeyCipher(join(dir, 'b.key')).decrypt(value, CTX));

    expect(error.code).toBe('SECRET_UNREADABLE');
    expect(error.message).toContain(`encrypted with another key (${value.keyRef})`);
  });

  it('should refuse a key file that is not a key, as a dependency failure', async () => {
    const file = join(dir, 'secrets.key');
    writeFileSync(file, 'not a key', { mode: 0o600 });

    const error = await rejectionOf(new LocalKeyCipher(file).encrypt(SECRET, CTX));

    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe(`secrets key file ${file} is not a key (expected 32 bytes, found 9)`);
  });

  it('should say what is missing when a function has no key at all', async () => {
    const cipher = unconfiguredCipher('no key here');

    await expect(cipher.encrypt(SECRET, CTX)).rejects.toThrow('secrets cannot be encrypted here: no key here');
    await expect(cipher.decrypt({ ciphertext: '', keyRef: 'x', algorithm: 'y' }, CTX)).rejects.toBeInstanceOf(
      DependencyError,
    );
  });
});

// ---- a fake KMS (JSON 1.1 protocol, TrentService) ----

interface KmsCall {
  target: string;
  body: Record<string, unknown>;
}

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** GenerateDataKey and Decrypt of one symmetric key; the wrapped data key is bound to the encryption context. */
function fakeKms() {
  const master = randomBytes(32);
  const calls: KmsCall[] = [];
  let failNext: { status: number; type: string } | undefined;
  const contextBytes = (ctx: unknown) =>
    Buffer.from(JSON.stringify(Object.entries((ctx ?? {}) as Record<string, string>).sort()));
  const wrap = (key: Buffer, ctx: unknown): Buffer => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', master, iv);
    c.setAAD(contextBytes(ctx));
    const body = Buffer.concat([c.update(key), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  };
  const unwrap = (blob: Buffer, ctx: unknown): Buffer | undefined => {
    try {
      const d = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
      d.setAAD(contextBytes(ctx));
      d.setAuthTag(blob.subarray(12, 28));
      return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
    } catch {
      return undefined;
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      calls.push({ target, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      const fail = (status: number, type: string, message: string) => send(status, { __type: type, message });
      if (failNext) {
        const f = failNext;
        failNext = undefined;
        return fail(f.status, f.type, 'injected failure');
      }
      if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256'))
        return fail(400, 'MissingAuthenticationToken', '');
      if (target === 'TrentService.GenerateDataKey') {
        if (body.KeyId !== KEY_ARN) return fail(400, 'NotFoundException', `key ${String(body.KeyId)} not found`);
        if (body.KeySpec !== 'AES_256') return fail(400, 'ValidationException', 'KeySpec');
        const key = randomBytes(32);
        return send(200, {
          KeyId: KEY_ARN,
          Plaintext: key.toString('base64'),
          CiphertextBlob: wrap(key, body.EncryptionContext).toString('base64'),
        });
      }
      if (target === 'TrentService.Decrypt') {
        const key = unwrap(Buffer.from(String(body.CiphertextBlob), 'base64'), body.EncryptionContext);
        if (!key) return fail(400, 'InvalidCiphertextException', '');
        return send(200, {
          KeyId: KEY_ARN,
          Plaintext: key.toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        });
      }
      return fail(400, 'UnknownOperationException', target);
    });
  });
  return {
    server,
    calls,
    of: (op: string) => calls.filter((c) => c.target === `TrentService.${op}`),
    failNext: (status: number, type: string) => {
      failNext = { status, type };
    },
  };
}

describe('Adapter: KmsCipher (envelope encryption, against a fake KMS on loopback)', () => {
  const kms = fakeKms();
  let endpoint: string;
  beforeAll(async () => {
    await new Promise<void>((ok) => kms.server.listen(0, '127.0.0.1', ok));
    endpoint = `http://127.0.0.1:${(kms.server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => kms.server.close(() => ok())));
  beforeEach(() => {
    kms.calls.length = 0;
  });

  const client = () =>
    kmsClient({
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  const cipherWith = (options: { cacheTtlMs?: number; now?: () => number } = {}) =>
    new KmsCipher({ keyId: KEY_ARN, client: client(), ...options });

  it('should encrypt with a new AES_256 data key made under the secret context, and store it only encrypted', async () => {
    const cipher = cipherWith();

    const value = await cipher.encrypt(SECRET, CTX);

    expect(kms.of('GenerateDataKey').map((c) => c.body)).toEqual([
      {
        KeyId: KEY_ARN,
        KeySpec: 'AES_256',
        EncryptionContext: { 'merlin:project': 'fraud-detection', 'merlin:secret': 'api-token' },
      },
    ]);
    expect(value).toMatchObject({ keyRef: KEY_ARN, algorithm: KMS_ALGORITHM });
    expect(Buffer.from(value.encryptedDataKey!, 'base64').length).toBeGreaterThan(32);
    expect(JSON.stringify(value)).not.toContain(SECRET);
    expect(await cipher.decrypt(value, CTX)).toBe(SECRET);
  });

  it('should decrypt in another instance (another Lambda), asking KMS for the data key with the context', async () => {
    const value = await cipherWith().encrypt(SECRET, CTX);

    expect(await cipherWith().decrypt(value, CTX)).toBe(SECRET);
    expect(kms.of('Decrypt').map((c) => c.body)).toEqual([
      {
        CiphertextBlob: value.encryptedDataKey,
        EncryptionContext: { 'merlin:project': 'fraud-detection', 'merlin:secret': 'api-token' },
        KeyId: KEY_ARN,
      },
    ]);
  });

  it.each([
    ['another name', { ...CTX, name: 'db.password' }],
    ['another project', { ...CTX, project: 'other-project' }],
  ])('should refuse to decrypt under %s: KMS refuses the data key', async (_, other) => {
    const value = await cipherWith().encrypt(SECRET, CTX);

    const error = await rejectionOf(cipherWith().decrypt(value, other));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('SECRET_UNREADABLE');
    expect(error.message).toContain('InvalidCiphertextException');
  });

  it("should refuse another secret's ciphertext under this secret's data key (the context binds the value too)", async () => {
    const cipher = cipherWith();
    const mine = await cipher.encrypt(SECRET, CTX);
    const theirs = await cipher.encrypt('other value', { ...CTX, name: 'db.password' });

    const error = await rejectionOf(cipher.decrypt({ ...mine, ciphertext: theirs.ciphertext }, CTX));

    expect(error.code).toBe('SECRET_UNREADABLE');
  });

  it('should keep decrypted data keys in memory for a while, per data key and context', async () => {
    let now = 0;
    const cipher = cipherWith({ cacheTtlMs: 60_000, now: () => now });
    const a = await cipher.encrypt('a', CTX);
    const b = await cipher.encrypt('b', { ...CTX, name: 'other' });

    await cipher.decrypt(a, CTX);
    await cipher.decrypt(a, CTX);
    await cipher.decrypt(b, { ...CTX, name: 'other' });
    now += 59_999;
    await cipher.decrypt(a, CTX);
    expect(kms.of('Decrypt')).toHaveLength(2);

    now += 1;
    expect(await cipher.decrypt(a, CTX)).toBe('a');
    expect(kms.of('Decrypt')).toHaveLength(3);
    // a cached data key never lets another context through: KMS is asked, and refuses
    await expect(cipher.decrypt(a, { ...CTX, name: 'other' })).rejects.toMatchObject({ code: 'SECRET_UNREADABLE' });
    expect(kms.of('Decrypt')).toHaveLength(4);
  });

  it('should ask KMS every time when the cache is off', async () => {
    const cipher = cipherWith({ cacheTtlMs: 0 });
    const value = await cipher.encrypt(SECRET, CTX);

    await cipher.decrypt(value, CTX);
    await cipher.decrypt(value, CTX);

    expect(kms.of('Decrypt')).toHaveLength(2);
  });

  it('should report KMS throttling, outages and unknown keys as dependency failures', async () => {
    const cipher = cipherWith();
    kms.failNext(400, 'ThrottlingException');
    const throttled = await rejectionOf(cipher.encrypt(SECRET, CTX));
    kms.failNext(500, 'KMSInternalException');
    const down = await rejectionOf(cipher.encrypt(SECRET, CTX));
    const unknown = await rejectionOf(new KmsCipher({ keyId: 'alias/nope', client: client() }).encrypt(SECRET, CTX));

    for (const e of [throttled, down, unknown]) expect(e).toBeInstanceOf(DependencyError);
    expect(throttled.message).toMatch(/^KMS GenerateDataKey failed: ThrottlingException/);
    expect(unknown.message).toMatch(/^KMS GenerateDataKey failed: NotFoundException: key alias\/nope not found/);
  });

  it('should report an unreachable KMS as a dependency failure', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const cipher = new KmsCipher({
      keyId: KEY_ARN,
      client: kmsClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      }),
    });

    await expect(cipher.encrypt(SECRET, CTX)).rejects.toBeInstanceOf(DependencyError);
  });

  it('should refuse a value the local key-file cipher encrypted, naming its key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merlin-keys-'));
    try {
      const local = await new LocalKeyCipher(join(dir, 'k')).encrypt(SECRET, CTX);

      const error = await rejectionOf(cipherWith().decrypt(local, CTX));

      expect(error.code).toBe('SECRET_UNREADABLE');
      expect(error.message).toContain(local.keyRef);
      expect(kms.calls).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
