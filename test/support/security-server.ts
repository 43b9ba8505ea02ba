// test/security/: the authorization server as a REAL child process (apps/authz-server/src/main.ts)
// on free loopback ports, with a test PKI, embedded storage in a temporary DATA_DIR (or real
// PostgreSQL / Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set), configured only through its
// environment and the admin API, exactly as an operator would. Attacks are sent over real TLS with
// a client-side deadline, so a server that hangs on hostile input fails a test instead of hanging
// the run. Also here: openssl-made certificates (crafted DER, weak keys, odd chains) in a
// temporary directory that is removed at stop(); no key is ever written into the repository.
//
//   const server = await startSecurityServer();          // or: pki = await makeSecurityPki(); write
//   const world = await registerWorld(server);           //   files into pki.dir; startSecurityServer({ pki,
//   const cert = await craftCertificate(server.pki, {…}); //   clientCaPem, env: { REVOCATION_CHECK, CLIENT_CRL_FILE } })
//   await world.tlsClient('victim', { tls_client_auth_subject_dn: cert.subject });
//   expectRefusal(await attempt(server, 'victim', presenting(cert)), 401, 'invalid_client', '…');
//   await expectStillServing(server, world.legit);
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTestPki, realStores, type TestPki } from './authz.ts';
import { freePort } from './https.ts';
import { startProcess, type RunningProcess } from './processes.ts';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { createLocalAccount, findLocalAccountByUsername } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { openPglite } from '../../apps/authz-server/src/storage/embedded/pglite.ts';
import { openPostgres } from '../../apps/authz-server/src/storage/postgres/pool.ts';
import { migrate } from '../../apps/authz-server/src/storage/migrate.ts';
import type { JsonAnswer, LogLine } from './json-answer.ts';
import type { JwtClaims } from './oauth.ts';

const run = promisify(execFile);

/** The liveness bound every security answer must meet (not a performance claim). */
export const ANSWER_DEADLINE_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Requests with a deadline

export interface TlsClientIdentity {
  /** PEM: the leaf, then any intermediates the client presents */
  cert?: string;
  key?: string;
  /**
   * OpenSSL cipher string for the client's context. `DEFAULT@SECLEVEL=0` lets the client load and
   * use a certificate its own security level would refuse (RSA-1024, unparsable extensions), so
   * the attack reaches the server.
   */
  ciphers?: string;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** TimedAnswer.json when the answer had no JSON body: undefined at run time, as the tests have always read it. */
export const NO_JSON = undefined as unknown as JsonAnswer;

export interface TimedAnswer {
  /** 0 when no HTTP answer came (deadline passed, connection reset, TLS failure) */
  status: number;
  text: string;
  /** the parsed body; undefined at run time when it is not JSON or there was no answer (a test reads it after checking the status) */
  json: JsonAnswer;
  /** wall time from connect to the end of the answer (or to the failure) */
  ms: number;
  timedOut: boolean;
  /** the transport error when no HTTP answer came */
  error?: string;
}

export async function timedRequest(url: string, options: {
  ca: string;
  identity?: TlsClientIdentity;
  method?: string;
  form?: Record<string, string>;
  json?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}): Promise<TimedAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (answer: Omit<TimedAnswer, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: elapsed() });
    };
    const onAnswer = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: JsonAnswer | undefined;
        try { json = text ? JSON.parse(text) as JsonAnswer : undefined; } catch { json = undefined; }
        settle({ status: res.statusCode ?? 0, text, json: json as JsonAnswer, timedOut: false });
      });
      res.on('error', (err) => settle({ status: 0, text: '', json: NO_JSON, timedOut: false, error: err.message }));
    };
    let req: ClientRequest;
    try {
      req = httpsRequest(url, {
        method: options.method ?? (body === undefined ? 'GET' : 'POST'),
        ca: options.ca,
        cert: options.identity?.cert,
        key: options.identity?.key,
        ...(options.identity?.ciphers ? { ciphers: options.identity.ciphers } : {}),
        ...(options.identity?.maxVersion ? { maxVersion: options.identity.maxVersion } : {}),
        headers,
        agent: false,
      }, onAnswer);
    } catch (err) {
      // Node throws while building the client's TLS context when its own security level refuses
      // the certificate (RSA-1024: ERR_SSL_EE_KEY_TOO_SMALL): the client's refusal, not the server's.
      settle({ status: 0, text: '', json: NO_JSON, timedOut: false, error: `client could not start TLS: ${(err as Error).message}` });
      return;
    }
    const timeoutMs = options.timeoutMs ?? ANSWER_DEADLINE_MS;
    timer = setTimeout(() => {
      settle({ status: 0, text: '', json: NO_JSON, timedOut: true, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => settle({ status: 0, text: '', json: NO_JSON, timedOut: false, error: err.message }));
    req.end(body);
  });
}

/** One line for assertion messages: what the server answered, or that it did not. */
export function describeAnswer(res: TimedAnswer): string {
  if (res.status === 0) return `no HTTP answer after ${res.ms} ms (${res.error ?? 'unknown'})`;
  return `${res.status} ${res.text.slice(0, 500)} (${res.ms} ms)`;
}

// ---------------------------------------------------------------------------------------------
// The PKI: ordinary certificates from issueCertificate, crafted ones from openssl

/** A certificate with its key, also on disk so openssl can sign with it. */
export interface CertFiles {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  /** RFC 4514 subject, most specific RDN first: 'CN=leaf,O=certbound tests' */
  subject: string;
  /** RFC 8705 §3.1 x5t#S256 of the DER, computed without parsing it */
  thumbprint: string;
}

export interface SecurityPki extends TestPki {
  /** temporary directory for keys and crafted certificates; removed by the server's stop() */
  dir: string;
  /** the trusted client root as files, to sign crafted certificates with openssl */
  root: CertFiles;
}

export async function makeSecurityPki(): Promise<SecurityPki> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-security-'));
  const pki = await makeTestPki();
  return { ...pki, dir, root: await asFiles(dir, 'client-root', pki.clientRoot) };
}

function derOf(pem: string): Buffer {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (!body) throw new Error('no PEM certificate');
  return Buffer.from(body.replace(/\s+/g, ''), 'base64');
}

export function thumbprintOfPem(pem: string): string {
  return createHash('sha256').update(derOf(pem)).digest('base64url');
}

/** An issueCertificate result written to files (for openssl -CA / -CAkey). */
export async function asFiles(dir: string, name: string, issued: IssuedCertificate): Promise<CertFiles> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await writeFile(certFile, issued.certPem);
  await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
  return { certPem: issued.certPem, keyPem: issued.keyPem, certFile, keyFile, subject: issued.subject, thumbprint: thumbprintOfPem(issued.certPem) };
}

export type CraftedKey = 'P-256' | 'P-384' | 'rsa2048' | 'rsa1024' | 'brainpoolP256r1' | 'secp256k1' | 'Ed25519' | 'Ed448' | 'RSA-PSS' | 'DSA';

export interface CraftSpec {
  /** file name stem, unique within the PKI directory */
  name: string;
  /** RFC 4514, simple attributes only, most specific RDN first: 'CN=leaf,O=certbound tests' */
  subject: string;
  /** the signing CA, or 'self' for a self-signed certificate */
  issuer: CertFiles | 'self';
  /** openssl x509v3 config lines, e.g. 'extendedKeyUsage=DER:30:02:06:84'; nothing else is added */
  extensions: string[];
  /** default P-256 */
  key?: CraftedKey;
  /** default 5 */
  days?: number;
}

const KEY_ARGS: Record<CraftedKey, string[]> = {
  'P-256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'P-384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  brainpoolP256r1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'],
  secp256k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  Ed25519: ['-algorithm', 'ED25519'],
  Ed448: ['-algorithm', 'ED448'],
  // An RSASSA-PSS-restricted key (RFC 4055 id-RSASSA-PSS), not rsaEncryption.
  'RSA-PSS': ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
  // DSA keys come from domain parameters generated first (craftCertificate).
  DSA: [],
};

async function openssl(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('/usr/bin/openssl', args, { cwd, env: { PATH: '/usr/bin:/bin', OPENSSL_CONF: '/dev/null' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** '/O=certbound tests/CN=leaf' from 'CN=leaf,O=certbound tests' (X.509 order is least specific first). */
function opensslSubject(dn: string): string {
  return `/${dn.split(',').map((rdn) => rdn.trim().replace(/\//g, '\\/')).reverse().join('/')}`;
}

/**
 * A certificate made by openssl exactly as specified: the extensions are the config lines given
 * (DER:… lines are copied byte for byte), signed by `issuer` (or self-signed).
 */
export async function craftCertificate(pki: SecurityPki, spec: CraftSpec): Promise<CertFiles> {
  const { dir } = pki;
  const keyFile = join(dir, `${spec.name}-key.pem`);
  const csrFile = join(dir, `${spec.name}.csr`);
  const extFile = join(dir, `${spec.name}.ext`);
  const certFile = join(dir, `${spec.name}.pem`);
  if (spec.key === 'DSA') {
    const paramFile = join(dir, `${spec.name}-dsa-params.pem`);
    await openssl(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', paramFile], dir);
    await openssl(['genpkey', '-paramfile', paramFile, '-out', keyFile], dir);
  } else {
    await openssl(['genpkey', ...KEY_ARGS[spec.key ?? 'P-256'], '-out', keyFile], dir);
  }
  await openssl(['req', '-new', '-key', keyFile, '-subj', opensslSubject(spec.subject), '-out', csrFile], dir);
  await writeFile(extFile, `${spec.extensions.join('\n')}\n`);
  const signer = spec.issuer === 'self' ? ['-signkey', keyFile] : ['-CA', spec.issuer.certFile, '-CAkey', spec.issuer.keyFile];
  await openssl(['x509', '-req', '-in', csrFile, ...signer, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
    '-days', String(spec.days ?? 5), '-sha256', '-extfile', extFile, '-out', certFile], dir);
  const certPem = await readFile(certFile, 'utf8');
  const keyPem = await readFile(keyFile, 'utf8');
  return { certPem, keyPem, certFile, keyFile, subject: spec.subject, thumbprint: thumbprintOfPem(certPem) };
}

/** Extension lines of an ordinary TLS client leaf, to combine with one hostile line. */
export const LEAF_EXTENSIONS = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
/** Extension lines of an ordinary intermediate CA. */
export const CA_EXTENSIONS = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];

/** The identity a TLS client presents: leaf, then `chain`, with the leaf's key. */
export function presenting(leaf: CertFiles | IssuedCertificate, chain: Array<CertFiles | IssuedCertificate> = [], tls: Pick<TlsClientIdentity, 'ciphers' | 'maxVersion'> = {}): TlsClientIdentity {
  return { cert: [leaf.certPem, ...chain.map((c) => c.certPem)].join('\n'), key: leaf.keyPem, ...tls };
}

/** What the admin API wants in jwks for a self-signed client (RFC 7517 §4.7 x5c). */
export function selfSignedJwks(...certs: Array<CertFiles | IssuedCertificate>): { keys: Array<Record<string, unknown>> } {
  return {
    keys: certs.map((c) => {
      const cert = new X509Certificate(c.certPem);
      return { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// The server process

export interface SecurityServer {
  readonly pki: SecurityPki;
  /** PEM that verifies the server's TLS certificate */
  readonly ca: string;
  readonly publicUrl: string;
  readonly mtlsUrl: string;
  /** the environment the child was started with (for a reader of a failure) */
  readonly env: Record<string, string>;
  /** the process's JSON log lines so far (stdout; partial last lines are skipped) */
  logs(): LogLine[];
  /** stdout so far, as written (every line should be one JSON log line) */
  stdout(): string;
  /** stderr so far */
  stderr(): string;
  /** client_credentials at the mutual-TLS token endpoint, bounded by `timeoutMs` (default 5 s) */
  token(clientId: string, identity: TlsClientIdentity | undefined, options?: { scope?: string; timeoutMs?: number }): Promise<TimedAnswer>;
  /** discovery on the public listener answers 200 within the deadline */
  alive(): Promise<boolean>;
  /** /admin/v1`path` with the admin certificate and a certificate-bound admin token */
  admin(method: string, path: string, json?: unknown): Promise<TimedAnswer>;
  /** POST /admin/v1/clients; throws unless 201 */
  registerClient(metadata: Record<string, unknown>): Promise<JsonAnswer>;
  /** POST /admin/v1/resource-servers; throws unless 201 */
  registerResourceServer(rs: Record<string, unknown>): Promise<JsonAnswer>;
  /** sends `signal` to the server process (SIGHUP: reload the TLS material) */
  signal(signal: NodeJS.Signals): void;
  /** true when the child has exited */
  exited(): boolean;
  /** 'exit code N' or 'signal S' once the child has exited */
  exitStatus(): string | undefined;
  /**
   * Kill the child (SIGKILL: a server stuck in a loop never runs its SIGTERM handler) and start a
   * fresh one on the same ports, in a new DATA_DIR, replaying every registration; for a test after
   * an attack that hung the server, so each attack is judged on its own. logs() starts over.
   */
  restart(): Promise<void>;
  /** how many times restart() ran */
  readonly restarts: number;
  /**
   * Why this process may no longer serve: 'hung' when a request went unanswered within its
   * deadline, 'dropped' when a connection ended without an HTTP answer (it may have crashed).
   */
  readonly suspect: 'hung' | 'dropped' | undefined;
  /** clears `suspect` once the process has proved it still serves */
  clearSuspect(): void;
  /** SIGTERM, then SIGKILL after 3 s (a server stuck in a loop never runs its SIGTERM handler); removes the PKI directory */
  stop(): Promise<void>;
}

export interface SecurityServerOptions {
  /** default: a fresh makeSecurityPki() */
  pki?: SecurityPki;
  /** CLIENT_CA_FILE contents; default: the test client root only */
  clientCaPem?: string;
  /** more environment, e.g. REVOCATION_CHECK, CLIENT_CRL_FILE (revocation tests) */
  env?: Record<string, string>;
  /**
   * Local accounts for the login page, written into the server's database before it starts (and
   * again before a restart into a fresh DATA_DIR); an existing username is left as it is.
   */
  accounts?: Array<{ username: string; password: string }>;
}

/** Writes `accounts` into the database the server configured by `env` will open. */
async function seedAccounts(env: Record<string, string>, accounts: Array<{ username: string; password: string }> | undefined): Promise<void> {
  if (!accounts?.length) return;
  const sql = env.DATABASE_URL
    ? await openPostgres(env.DATABASE_URL, { schema: env.DATABASE_SCHEMA })
    : await openPglite(join(env.DATA_DIR, 'pglite'));
  try {
    await migrate(sql);
    for (const account of accounts) {
      if (!await findLocalAccountByUsername(sql, account.username)) await createLocalAccount(sql, account);
    }
  } finally {
    await sql.close();
  }
}

export async function startSecurityServer(options: SecurityServerOptions = {}): Promise<SecurityServer> {
  const pki = options.pki ?? await makeSecurityPki();
  const dir = join(pki.dir, 'server');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.pem'), pki.server.certPem);
  await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'client-ca.pem'), options.clientCaPem ?? pki.clientRoot.certPem);
  const [publicPort, mtlsPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    PUBLIC_PORT: String(publicPort),
    MTLS_PORT: String(mtlsPort),
    DATA_DIR: join(dir, 'data'),
    TLS_CERT_FILE: join(dir, 'server.pem'),
    TLS_KEY_FILE: join(dir, 'server-key.pem'),
    CLIENT_CA_FILE: join(dir, 'client-ca.pem'),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_SUBJECT_DN: pki.admin.subject,
    LOG_LEVEL: 'info',
    WORKERS: '1',
    ...(realStores.database ? { DATABASE_URL: realStores.database, DATABASE_SCHEMA: `s_${randomBytes(6).toString('hex')}` } : {}),
    ...(realStores.database && realStores.redis ? { REDIS_URL: realStores.redis } : {}),
    ...options.env,
  };

  const spawn = () => startProcess('apps/authz-server/src/main.ts', env, { ready: /"event":"listening"/, timeoutMs: 60_000 });
  let proc: RunningProcess;
  try {
    await seedAccounts(env, options.accounts);
    proc = await spawn();
  } catch (err) {
    await rm(pki.dir, { recursive: true, force: true });
    throw err;
  }
  // A test process that ends without stop() (a crash in a script, a runner timeout) must leave
  // neither an orphaned server nor keys behind; 'exit' handlers run synchronously.
  process.on('exit', () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    rmSync(pki.dir, { recursive: true, force: true });
  });
  /** Registrations in order, replayed by restart() into a fresh data directory. */
  const registered: Array<{ path: string; body: Record<string, unknown> }> = [];
  let generation = 0;
  const ca = pki.serverCa.certPem;
  const publicUrl = `https://localhost:${publicPort}`;
  const mtlsUrl = `https://localhost:${mtlsPort}`;
  const adminIdentity = { cert: pki.admin.certPem, key: pki.admin.keyPem };

  let suspect: SecurityServer['suspect'];
  const judge = (res: TimedAnswer) => {
    if (res.timedOut) suspect = 'hung';
    else if (res.status === 0 && !res.error?.startsWith('client could not start TLS')) suspect ??= 'dropped';
  };
  const token: SecurityServer['token'] = async (clientId, identity, opts = {}) => {
    const res = await timedRequest(`${mtlsUrl}/token`, {
      ca,
      identity,
      form: { grant_type: 'client_credentials', client_id: clientId, ...(opts.scope === undefined ? {} : { scope: opts.scope }) },
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    judge(res);
    return res;
  };

  let adminToken: Promise<string> | undefined;
  const fetchAdminToken = async () => {
    const res = await token('admin', adminIdentity, { scope: 'admin', timeoutMs: 15_000 });
    if (res.status !== 200) throw new Error(`admin token: ${describeAnswer(res)}`);
    return res.json.access_token;
  };
  const admin: SecurityServer['admin'] = async (method, path, json) => timedRequest(`${mtlsUrl}/admin/v1${path}`, {
    ca,
    identity: adminIdentity,
    method,
    json,
    headers: { authorization: `Bearer ${await (adminToken ??= fetchAdminToken())}` },
    timeoutMs: 15_000,
  });
  const create = async (path: string, body: Record<string, unknown>) => {
    const answer = await admin('POST', path, body);
    if (answer.status !== 201) throw new Error(`POST /admin/v1${path} ${JSON.stringify(body).slice(0, 200)}: ${describeAnswer(answer)}`);
    return answer.json;
  };
  const register = async (path: string, body: Record<string, unknown>) => {
    const answer = await create(path, body);
    registered.push({ path, body });
    return answer;
  };
  const kill = async (graceMs: number) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
    proc.child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const killer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
  };

  return {
    pki,
    ca,
    publicUrl,
    mtlsUrl,
    env,
    logs: () => proc.stdout().split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try { return [JSON.parse(line) as LogLine]; } catch { return []; }
    }),
    stdout: () => proc.stdout(),
    stderr: () => proc.stderr(),
    token,
    async alive() {
      if (proc.child.exitCode !== null) return false;
      const res = await timedRequest(`${publicUrl}/.well-known/openid-configuration`, { ca });
      if (res.timedOut) suspect = 'hung';
      return res.status === 200;
    },
    admin,
    registerClient: (metadata) => register('/clients', metadata),
    registerResourceServer: (rs) => register('/resource-servers', rs),
    signal: (signal) => void proc.child.kill(signal),
    exited: () => proc.child.exitCode !== null || proc.child.signalCode !== null,
    exitStatus: () => (proc.child.exitCode !== null ? `exit code ${proc.child.exitCode}` : proc.child.signalCode !== null ? `signal ${proc.child.signalCode}` : undefined),
    get restarts() {
      return generation;
    },
    get suspect() {
      return suspect;
    },
    clearSuspect() {
      suspect = undefined;
    },
    async restart() {
      await kill(0);
      generation++;
      env.DATA_DIR = join(dir, `data-${generation}`);
      await seedAccounts(env, options.accounts);
      proc = await spawn();
      suspect = undefined;
      adminToken = undefined;
      for (const { path, body } of registered) await create(path, body);
    },
    async stop() {
      await kill(3_000);
      await rm(pki.dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Assertions every security test makes

export interface Attempt {
  res: TimedAnswer;
  /** log lines the server wrote for this request (collected until its refusal or error line appeared) */
  logs: LogLine[];
  /** set when the process died during the request ('signal SIGSEGV', 'exit code 1') */
  exitStatus: string | undefined;
}

const isServerError = (line: LogLine) => line.msg === 'server error' || (typeof line.level === 'number' && line.level >= 50);

/**
 * One token request, and the log lines it caused. The child's stdout and the HTTP answer race, so
 * after the answer we wait (up to 1 s) for the refusal or error line, then 50 ms for any second one.
 */
export async function attempt(server: SecurityServer, clientId: string, identity: TlsClientIdentity | undefined): Promise<Attempt> {
  const mark = server.logs().length;
  const res = await server.token(clientId, identity);
  if (res.status !== 0 && res.status !== 200) {
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && !server.logs().slice(mark).some((l) => l.event === 'oauth_refusal' || isServerError(l))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (res.status === 0 && !res.timedOut) {
    // A dropped connection: give the exit event of a crashed process time to arrive.
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && !server.exited()) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { res, logs: server.logs().slice(mark), exitStatus: server.exitStatus() };
}

/**
 * The refusal of an attack: answered within the deadline (liveness, not performance), with
 * `status`, `error` and exactly `description` (or matching it), never 500; and exactly one
 * structured `oauth_refusal` line carrying the same error and reason, and no `server error` line.
 */
export function expectRefusal({ res, logs, exitStatus }: Attempt, status: number, error: string, description: string | RegExp): void {
  if (res.timedOut) assert.fail(`the server did not answer within ${ANSWER_DEADLINE_MS} ms: it hangs on this input`);
  if (exitStatus) assert.fail(`the server process died (${exitStatus}) on this input: ${describeAnswer(res)}`);
  assert.ok(res.ms < ANSWER_DEADLINE_MS, `answered after ${res.ms} ms`);
  assert.notEqual(res.status, 500, `500 instead of ${status} ${error}: ${describeAnswer(res)}; logged: ${JSON.stringify(logs.filter(isServerError).map((l) => l.err?.message ?? l.msg))}`);
  assert.equal(res.status, status, `expected ${status} ${error}, got ${describeAnswer(res)}`);
  assert.equal(res.json?.error, error, `expected error ${error}, got ${res.text}`);
  if (typeof description === 'string') assert.equal(res.json?.error_description, description);
  else assert.match(String(res.json?.error_description), description);
  const refusals = logs.filter((l) => l.event === 'oauth_refusal');
  assert.equal(refusals.length, 1, `expected one oauth_refusal log line, got ${refusals.length}: ${JSON.stringify(refusals)}`);
  assert.equal(refusals[0].error, error);
  assert.equal(refusals[0].reason, res.json.error_description, 'the log line names the same reason as the answer');
  assert.deepEqual(logs.filter(isServerError), [], 'no server error line');
}

/** A certificate that must be accepted: 200 with a token bound to it (RFC 8705 §3.1 cnf.x5t#S256). */
export function expectToken({ res }: Attempt, thumbprint: string): void {
  if (res.timedOut) assert.fail(`the server did not answer within ${ANSWER_DEADLINE_MS} ms`);
  assert.equal(res.status, 200, describeAnswer(res));
  const payload = JSON.parse(Buffer.from(String(res.json.access_token).split('.')[1], 'base64url').toString('utf8')) as JwtClaims;
  assert.equal(payload.cnf?.['x5t#S256'], thumbprint);
}

/**
 * After an attack: the process is up, discovery answers, and a legitimate client still gets a
 * token within the deadline.
 */
export async function expectStillServing(server: SecurityServer, legit: { clientId: string; identity: TlsClientIdentity }): Promise<void> {
  assert.ok(!server.exited(), `the server process died (${server.exitStatus()})`);
  assert.ok(await server.alive(), 'discovery answers 200 after the attack');
  const res = await server.token(legit.clientId, legit.identity);
  assert.equal(res.status, 200, `a legitimate client after the attack: ${describeAnswer(res)}`);
}

/**
 * For beforeEach: a server that hung or died in the previous test is replaced (restart()), so
 * each attack is judged on its own. Costs nothing when the server is healthy.
 */
export async function ensureServing(server: SecurityServer): Promise<void> {
  if (server.exited() || server.suspect === 'hung') return server.restart();
  if (server.suspect === 'dropped') {
    if (await server.alive()) server.clearSuspect();
    else await server.restart();
  }
}

// ---------------------------------------------------------------------------------------------
// The registrations every security test starts from

export const SECURITY_RESOURCE = 'https://api.security.test';

export interface SecurityWorld {
  /** a tls_client_auth client with an ordinary certificate from the trusted root: the "still serving" probe */
  legit: { clientId: string; identity: TlsClientIdentity };
  /** registers a tls_client_auth client with one subject matcher (RFC 8705 §2.1.2) */
  tlsClient(clientId: string, matcher: Partial<Record<'tls_client_auth_subject_dn' | 'tls_client_auth_san_dns' | 'tls_client_auth_san_uri', string>>): Promise<void>;
  /** registers a self_signed_tls_client_auth client (RFC 8705 §2.2) with these certificates as its jwks */
  selfSignedClient(clientId: string, ...certs: Array<CertFiles | IssuedCertificate>): Promise<void>;
}

/** The resource server SECURITY_RESOURCE (scope `read`) and the legitimate client `legit`. */
export async function registerWorld(server: SecurityServer): Promise<SecurityWorld> {
  await server.registerResourceServer({ identifier: SECURITY_RESOURCE, scopes: ['read'], sender_constraint_required: true });
  const base = { default_resource: SECURITY_RESOURCE, scope: 'read' };
  const legitCert = await issueCertificate({ subject: 'CN=legit partner,O=certbound tests', issuer: server.pki.clientRoot, days: 5 });
  await server.registerClient({ client_id: 'legit', tls_client_auth_subject_dn: legitCert.subject, ...base });
  return {
    legit: { clientId: 'legit', identity: presenting(legitCert) },
    async tlsClient(clientId, matcher) {
      await server.registerClient({ client_id: clientId, token_endpoint_auth_method: 'tls_client_auth', ...matcher, ...base });
    },
    async selfSignedClient(clientId, ...certs) {
      await server.registerClient({ client_id: clientId, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: selfSignedJwks(...certs), ...base });
    },
  };
}
