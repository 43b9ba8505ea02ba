// Expiry notices across instances and through the running server: two checkers on one real
// PostgreSQL schema race round after round (with a flaky webhook too) and every certificate gets
// exactly one notice per threshold in total, counted in log lines and webhook deliveries; and a
// certificate added through /admin/v1 of a real server gets its notice (log line and signed POST)
// at once, not at the next scheduled round, while a certificate a client authenticates with is
// recorded as seen.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, type X509Certificate } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate } from '../../src/storage/migrate.ts';
import type { SqlClient } from '../../src/storage/sql.ts';
import { upsertClient } from '../../src/storage/postgres/clients.ts';
import { addClientCertificate } from '../../src/storage/postgres/client-certificates.ts';
import { listNotices } from '../../src/storage/postgres/expiry-notices.ts';
import { certificateRow } from '../../src/admin/certificates.ts';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { resolveKeyEncryptionKey } from '../../src/keys/kek.ts';
import { createExpiryNotices, DAY_MS } from '../../src/ops/expiry-notices.ts';
import { createWebhookSender, SIGNATURE_HEADER, verifySignature, webhookSigningKey } from '../../src/ops/expiry-webhook.ts';
import { SKIP_POSTGRES, openTestPostgres } from '../storage/helpers.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../../../../test/support/authz.ts';
import { https } from '../../../../test/support/https.ts';
import { recordingLogger, startWebhookReceiver, type NoticeBody, type WebhookReceiver } from './expiry-notices-support.ts';

async function certificate(subject: string, start: number, days: number): Promise<X509Certificate> {
  return (await issueCertificate({ subject, notBefore: new Date(start - DAY_MS), notAfter: new Date(start + days * DAY_MS) })).cert;
}

async function until<T>(what: string, find: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('two instances on one PostgreSQL', { skip: SKIP_POSTGRES }, () => {
  let receiver: WebhookReceiver;
  before(async () => { receiver = await startWebhookReceiver(); });
  after(async () => { await receiver.close(); });

  it('racing round after round, each certificate gets one notice per threshold in total: one log line, one delivery', async () => {
    const pg = await openTestPostgres();
    try {
      await migrate(pg.sql);
      const other = await pg.second();
      let clock = Date.now();
      // 12 certificates at 2 to 35 days: those under 30 days get a notice now, the rest later.
      const certs: X509Certificate[] = [];
      for (let i = 0; i < 12; i++) {
        const cert = await certificate(`CN=partner-${i}`, clock, 2 + i * 3);
        certs.push(cert);
        await upsertClient(pg.sql, { client_id: `partner-${i}`, tls_client_auth_subject_dn: `CN=partner-${i}` });
        await addClientCertificate(pg.sql, certificateRow(`partner-${i}`, cert));
      }
      const key = randomBytes(32);
      const logs = [recordingLogger(), recordingLogger()];
      const [a, b] = ([pg.sql, other] as SqlClient[]).map((sql, i) => createExpiryNotices({
        sql, logger: logs[i], now: () => new Date(clock), intervalMs: 1000,
        webhook: createWebhookSender({ url: receiver.url, key, ca: receiver.ca, attempts: 2, backoffMs: 1 }),
      }));
      const start = receiver.requests.length;
      receiver.failNext(3); // the first deliveries fail: retried by whichever instance comes next
      for (let round = 0; round < 4; round++) {
        await Promise.all([a.runOnce(), b.runOnce()]);
        clock += 2 * 60_000; // past any retry time
      }
      clock += 10 * DAY_MS; // every certificate is now closer: more thresholds crossed
      for (let round = 0; round < 4; round++) {
        await Promise.all([a.runOnce(), b.runOnce()]);
        clock += 2 * 60_000;
      }

      const notices = [...logs[0].notices(), ...logs[1].notices()];
      const ids = notices.map((l) => String(l.obj['notice_id']));
      assert.equal(new Set(ids).size, ids.length, 'no notice logged twice');
      const delivered = receiver.requests.slice(start).filter((r) => r.status < 300).map((r) => (JSON.parse(r.body) as NoticeBody).notice_id);
      assert.deepEqual([...delivered].sort(), [...ids].sort(), 'each logged notice delivered exactly once');
      assert.equal(receiver.requests.slice(start).filter((r) => r.status >= 300).length, 3);

      const rows = await listNotices(pg.sql);
      assert.equal(rows.length, ids.length);
      assert.ok(rows.every((r) => r.delivered_at !== null));
      // Days left at the start: 2, 5, ..., 35. First pass: every one ≤ 30 gets its tightest
      // threshold; ten days later each gets the next one it crossed (and the first two expired).
      const expected = certs.flatMap((cert, i) => {
        const days = 2 + i * 3;
        const first = days <= 1 ? 1 : days <= 7 ? 7 : days <= 30 ? 30 : undefined;
        const laterLeft = days - 10.01; // ten days and some minutes later
        const later = laterLeft <= 0 ? 0 : laterLeft <= 1 ? 1 : laterLeft <= 7 ? 7 : laterLeft <= 30 ? 30 : undefined;
        return [...new Set([first, later].filter((t) => t !== undefined))].map((t) => `${x5tS256(cert)} ${t}`);
      });
      assert.deepEqual(rows.map((r) => `${r.x5t_s256} ${r.threshold}`).sort(), expected.sort());
      await a.stop();
      await b.stop();
    } finally {
      await pg.drop();
    }
  });
});

describe('a running server', () => {
  let receiver: WebhookReceiver;
  let as: TestAuthz;
  let dir: string;
  let issued: Record<string, IssuedCertificate>;

  before(async () => {
    receiver = await startWebhookReceiver();
    dir = await mkdtemp(join(tmpdir(), 'certbound-expiry-'));
    await writeFile(join(dir, 'webhook-ca.pem'), receiver.ca);
    const pki = await makeTestPki();
    const now = Date.now();
    issued = {
      soon: await issueCertificate({ subject: 'CN=ledger,O=Example Bank', issuer: pki.clientRoot, notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 5 * DAY_MS) }),
      seen: await issueCertificate({ subject: 'CN=ledger,O=Example Bank', issuer: pki.clientRoot, notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 3 * DAY_MS) }),
    };
    as = await startTestAuthz({
      pki,
      env: {
        // The scheduled round is an hour away: only the check an admin change triggers can be fast.
        EXPIRY_CHECK_INTERVAL_MS: '3600000',
        EXPIRY_WEBHOOK_URL: receiver.url,
        EXPIRY_WEBHOOK_CA_FILE: join(dir, 'webhook-ca.pem'),
      },
    });
    await as.registerResource({ identifier: 'https://ledger-api.test', scopes: ['ledger:read'] });
  });

  after(async () => {
    await as?.close();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a certificate added through /admin/v1 gets its notice and its signed POST at once', async () => {
    const created = await as.admin.request('POST', '/clients', { json: {
      client_id: 'ledger', tls_client_auth_subject_dn: 'CN=ledger,O=Example Bank', default_resource: 'https://ledger-api.test', scope: 'ledger:read',
    } });
    assert.equal(created.status, 201, created.text);
    const x5t = x5tS256(issued.soon.cert);
    const added = await as.admin.request('POST', '/clients/ledger/certificates', { json: { pem: issued.soon.certPem } });
    assert.equal(added.status, 201, added.text);

    const line = await until('the notice log line', () => as.logs.find((l) => l.event === 'certificate_expiry_notice' && l.x5t === x5t), 10_000);
    assert.equal(line.client_id, 'ledger');
    assert.equal(line.threshold, 7);
    assert.equal(line.days_left, 4);
    assert.equal(line.not_after, issued.soon.cert.validToDate.toISOString());
    const post = await until('the webhook POST', () => receiver.delivered().find((r) => (JSON.parse(r.body) as NoticeBody).x5t === x5t), 10_000);
    const kek = await resolveKeyEncryptionKey({ value: as.env['KEY_ENCRYPTION_KEY'], dataDir: dir });
    assert.ok(verifySignature(webhookSigningKey(kek), post.body, String(post.headers[SIGNATURE_HEADER.toLowerCase()]), Math.floor(Date.now() / 1000)));
    const { service: _service, level: _level, time: _time, pid: _pid, hostname: _hostname, msg: _msg, ...logged } = line;
    assert.deepEqual(JSON.parse(post.body), logged);
  });

  it('records the certificate a client authenticated with, so an unregistered certificate is watched too', async () => {
    const res = await https(`${as.mtlsUrl}/token`, {
      ca: as.ca, identity: { cert: issued.seen.certPem, key: issued.seen.keyPem }, form: { grant_type: 'client_credentials', client_id: 'ledger' },
    });
    assert.equal(res.status, 200, res.text);
    const x5t = x5tS256(issued.seen.cert);
    const row = await until('the seen_certificates row', async () => {
      const { rows } = await as.server.stores.sql.query<{ client_id: string; subject: string; not_after: Date }>(
        'select client_id, subject, not_after from seen_certificates where x5t_s256 = $1', [x5t]);
      return rows[0];
    });
    assert.deepEqual(row, { client_id: 'ledger', subject: 'CN=ledger,O=Example Bank', not_after: issued.seen.cert.validToDate });
  });
});
