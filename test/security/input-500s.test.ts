// Attack class: input that made the server answer 500 — a Host header that is not a URI
// authority (oidc-provider builds discovery URLs and DPoP htu from it with `new URL`), and a
// certificate whose key a self-signed client cannot register (Node cannot export DSA, RSA-PSS or
// brainpool keys as a JWK). Each must be a 400 naming what is wrong, with exactly one structured
// log line and nothing multi-line on stdout or stderr. And the demo resource server, whose
// verifier cannot reach the JWKS: 503, and one JSON line carrying the UpstreamError and its cause
// (it printed Koa's multi-line stack on stderr).
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, it, before, after } from 'node:test';
import { makeTestPki, type TestPki } from '../support/authz.ts';
import { freePort } from '../support/https.ts';
import { startProcess, type RunningProcess } from '../support/processes.ts';
import type { JsonAnswer } from '../support/json-answer.ts';
import {
  ANSWER_DEADLINE_MS, LEAF_EXTENSIONS, SECURITY_RESOURCE, craftCertificate, describeAnswer, registerWorld, selfSignedJwks,
  startSecurityServer, type CertFiles, type CraftedKey, type SecurityServer, type TimedAnswer,
} from '../support/security-server.ts';

const isErrorLine = (line: Record<string, unknown>) => typeof line.level === 'number' && line.level >= 50;

/** One HTTP/1.1 request written byte for byte over TLS (the Host header exactly as given, or none). */
function rawRequest(server: SecurityServer, url: string, options: {
  method: string; path: string; hostLines: string[]; identity?: { cert: string; key: string }; headers?: Record<string, string>; body?: string;
}): Promise<TimedAnswer> {
  const { port } = new URL(url);
  const body = options.body ?? '';
  const head = [
    `${options.method} ${options.path} HTTP/1.1`,
    ...options.hostLines,
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ].join('\r\n');
  const started = performance.now();
  return new Promise((resolve) => {
    let out = '';
    // write, not end: a TLS close_notify from the client may close the connection before a slow answer.
    const socket = connect({ host: 'localhost', port: Number(port), servername: 'localhost', ca: server.ca, ...options.identity }, () => socket.write(`${head}\r\n\r\n${body}`));
    const finish = (timedOut: boolean, error?: string) => {
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      let text = out.slice(out.indexOf('\r\n\r\n') + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(out.slice(0, out.indexOf('\r\n\r\n')))) text = dechunk(text);
      let json: unknown;
      try { json = JSON.parse(text); } catch { json = undefined; }
      resolve({ status, text, json: json as JsonAnswer, ms, timedOut, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => { socket.destroy(); finish(true, `no answer within ${ANSWER_DEADLINE_MS} ms`); }, ANSWER_DEADLINE_MS);
    socket.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
    socket.on('end', () => finish(false));
    socket.on('error', (err: Error) => finish(false, err.message));
  });
}

function dechunk(text: string): string {
  let out = '';
  for (let rest = text; ;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The log lines a request caused: waits (up to 1 s) for its refusal line, then 50 ms for a second. */
async function linesOf(server: SecurityServer, mark: number, event: string): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline && !server.logs().slice(mark).some((l) => l.event === event || isErrorLine(l))) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  return server.logs().slice(mark);
}

/** 400 with exactly this error and description, and one structured line at warn naming the same reason. */
function expectBadInput(res: TimedAnswer, lines: Array<Record<string, unknown>>, event: string, error: string, description: string): void {
  assert.ok(!res.timedOut, describeAnswer(res));
  assert.notEqual(res.status, 500, `500 from input: ${describeAnswer(res)}`);
  assert.equal(res.status, 400, describeAnswer(res));
  assert.equal(res.json?.error, error, res.text);
  assert.equal(res.json?.error_description, description);
  assert.equal(lines.length, 1, `exactly one log line for the request, got ${JSON.stringify(lines)}`);
  const [line] = lines as [Record<string, unknown>];
  assert.equal(line.event, event);
  assert.equal(line.level, 40, 'a refusal of input is a warning, not a server error');
  assert.equal(line.status, 400);
  assert.equal(line.error, error);
  assert.equal(line.reason, description);
}

/** A pino line of the demo API with its serialized error (pino's err serializer keeps the cause chain). */
interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly code?: string;
  readonly cause?: SerializedError;
}
interface LogLine {
  readonly level: number;
  readonly service: string;
  readonly event: string;
  readonly status: number;
  readonly err: SerializedError;
}

describe('input that used to answer 500', () => {
  let server: SecurityServer;
  let adminToken: string;
  const keys: Partial<Record<CraftedKey, CertFiles>> = {};
  const UNSUPPORTED: Array<[CraftedKey, string]> = [
    ['DSA', 'certificate public key is DSA; RSA (at least 2048 bits), P-256, P-384, P-521 and Ed25519 are accepted'],
    ['RSA-PSS', 'certificate public key is RSA-PSS (id-RSASSA-PSS), which has no JWK form (RFC 7518 §6.3); RSA (at least 2048 bits), P-256, P-384, P-521 and Ed25519 are accepted'],
    ['brainpoolP256r1', 'certificate public key uses the curve brainpoolP256r1; only P-256, P-384, P-521 and Ed25519 are accepted'],
    ['secp256k1', 'certificate public key uses the curve secp256k1; only P-256, P-384, P-521 and Ed25519 are accepted'],
    ['Ed448', 'certificate public key is Ed448; RSA (at least 2048 bits), P-256, P-384, P-521 and Ed25519 are accepted'],
  ];

  before(async () => {
    server = await startSecurityServer();
    await registerWorld(server);
    const { pki } = server;
    const make = (name: string, key?: CraftedKey) => craftCertificate(pki, { name, subject: `CN=${name},O=certbound tests`, issuer: pki.root, extensions: LEAF_EXTENSIONS, ...(key ? { key } : {}) });
    await server.registerClient({
      client_id: 'self-signed', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: selfSignedJwks(await make('self-signed')),
      default_resource: SECURITY_RESOURCE, scope: 'read',
    });
    for (const [key] of UNSUPPORTED) keys[key] = await make(`key-${key}`, key);
    const token = await server.token('admin', { cert: pki.admin.certPem, key: pki.admin.keyPem }, { scope: 'admin', timeoutMs: 15_000 });
    assert.equal(token.status, 200, describeAnswer(token));
    adminToken = token.json.access_token;
  });

  after(async () => {
    if (!server) return;
    // Nothing multi-line anywhere: every stdout line is one JSON object, stderr is empty.
    const stray = server.stdout().split('\n').filter((line) => line !== '' && !(line.startsWith('{') && (() => { try { JSON.parse(line); return true; } catch { return false; } })()));
    const stderr = server.stderr();
    const errors = server.logs().filter(isErrorLine);
    await server.stop();
    assert.deepEqual(stray, [], 'stdout holds only JSON log lines');
    assert.equal(stderr, '', 'nothing on stderr');
    assert.deepEqual(errors, [], 'no error-level line');
  });

  describe('a Host header that is not host[:port] (RFC 9110 §7.2, RFC 9112 §3.2)', () => {
    const VARIANTS: Array<[string, string[], string]> = [
      ['an unterminated IPv6 literal', ['Host: [::1'], 'Host header "[::1" is not a host[:port] (RFC 9110 §7.2)'],
      ['a space in the name', ['Host: a b'], 'Host header "a b" is not a host[:port] (RFC 9110 §7.2)'],
      ['a port that is not a number', ['Host: localhost:abc'], 'Host header "localhost:abc" has a port that is not a number from 0 to 65535'],
      ['a port above 65535', ['Host: localhost:99999'], 'Host header "localhost:99999" has a port that is not a number from 0 to 65535'],
      ['a bracketed name that is not IPv6', ['Host: [not-an-address]'], 'Host header "[not-an-address]" is not a host[:port]: [not-an-address] is not an IPv6 address'],
      ['an empty value', ['Host: '], 'Host header is empty'],
      ['no Host on HTTP/1.1', [], 'Host header is missing (RFC 9112 §3.2 requires it in HTTP/1.1)'],
      ['two Host fields', ['Host: localhost', 'Host: evil.example'], 'Host header is repeated 2 times (RFC 9112 §3.2 allows one)'],
    ];
    const ROUTES = [
      { name: 'discovery', listener: 'public', method: 'GET', path: '/.well-known/openid-configuration' },
      { name: 'token', listener: 'mtls', method: 'POST', path: '/token' },
      { name: 'admin', listener: 'mtls', method: 'GET', path: '/admin/v1/clients' },
      { name: 'interactions', listener: 'public', method: 'GET', path: '/interaction/unknown-uid' },
    ] as const;

    for (const [what, hostLines, description] of VARIANTS) {
      for (const route of ROUTES) {
        it(`answers 400 invalid_request to ${what} at ${route.name}`, async () => {
          const mark = server.logs().length;
          const identity = route.listener === 'mtls' ? { cert: server.pki.admin.certPem, key: server.pki.admin.keyPem } : undefined;
          const res = await rawRequest(server, route.listener === 'mtls' ? server.mtlsUrl : server.publicUrl, {
            method: route.method,
            path: route.path,
            hostLines,
            ...(identity ? { identity } : {}),
            headers: route.name === 'token'
              ? { 'Content-Type': 'application/x-www-form-urlencoded' }
              : route.name === 'admin' ? { Authorization: `Bearer ${adminToken}` } : {},
            ...(route.name === 'token' ? { body: 'grant_type=client_credentials&client_id=legit' } : {}),
          });
          const lines = await linesOf(server, mark, 'oauth_refusal');
          expectBadInput(res, lines, 'oauth_refusal', 'invalid_request', description);
          assert.equal(lines[0].check, 'host_header');
          assert.equal(lines[0].listener, route.listener);
          assert.equal(lines[0].path, route.path);
        });
      }
    }

    it('still serves an ordinary Host, an IPv6 literal and a Host without a port', async () => {
      for (const host of [new URL(server.publicUrl).host, `[::1]:${new URL(server.publicUrl).port}`, 'localhost']) {
        const res = await rawRequest(server, server.publicUrl, { method: 'GET', path: '/.well-known/openid-configuration', hostLines: [`Host: ${host}`] });
        assert.equal(res.status, 200, `${host}: ${describeAnswer(res)}`);
      }
    });
  });

  describe('a certificate whose key a self_signed_tls_client_auth client cannot register', () => {
    for (const [key, description] of UNSUPPORTED) {
      it(`POST /clients/{id}/certificates refuses a ${key} key with 400 naming it`, async () => {
        const mark = server.logs().length;
        const res = await server.admin('POST', '/clients/self-signed/certificates', { pem: keys[key]!.certPem });
        expectBadInput(res, await linesOf(server, mark, 'admin_refusal'), 'admin_refusal', 'invalid_client_metadata', `pem: ${description}`);
      });

      it(`jwks x5c of POST /clients refuses a ${key} key with 400 naming it`, async () => {
        const der = new X509Certificate(keys[key]!.certPem).raw.toString('base64');
        const kty = key === 'Ed448' ? 'OKP' : key === 'RSA-PSS' ? 'RSA' : key === 'DSA' ? 'RSA' : 'EC';
        const mark = server.logs().length;
        const res = await server.admin('POST', '/clients', {
          client_id: `self-signed-${key}`, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ kty, x5c: [der] }] },
          default_resource: SECURITY_RESOURCE, scope: 'read',
        });
        expectBadInput(res, await linesOf(server, mark, 'admin_refusal'), 'admin_refusal', 'invalid_client_metadata', `jwks.keys[0].x5c[0]: ${description}`);
      });
    }
  });
});

describe('the demo resource server when its upstream is unreachable', () => {
  let pki: TestPki;
  let dir: string;
  let demo: RunningProcess;
  let url: string;

  before(async () => {
    pki = await makeTestPki();
    dir = await mkdtemp(join(tmpdir(), 'certbound-demo-log-'));
    await writeFile(join(dir, 'server.pem'), pki.server.certPem);
    await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), pki.serverCa.certPem);
    const [port, nothing] = [await freePort(), await freePort()];
    url = `https://localhost:${port}`;
    demo = await startProcess('apps/resource-server-demo/src/main.ts', {
      DEMO_PORT: String(port),
      DEMO_TLS_CERT_FILE: join(dir, 'server.pem'),
      DEMO_TLS_KEY_FILE: join(dir, 'server-key.pem'),
      DEMO_CA_FILE: join(dir, 'ca.pem'),
      DEMO_ISSUER: `https://localhost:${nothing}`,
      // Nothing listens there: every JWKS fetch is refused (ECONNREFUSED).
      DEMO_JWKS_URI: `https://localhost:${nothing}/jwks`,
    }, { ready: /"event":"listening"/, timeoutMs: 30_000 });
  });

  after(async () => {
    await demo?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 temporarily_unavailable and logs one JSON line with the UpstreamError and its cause', async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    // Well-formed enough that the verifier needs the JWKS to check its signature.
    const token = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({ iss: 'x', aud: url, exp: now + 60, iat: now })}.${randomBytes(64).toString('base64url')}`;
    const marks = { stdout: demo.stdout().length, stderr: demo.stderr().length };
    const res = await rawRequestTo(url, pki.serverCa.certPem, { cert: pki.admin.certPem, key: pki.admin.keyPem }, `Bearer ${token}`);
    assert.equal(res.status, 503, describeAnswer(res));
    assert.equal(res.json?.error, 'temporarily_unavailable');
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline && !demo.stdout().slice(marks.stdout).includes('upstream_error')) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const written = demo.stdout().slice(marks.stdout).split('\n').filter(Boolean);
    assert.equal(written.length, 1, `one line for the request: ${JSON.stringify(written)}`);
    const line = JSON.parse(written[0]) as LogLine;
    assert.equal(line.level, 50);
    assert.equal(line.service, 'resource-server-demo');
    assert.equal(line.event, 'upstream_error');
    assert.equal(line.status, 503);
    assert.equal(line.err.type, 'UpstreamError');
    assert.match(line.err.message, /JWKS at https:\/\/localhost:\d+\/jwks could not be used/);
    const causes: string[] = [];
    for (let cause = line.err.cause; cause; cause = cause.cause) causes.push(`${cause.code ?? ''} ${cause.message}`);
    assert.ok(causes.some((c) => /ECONNREFUSED/.test(c)), `the cause names the refused connection: ${JSON.stringify(line.err.cause)}`);
    assert.ok(!written[0].includes(token), 'the token is not logged');
    assert.equal(demo.stderr().slice(marks.stderr), '', 'nothing on stderr');
  });
});

function rawRequestTo(url: string, ca: string, identity: { cert: string; key: string }, authorization: string): Promise<TimedAnswer> {
  return rawRequest({ ca } as SecurityServer, url, {
    method: 'GET', path: '/api/v1/settlements/00000000-0000-4000-8000-000000000000', hostLines: [`Host: ${new URL(url).host}`], identity,
    headers: { Authorization: authorization },
  });
}
