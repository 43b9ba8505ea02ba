// Writing PKI files so that a reader never sees half a file and nobody's file is replaced.
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/**
 * Writes `data` to `path` only if `path` does not exist yet; true if we wrote it. The content goes
 * to a temporary file first and is then hard-linked into place: link(2), unlike rename(2), fails
 * with EEXIST instead of replacing a file another process created a moment earlier.
 */
export async function writeFileOnce(path: string, data: string, mode: number): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, data, { mode, flag: 'wx', flush: true });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
