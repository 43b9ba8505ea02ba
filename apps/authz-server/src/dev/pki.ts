// The development PKI under DATA_DIR/pki: a CA, the server's TLS certificate, client
// certificates for the admin and the demo client, and an issuing CA below the dev CA for
// enrollment (EST, enrollment/), so `npm start` works on a bare machine.
// Idempotent and safe to run from several processes at once: existing files are reused and
// never overwritten, missing ones are created, and a set that cannot be completed without
// replacing something is refused with a message saying what to delete.
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CERT_MODE, KEY_MODE, readIfExists, writeFileOnce } from '../pki/files.ts';
import { issueCertificate, loadIssued, type IssueOptions, type IssuedCertificate } from '../pki/issue.ts';

export interface DevPki {
  dir: string;
  caFile: string;
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  demoClientCertFile: string;
  demoClientKeyFile: string;
  /** the issuing CA of enrollment (chained to caFile): ISSUING_CA_CERT_FILE / ISSUING_CA_KEY_FILE in dev */
  issuingCaFile: string;
  issuingCaKeyFile: string;
  /** RFC 4514, read from the certificate */
  adminSubjectDn: string;
  demoClientSubjectDn: string;
  /** whether this call wrote any file */
  created: boolean;
}

export const DEV_CA_SUBJECT = 'CN=certbound dev CA,O=certbound dev';

const CA: Omit<IssueOptions, 'issuer'> = {
  subject: DEV_CA_SUBJECT,
  ca: true,
  // 1 leaves room for a dev intermediate when trying out chains; never more.
  pathLength: 1,
  days: 3650,
};
const SERVER: Omit<IssueOptions, 'issuer'> = {
  subject: 'CN=localhost,O=certbound dev',
  sanDns: ['localhost'],
  sanIp: ['127.0.0.1', '::1'],
  extKeyUsage: ['serverAuth'],
  days: 365,
};
// Enrollment issues from an intermediate, never from the root; 0: it signs only end entities.
const ISSUING_CA: Omit<IssueOptions, 'issuer'> = {
  subject: 'CN=certbound dev issuing CA,O=certbound dev',
  ca: true,
  pathLength: 0,
  days: 1825,
};
const ADMIN: Omit<IssueOptions, 'issuer'> = { subject: 'CN=admin', days: 365 };
const DEMO_CLIENT: Omit<IssueOptions, 'issuer'> = { subject: 'CN=demo-client,O=certbound dev', days: 365 };

export async function ensureDevPki(dataDir: string): Promise<DevPki> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // the directory holds unencrypted dev keys; umask may have widened it
  const file = (name: string) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) });
  const files = { ca: file('ca'), server: file('server'), admin: file('admin'), demo: file('demo-client'), issuing: file('issuing-ca') };

  const ca = await ensurePair(files.ca, CA, undefined);
  const server = await ensurePair(files.server, SERVER, ca.issued);
  const admin = await ensurePair(files.admin, ADMIN, ca.issued);
  const demo = await ensurePair(files.demo, DEMO_CLIENT, ca.issued);
  const issuing = await ensurePair(files.issuing, ISSUING_CA, ca.issued);
  return {
    dir,
    caFile: files.ca.cert,
    caKeyFile: files.ca.key,
    serverCertFile: files.server.cert,
    serverKeyFile: files.server.key,
    adminCertFile: files.admin.cert,
    adminKeyFile: files.admin.key,
    demoClientCertFile: files.demo.cert,
    demoClientKeyFile: files.demo.key,
    issuingCaFile: files.issuing.cert,
    issuingCaKeyFile: files.issuing.key,
    adminSubjectDn: admin.issued.subject,
    demoClientSubjectDn: demo.issued.subject,
    created: [ca, server, admin, demo, issuing].some((pair) => pair.created),
  };
}

/**
 * Loads or completes one certificate + key pair. The key is written first: a key without its
 * certificate (an interrupted run) is completed by certifying that key; a certificate without its
 * key cannot be, and is refused.
 */
async function ensurePair(
  paths: { cert: string; key: string },
  options: Omit<IssueOptions, 'issuer'>,
  issuer: IssuedCertificate | undefined,
): Promise<{ issued: IssuedCertificate; created: boolean }> {
  let created = false;
  let keyPem = await readIfExists(paths.key);
  let certPem = await readIfExists(paths.cert);
  if (certPem !== undefined && keyPem === undefined) {
    throw new Error(`${paths.cert} exists but its key ${paths.key} is missing; delete ${paths.cert} to have a new one issued`);
  }
  if (keyPem === undefined) {
    const fresh = await issueCertificate({ ...options, issuer });
    if (await writeFileOnce(paths.key, fresh.keyPem, KEY_MODE)) {
      created = true;
      if (await writeFileOnce(paths.cert, fresh.certPem, CERT_MODE)) return { issued: fresh, created };
    }
    keyPem = (await readIfExists(paths.key))!; // another process won the race: use its key
  }
  certPem ??= await readIfExists(paths.cert);
  if (certPem === undefined) {
    const fresh = await issueCertificate({ ...options, issuer, keyPem });
    created = (await writeFileOnce(paths.cert, fresh.certPem, CERT_MODE)) || created;
    certPem = (await readIfExists(paths.cert))!;
  }
  let issued: IssuedCertificate;
  try {
    issued = await loadIssued(certPem, keyPem);
  } catch (error) {
    throw new Error(`${paths.cert} / ${paths.key}: ${(error as Error).message}; delete both to have them issued again`, { cause: error });
  }
  if (issuer && !(issued.cert.checkIssued(issuer.cert) && issued.cert.verify(issuer.cert.publicKey))) {
    throw new Error(`${paths.cert} was not issued by the dev CA ${issuer.subject}; delete it and ${paths.key} to have them issued again`);
  }
  return { issued, created };
}
