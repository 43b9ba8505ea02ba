// `certbound pki ...`: issue client certificates from the dev CA, and create the dev PKI.
import { isIP } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CliIo, Command, CommandGroup, FlagSpec } from './command.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { ensureDevPki } from '../dev/pki.ts';
import { CERT_MODE, KEY_MODE, readIfExists, writeFileOnce } from '../pki/files.ts';
import { issueCertificate, loadIssued, subjectWithCn, type KeyAlgorithm } from '../pki/issue.ts';

const issueFlags = {
  cn: { type: 'string', required: true, help: 'common name; also names the files NAME.pem and NAME-key.pem', check: checkName },
  'san-uri': { type: 'strings', help: 'URI subjectAltName, e.g. spiffe://example.org/ns/payments/sa/ledger', check: checkUri },
  'san-dns': { type: 'strings', help: 'DNS subjectAltName', check: checkDns },
  'san-ip': { type: 'strings', help: 'IP address subjectAltName (IPv4 or IPv6)', check: (v) => (isIP(v) ? undefined : 'not an IP address') },
  'san-email': { type: 'strings', help: 'email subjectAltName', check: (v) => (/^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+$/.test(v) ? undefined : 'not an ASCII email address') },
  days: { type: 'integer', help: 'validity in days (default 365, at most 36500)', check: (v) => (Number(v) > 36500 ? 'at most 36500 days' : undefined) },
  'key-algorithm': { type: 'string', help: 'ES256 (default), RS256 or Ed25519', check: (v) => (['ES256', 'RS256', 'Ed25519'].includes(v) ? undefined : 'must be ES256, RS256 or Ed25519') },
  out: { type: 'string', required: true, help: 'directory to write the certificate and key into' },
  'ca-dir': { type: 'string', help: 'directory with ca.pem and ca-key.pem (default $DATA_DIR/pki, DATA_DIR defaults to .data)' },
} as const satisfies Record<string, FlagSpec>;

const issue: Command<typeof issueFlags> = {
  summary: 'issue a client certificate (clientAuth) signed by the dev CA',
  async run(flags, io) {
    const caDir = resolve(io.cwd, flags['ca-dir'] ?? join(dataDir(io), 'pki'));
    const [caPem, caKeyPem] = await Promise.all([readIfExists(join(caDir, 'ca.pem')), readIfExists(join(caDir, 'ca-key.pem'))]);
    if (caPem === undefined || caKeyPem === undefined) {
      io.stderr(`certbound: no dev CA in ${caDir} (needs ca.pem and ca-key.pem): run "certbound pki init" or start the server once, or pass --ca-dir\n`);
      return 1;
    }
    const ca = await loadIssued(caPem, caKeyPem);
    const out = resolve(io.cwd, flags.out);
    const certFile = join(out, `${flags.cn}.pem`);
    const keyFile = join(out, `${flags.cn}-key.pem`);
    for (const file of [certFile, keyFile]) {
      if ((await readIfExists(file)) !== undefined) {
        io.stderr(`certbound: ${file} already exists; certbound never overwrites certificates or keys\n`);
        return 1;
      }
    }
    const issued = await issueCertificate({
      subject: subjectWithCn(flags.cn),
      issuer: ca,
      sanUri: flags['san-uri'],
      sanDns: flags['san-dns'],
      sanIp: flags['san-ip'],
      sanEmail: flags['san-email'],
      days: flags.days ?? 365,
      keyAlgorithm: flags['key-algorithm'] as KeyAlgorithm | undefined,
    });
    await mkdir(out, { recursive: true, mode: 0o700 });
    // key first: a crash in between leaves a key without a certificate, never the reverse
    if (!(await writeFileOnce(keyFile, issued.keyPem, KEY_MODE)) || !(await writeFileOnce(certFile, issued.certPem, CERT_MODE))) {
      io.stderr(`certbound: ${certFile} or ${keyFile} appeared while issuing; nothing was overwritten\n`);
      return 1;
    }
    io.stdout(
      [
        `subject    ${issued.subject}`,
        `x5t#S256   ${x5tS256(issued.cert)}`,
        `notAfter   ${issued.cert.validToDate.toISOString()}`,
        `issuer     ${ca.subject}`,
        `cert       ${certFile}`,
        `key        ${keyFile}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
  flags: issueFlags,
};

const initFlags = {
  'data-dir': { type: 'string', help: 'data directory (default $DATA_DIR, else .data); the PKI goes in its pki/ folder' },
} as const satisfies Record<string, FlagSpec>;

const init: Command<typeof initFlags> = {
  summary: 'create the dev PKI (CA, server, admin and demo-client certificates) if it is missing',
  async run(flags, io) {
    const pki = await ensureDevPki(resolve(io.cwd, flags['data-dir'] ?? dataDir(io)));
    io.stdout(
      [
        `${pki.created ? 'created' : 'already present'}: ${pki.dir}`,
        `ca           ${pki.caFile}`,
        `server       ${pki.serverCertFile}`,
        `admin        ${pki.adminCertFile}  (${pki.adminSubjectDn})`,
        `demo-client  ${pki.demoClientCertFile}  (${pki.demoClientSubjectDn})`,
        '',
      ].join('\n'),
    );
    return 0;
  },
  flags: initFlags,
};

export const pkiCommands: CommandGroup = { issue, init };

function dataDir(io: CliIo): string {
  return io.env.DATA_DIR || '.data';
}

function checkName(value: string): string | undefined {
  // The CN also names files in --out: keep it a plain file name.
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (value === '' || value.startsWith('.') || /[/\\\0-\x1f\x7f]/.test(value)) return 'must be a plain name (no slashes, control characters or leading dot)';
  return undefined;
}

function checkDns(value: string): string | undefined {
  // RFC 5280 §4.2.1.6 preferred name syntax, plus a leading "*." label for wildcard certificates.
  return /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value) ? undefined : 'not a DNS name';
}

function checkUri(value: string): string | undefined {
  // RFC 5280 §4.2.1.6: an absolute URI, in IA5 (ASCII) characters.
  return URL.canParse(value) && /^[\x21-\x7e]+$/.test(value) ? undefined : 'not an absolute ASCII URI';
}
