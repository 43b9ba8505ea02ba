// The admin API the console's pages read, against a real server over mutual TLS: refusals the
// token endpoint answers show up in GET /refusals and /status with the failed check as reason;
// a registered certificate is on GET /certificates with its notAfter (then seen at authentication,
// then retired); POST /certificates/check walks a pasted PEM through /mtls/check's steps; the
// revocation responders the check asked show in /status. Embedded stores, or the shared ones.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, type X509Certificate } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import type { Diagnosis } from '../../apps/authz-server/src/mtls/diagnosis.ts';
import type { RefusalRecord } from '../../apps/authz-server/src/storage/kv/recent-refusals.ts';
import type { TimelineCertificate } from '../../apps/authz-server/src/admin/certificate-timeline.ts';
import type { ResponderHealth } from '../../apps/authz-server/src/mtls/revocation/index.ts';
import { createFixture, type Fixture } from '../../apps/authz-server/test/mtls/revocation/fixture.ts';
import { makeTestPki, realStores, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { expectOAuthError } from '../support/oauth.ts';

const API = 'https://ledger-api.test';
const SUBJECT = 'CN=ledger,O=Example Bank';
// Test servers on the shared Redis share its keys (no prefix per server): client ids of this run only,
// and the overview's counts are exact only on the embedded store, where nothing else records.
const RUN = randomBytes(4).toString('hex');
const LEDGER = `ledger-${RUN}`;
const NOBODY = `nobody-${RUN}`;
const SHARED_REDIS = realStores.redis !== undefined;

interface RefusalsAnswer { since: string; items: RefusalRecord[]; by_reason: Record<string, number> }
interface CertificatesAnswer { now: string; items: TimelineCertificate[]; truncated: boolean }
interface StatusAnswer {
  clients: number;
  certificates: number;
  expiring: Record<'7' | '30', number>;
  refusals_last_hour: { total: number; by_reason: Record<string, number> };
  revocation: { mode: string; responders: ResponderHealth[] };
}

const body = <T>(res: HttpsAnswer): T => res.json as unknown as T;

/** Recording is fire-and-forget: polls `read` until `done` holds, under a deadline (never a fixed sleep). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) assert.fail(`${what}: not within ${deadlineMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('/admin/v1 for the console: refusals, status, certificates, check', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let ocsp: Fixture;
  let ledger: IssuedCertificate;
  let stranger: IssuedCertificate;
  let withOcsp: X509Certificate;

  const token = (clientId: string, cert: IssuedCertificate) => https(`${as.mtlsUrl}/token`, {
    ca: as.ca, identity: { cert: cert.certPem, key: cert.keyPem }, form: { grant_type: 'client_credentials', client_id: clientId },
  });
  const get = async <T>(path: string) => {
    const res = await as.admin.request('GET', path);
    assert.equal(res.status, 200, `GET ${path}: ${res.text}`);
    return body<T>(res);
  };

  before(async () => {
    pki = await makeTestPki();
    ocsp = await createFixture();
    withOcsp = await ocsp.issue('ocsp-checked', { ocsp: [`${ocsp.base}/ocsp`] });
    ledger = await issueCertificate({ subject: SUBJECT, issuer: pki.clientRoot, days: 20 });
    stranger = await issueCertificate({ subject: 'CN=someone else', issuer: pki.clientRoot, days: 20 });
    as = await startTestAuthz({ pki, clientCaPem: pki.clientRoot.certPem + ocsp.ca.toString() });
    await as.registerResource({ identifier: API, scopes: ['ledger:read'], sender_constraint_required: true });
    const created = await as.admin.request('POST', '/clients', {
      json: { client_id: LEDGER, client_name: 'Ledger', tls_client_auth_subject_dn: SUBJECT, default_resource: API, scope: 'ledger:read' },
    });
    assert.equal(created.status, 201, created.text);
  });

  after(async () => {
    await as?.close();
    await ocsp?.dispose();
  });

  describe('GET /refusals and /status', () => {
    it('a token request with the wrong certificate is refused, and the refusal is listed for the client with its check as reason', async () => {
      const refused = await token(LEDGER, stranger);
      expectOAuthError(refused, 401, 'invalid_client', /^certificate subject "CN=someone else" does not match/);
      const listed = await eventually(() => get<RefusalsAnswer>(`/refusals?client_id=${LEDGER}`), (r) => r.items.length >= 1, 'the refusal in GET /refusals');
      assert.equal(listed.items.length, 1);
      const [item] = listed.items;
      assert.equal(item.client_id, LEDGER);
      assert.equal(item.error, 'invalid_client');
      assert.equal(item.reason, 'certificate_subject');
      assert.equal(item.description, refused.json.error_description);
      assert.equal(item.listener, 'mtls');
      assert.ok(Math.abs(Date.parse(item.at) - Date.now()) < 60_000);
      assert.deepEqual(listed.by_reason, { certificate_subject: 1 });
    });

    it('an unknown client_id is in the overview, never in a registered client\'s list', async () => {
      expectOAuthError(await token(NOBODY, stranger), 401, 'invalid_client');
      const all = await eventually(() => get<RefusalsAnswer>('/refusals'), (r) => r.items.some((i) => i.client_id === NOBODY), 'the unknown client');
      assert.equal(all.items.find((i) => i.client_id === NOBODY)?.reason, 'client_unknown');
      assert.deepEqual((await get<RefusalsAnswer>(`/refusals?client_id=${NOBODY}`)).items, []);
    });

    it('GET /status counts them by reason for the last hour, with the clients and certificates', async () => {
      const status = await get<StatusAnswer>('/status');
      const { total, by_reason: byReason } = status.refusals_last_hour;
      if (SHARED_REDIS) {
        assert.ok(byReason.certificate_subject >= 1 && byReason.client_unknown >= 1 && total >= 2, JSON.stringify(status.refusals_last_hour));
      } else {
        assert.deepEqual(status.refusals_last_hour, { total: 2, by_reason: { certificate_subject: 1, client_unknown: 1 }, capped: false });
      }
      assert.equal(status.clients, (await get<{ items: unknown[] }>('/clients?limit=200')).items.length);
      assert.equal(status.revocation.mode, 'soft');
      assert.deepEqual(Object.keys(status.expiring).sort(), ['30', '7']);
    });

    it('refuses bad parameters with a 400 naming them', async () => {
      for (const [query, description] of [
        ['since=yesterday', 'since: must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z'],
        ['limit=0', 'limit: must be an integer from 1 to 2000'],
        ['limit=2001', 'limit: must be an integer from 1 to 2000'],
        ['client_id=a%20b', 'client_id: must be a client_id: 1 to 255 printable ASCII characters'],
        ['reason=x', 'reason: unknown query parameter; accepted: client_id, since, limit'],
      ]) {
        const res = await as.admin.request('GET', `/refusals?${query}`);
        expectOAuthError(res, 400, 'invalid_request', description);
      }
      expectOAuthError(await as.admin.request('GET', '/status?x=1'), 400, 'invalid_request', 'x: unknown query parameter; accepted: none');
    });
  });

  describe('GET /certificates', () => {
    it('shows a registered certificate with its notAfter, then the token endpoint\'s sighting, then its retirement', async () => {
      const added = await as.admin.request('POST', `/clients/${LEDGER}/certificates`, { json: { pem: ledger.certPem } });
      assert.equal(added.status, 201, added.text);
      const x5t = x5tS256(ledger.cert);
      const listed = await get<CertificatesAnswer>(`/certificates?client_id=${LEDGER}`);
      assert.equal(listed.truncated, false);
      assert.ok(Math.abs(Date.parse(listed.now) - Date.now()) < 60_000);
      assert.deepEqual(listed.items.map((c) => [c.client_id, c['x5t#S256'], c.subject, c.not_after, c.sources, c.state]), [
        [LEDGER, x5t, SUBJECT, ledger.cert.validToDate.toISOString(), ['registered'], 'active'],
      ]);
      assert.equal(listed.items[0].not_before, ledger.cert.validFromDate.toISOString());

      assert.equal((await token(LEDGER, ledger)).status, 200);
      const seen = await eventually(() => get<CertificatesAnswer>(`/certificates?client_id=${LEDGER}`), (r) => r.items[0]?.sources.includes('seen') === true, 'the sighting');
      assert.deepEqual(seen.items[0].sources, ['registered', 'seen']);
      assert.ok(seen.items[0].last_seen_at !== null && Math.abs(Date.parse(seen.items[0].last_seen_at) - Date.now()) < 60_000);

      const retired = await as.admin.request('DELETE', `/clients/${LEDGER}/certificates/${x5t}`);
      assert.equal(retired.status, 200, retired.text);
      assert.deepEqual((await get<CertificatesAnswer>(`/certificates?client_id=${LEDGER}&status=retired`)).items.map((c) => c.state), ['retired']);
      assert.deepEqual((await get<CertificatesAnswer>(`/certificates?client_id=${LEDGER}&status=active`)).items, []);
    });

    it('lists every client\'s certificates sorted by notAfter, within the limit', async () => {
      const admin = x5tS256(pki.admin.cert);
      const all = await get<CertificatesAnswer>('/certificates');
      const notAfters = all.items.map((c) => Date.parse(c.not_after));
      assert.deepEqual(notAfters, [...notAfters].sort((a, b) => a - b));
      assert.ok(all.items.some((c) => c['x5t#S256'] === admin), 'the admin client\'s certificate, seen at authentication');
      const one = await get<CertificatesAnswer>('/certificates?limit=1');
      assert.equal(one.items.length, 1);
      assert.equal(one.truncated, all.items.length > 1);
    });

    it('refuses bad parameters with a 400 naming them', async () => {
      for (const [query, description] of [
        ['status=valid', 'status: must be one of active, retired, revoked, expired'],
        ['limit=0', 'limit: must be an integer from 1 to 2000'],
        ['limit=abc', 'limit: must be an integer from 1 to 2000'],
        ['client_id=', 'client_id: must be a client_id: 1 to 255 printable ASCII characters'],
        ['cursor=x', 'cursor: unknown query parameter; accepted: client_id, status, limit'],
      ]) {
        expectOAuthError(await as.admin.request('GET', `/certificates?${query}`), 400, 'invalid_request', description);
      }
    });
  });

  describe('POST /certificates/check', () => {
    const check = (json: unknown) => as.admin.request('POST', '/certificates/check', { json });

    it('answers /mtls/check\'s diagnosis for a certificate the client could use', async () => {
      const res = await check({ pem: ledger.certPem, client_id: LEDGER });
      assert.equal(res.status, 200, res.text);
      const diagnosis = body<Diagnosis>(res);
      assert.equal(diagnosis.ok, true);
      assert.deepEqual(diagnosis.steps.map((s) => [s.check, s.ok]), [
        ['presented', true], ['chain', true], ['dates', true], ['key_usage', true], ['revocation', true], ['client_match', true],
      ]);
      assert.equal(diagnosis.certificate?.['x5t#S256'], x5tS256(ledger.cert));
      assert.equal(diagnosis.first_failure, null);
      // A check changes nothing: no admin_change log line for it (as every changing POST has).
      assert.equal(as.logs.filter((l) => l.event === 'admin_change' && l.route === 'checkCertificate').length, 0);
    });

    it('names the failed step for another client\'s certificate, and skips client_match without a client', async () => {
      const mismatch = body<Diagnosis>(await check({ pem: stranger.certPem, client_id: LEDGER }));
      assert.equal(mismatch.ok, false);
      assert.equal(mismatch.first_failure?.code, 'subject_mismatch');
      const untrusted = await issueCertificate({ subject: SUBJECT, days: 2 });
      const chain = body<Diagnosis>(await check({ pem: untrusted.certPem }));
      assert.equal(chain.first_failure?.check, 'chain');
      assert.equal(chain.first_failure?.code, 'untrusted');
      const plain = await as.admin.request('POST', `/certificates/check?client_id=${LEDGER}`, {
        body: stranger.certPem, headers: { 'content-type': 'application/x-pem-file' },
      });
      assert.equal(body<Diagnosis>(plain).first_failure?.code, 'subject_mismatch', 'a PEM body takes client_id from the query');
      const unknown = body<Diagnosis>(await check({ pem: ledger.certPem, client_id: 'nobody' }));
      assert.equal(unknown.first_failure?.code, 'unknown_client');
    });

    it('refuses what is not a certificate with a 400 naming it', async () => {
      const lines = ledger.certPem.split('\n');
      const truncated = [...lines.slice(0, 2), ...lines.slice(3)].join('\n'); // a line of the DER missing
      for (const [json, description] of [
        [{ pem: 'hello' }, 'pem: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)'],
        [{ pem: truncated }, /^pem: PEM block 1 is not a readable X\.509 certificate/],
        [{ pem: `${ledger.certPem}${ledger.keyPem}` }, 'pem: contains a private key; send the certificate only (the key was discarded, not stored)'],
        [{}, 'pem: required: the certificate in PEM, optionally followed by its intermediates'],
        [{ pem: ledger.certPem, client_id: 42 }, 'client_id: must be a client_id: 1 to 255 printable ASCII characters'],
        [{ pem: ledger.certPem, extra: true }, 'extra: unknown field'],
      ] as const) {
        expectOAuthError(await check(json), 400, 'invalid_request', description);
      }
    });

    it('asks the OCSP responder of a validated chain, and /status shows how the responder answered', async () => {
      ocsp.ocsp = 'issuer';
      const good = body<Diagnosis>(await check({ pem: withOcsp.toString() }));
      assert.equal(good.steps.find((s) => s.check === 'revocation')?.ok, true, JSON.stringify(good.steps));
      let responder = (await get<StatusAnswer>('/status')).revocation.responders.find((r) => r.url === `${ocsp.base}/ocsp`);
      assert.equal(responder?.healthy, true);
      assert.equal(responder?.source, 'ocsp');
      ocsp.ocsp = 'error500';
      const other = await ocsp.issue('ocsp-down', { ocsp: [`${ocsp.base}/ocsp`] }); // not in the checker's caches
      await check({ pem: other.toString() });
      responder = (await get<StatusAnswer>('/status')).revocation.responders.find((r) => r.url === `${ocsp.base}/ocsp`);
      assert.equal(responder?.healthy, false);
      assert.equal(responder?.last_error, 'answered HTTP 500');
      ocsp.ocsp = 'issuer';
    });
  });

  it('every answer was a status its route declares', () => {
    assert.deepEqual(as.logs.filter((l) => l.event === 'admin_undeclared_status'), []);
  });
});
