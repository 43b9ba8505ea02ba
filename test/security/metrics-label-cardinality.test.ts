// Attack class: metrics label cardinality. Every value that becomes a Prometheus label is a time
// series the server keeps in memory and every scrape sends; if a label took its value from the
// request, anyone who can reach the token endpoint could create series without bound (memory
// growth, a scrape too large to finish, a monitoring system brought down) and plant arbitrary
// text in the operator's dashboards. certbound's labels come from closed sets (a registered
// client's id, capped by METRICS_MAX_CLIENTS; a known grant type; a check code), never from input.
// Reproduced against a real server process: unregistered client_ids, invented grant types and
// hostile DPoP headers, then more registered clients than the cap.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  ANSWER_DEADLINE_MS, expectStillServing, presenting, registerWorld, startSecurityServer, timedRequest, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';
import { scrape, type Sample } from '../support/prometheus.ts';

const MAX_CLIENTS = 3;

describe('metrics label cardinality', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  let metricsUrl: string;

  const metrics = (): Promise<Sample[]> => scrape(metricsUrl);
  const series = (samples: Sample[], name: string) => samples.filter((s) => s.name === name);

  before(async () => {
    server = await startSecurityServer({ env: { METRICS_MAX_CLIENTS: String(MAX_CLIENTS) } });
    world = await registerWorld(server);
    const line = server.logs().find((l) => l.event === 'metrics_listening');
    assert.ok(line, 'the server logged where its metrics port listens');
    metricsUrl = String(line.metrics);
  });

  after(async () => {
    await server?.stop();
  });

  it('takes no label value from client_id, grant_type or a DPoP header', async () => {
    const planted: string[] = [];
    for (let i = 0; i < 60; i++) {
      const clientId = `attacker-${randomBytes(8).toString('hex')}`;
      const grantType = `urn:x:${randomBytes(8).toString('hex')}`;
      planted.push(clientId, grantType);
      const res = await timedRequest(`${server.mtlsUrl}/token`, {
        ca: server.ca, identity: world.legit.identity,
        form: { grant_type: i % 2 ? grantType : 'client_credentials', client_id: clientId },
        headers: i % 3 === 0 ? { dpop: `${randomBytes(20).toString('base64url')}.x.y` } : {},
      });
      assert.ok(!res.timedOut && res.ms < ANSWER_DEADLINE_MS, `answered within the deadline: ${res.error}`);
      assert.ok(res.status >= 400 && res.status < 500, `refused with a 4xx, got ${res.status} ${res.text}`);
    }
    const samples = await metrics();
    const labelValues = new Set(samples.flatMap((s) => Object.values(s.labels)));
    for (const value of planted) assert.ok(!labelValues.has(value), `${value} became a label value`);
    // (the admin client's own token requests come from registerWorld, through /admin/v1)
    const tokenSeries = series(samples, 'certbound_token_requests_total').filter((s) => s.labels.client_id !== 'admin');
    assert.ok(tokenSeries.length <= 6, `a handful of series for 60 requests, got ${tokenSeries.length}: ${JSON.stringify(tokenSeries.map((s) => s.labels))}`);
    for (const s of tokenSeries) {
      assert.equal(s.labels.client_id, 'unknown');
      assert.ok(['client_credentials', 'other'].includes(s.labels.grant_type), s.labels.grant_type);
    }
    await expectStillServing(server, world.legit);
  });

  it(`reports no more than METRICS_MAX_CLIENTS (${MAX_CLIENTS}) client ids and folds the others into "other"`, async () => {
    for (let i = 1; i <= MAX_CLIENTS + 3; i++) {
      const cert = await issueCertificate({ subject: `CN=tenant ${i},O=certbound tests`, issuer: server.pki.clientRoot, days: 2 });
      await world.tlsClient(`tenant-${i}`, { tls_client_auth_subject_dn: cert.subject });
      const res = await server.token(`tenant-${i}`, presenting(cert));
      assert.equal(res.status, 200, res.text);
    }
    const samples = await metrics();
    const clients = new Set([
      ...series(samples, 'certbound_token_requests_total'),
      ...series(samples, 'certbound_client_certificate_expiry_timestamp_seconds'),
    ].map((s) => s.labels.client_id));
    clients.delete('unknown');
    clients.delete('admin');
    assert.ok(clients.has('other'), `clients beyond the cap are reported as other: ${[...clients].join(', ')}`);
    clients.delete('other');
    assert.ok(clients.size <= MAX_CLIENTS, `at most ${MAX_CLIENTS} client ids: ${[...clients].join(', ')}`);
    await expectStillServing(server, world.legit);
  });
});
