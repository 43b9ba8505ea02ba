// AES-256-GCM sealing of secrets at rest: a fresh random 12-byte IV per seal, and the key id as
// additional authenticated data, so a ciphertext moved to another key's row fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KEK_BYTES } from './kek.ts';

export interface SealedBox {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
}

export class SealOpenError extends Error {
  override name = 'SealOpenError';
}

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12; // NIST SP 800-38D: 96-bit IVs for GCM
const TAG_BYTES = 16;

export function seal(kek: Buffer, plaintext: Uint8Array, aad: string): SealedBox {
  assertKek(kek);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, kek, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, iv, tag: cipher.getAuthTag() };
}

/** Throws SealOpenError when the key, the AAD or any byte of the box is wrong. */
export function open(kek: Buffer, box: SealedBox, aad: string): Buffer {
  assertKek(kek);
  if (box.iv.length !== IV_BYTES || box.tag.length !== TAG_BYTES) {
    throw new SealOpenError('sealed box has a malformed IV or tag');
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, kek, box.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(box.tag);
    return Buffer.concat([decipher.update(box.ciphertext), decipher.final()]);
  } catch (err) {
    throw new SealOpenError('authentication failed: wrong key or tampered data', { cause: err });
  }
}

function assertKek(kek: Buffer): void {
  if (kek.length !== KEK_BYTES) throw new RangeError(`key-encryption key must be ${KEK_BYTES} bytes, got ${kek.length}`);
}
