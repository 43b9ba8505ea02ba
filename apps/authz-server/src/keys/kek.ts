// The key-encryption key (KEK) that seals signing keys at rest. Production sets
// KEY_ENCRYPTION_KEY (32 random bytes: base64, base64url or 64 hex characters). Without it a KEK
// is generated once into DATA_DIR/kek (mode 0600) and reused: for development only, since it
// sits next to the data it protects.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const KEK_BYTES = 32;

export class KeyEncryptionKeyError extends Error {
  override name = 'KeyEncryptionKeyError';
}

export async function resolveKeyEncryptionKey(opts: { value?: string | undefined; dataDir: string }): Promise<Buffer> {
  const generated = generatedKekFile(opts);
  return generated === undefined ? parseKeyEncryptionKey(opts.value!, 'KEY_ENCRYPTION_KEY') : loadOrCreateKekFile(generated);
}

/** The file of the generated development KEK, or undefined when KEY_ENCRYPTION_KEY is given. */
export function generatedKekFile(opts: { value?: string | undefined; dataDir: string }): string | undefined {
  return opts.value === undefined ? join(opts.dataDir, 'kek') : undefined;
}

/** Never echoes the value: it is a secret even when malformed. */
function parseKeyEncryptionKey(value: string, name: string): Buffer {
  const text = value.trim();
  if (text === '') throw new KeyEncryptionKeyError(`${name}: is set but empty (expected ${KEK_BYTES} random bytes as base64, base64url or hex)`);
  let bytes: Buffer;
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    bytes = Buffer.from(text, 'hex');
  } else if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) || /^[A-Za-z0-9_-]+={0,2}$/.test(text)) {
    bytes = Buffer.from(text.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
  } else {
    throw new KeyEncryptionKeyError(`${name}: not base64, base64url or hex (expected ${KEK_BYTES} random bytes)`);
  }
  if (bytes.length !== KEK_BYTES) {
    throw new KeyEncryptionKeyError(`${name}: decodes to ${bytes.length} bytes, expected ${KEK_BYTES} (e.g. openssl rand -base64 32)`);
  }
  return bytes;
}

async function loadOrCreateKekFile(path: string): Promise<Buffer> {
  const existing = await readKekFile(path);
  if (existing) return existing;

  // Write a temporary file, then link() it into place: link fails if the name exists, so two
  // processes starting together cannot both win, and no reader ever sees a half-written file.
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${randomBytes(KEK_BYTES).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const created = await readKekFile(path);
  if (!created) throw new KeyEncryptionKeyError(`${path}: could not be created`);
  return created;
}

async function readKekFile(path: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseKeyEncryptionKey(text, `KEY_ENCRYPTION_KEY (generated file ${path})`);
}
