/** Test PKI made with the openssl CLI in a temp dir: a CA, a server certificate, client certificates. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  cert: string;
  key: string;
  der: Buffer;
}

export interface TestPki {
  ca: Issued;
  intermediate: Issued;
  server: Issued;
  /** `curve`: an openssl EC curve name, default P-256 */
  issue(cn: string, by?: 'ca' | 'intermediate', curve?: string): Issued;
  cleanup(): void;
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'cnf-verifier-pki-'));
  let serial = 1;
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const read = (name: string): Issued => {
    const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
    const der = openssl('x509', '-in', `${name}.crt`, '-outform', 'DER');
    return { cert, key: readFileSync(join(dir, `${name}.key`), 'utf8'), der };
  };
  const key = (name: string, curve = 'P-256') => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', `${name}.key`);
  const sign = (name: string, cn: string, issuer: string, ext: string, curve?: string) => {
    key(name, curve);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', String(serial++), '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
    return read(name);
  };
  key('ca');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=cnf-verifier test CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign', '-out', 'ca.crt');
  const ca = read('ca');
  const intermediate = sign('intermediate', 'cnf-verifier test intermediate', 'ca', 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign\n');
  const server = sign('server', 'localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n');
  let n = 0;
  return {
    ca,
    intermediate,
    server,
    issue(cn, by = 'ca', curve) {
      return sign(`client${n++}`, cn, by, 'extendedKeyUsage=clientAuth\n', curve);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
