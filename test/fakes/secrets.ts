/**
 * Fakes of the two secret ports: a repository with the same conditional-write and paging semantics as the others
 * in repositories.ts, and a cipher that really encrypts (AES-256-GCM under a test key, bound to project and name),
 * so tests can assert that what is stored is not the plaintext and that a value moved to another secret does not
 * decrypt. It records what it was asked, never the plaintexts.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { UnprocessableError } from '../../core/errors.js';
import type { ProjectKey, SecretCipher, SecretContext, SecretKey, SecretRepository } from '../../core/ports.js';
import type { EncryptedValue, ListQuery, Page, StoredSecret } from '../../core/schemas/index.js';
import { MemoryRepository } from './repositories.js';

const secretId = (k: SecretKey) => `${k.project}/${k.name}`;

export class MemorySecretRepository extends MemoryRepository<SecretKey, StoredSecret> implements SecretRepository {
  constructor() {
    super('secret', secretId, (s) => secretId({ project: s.project, name: s.name }));
  }
  list(key: ProjectKey, query: ListQuery): Promise<Page<StoredSecret>> {
    return this.page(
      {
        scope: `secrets:${key.project}`,
        filter: (s) => s.project === key.project,
        sortKey: (s) => s.name,
        prefix: query.search,
      },
      query,
    );
  }
}

export const FAKE_CIPHER_ALGORITHM = 'FAKE-AES-256-GCM';

export class FakeCipher implements SecretCipher {
  /** The contexts of each call, in order. */
  readonly encrypted: SecretContext[] = [];
  readonly decrypted: SecretContext[] = [];
  private failure: Error | undefined;

  constructor(
    private readonly key: Buffer = randomBytes(32),
    readonly keyRef = 'fake-key-1',
  ) {}

  async encrypt(plaintext: string, context: SecretContext): Promise<EncryptedValue> {
    this.encrypted.push({ ...context });
    this.throwIfFailing();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${context.project}/${context.name}`));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64'),
      keyRef: this.keyRef,
      algorithm: FAKE_CIPHER_ALGORITHM,
    };
  }

  async decrypt(value: EncryptedValue, context: SecretContext): Promise<string> {
    this.decrypted.push({ ...context });
    this.throwIfFailing();
    const bytes = Buffer.from(value.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${context.project}/${context.name}`));
    decipher.setAuthTag(bytes.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new UnprocessableError(`secret "${context.name}" cannot be decrypted`, undefined, 'SECRET_UNREADABLE');
    }
  }

  /** Every call fails with `error` until `recover()`. */
  failWith(error: Error): this {
    this.failure = error;
    return this;
  }

  recover(): this {
    this.failure = undefined;
    return this;
  }

  private throwIfFailing(): void {
    if (this.failure) throw this.failure;
  }
}
