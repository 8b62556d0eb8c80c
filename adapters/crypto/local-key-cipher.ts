/**
 * The local platform's SecretCipher: AES-256-GCM with one random 256-bit key kept in a file under the data dir
 * (mode 0600), created on first use and reused after restarts. Losing the file makes every stored secret unreadable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DependencyError } from '../../core/errors.js';
import type { SecretCipher, SecretContext } from '../../core/ports.js';
import type { EncryptedValue } from '../../core/schemas/index.js';
import { AES_GCM, KEY_BYTES, open, seal, unreadable } from './aes-gcm.js';

interface LoadedKey {
  bytes: Buffer;
  /** `local:<first 16 hex digits of the key's SHA-256>`: tells which key encrypted a value without revealing it. */
  ref: string;
}

export class LocalKeyCipher implements SecretCipher {
  #key: Promise<LoadedKey> | undefined;

  constructor(readonly keyFile: string) {}

  async encrypt(plaintext: string, context: SecretContext): Promise<EncryptedValue> {
    const key = await this.#loaded();
    return { ciphertext: seal(key.bytes, plaintext, context), keyRef: key.ref, algorithm: AES_GCM };
  }

  async decrypt(value: EncryptedValue, context: SecretContext): Promise<string> {
    const key = await this.#loaded();
    if (value.algorithm !== AES_GCM || value.encryptedDataKey !== undefined) {
      throw unreadable(context, `it was encrypted with ${value.keyRef} (${value.algorithm}), not this platform's key`);
    }
    if (value.keyRef !== key.ref) {
      throw unreadable(
        context,
        `it was encrypted with another key (${value.keyRef}) than ${this.keyFile} (${key.ref})`,
      );
    }
    return open(key.bytes, value.ciphertext, context);
  }

  #loaded(): Promise<LoadedKey> {
    this.#key ??= this.#load().catch((e: unknown) => {
      this.#key = undefined;
      throw e;
    });
    return this.#key;
  }

  async #load(): Promise<LoadedKey> {
    let bytes = await this.#read();
    if (!bytes) {
      await mkdir(dirname(this.keyFile), { recursive: true, mode: 0o700 });
      // Written aside, then linked into place: the key file appears complete or not at all, and of two processes
      // creating it at once one wins and the other reads the winner's key.
      const aside = `${this.keyFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(aside, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
        await link(aside, this.keyFile);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw this.#failure('created', e);
      } finally {
        await rm(aside, { force: true });
      }
      bytes = await this.#read();
    }
    if (!bytes || bytes.length !== KEY_BYTES) {
      throw new DependencyError(
        `secrets key file ${this.keyFile} is not a key (expected ${KEY_BYTES} bytes, found ${bytes?.length ?? 0})`,
      );
    }
    return { bytes, ref: `local:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` };
  }

  async #read(): Promise<Buffer | undefined> {
    try {
      return await readFile(this.keyFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.#failure('read', e);
    }
  }

  #failure(what: string, e: unknown): DependencyError {
    return new DependencyError(`secrets key file ${this.keyFile} could not be ${what}: ${(e as Error).message}`);
  }
}

/** The cipher of a function that was given no key: any use says what is missing. */
export const unconfiguredCipher = (why: string): SecretCipher => ({
  encrypt: async () => {
    throw new DependencyError(`secrets cannot be encrypted here: ${why}`);
  },
  decrypt: async () => {
    throw new DependencyError(`secrets cannot be decrypted here: ${why}`);
  },
});
