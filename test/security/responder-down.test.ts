// Attack class: the revocation source is taken away (a responder that is down, or one that
// accepts and never answers — an attacker on the path can do either) so that revocation checking
// either lets everything through silently or holds every token request hostage. certbound bounds
// each fetch by REVOCATION_TIMEOUT_MS and then follows REVOCATION_CHECK: `soft` issues the token
// and logs one structured `revocation_unknown` warning per certificate; `hard` refuses with
// invalid_client and a description naming the responder and what went wrong. Either way the
// answer comes promptly and the server keeps serving.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it, before, after, beforeEach } from 'node:test';
import { closedPort, createFixture, type Fixture } from '../../apps/authz-server/test/mtls/revocation/fixture.ts';
import {
  attempt, ensureServing, expectRefusal, expectStillServing, expectToken, registerWorld, startSecurityServer,
  makeSecurityPki, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';
import { identityOf } from '../support/revocation-identities.ts';
import type { LogLine } from '../support/json-answer.ts';

const TIMEOUT_MS = 500;
/** how late past REVOCATION_TIMEOUT_MS an answer may come (process, TLS, a loaded 2-core machine) */
const SLACK_MS = 3_000;

/** A TCP server that accepts, reads, and never answers; counts connections. */
async function silentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ocsp`,
    connections: () => connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The revocation_unknown lines about `serial`, waiting up to 1 s for the first (stdout races the HTTP answer). */
async function unknownLines(server: SecurityServer, serial: string): Promise<LogLine[]> {
  const lines = () => server.logs().filter((l) => l.event === 'revocation_unknown' && l.serial === serial);
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline && lines().length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
  return lines();
}

describe('an OCSP responder that is down or silent (REVOCATION_CHECK soft and hard)', () => {
  let fixture: Fixture;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let refusedUrl: string;
  let soft: SecurityServer;
  let hard: SecurityServer;
  let softWorld: SecurityWorld;
  let hardWorld: SecurityWorld;
  let refusedCert: X509Certificate;
  let silentCert: X509Certificate;

  before(async () => {
    fixture = await createFixture();
    silent = await silentServer();
    refusedUrl = `http://127.0.0.1:${await closedPort()}/ocsp`;
    refusedCert = await fixture.issue('refused responder partner', { ocsp: [refusedUrl] });
    silentCert = await fixture.issue('silent responder partner', { ocsp: [silent.url] });

    const start = async (mode: 'soft' | 'hard') => {
      const pki = await makeSecurityPki();
      const server = await startSecurityServer({
        pki, clientCaPem: `${pki.clientRoot.certPem}\n${fixture.ca.toString()}`, env: { REVOCATION_CHECK: mode, REVOCATION_TIMEOUT_MS: String(TIMEOUT_MS) },
      });
      const world = await registerWorld(server);
      await world.tlsClient('refused', { tls_client_auth_subject_dn: 'CN=refused responder partner' });
      await world.tlsClient('silent', { tls_client_auth_subject_dn: 'CN=silent responder partner' });
      return { server, world };
    };
    [{ server: soft, world: softWorld }, { server: hard, world: hardWorld }] = await Promise.all([start('soft'), start('hard')]);
  });

  after(async () => {
    await Promise.all([soft?.stop(), hard?.stop()]);
    await silent?.close();
    await fixture?.dispose();
  });
  beforeEach(async () => {
    await Promise.all([ensureServing(soft), ensureServing(hard)]);
  });

  describe('REVOCATION_CHECK=soft', () => {
    it('issues the token when the responder refuses connections, and logs one revocation_unknown warning', async () => {
      const { identity, thumbprint } = await identityOf(fixture, refusedCert);
      const tried = await attempt(soft, 'refused', identity);
      expectToken(tried, thumbprint);
      assert.ok(tried.res.ms < TIMEOUT_MS + SLACK_MS, `answered after ${tried.res.ms} ms`);
      // A second request on a new connection: still a token, and still one warning.
      expectToken(await attempt(soft, 'refused', identity), thumbprint);
      const lines = await unknownLines(soft, refusedCert.serialNumber);
      assert.equal(lines.length, 1, `one revocation_unknown line for the certificate, got ${JSON.stringify(lines)}`);
      const [line] = lines;
      assert.equal(line.level, 40, 'logged at warn');
      assert.equal(line.subject, 'CN=refused responder partner');
      assert.equal(line.source, 'ocsp');
      assert.ok(String(line.detail).startsWith(`OCSP responder ${refusedUrl} `), `detail names the responder: ${String(line.detail)}`);
      assert.match(String(line.detail), /refused/i);
      assert.deepEqual(soft.logs().filter((l) => l.msg === 'server error' || (typeof l.level === 'number' && l.level >= 50)), [], 'no server error line');
    });

    it('issues the token after REVOCATION_TIMEOUT_MS when the responder never answers, and logs one revocation_unknown warning', async () => {
      const { identity, thumbprint } = await identityOf(fixture, silentCert);
      const connected = silent.connections();
      const tried = await attempt(soft, 'silent', identity);
      expectToken(tried, thumbprint);
      assert.ok(tried.res.ms >= TIMEOUT_MS && tried.res.ms < TIMEOUT_MS + SLACK_MS, `answered after ${tried.res.ms} ms`);
      assert.equal(silent.connections() - connected, 1, 'one request to the silent responder');
      const lines = await unknownLines(soft, silentCert.serialNumber);
      assert.equal(lines.length, 1, `one revocation_unknown line for the certificate, got ${JSON.stringify(lines)}`);
      const [line] = lines;
      assert.equal(line.level, 40, 'logged at warn');
      assert.equal(line.subject, 'CN=silent responder partner');
      assert.equal(line.source, 'ocsp');
      assert.ok(String(line.detail).startsWith(`OCSP responder ${silent.url} `), `detail names the responder: ${String(line.detail)}`);
      assert.match(String(line.detail), /timeout/i);
      await expectStillServing(soft, softWorld.legit);
    });
  });

  describe('REVOCATION_CHECK=hard', () => {
    const unknownFor = (cert: X509Certificate, cn: string) =>
      new RegExp(`^revocation status unknown for certificate serial ${cert.serialNumber} \\(CN=${cn}\\): (.+)$`);

    it('refuses promptly when the responder refuses connections, naming the responder', async () => {
      const { identity } = await identityOf(fixture, refusedCert);
      const tried = await attempt(hard, 'refused', identity);
      const pattern = unknownFor(refusedCert, 'refused responder partner');
      expectRefusal(tried, 401, 'invalid_client', pattern);
      assert.ok(tried.res.ms < TIMEOUT_MS + SLACK_MS, `answered after ${tried.res.ms} ms`);
      const detail = pattern.exec(tried.res.json.error_description)![1];
      assert.ok(detail.includes(refusedUrl), `detail names the responder URL: ${detail}`);
      assert.match(detail, /refused/i);
      await expectStillServing(hard, hardWorld.legit);
    });

    it('refuses within REVOCATION_TIMEOUT_MS plus slack when the responder never answers, naming the responder', async () => {
      const { identity } = await identityOf(fixture, silentCert);
      const connected = silent.connections();
      const tried = await attempt(hard, 'silent', identity);
      const pattern = unknownFor(silentCert, 'silent responder partner');
      expectRefusal(tried, 401, 'invalid_client', pattern);
      assert.ok(tried.res.ms >= TIMEOUT_MS && tried.res.ms < TIMEOUT_MS + SLACK_MS, `answered after ${tried.res.ms} ms`);
      assert.equal(silent.connections() - connected, 1, 'one request to the silent responder');
      const detail = pattern.exec(tried.res.json.error_description)![1];
      assert.ok(detail.includes(silent.url), `detail names the responder URL: ${detail}`);
      assert.match(detail, /timeout/i);
      await expectStillServing(hard, hardWorld.legit);
    });
  });
});
