import * as z from 'zod';
import { projectName, revision, timestamp } from './common.js';

/** Merlin's secret name rule (`^[-._a-zA-Z0-9]+$`), 1-63 characters starting with a letter or digit. */
export const SECRET_NAME = /^[A-Za-z0-9][-._A-Za-z0-9]{0,62}$/;
/** Largest secret value, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 32 * 1024;

export const secretName = z
  .string()
  .regex(
    SECRET_NAME,
    'must be 1-63 characters of letters, digits, ".", "_" and "-", starting with a letter or a digit',
  );

const utf8 = new TextEncoder();

export const secretPath = z.object({ project: projectName, name: secretName });

export const putSecretBody = z.strictObject({
  /** The plaintext; stored encrypted and never returned. */
  value: z
    .string()
    .min(1, 'must not be empty')
    .refine((v) => utf8.encode(v).length <= MAX_SECRET_BYTES, `must be at most ${MAX_SECRET_BYTES} bytes (UTF-8)`),
});
export type PutSecretBody = z.infer<typeof putSecretBody>;

/** What a SecretCipher produces; all binary parts base64. */
export const encryptedValue = z.object({
  /** The encrypted value (with its IV and authentication tag). */
  ciphertext: z.string(),
  /** The data key, encrypted by the key service (envelope encryption); absent when a local key is used directly. */
  encryptedDataKey: z.string().optional(),
  /** Which key encrypted it: a KMS key ARN, or a fingerprint of the local key. */
  keyRef: z.string(),
  algorithm: z.string(),
});
export type EncryptedValue = z.infer<typeof encryptedValue>;

/** A secret as stored: the value only encrypted. */
export const storedSecret = encryptedValue.extend({
  project: z.string(),
  name: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type StoredSecret = z.infer<typeof storedSecret>;

/** A secret as the API shows it: metadata only, never the value. */
export const secret = z.object({
  project: z.string(),
  name: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision,
});
export type Secret = z.infer<typeof secret>;
