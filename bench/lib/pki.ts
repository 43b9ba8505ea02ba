// Certificates for one bench run, made at run time (a fresh clone has none): a server CA and
// the server's certificate for localhost, a client root CA, and the bench client's certificate.
// Written to a temporary directory because the servers under test read their TLS material from
// files, exactly as in production.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';

export const BENCH_CLIENT_SUBJECT = 'CN=bench-client,O=certbound bench';

export interface BenchPki {
  dir: string;
  serverCa: IssuedCertificate;
  server: IssuedCertificate;
  clientRoot: IssuedCertificate;
  client: IssuedCertificate;
  files: { serverCert: string; serverKey: string; clientCa: string };
}

export async function createBenchPki(): Promise<BenchPki> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-bench-'));
  const serverCa = await issueCertificate({ subject: 'CN=certbound bench server CA', ca: true, days: 2 });
  const server = await issueCertificate({
    subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], sanIp: ['127.0.0.1'], extKeyUsage: ['serverAuth'], days: 2,
  });
  const clientRoot = await issueCertificate({ subject: 'CN=certbound bench client root,O=certbound bench', ca: true, days: 2 });
  const client = await issueCertificate({ subject: BENCH_CLIENT_SUBJECT, issuer: clientRoot, days: 2 });
  const files = { serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem'), clientCa: join(dir, 'client-ca.pem') };
  await writeFile(files.serverCert, server.certPem);
  await writeFile(files.serverKey, server.keyPem, { mode: 0o600 });
  await writeFile(files.clientCa, clientRoot.certPem);
  return { dir, serverCa, server, clientRoot, client, files };
}

/**
 * A client-CA bundle of `count` CAs: the bench client's root plus `count - 1` unrelated roots
 * (one key shared by all: only their number and names matter to the trust store).
 */
export async function caBundle(pki: BenchPki, count: number): Promise<string> {
  const pems = [pki.clientRoot.certPem];
  const first = count > 1 ? await issueCertificate({ subject: 'CN=bench filler CA 1,O=certbound bench', ca: true, days: 2 }) : undefined;
  if (first) pems.push(first.certPem);
  for (let i = 2; i < count; i++) {
    const ca = await issueCertificate({ subject: `CN=bench filler CA ${i},O=certbound bench`, ca: true, days: 2, keyPem: first!.keyPem });
    pems.push(ca.certPem);
  }
  return pems.join('');
}
