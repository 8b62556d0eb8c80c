/**
 * The AWS SecretCipher: envelope encryption. Each value gets its own data key from KMS `GenerateDataKey` (AES_256)
 * under the secrets key, with the project and secret name as encryption context; the value is sealed locally with
 * AES-256-GCM (the same context as additional data) and only the KMS-encrypted data key is stored beside it.
 * Decryption asks KMS `Decrypt` for the data key, which checks the context; decrypted data keys are kept in memory
 * for a short while so a deployment reading several secrets, or a retried step, does not call KMS again.
 */
import { DecryptCommand, GenerateDataKeyCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { DependencyError } from '../../core/errors.js';
import type { SecretCipher, SecretContext } from '../../core/ports.js';
import type { EncryptedValue } from '../../core/schemas/index.js';
import { AES_GCM, KEY_BYTES, open, seal, unreadable } from './aes-gcm.js';

export const KMS_ALGORITHM = `${AES_GCM}+KMS`;

export const kmsClient = (config: KMSClientConfig = {}): KMSClient => new KMSClient(config);

/** The keys of every encryption context this cipher sends (infra allows the key's use only with exactly these). */
export const ENCRYPTION_CONTEXT_KEYS = ['merlin:project', 'merlin:secret'] as const;

/** The KMS encryption context of a secret (logged by CloudTrail with every use of the key: names, never values). */
export const encryptionContextOf = (context: SecretContext): Record<string, string> => ({
  [ENCRYPTION_CONTEXT_KEYS[0]]: context.project,
  [ENCRYPTION_CONTEXT_KEYS[1]]: context.name,
});

export interface KmsCipherOptions {
  /** Key id, ARN or alias of the secrets key. */
  keyId: string;
  client?: KMSClient;
  /** How long a decrypted data key stays in memory (default 5 minutes; 0 disables the cache). */
  cacheTtlMs?: number;
  /** Most data keys kept at once (default 1000); the oldest goes first. */
  cacheSize?: number;
  now?: () => number;
}

/** KMS errors that mean "this ciphertext is not for this key or context", not "KMS is unavailable". */
const UNREADABLE = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

export class KmsCipher implements SecretCipher {
  readonly #keyId: string;
  readonly #client: KMSClient;
  readonly #ttlMs: number;
  readonly #size: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { key: Buffer; expires: number }>();

  constructor(options: KmsCipherOptions) {
    this.#keyId = options.keyId;
    this.#client = options.client ?? kmsClient();
    this.#ttlMs = options.cacheTtlMs ?? 5 * 60_000;
    this.#size = options.cacheSize ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  async encrypt(plaintext: string, context: SecretContext): Promise<EncryptedValue> {
    const out = await this.#call(context, 'GenerateDataKey', () =>
      this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: this.#keyId,
          KeySpec: 'AES_256',
          EncryptionContext: encryptionContextOf(context),
        }),
      ),
    );
    if (!out.Plaintext || out.Plaintext.length !== KEY_BYTES || !out.CiphertextBlob) {
      throw new DependencyError('KMS GenerateDataKey returned no 256-bit data key');
    }
    try {
      return {
        ciphertext: seal(out.Plaintext, plaintext, context),
        encryptedDataKey: Buffer.from(out.CiphertextBlob).toString('base64'),
        keyRef: out.KeyId ?? this.#keyId,
        algorithm: KMS_ALGORITHM,
      };
    } finally {
      out.Plaintext.fill(0);
    }
  }

  async decrypt(value: EncryptedValue, context: SecretContext): Promise<string> {
    if (value.algorithm !== KMS_ALGORITHM || value.encryptedDataKey === undefined) {
      throw unreadable(context, `it was encrypted with ${value.keyRef} (${value.algorithm}), not with a KMS data key`);
    }
    const key = await this.#dataKey(value, context);
    return open(key, value.ciphertext, context);
  }

  async #dataKey(value: EncryptedValue, context: SecretContext): Promise<Buffer> {
    // Keyed by the encrypted data key *and* the context: a hit never skips the context check KMS would make.
    const id = `${value.encryptedDataKey}\n${context.project}\n${context.name}`;
    const now = this.#now();
    const cached = this.#cache.get(id);
    if (cached && cached.expires > now) return cached.key;
    if (cached) this.#forget(id);
    const out = await this.#call(context, 'Decrypt', () =>
      this.#client.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(value.encryptedDataKey!, 'base64'),
          EncryptionContext: encryptionContextOf(context),
          KeyId: value.keyRef,
        }),
      ),
    );
    if (!out.Plaintext || out.Plaintext.length !== KEY_BYTES) {
      throw new DependencyError('KMS Decrypt returned no 256-bit data key');
    }
    const key = Buffer.from(out.Plaintext);
    out.Plaintext.fill(0);
    if (this.#ttlMs > 0) {
      this.#cache.set(id, { key, expires: now + this.#ttlMs });
      while (this.#cache.size > this.#size) this.#forget(this.#cache.keys().next().value!);
    }
    return key;
  }

  /** Not zeroed: a concurrent decryption may still be about to use the key. */
  #forget(id: string): void {
    this.#cache.delete(id);
  }

  /** Translates KMS failures at the boundary: a wrong key or context is unreadable (422), the rest unavailable (503). */
  async #call<T>(context: SecretContext, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = e as { name?: string; message?: string };
      if (err.name && UNREADABLE.has(err.name)) {
        throw unreadable(context, `KMS refused its data key (${err.name}): another key or another secret's value`);
      }
      throw new DependencyError(`KMS ${what} failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
    }
  }
}
