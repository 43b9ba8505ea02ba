// Replicas behind real proxies (issue 14 items 2): deploy/nginx/certbound-replicas.conf and
// deploy/haproxy/haproxy.cfg, run as plain processes on loopback (Debian nginx-light and haproxy,
// installed by .ci/run) with only their placeholders given, in front of two certbound instances
// on the shared PostgreSQL + Redis and the demo settlement API. Per proxy: a token through it is
// bound to the client's own certificate; the demo API behind the same proxy enforces that binding;
// a certificate header sent by the client does not make it someone else; and kill -9 of one
// instance under load fails only the requests in flight on it (counted, at most one per caller),
// the proxy then sends nothing more to it, and a client registered before still authenticates.
// Counts, not timings. Skipped without TEST_DATABASE_URL + TEST_REDIS_URL.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from '../support/oauth.ts';
import { issueCertificate } from '../support/pki.ts';
import { freePort } from '../support/https.ts';
import { describeAnswer, presenting, thumbprintOfPem, timedRequest, type TlsClientIdentity } from '../support/security-server.ts';
import { HAPROXY, NGINX, startHaproxy, startNginx, writeProxyTls, type RunningProxy } from './support/proxies.ts';
import { replicasUnavailable, startReplicas, type Replicas } from './support/replicas.ts';

const PROXY_ADDRESS = '127.0.0.2';
const CALLERS = 4;

const KINDS = [
  { kind: 'nginx', header: 'nginx', start: startNginx, installed: NGINX },
  { kind: 'haproxy', header: 'client-cert', start: startHaproxy, installed: HAPROXY },
] as const;

/** The access token's claims (decodeJwt asserts it was handed a JWT). */
const claims = (token: unknown) => decodeJwt(token).payload;

/** A certificate header of `format` naming `pem`, as a client could send it. */
function injected(format: 'nginx' | 'client-cert', pem: string): Record<string, string> {
  if (format === 'nginx') return { 'x-ssl-client-cert': encodeURIComponent(pem) };
  return { 'client-cert': `:${Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64').toString('base64')}:` };
}

for (const { kind, header, start, installed } of KINDS) {
  const skip = replicasUnavailable() ?? (installed ? undefined : `${kind} is not installed (.ci/run installs it)`);

  describe(`two instances behind ${kind} (deploy/${kind === 'nginx' ? 'nginx/certbound-replicas.conf' : 'haproxy/haproxy.cfg'})`, { skip }, () => {
    let replicas: Replicas;
    let proxy: RunningProxy;
    let url: string;
    let apiUrl: string;
    let partner: TlsClientIdentity & { pem: string };
    let other: TlsClientIdentity & { pem: string };

    const token = (clientId: string, identity: TlsClientIdentity | undefined, headers: Record<string, string> = {}) => timedRequest(`${url}/token`, {
      ca: replicas.ca, identity, headers, form: { grant_type: 'client_credentials', client_id: clientId },
    });
    const settle = (accessToken: string, identity: TlsClientIdentity | undefined, headers: Record<string, string> = {}) => timedRequest(`${apiUrl}/api/v1/settlements`, {
      ca: replicas.ca, identity, headers: { authorization: `Bearer ${accessToken}`, ...headers },
      json: { amount: '12.50', currency: 'EUR', counterparty: 'ACME', reference: `proxy-${kind}` },
    });

    before(async () => {
      replicas = await startReplicas({ proxyAddress: PROXY_ADDRESS, proxyHeader: header });
      const tlsDir = join(replicas.dir, 'proxy-tls');
      await writeProxyTls(tlsDir, {
        certPem: replicas.pki.server.certPem + replicas.pki.serverCa.certPem,
        keyPem: replicas.pki.server.keyPem,
        clientCaPem: replicas.pki.clientRoot.certPem,
        upstreamCaPem: replicas.pki.serverCa.certPem,
      });
      const [listen, apiListen] = [await freePort(), await freePort()];
      const [a, b] = replicas.instances;
      proxy = await start({
        LISTEN: `127.0.0.1:${listen}`,
        TLS_DIR: tlsDir,
        UPSTREAM_NAME: 'localhost',
        '1_MTLS': `127.0.0.1:${a.mtlsPort}`,
        '1_PUBLIC_PORT': String(a.publicPort),
        '2_MTLS': `127.0.0.1:${b.mtlsPort}`,
        '2_PUBLIC_PORT': String(b.publicPort),
        PROXY_ADDRESS,
        API_LISTEN: `127.0.0.1:${apiListen}`,
        API_UPSTREAM: `127.0.0.1:${replicas.demoPort}`,
      });
      url = `https://localhost:${listen}`;
      apiUrl = `https://localhost:${apiListen}`;
      const issue = async (cn: string) => {
        const cert = await issueCertificate({ subject: `CN=${cn},O=certbound tests`, issuer: replicas.pki.clientRoot, days: 2 });
        const scope = 'settlements:read settlements:write';
        const res = await replicas.admin('POST', '/clients', { client_id: cn, tls_client_auth_subject_dn: cert.subject, default_resource: replicas.resource, scope });
        assert.equal(res.status, 201, describeAnswer(res));
        return { ...presenting(cert), pem: cert.certPem };
      };
      partner = await issue('partner');
      other = await issue('other');
    });
    after(async () => {
      await proxy?.stop();
      await replicas?.stop();
    });

    it('gives a token bound to the certificate the client presented to the proxy, from either instance', async () => {
      // Round robin: consecutive requests reach both instances; every token is bound the same way.
      for (let i = 0; i < 4; i++) {
        const res = await token('partner', partner);
        assert.equal(res.status, 200, describeAnswer(res));
        assert.equal(claims(res.json.access_token).cnf['x5t#S256'], thumbprintOfPem(partner.pem));
      }
    });

    it('serves discovery and the JWKS through the proxy (what docker-compose.replicas.yml\'s demo API reads)', async () => {
      const jwks = await timedRequest(`${url}/jwks`, { ca: replicas.ca });
      assert.equal(jwks.status, 200, describeAnswer(jwks));
      assert.ok(Array.isArray(jwks.json.keys) && jwks.json.keys.length > 0, jwks.text);
      const discovery = await timedRequest(`${url}/.well-known/openid-configuration`, { ca: replicas.ca });
      assert.equal(discovery.status, 200, describeAnswer(discovery));
    });

    it('the demo API behind the same proxy accepts the token only over the certificate it is bound to', async () => {
      const res = await token('partner', partner);
      const accessToken = res.json.access_token;
      const created = await settle(accessToken, partner);
      assert.equal(created.status, 201, describeAnswer(created));
      assert.equal(created.json.settlement.created_by, 'partner');
      // A stolen token over another trusted certificate, or over none.
      for (const identity of [other, undefined]) {
        const refused = await settle(accessToken, identity);
        assert.equal(refused.status, 401, describeAnswer(refused));
        assert.equal(refused.json?.error, 'invalid_token', refused.text);
      }
    });

    it(`a client's own ${header === 'nginx' ? 'X-SSL-Client-Cert' : 'Client-Cert'} (or another format) does not make it someone else`, async () => {
      const naming = injected(header, partner.pem);
      const otherFormat = injected(header === 'nginx' ? 'client-cert' : 'nginx', partner.pem);
      // Without a certificate: the proxy removed the header, certbound sees no certificate.
      for (const headers of [naming, otherFormat]) {
        const res = await token('partner', undefined, headers);
        assert.equal(res.status, 401, describeAnswer(res));
        assert.equal(res.json.error, 'invalid_client');
        assert.equal(res.json.error_description, 'no client certificate presented');
      }
      // With its own certificate: refused as partner, and its token is bound to its own certificate.
      const asPartner = await token('partner', other, naming);
      assert.equal(asPartner.status, 401, describeAnswer(asPartner));
      assert.equal(asPartner.json.error, 'invalid_client');
      for (const headers of [naming, otherFormat]) {
        const own = await token('other', other, headers);
        assert.equal(own.status, 200, describeAnswer(own));
        assert.equal(claims(own.json.access_token).cnf['x5t#S256'], thumbprintOfPem(other.pem));
      }
      // At the demo API: partner's stolen token with partner's (public) certificate in the header.
      const stolen = (await token('partner', partner)).json.access_token;
      for (const identity of [other, undefined]) {
        const res = await settle(stolen, identity, naming);
        assert.equal(res.status, 401, describeAnswer(res));
        assert.equal(res.json?.error, 'invalid_token');
      }
    });

    it(`kill -9 of one instance under load (${CALLERS} keep-alive callers): only requests in flight on it fail, then none; nothing registered is lost`, async (t) => {
      // Registered through the proxy by the admin, before the kill: it must live in PostgreSQL, not in an instance.
      const adminIdentity = { cert: replicas.pki.admin.certPem, key: replicas.pki.admin.keyPem };
      const adminToken = await timedRequest(`${url}/token`, { ca: replicas.ca, identity: adminIdentity, form: { grant_type: 'client_credentials', client_id: 'admin', scope: 'admin' } });
      assert.equal(adminToken.status, 200, describeAnswer(adminToken));
      const lateCert = await issueCertificate({ subject: 'CN=late partner,O=certbound tests', issuer: replicas.pki.clientRoot, days: 2 });
      const registered = await timedRequest(`${url}/admin/v1/clients`, {
        ca: replicas.ca, identity: adminIdentity, method: 'POST', headers: { authorization: `Bearer ${adminToken.json.access_token}` },
        json: { client_id: 'late', tls_client_auth_subject_dn: lateCert.subject, default_resource: replicas.resource, scope: 'settlements:read' },
      });
      assert.equal(registered.status, 201, describeAnswer(registered));

      const load = startLoad(url, replicas.ca, partner);
      await load.until((c) => c.ok >= 100);
      const [victim] = replicas.instances;
      const beforeKill = load.counts();
      await victim.kill();
      const killedAt = load.counts();
      if (proxy.kind === 'haproxy') {
        // The health check (/readyz, inter 1s fall 2) takes it out.
        await statusOf(proxy, 'certbound-1', 'DOWN');
      } else {
        // Passive: the first refused connection takes it out for fail_timeout.
        await load.until((c) => c.ok >= killedAt.ok + 50);
      }
      const down = load.counts();
      await load.until((c) => c.ok >= down.ok + 300);
      const end = await load.stop();
      t.diagnostic(`before the kill ${JSON.stringify(beforeKill)}; taken out ${JSON.stringify(down)}; end ${JSON.stringify(end)}`);

      assert.equal(beforeKill.failed, 0, `no failure before the kill: ${JSON.stringify(beforeKill)}`);
      assert.ok(end.failed <= CALLERS, `at most one failed request per caller (those in flight on the killed instance): ${JSON.stringify(end)}`);
      assert.equal(end.failed, down.failed, `none after the proxy took the instance out: ${JSON.stringify({ down, end })}`);
      for (const status of Object.keys(end.failures)) assert.ok(['502', '503', 'reset'].includes(status), `a failure is the proxy's 502/503 or a reset: ${JSON.stringify(end.failures)}`);
      assert.ok(end.ok >= down.ok + 300);

      const late = await token('late', presenting(lateCert));
      assert.equal(late.status, 200, describeAnswer(late));
      assert.equal(claims(late.json.access_token).cnf['x5t#S256'], thumbprintOfPem(lateCert.certPem));
      const again = await token('partner', partner);
      assert.equal(again.status, 200, describeAnswer(again));

      if (proxy.kind === 'haproxy') {
        // Back on the same ports: the health check takes it in again, and both serve.
        await victim.restart();
        await statusOf(proxy, 'certbound-1', 'UP');
        const after = startLoad(url, replicas.ca, partner);
        await after.until((c) => c.ok + c.failed >= 200);
        const counts = await after.stop();
        assert.equal(counts.failed, 0, JSON.stringify(counts));
      }
    });
  });
}

/** Until HAProxy's stats show `server` of the certbound backend in `status` (bounded: a stuck check fails the test, never hangs it). */
async function statusOf(proxy: RunningProxy, server: string, status: string): Promise<void> {
  let seen: string | undefined;
  for (let i = 0; i < 600; i++) {
    seen = await proxy.serverStatus('certbound', server);
    if (seen === status) return;
    await sleep(100);
  }
  assert.fail(`haproxy still shows ${server} ${seen}, not ${status}`);
}

interface LoadCounts {
  ok: number;
  failed: number;
  failures: Record<string, number>;
}

/** CALLERS callers, each one keep-alive connection to the proxy, posting token requests back to back. */
function startLoad(url: string, ca: string, identity: TlsClientIdentity) {
  const counts: LoadCounts = { ok: 0, failed: 0, failures: {} };
  let running = true;
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'partner' }).toString();
  const one = (agent: Agent) => new Promise<string>((resolve) => {
    const req = request(`${url}/token`, {
      method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
      res.on('error', () => resolve('reset'));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(err.message === 'timeout' ? 'timeout' : 'reset'));
    req.end(body);
  });
  const callers = Array.from({ length: CALLERS }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, cert: identity.cert, key: identity.key });
    while (running) {
      const status = await one(agent);
      if (status === '200') counts.ok++;
      else {
        counts.failed++;
        counts.failures[status] = (counts.failures[status] ?? 0) + 1;
      }
    }
    agent.destroy();
  });
  const snapshot = (): LoadCounts => ({ ...counts, failures: { ...counts.failures } });
  return {
    counts: snapshot,
    async until(done: (c: LoadCounts) => boolean) {
      // A bound on the wait, not an assertion about speed: a stuck load fails the test instead of hanging it.
      for (let i = 0; !done(counts); i++) {
        if (i > 1_200) throw new Error(`load did not progress: ${JSON.stringify(counts)}`);
        await sleep(50);
      }
    },
    async stop(): Promise<LoadCounts> {
      running = false;
      await Promise.all(callers);
      return snapshot();
    },
  };
}
