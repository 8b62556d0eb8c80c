/**
 * AES-256-GCM as both secret ciphers use it: a fresh 96-bit IV per value, the 128-bit tag, and additional
 * authenticated data that binds the ciphertext to its project and secret name. Wire format (base64):
 * `iv (12 bytes) | tag (16 bytes) | ciphertext`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { UnprocessableError } from '../../core/errors.js';
import type { SecretContext } from '../../core/ports.js';

export const AES_GCM = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** The additional authenticated data of a secret: names cannot contain a newline, so the encoding is unambiguous. */
export const aadOf = (context: SecretContext): Buffer =>
  Buffer.from(`merlin:secret:v1\n${context.project}\n${context.name}`, 'utf8');

export function seal(key: Uint8Array, plaintext: string, context: SecretContext): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** The error of a value that does not decrypt: another secret's ciphertext, another key, or altered bytes. */
export const unreadable = (context: SecretContext, why: string): UnprocessableError =>
  new UnprocessableError(
    `secret "${context.name}" of project "${context.project}" cannot be decrypted: ${why}`,
    { project: context.project, name: context.name },
    'SECRET_UNREADABLE',
  );

export function open(key: Uint8Array, ciphertext: string, context: SecretContext): string {
  const bytes = Buffer.from(ciphertext, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw unreadable(context, 'the stored ciphertext is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aadOf(context));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw unreadable(context, 'it was not encrypted for this project and name with this key, or it was altered');
  }
}
