// Hot reload of the TLS material (issue 12 item 3) against a real server process over real TLS: an
// operator replaces the server certificate and the client-CA bundle on disk and sends SIGHUP (or
// just waits for the file watch). Connections open at that moment keep working (the same socket,
// by its local port); new connections get the new certificate at once; a client of the removed CA
// is refused, on its kept-alive connection too, and one of the added CA gets a token. A key that
// does not match or an empty file keeps the old material and logs exactly one tls_reload_failed
// line. With WORKERS=2 (PostgreSQL + Redis), SIGHUP to the primary reloads every worker. The dev
// setup (no TLS_CERT_FILE) reloads its dev PKI's files the same way, and `npm start`'s launcher
// passes SIGHUP on to the authorization server (and not to the demo, which it would end).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { realStores } from '../support/authz.ts';
import { issueCertificate, loadIssued, type IssuedCertificate } from '../support/pki.ts';
import { startDevServer, startProcess, type DevServer, type RunningProcess } from '../support/processes.ts';
import { freePort } from '../support/https.ts';
import type { JsonAnswer } from '../support/json-answer.ts';
import {
  attempt, expectRefusal, expectToken, presenting, registerWorld, startSecurityServer, thumbprintOfPem,
  type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const UNTRUSTED = /^certificate chain does not lead to a trusted client CA/;

interface Answer {
  status: number;
  json: JsonAnswer;
  /** the client side's port: the same port = the same TCP connection */
  localPort: number;
}

/** One kept-alive TLS connection (an agent with a single socket) to `origin`. */
function keepAlive(origin: string, ca: string, identity: { cert?: string; key?: string } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, ...identity });
  const send = (path: string, form?: Record<string, string>) => new Promise<Answer>((resolve, reject) => {
    const body = form === undefined ? undefined : new URLSearchParams(form).toString();
    const req = request(`${origin}${path}`, {
      agent,
      method: body === undefined ? 'GET' : 'POST',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
    }, (res) => {
      const localPort = res.socket.localPort!;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, json: json as JsonAnswer, localPort });
      });
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer from ${origin}${path}`)));
    req.on('error', reject);
    req.end(body);
  });
  return { send, close: () => agent.destroy() };
}

/** The SHA-256 fingerprint of the certificate a NEW connection to `port` is shown (full handshake, no session). */
function certificateShown(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: 'localhost', port, ca, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      socket.destroy();
      if (fingerprint === undefined) reject(new Error('no server certificate'));
      else resolve(fingerprint);
    });
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no handshake with port ${port}`)));
    socket.on('error', reject);
  });
}

/**
 * Polls `condition` (with `meanwhile` run between tries, e.g. keeping connections busy) until it
 * holds; fails only after a generous deadline. Never a timing assertion.
 */
async function eventually(condition: () => Promise<boolean> | boolean, what: string, meanwhile: () => Promise<unknown> = async () => undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`still waiting for ${what}`);
    await meanwhile();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const portOf = (url: string) => Number(new URL(url).port);

/** A new server certificate for localhost from the harness's server CA (the clients' `ca` still verifies it). */
const newServerCertificate = (server: SecurityServer) => issueCertificate({
  subject: 'CN=localhost', issuer: server.pki.serverCa, sanDns: ['localhost'], sanIp: ['127.0.0.1', '::1'], extKeyUsage: ['serverAuth'], days: 3,
});

interface Rotation {
  server: SecurityServer;
  world: SecurityWorld;
  addedRoot: IssuedCertificate;
  added: IssuedCertificate;
}

/** A server trusting the harness's client root, with `legit` (from that root) and `added` (from a root it does not trust yet). */
async function rotationServer(env: Record<string, string>): Promise<Rotation> {
  const server = await startSecurityServer({ env });
  const world = await registerWorld(server);
  const addedRoot = await issueCertificate({ subject: `CN=added client root ${randomBytes(3).toString('hex')},O=certbound tests`, ca: true, days: 30 });
  const added = await issueCertificate({ subject: 'CN=added partner,O=certbound tests', issuer: addedRoot, days: 5 });
  await world.tlsClient('added', { tls_client_auth_subject_dn: added.subject });
  return { server, world, addedRoot, added };
}

/**
 * The rotation every trigger must carry out: keep-alive connections on both listeners, then a new
 * server certificate and a CA bundle holding only the added root, applied by `trigger`.
 */
async function rotate({ server, world, addedRoot, added }: Rotation, trigger: () => void, expectedTrigger: 'SIGHUP' | 'file'): Promise<IssuedCertificate> {
  const publicConnection = keepAlive(server.publicUrl, server.ca);
  const mtlsConnection = keepAlive(server.mtlsUrl, server.ca, world.legit.identity);
  try {
    const before = await publicConnection.send('/.well-known/openid-configuration');
    assert.equal(before.status, 200);
    const token = await mtlsConnection.send('/token', { grant_type: 'client_credentials', client_id: 'legit' });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    expectRefusal(await attempt(server, 'added', presenting(added)), 401, 'invalid_client', UNTRUSTED);

    const next = await newServerCertificate(server);
    const mark = server.logs().length;
    await writeFile(server.env.TLS_KEY_FILE, next.keyPem);
    await writeFile(server.env.TLS_CERT_FILE, next.certPem);
    await writeFile(server.env.CLIENT_CA_FILE, addedRoot.certPem);
    trigger();

    // Both connections are kept busy while waiting (the server closes one idle for 5 s).
    const busy = () => Promise.all([publicConnection.send('/.well-known/openid-configuration'), mtlsConnection.send('/.well-known/openid-configuration')]);
    await eventually(async () => (await certificateShown(portOf(server.publicUrl), server.ca)) === next.cert.fingerprint256,
      'a new connection to see the new server certificate', busy);
    assert.equal(await certificateShown(portOf(server.mtlsUrl), server.ca), next.cert.fingerprint256, 'the mutual-TLS listener too');

    // The connections opened before the reload still serve, on the same sockets.
    const after = await publicConnection.send('/.well-known/openid-configuration');
    assert.equal(after.status, 200);
    assert.equal(after.localPort, before.localPort, 'the public keep-alive connection is the same socket');
    // A verdict decided under the old CAs is decided again: the removed CA's client is refused on its open connection.
    const refused = await mtlsConnection.send('/token', { grant_type: 'client_credentials', client_id: 'legit' });
    assert.equal(refused.localPort, token.localPort, 'the mutual-TLS keep-alive connection is the same socket');
    assert.equal(refused.status, 401, JSON.stringify(refused.json));
    assert.equal(refused.json.error, 'invalid_client');
    assert.match(refused.json.error_description, UNTRUSTED);
    // Its log line comes through a pipe and may arrive after the answer: wait for it, so the next
    // attempt counts only its own refusal line.
    await eventually(() => server.logs().slice(mark).some((line) => line.event === 'oauth_refusal' && line.client_id === 'legit'), 'the kept-alive refusal\'s log line');

    // New connections: the removed CA's client is refused naming the chain, the added CA's gets a token.
    expectRefusal(await attempt(server, 'legit', world.legit.identity), 401, 'invalid_client', UNTRUSTED);
    expectToken(await attempt(server, 'added', presenting(added)), thumbprintOfPem(added.certPem));

    const reloaded = server.logs().slice(mark).filter((line) => line.event === 'tls_reloaded' && line.changed?.length > 0);
    assert.equal(reloaded.length, 1, JSON.stringify(reloaded));
    assert.equal(reloaded[0].trigger, expectedTrigger);
    assert.deepEqual([...reloaded[0].changed].sort(), ['CLIENT_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']);
    assert.equal(reloaded[0].server_certificate_not_after, next.cert.validToDate.toISOString());
    assert.equal(reloaded[0].client_cas, 1);
    assert.deepEqual(server.logs().slice(mark).filter((line) => line.event === 'tls_reload_failed'), []);
    return next;
  } finally {
    publicConnection.close();
    mtlsConnection.close();
  }
}

describe('TLS material reloaded on SIGHUP', () => {
  let rotation: Rotation;
  let current: IssuedCertificate;
  before(async () => {
    // No file watch: only the signal can have reloaded.
    rotation = await rotationServer({ TLS_RELOAD_INTERVAL_MS: 'off' });
  });
  after(() => rotation?.server.stop());

  it('keeps open connections, shows new connections the new certificate and applies the new client CAs', async () => {
    current = await rotate(rotation, () => rotation.server.signal('SIGHUP'), 'SIGHUP');
  });

  it('a key that does not match the certificate keeps the old material and logs one tls_reload_failed line', async () => {
    const { server } = rotation;
    const stranger = await newServerCertificate(server);
    const mark = server.logs().length;
    await writeFile(server.env.TLS_KEY_FILE, stranger.keyPem);
    server.signal('SIGHUP');
    await eventually(() => server.logs().slice(mark).some((line) => line.event === 'tls_reload_failed'), 'the tls_reload_failed line');
    assert.equal(await certificateShown(portOf(server.publicUrl), server.ca), current.cert.fingerprint256, 'new connections still see the old certificate');
    const failed = server.logs().slice(mark).filter((line) => line.event === 'tls_reload_failed');
    assert.equal(failed.length, 1, JSON.stringify(failed));
    assert.equal(failed[0].variable, 'TLS_KEY_FILE');
    assert.equal(failed[0].file, server.env.TLS_KEY_FILE);
    assert.equal(failed[0].reason, `holds a private key that does not match the certificate in TLS_CERT_FILE ${server.env.TLS_CERT_FILE}`);
    assert.equal(JSON.stringify(failed).includes('PRIVATE KEY'), false, 'the key never reaches the log');
    await writeFile(server.env.TLS_KEY_FILE, current.keyPem);
  });

  it('an empty CA bundle keeps the CAs in force and logs one tls_reload_failed line', async () => {
    const { server, added } = rotation;
    const mark = server.logs().length;
    await writeFile(server.env.CLIENT_CA_FILE, '');
    server.signal('SIGHUP');
    await eventually(() => server.logs().slice(mark).some((line) => line.event === 'tls_reload_failed'), 'the tls_reload_failed line');
    expectToken(await attempt(server, 'added', presenting(added)), thumbprintOfPem(added.certPem));
    assert.equal(await certificateShown(portOf(server.publicUrl), server.ca), current.cert.fingerprint256);
    const failed = server.logs().slice(mark).filter((line) => line.event === 'tls_reload_failed');
    assert.deepEqual(failed.map((line) => [line.variable, line.file, line.reason]), [['CLIENT_CA_FILE', server.env.CLIENT_CA_FILE, 'is empty']]);
    assert.ok(!server.exited(), 'the server still runs');
  });
});

describe('TLS material reloaded when its files change', () => {
  let rotation: Rotation;
  before(async () => {
    rotation = await rotationServer({});
  });
  after(() => rotation?.server.stop());

  it('applies a new certificate and CA bundle without a signal, keeping open connections', async () => {
    await rotate(rotation, () => undefined, 'file');
  });
});

describe('TLS material reloaded in every worker', { skip: realStores.database && realStores.redis ? false : 'WORKERS=2 needs TEST_DATABASE_URL and TEST_REDIS_URL' }, () => {
  let server: SecurityServer;
  before(async () => {
    server = await startSecurityServer({ env: { WORKERS: '2', TLS_RELOAD_INTERVAL_MS: 'off' } });
    await eventually(() => server.logs().filter((line) => line.event === 'worker_ready').length === 2, 'both workers to listen');
  });
  after(() => server?.stop());

  it('SIGHUP to the primary reloads both workers: every new connection sees the new certificate', async () => {
    const next = await newServerCertificate(server);
    const mark = server.logs().length;
    await writeFile(server.env.TLS_KEY_FILE, next.keyPem);
    await writeFile(server.env.TLS_CERT_FILE, next.certPem);
    server.signal('SIGHUP');
    await eventually(() => server.logs().slice(mark).filter((line) => line.event === 'tls_reloaded' && line.trigger === 'SIGHUP').length === 2,
      'a tls_reloaded line from each worker');
    const reloaded = server.logs().slice(mark).filter((line) => line.event === 'tls_reloaded');
    assert.equal(new Set(reloaded.map((line) => line.pid)).size, 2, `two workers reloaded: ${JSON.stringify(reloaded)}`);
    for (const line of reloaded) assert.deepEqual([...line.changed].sort(), ['TLS_CERT_FILE', 'TLS_KEY_FILE']);
    const shown = await Promise.all(Array.from({ length: 8 }, () => certificateShown(portOf(server.publicUrl), server.ca)));
    assert.deepEqual(new Set(shown), new Set([next.cert.fingerprint256]));
    assert.ok(!server.exited(), 'the primary still runs');
  });
});

describe('the dev setup reloads its dev PKI files', () => {
  let dev: DevServer;
  before(async () => {
    dev = await startDevServer('certbound-reload-dev-');
  });
  after(() => dev?.close());

  it('SIGHUP applies a server certificate rewritten in .data/pki', async () => {
    const pki = join(dev.dir, '.data', 'pki');
    const caPem = await readFile(join(pki, 'ca.pem'), 'utf8');
    const devCa = await loadIssued(caPem, await readFile(join(pki, 'ca-key.pem'), 'utf8'));
    const next = await issueCertificate({
      subject: 'CN=localhost', issuer: devCa, sanDns: ['localhost'], sanIp: ['127.0.0.1', '::1'], extKeyUsage: ['serverAuth'], days: 3,
    });
    assert.notEqual(await certificateShown(dev.mtlsPort, caPem), next.cert.fingerprint256);
    const mark = dev.proc.logs().length;
    await writeFile(join(pki, 'server-key.pem'), next.keyPem, { mode: 0o600 });
    await writeFile(join(pki, 'server.pem'), next.certPem);
    dev.proc.child.kill('SIGHUP');
    await eventually(async () => (await certificateShown(dev.mtlsPort, caPem)) === next.cert.fingerprint256, 'the new dev server certificate');
    // The log line comes through a pipe and may arrive after the new certificate is served: wait for it too.
    const reloadLines = () => dev.proc.logs().slice(mark).filter((line) => line.event === 'tls_reloaded' && line.changed.length > 0);
    await eventually(() => reloadLines().length > 0, 'the tls_reloaded line');
    const reloaded = reloadLines();
    assert.equal(reloaded.length, 1, JSON.stringify(reloaded));
    assert.deepEqual([...reloaded[0].changed].sort(), ['TLS_CERT_FILE', 'TLS_KEY_FILE']);
  });
});

describe('npm start passes SIGHUP on to the authorization server', () => {
  let dir: string;
  let launcher: RunningProcess | undefined;
  let ports: { public: number; mtls: number; demo: number };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-reload-start-'));
    ports = { public: await freePort(), mtls: await freePort(), demo: await freePort() };
    launcher = await startProcess('scripts/start.ts', {
      PUBLIC_PORT: String(ports.public), MTLS_PORT: String(ports.mtls), DEMO_PORT: String(ports.demo), DATA_DIR: join(dir, '.data'), LOG_LEVEL: 'info',
    }, { ready: /"event":"listening"[\s\S]*"event":"listening"/ });
  });
  after(async () => {
    await launcher?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the authorization server reloads; the launcher and the demo API keep running', async () => {
    const mark = launcher!.logs().length;
    launcher!.child.kill('SIGHUP');
    await eventually(() => launcher!.logs().slice(mark).some((line) => line.event === 'tls_reloaded'), 'the authorization server\'s tls_reloaded line');
    const reloaded = launcher!.logs().slice(mark).filter((line) => line.event === 'tls_reloaded');
    assert.deepEqual(reloaded.map((line) => [line.service, line.trigger, line.changed]), [['certbound-authz', 'SIGHUP', []]]);
    const caPem = await readFile(join(dir, '.data', 'pki', 'ca.pem'), 'utf8');
    // Both still accept connections (a demo that had received SIGHUP would be gone).
    assert.ok(await certificateShown(ports.demo, caPem));
    assert.ok(await certificateShown(ports.mtls, caPem));
    assert.equal(launcher!.child.exitCode, null);
    assert.doesNotMatch(launcher!.stderr(), /exited/);
  });
});
