// The revocation fixture's certificates as TLS client identities, and their revocation times as
// error_description writes them: shared by the revocation attack files in test/security/.
import type { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '../../apps/authz-server/test/mtls/revocation/fixture.ts';
import { thumbprintOfPem, type TlsClientIdentity } from './security-server.ts';

/** The fixture writes leaf-N.pem / leaf-N.key; find the key of `cert` by its bytes. */
export async function identityOf(fixture: Fixture, cert: X509Certificate): Promise<{ identity: TlsClientIdentity; thumbprint: string }> {
  for (const file of await readdir(fixture.dir)) {
    if (!/^leaf-\d+\.pem$/.test(file)) continue;
    const pem = await readFile(join(fixture.dir, file), 'utf8');
    if (pem.includes(cert.raw.toString('base64').slice(0, 64))) {
      return { identity: { cert: pem, key: await readFile(join(fixture.dir, file.replace(/\.pem$/, '.key')), 'utf8') }, thumbprint: thumbprintOfPem(pem) };
    }
  }
  throw new Error(`no key for serial ${cert.serialNumber}`);
}

/** index.txt's revocation time (YYMMDDHHMMSSZ[,reason]) of `cert`, as the ISO string error_description uses. */
export async function revokedAt(fixture: Fixture, cert: X509Certificate): Promise<string> {
  const line = (await readFile(join(fixture.dir, 'index.txt'), 'utf8')).split('\n').find((l) => l.split('\t')[3] === cert.serialNumber);
  const time = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z/.exec(line?.split('\t')[2] ?? '');
  if (!line?.startsWith('R') || !time) throw new Error(`serial ${cert.serialNumber} is not revoked in index.txt`);
  const [, yy, mo, dd, hh, mi, ss] = time;
  return `20${yy}-${mo}-${dd}T${hh}:${mi}:${ss}.000Z`;
}
