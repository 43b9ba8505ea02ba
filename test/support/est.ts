// EST (RFC 7030) attacks against a real server process: the security harness's server with an
// issuing CA below the trusted client root (ISSUING_CA_CERT_FILE / ISSUING_CA_KEY_FILE), admin
// calls for enrollment codes and revocation, raw EST requests under the answer deadline with the
// log lines they caused, CSRs made by openssl at test time, and the refusal every EST attack must
// get: status, error, error_description, one `est_refused` line and no server error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ANSWER_DEADLINE_MS, NO_JSON, asFiles, describeAnswer, makeSecurityPki, registerWorld, startSecurityServer,
  type CraftedKey, type SecurityPki, type SecurityServer, type SecurityServerOptions, type SecurityWorld, type TimedAnswer, type TlsClientIdentity,
} from './security-server.ts';
import type { JsonAnswer } from './json-answer.ts';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { certsOnly } from '../../apps/authz-server/src/cli/est-client.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';

const run = promisify(execFile);

export interface EnrollmentServer {
  server: SecurityServer;
  world: SecurityWorld;
  pki: SecurityPki;
  /** the issuing CA (below pki.clientRoot) the server enrolls with */
  issuing: IssuedCertificate;
  /** registers a tls_client_auth client matched by `subjectDn` (the identity its certificates get) */
  partner(clientId: string, subjectDn?: string): Promise<string>;
  /** POST /admin/v1/clients/{id}/enrollment-codes; throws unless 201 */
  code(clientId: string, body?: Record<string, unknown>): Promise<{ code: string; expires_at: string }>;
  /** POST /admin/v1/clients/{id}/certificates/{x5t}/revoke */
  revoke(clientId: string, x5t: string, reason?: string): Promise<TimedAnswer>;
  /** one EST request and the log lines it caused */
  est(operation: 'simpleenroll' | 'simplereenroll' | 'cacerts', options?: { csr?: string; basic?: [string, string]; identity?: TlsClientIdentity }): Promise<EstAttempt>;
  /** a key and CSR (openssl), simpleenroll with a fresh code: the certificate and the identity presenting it with its chain */
  enroll(clientId: string): Promise<{ cert: X509Certificate; identity: TlsClientIdentity; x5t: string }>;
}

export interface EstAnswer extends TimedAnswer {
  headers: Record<string, string | string[] | undefined>;
}

export interface EstAttempt {
  res: EstAnswer;
  logs: Array<Record<string, unknown>>;
  exitStatus: string | undefined;
}

export async function startEnrollmentServer(options: Omit<SecurityServerOptions, 'pki'> & { extraClientCaPem?: string } = {}): Promise<EnrollmentServer> {
  const pki = await makeSecurityPki();
  const issuing = await issueCertificate({ subject: 'CN=certbound security issuing CA,O=certbound tests', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 10 });
  const issuingFiles = await asFiles(pki.dir, 'issuing-ca', issuing);
  const server = await startSecurityServer({
    ...options,
    pki,
    clientCaPem: pki.clientRoot.certPem + (options.extraClientCaPem ?? ''),
    env: { ISSUING_CA_CERT_FILE: issuingFiles.certFile, ISSUING_CA_KEY_FILE: issuingFiles.keyFile, ...options.env },
  });
  const world = await registerWorld(server);

  const est: EnrollmentServer['est'] = async (operation, opts = {}) => {
    const mark = server.logs().length;
    const headers: Record<string, string> = { accept: '*/*' };
    if (opts.csr !== undefined) headers['content-type'] = 'application/pkcs10';
    if (opts.basic) headers.authorization = `Basic ${Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString('base64')}`;
    const res = await rawRequest(`${server.mtlsUrl}/.well-known/est/${operation}`, { ca: server.ca, identity: opts.identity, headers, body: opts.csr });
    if (res.status !== 0 && res.status !== 200) {
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline && !server.logs().slice(mark).some((l) => l.event === 'est_refused' || isServerError(l))) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
    }
    return { res, logs: server.logs().slice(mark), exitStatus: server.exitStatus() };
  };
  const code: EnrollmentServer['code'] = async (clientId, body = {}) => {
    const res = await server.admin('POST', `/clients/${encodeURIComponent(clientId)}/enrollment-codes`, body);
    if (res.status !== 201) throw new Error(`enrollment code for ${clientId}: ${describeAnswer(res)}`);
    return { code: String(res.json.code), expires_at: String(res.json.expires_at) };
  };
  return {
    server,
    world,
    pki,
    issuing,
    async partner(clientId, subjectDn = `CN=${clientId},O=certbound tests`) {
      await world.tlsClient(clientId, { tls_client_auth_subject_dn: subjectDn });
      return subjectDn;
    },
    code,
    revoke: (clientId, x5t, reason = 'keyCompromise') => server.admin('POST', `/clients/${encodeURIComponent(clientId)}/certificates/${x5t}/revoke`, { reason }),
    est,
    async enroll(clientId) {
      const csr = await opensslCsr(pki.dir, { subject: `/CN=${clientId}` });
      const attempt = await est('simpleenroll', { csr: csr.base64, basic: [clientId, (await code(clientId)).code] });
      assert.equal(attempt.res.status, 200, describeAnswer(attempt.res));
      const [cert] = issuedCertificates(attempt.res.text);
      return { cert, identity: { cert: cert.toString() + issuing.certPem, key: csr.keyPem }, x5t: x5tOf(cert) };
    },
  };
}

const isServerError = (line: Record<string, unknown>) => line.msg === 'server error' || (typeof line.level === 'number' && line.level >= 50);

/** The certificates of a base64 certs-only answer (parsed by the CLI's reader, @peculiar/x509). */
export function issuedCertificates(text: string): X509Certificate[] {
  return certsOnly('answer', text).map((c) => new X509Certificate(Buffer.from(c.rawData)));
}

export const x5tOf = (cert: X509Certificate) => x5tS256(cert);

/** A request with a raw body, under the answer deadline (timedRequest sends only forms and JSON). */
interface RawRequest {
  ca: string;
  identity?: TlsClientIdentity | undefined;
  headers: Record<string, string>;
  body?: string | undefined;
}

async function rawRequest(url: string, options: RawRequest): Promise<EstAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: Omit<EstAnswer, 'ms' | 'headers'> & { headers?: EstAnswer['headers'] }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ headers: {}, ...answer, ms: Math.round(performance.now() - started) });
    };
    const req = httpsRequest(url, {
      method: options.body === undefined ? 'GET' : 'POST',
      ca: options.ca,
      cert: options.identity?.cert,
      key: options.identity?.key,
      headers: options.headers,
      agent: false,
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : undefined; } catch { json = undefined; }
        settle({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as JsonAnswer, timedOut: false });
      });
      res.on('error', (err) => settle({ status: 0, text: '', json: NO_JSON, timedOut: false, error: err.message }));
    });
    const timer = setTimeout(() => {
      settle({ status: 0, text: '', json: NO_JSON, timedOut: true, error: `no answer within ${ANSWER_DEADLINE_MS} ms` });
      req.destroy();
    }, ANSWER_DEADLINE_MS);
    req.on('error', (err) => settle({ status: 0, text: '', json: NO_JSON, timedOut: false, error: err.message }));
    req.end(options.body);
  });
}

const KEY_ARGS: Partial<Record<CraftedKey, string[]>> = {
  'P-256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
};

/** A key and a PKCS#10 request made by openssl, as a partner would; base64 DER as EST sends it. */
export async function opensslCsr(dir: string, spec: { subject: string; key?: 'P-256' | 'rsa2048' | 'rsa1024'; addext?: string[] }): Promise<{ base64: string; der: Buffer; keyPem: string }> {
  const stem = join(dir, `csr-${randomBytes(6).toString('hex')}`);
  const openssl = (args: string[]) => run('/usr/bin/openssl', args, { env: { PATH: '/usr/bin:/bin', OPENSSL_CONF: '/dev/null' } });
  await openssl(['genpkey', ...KEY_ARGS[spec.key ?? 'P-256']!, '-out', `${stem}-key.pem`]);
  await openssl(['req', '-new', '-key', `${stem}-key.pem`, '-subj', spec.subject, ...(spec.addext ?? []).flatMap((e) => ['-addext', e]), '-outform', 'DER', '-out', `${stem}.der`]);
  const der = await readFile(`${stem}.der`);
  return { base64: der.toString('base64'), der, keyPem: await readFile(`${stem}-key.pem`, 'utf8') };
}

/**
 * The refusal of an EST attack: within the deadline, never 500, `status` with `error` and exactly
 * `description` (or matching it), and exactly one `est_refused` line with the same error and reason.
 */
export function expectEstRefusal({ res, logs, exitStatus }: EstAttempt, status: number, error: string, description: string | RegExp): void {
  if (res.timedOut) assert.fail(`the server did not answer within ${ANSWER_DEADLINE_MS} ms`);
  if (exitStatus) assert.fail(`the server process died (${exitStatus}): ${describeAnswer(res)}`);
  assert.notEqual(res.status, 500, describeAnswer(res));
  assert.equal(res.status, status, `expected ${status} ${error}, got ${describeAnswer(res)}`);
  const body = res.json as { error?: unknown; error_description?: unknown } | undefined;
  assert.equal(body?.error, error, `expected error ${error}, got ${res.text}`);
  if (typeof description === 'string') assert.equal(body?.error_description, description);
  else assert.match(String(body?.error_description), description);
  const refusals = logs.filter((l) => l.event === 'est_refused');
  assert.equal(refusals.length, 1, `expected one est_refused log line, got ${JSON.stringify(refusals)}`);
  assert.equal(refusals[0].error, error);
  assert.equal(refusals[0].reason, body?.error_description, 'the log line names the same reason as the answer');
  assert.deepEqual(logs.filter(isServerError), [], 'no server error line');
}
