// A real OpenSSL CA made at test time in a temp dir, and a loopback HTTP server that serves its
// CRL (DER) and answers OCSP POSTs by running `openssl ocsp` once per request. (OpenSSL 3.0's
// `openssl ocsp -port` binds every interface, so it is not used.) Nothing here is committed:
// keys live in os.tmpdir() and are removed by dispose().
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

export function openssl(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, args, { cwd }, (err, stdout, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** how the server answers OCSP: signed by the CA, by its delegated responder, by an unrelated CA, or misbehaving */
export type OcspBehaviour = 'issuer' | 'delegated' | 'unrelated' | 'hang' | 'huge' | 'huge-chunked' | 'error500';

export interface Fixture {
  readonly dir: string;
  readonly base: string;
  readonly ca: X509Certificate;
  /** same subject name as `ca`, different key */
  readonly impostorCa: X509Certificate;
  /** another name, another key (RSA) */
  readonly unrelatedCa: X509Certificate;
  ocsp: OcspBehaviour;
  /** served at GET /ca.crl (DER) */
  crlDer: Buffer;
  /** request counts by path, e.g. { '/ocsp': 2 } */
  readonly hits: Map<string, number>;
  /** issues through `openssl ca` (so it is in index.txt) unless `unindexed`; one at a time (index.txt) */
  issue(cn: string, urls?: { ocsp?: string[]; crl?: string[]; unindexed?: boolean; ca?: boolean; issuer?: X509Certificate }): Promise<X509Certificate>;
  revoke(cert: X509Certificate, reason: string): Promise<void>;
  /** `openssl ca -gencrl`; `exts` names a section of the config (delta, indirect) */
  gencrl(options?: { exts?: 'crl_delta' | 'crl_indirect'; signer?: 'ca' | 'impostor' }): Promise<Buffer>;
  pemOf(der: Buffer): string;
  dispose(): Promise<void>;
}

const CONFIG = `
[ca]
default_ca = ca_default
[ca_default]
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
crlnumber = ./crlnumber
certificate = ./ca.pem
private_key = ./ca.key
default_md = sha256
default_days = 30
default_crl_days = 1
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[responder]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
[crl_delta]
2.5.29.27 = critical,DER:02:01:01
[crl_indirect]
issuingDistributionPoint = critical,@idp
[idp]
fullname = URI:http://127.0.0.1/ca.crl
indirectCRL = TRUE
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function createFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-revocation-'));
  const run = (...args: string[]) => openssl(args, dir);
  await mkdir(join(dir, 'newcerts'));
  await writeFile(join(dir, 'ca.cnf'), CONFIG);
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  const selfSigned = (name: string, subject: string, key: string[]) =>
    run('req', '-x509', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', subject, '-days', '30', '-config', 'ca.cnf', '-extensions', 'v3_ca');
  await Promise.all([
    selfSigned('ca', '/O=certbound test/CN=Test CA', EC),
    selfSigned('impostor', '/O=certbound test/CN=Test CA', EC),
    selfSigned('unrelated', '/O=elsewhere/CN=Unrelated CA', ['-newkey', 'rsa:2048', '-nodes']),
  ]);
  await run('req', '-new', ...EC, '-keyout', 'responder.key', '-out', 'responder.csr', '-subj', '/CN=Test OCSP responder', '-config', 'ca.cnf');
  await run('ca', '-batch', '-config', 'ca.cnf', '-in', 'responder.csr', '-out', 'responder.pem', '-extensions', 'responder');

  const hits = new Map<string, number>();
  let sequence = 0;
  let self: Fixture;
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (req.method === 'GET' && path === '/ca.crl') {
        res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(self.crlDer);
        return;
      }
      if (req.method === 'POST' && path === '/ocsp') {
        void answerOcsp(Buffer.concat(chunks), res);
        return;
      }
      res.writeHead(404).end();
    });
  });

  const answerOcsp = async (request: Buffer, res: ServerResponse) => {
    const behaviour = self.ocsp;
    if (behaviour === 'hang') return void hanging.add(res);
    if (behaviour === 'error500') return void res.writeHead(500).end();
    if (behaviour === 'huge') return void res.writeHead(200, { 'content-length': 2 * 1024 * 1024 }).end(Buffer.alloc(2 * 1024 * 1024, 0x30));
    if (behaviour === 'huge-chunked') {
      res.writeHead(200, { 'content-type': 'application/ocsp-response' });
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(256 * 1024, 0x30));
      return void res.end();
    }
    const id = ++sequence;
    const [signer, key] = behaviour === 'delegated' ? ['responder.pem', 'responder.key'] : behaviour === 'unrelated' ? ['unrelated.pem', 'unrelated.key'] : ['ca.pem', 'ca.key'];
    try {
      await writeFile(join(dir, `req-${id}.der`), request);
      await run('ocsp', '-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', signer, '-rkey', key, '-reqin', `req-${id}.der`, '-respout', `resp-${id}.der`, '-ndays', '1');
      res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(await readFile(join(dir, `resp-${id}.der`)));
    } catch {
      res.writeHead(500).end();
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cert = async (file: string) => new X509Certificate(await readFile(join(dir, file)));

  let issued = 0;
  const names = new Map<string, string>(); // serial -> file name
  self = {
    dir,
    base,
    ca: await cert('ca.pem'),
    impostorCa: await cert('impostor.pem'),
    unrelatedCa: await cert('unrelated.pem'),
    ocsp: 'issuer',
    crlDer: Buffer.alloc(0),
    hits,
    async issue(cn, urls = {}) {
      const name = `leaf-${++issued}`;
      const ext = [
        `basicConstraints = ${urls.ca ? 'critical,CA:TRUE' : 'CA:FALSE'}`,
        urls.ca ? 'keyUsage = critical,keyCertSign,cRLSign' : 'keyUsage = digitalSignature\nextendedKeyUsage = clientAuth',
        ...(urls.crl?.length ? [`crlDistributionPoints = ${urls.crl.map((u) => `URI:${u}`).join(',')}`] : []),
        ...(urls.ocsp?.length ? [`authorityInfoAccess = ${urls.ocsp.map((u) => `OCSP;URI:${u}`).join(',')}`] : []),
      ].join('\n');
      await writeFile(join(dir, `${name}.ext`), `[leaf]\n${ext}\n`);
      await run('req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`, '-config', 'ca.cnf');
      if (urls.unindexed || urls.issuer) {
        const issuer = urls.issuer ? names.get(urls.issuer.serialNumber)! : 'ca';
        await run('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', `0x${(0x7000 + issued).toString(16)}`,
          '-days', '30', '-extfile', `${name}.ext`, '-extensions', 'leaf', '-out', `${name}.pem`);
      } else {
        await run('ca', '-batch', '-config', 'ca.cnf', '-in', `${name}.csr`, '-out', `${name}.pem`, '-extfile', `${name}.ext`, '-extensions', 'leaf');
      }
      const certificate = await cert(`${name}.pem`);
      names.set(certificate.serialNumber, name);
      return certificate;
    },
    async revoke(certificate, reason) {
      await run('ca', '-batch', '-config', 'ca.cnf', '-revoke', `${names.get(certificate.serialNumber)}.pem`, '-crl_reason', reason);
    },
    async gencrl(options = {}) {
      const out = `crl-${++sequence}.pem`;
      const signer = options.signer === 'impostor' ? ['-cert', 'impostor.pem', '-keyfile', 'impostor.key'] : [];
      await run('ca', '-batch', '-config', 'ca.cnf', '-gencrl', ...signer, ...(options.exts ? ['-crlexts', options.exts] : []), '-out', out);
      await run('crl', '-in', out, '-outform', 'DER', '-out', `${out}.der`);
      return readFile(join(dir, `${out}.der`));
    },
    pemOf(der) {
      return `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
    },
    async dispose() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** A port nothing listens on: bound, read, released. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
