// Certificate expiry notices (ops/expiry-notices.ts) on embedded PGlite, with a moving clock: each
// threshold gives one notice once, only the tightest one crossed; registered, seen, server and
// trust-anchor certificates are covered; the webhook gets the same JSON signed, over verified TLS,
// and a failing webhook is retried until delivered exactly once. The two-instance race on real
// PostgreSQL and the admin API path are in expiry-notices-instances.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, type X509Certificate } from 'node:crypto';
import type { SqlClient } from '../../src/storage/sql.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { upsertClient } from '../../src/storage/postgres/clients.ts';
import { addClientCertificate } from '../../src/storage/postgres/client-certificates.ts';
import { listNotices } from '../../src/storage/postgres/expiry-notices.ts';
import { certificateRow } from '../../src/admin/certificates.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { createExpiryNotices, crossedThreshold, DAY_MS, type LocalCertificates } from '../../src/ops/expiry-notices.ts';
import { createWebhookSender, NOTICE_ID_HEADER, SIGNATURE_HEADER, verifySignature, webhookSigningKey } from '../../src/ops/expiry-webhook.ts';
import { createSeenCertificateRecorder } from '../../src/ops/seen-certificates.ts';
import { sharedPgliteSchemas } from '../storage/helpers.ts';
import { recordingLogger, startWebhookReceiver, type NoticeBody, type WebhookReceiver } from './expiry-notices-support.ts';

const pgliteSchema = sharedPgliteSchemas();

/** A client certificate valid until `start + days`. */
async function certificate(subject: string, start: number, days: number): Promise<X509Certificate> {
  const issued = await issueCertificate({ subject, notBefore: new Date(start - DAY_MS), notAfter: new Date(start + days * DAY_MS) });
  return issued.cert;
}

async function freshDb(): Promise<SqlClient> {
  const sql = await pgliteSchema();
  await migrate(sql);
  return sql;
}

/** `sql` with its query() replaced (the modules under test only query). */
function withQuery(sql: SqlClient, query: SqlClient['query']): SqlClient {
  return {
    query,
    exec: (script) => sql.exec(script),
    transaction: (fn) => sql.transaction(fn),
    session: (fn) => sql.session(fn),
    close: () => sql.close(),
  };
}

async function register(sql: SqlClient, clientId: string, cert: X509Certificate): Promise<void> {
  await upsertClient(sql, { client_id: clientId, tls_client_auth_subject_dn: 'CN=x' });
  await addClientCertificate(sql, certificateRow(clientId, cert));
}

describe('crossedThreshold', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const at = (days: number) => new Date(now.getTime() + days * DAY_MS);
  it('is the tightest threshold crossed, 0 once expired, undefined before the loosest', () => {
    const t = [30, 7, 1];
    assert.equal(crossedThreshold(at(31), now, t), undefined);
    assert.equal(crossedThreshold(at(30), now, t), 30);
    assert.equal(crossedThreshold(at(29), now, t), 30);
    assert.equal(crossedThreshold(at(6.5), now, t), 7);
    assert.equal(crossedThreshold(at(0.5), now, t), 1);
    assert.equal(crossedThreshold(at(0), now, t), 0);
    assert.equal(crossedThreshold(at(-3), now, t), 0);
  });
});

describe('expiry notices on embedded PGlite', () => {
  let receiver: WebhookReceiver;
  before(async () => { receiver = await startWebhookReceiver(); });
  after(async () => { await receiver.close(); });

  it('a certificate 29 days from expiry gets the 30-day notice once; moving the clock gives the 7-day, then the expired notice', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    const cert = await certificate('CN=ledger,O=Bank', clock, 29);
    await register(sql, 'ledger', cert);
    const logger = recordingLogger();
    const notices = createExpiryNotices({ sql, logger, now: () => new Date(clock) });

    assert.deepEqual(await notices.runOnce(), { claimed: 1, delivered: 0, failed: 0 });
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 0, failed: 0 });
    assert.equal(logger.notices().length, 1);
    const first = logger.notices()[0];
    assert.equal(first.level, 'warn');
    assert.deepEqual({ ...first.obj, notice_id: undefined }, {
      event: 'certificate_expiry_notice', notice_id: undefined, kind: 'client', client_id: 'ledger', x5t: x5tS256(cert),
      subject: 'CN=ledger,O=Bank', issuer: 'CN=ledger,O=Bank', not_after: cert.validToDate.toISOString(), days_left: 28, threshold: 30, expired: false,
    });
    assert.match(first.msg, /^client certificate of ledger CN=ledger,O=Bank \(x5t#S256 [\w-]{43}\) expires at \S+ \(28 day\(s\) left, threshold 30 days\)$/);

    clock += 20 * DAY_MS; // 9 days left: no threshold newly crossed
    assert.equal((await notices.runOnce()).claimed, 0);
    clock += 3 * DAY_MS; // 6 days left
    assert.equal((await notices.runOnce()).claimed, 1);
    assert.equal((await notices.runOnce()).claimed, 0);
    clock += 6 * DAY_MS + 60_000; // expired a minute ago
    assert.equal((await notices.runOnce()).claimed, 1);
    clock += DAY_MS;
    assert.equal((await notices.runOnce()).claimed, 0);

    assert.deepEqual(logger.notices().map((l) => [l.obj['threshold'], l.obj['days_left'], l.level]), [[30, 28, 'warn'], [7, 5, 'warn'], [0, -1, 'error']]);
    // The 1-day threshold was jumped over: the tighter expired notice superseded it.
    assert.deepEqual((await listNotices(sql, { x5t: x5tS256(cert) })).map((n) => [n.threshold, n.delivered_at !== null]), [[0, true], [7, true], [30, true]]);
  });

  it('a certificate first seen 3 days from expiry gets the 7-day notice only; one beyond every threshold gets none', async () => {
    const sql = await freshDb();
    const clock = Date.now();
    const soon = await certificate('CN=soon', clock, 3);
    const later = await certificate('CN=later', clock, 45);
    await register(sql, 'soon', soon);
    await register(sql, 'later', later);
    const logger = recordingLogger();
    await createExpiryNotices({ sql, logger, now: () => new Date(clock) }).runOnce();
    assert.deepEqual(logger.notices().map((l) => [l.obj['client_id'], l.obj['threshold']]), [['soon', 7]]);
  });

  it('follows EXPIRY_NOTICE_DAYS', async () => {
    const sql = await freshDb();
    const clock = Date.now();
    await register(sql, 'c', await certificate('CN=c', clock, 50));
    const logger = recordingLogger();
    await createExpiryNotices({ sql, logger, thresholds: [60, 14], now: () => new Date(clock) }).runOnce();
    assert.deepEqual(logger.notices().map((l) => l.obj['threshold']), [60]);
  });

  it('covers certificates seen at authentication (one notice when also registered), the server certificate and each trust anchor', async () => {
    const sql = await freshDb();
    const clock = Date.now();
    const seenOnly = await certificate('CN=partner', clock, 5);
    const both = await certificate('CN=both', clock, 10);
    await register(sql, 'both', both);
    const logger = recordingLogger();
    const recorder = createSeenCertificateRecorder({ sql, logger, now: () => new Date(clock) });
    recorder.record('partner', seenOnly, x5tS256(seenOnly));
    recorder.record('both', both, x5tS256(both));
    await recorder.settled();
    const server = await certificate('CN=localhost', clock, 12);
    const anchor = await certificate('CN=Client Root', clock, 20);
    const farAnchor = await certificate('CN=Other Root', clock, 400);
    const local: LocalCertificates = { server: [server], trustAnchors: [anchor, farAnchor] };
    await createExpiryNotices({ sql, logger, now: () => new Date(clock), local: () => local }).runOnce();
    assert.deepEqual(logger.notices().map((l) => [l.obj['kind'], l.obj['client_id'], l.obj['subject'], l.obj['threshold']]).sort(), [
      ['client', 'both', 'CN=both', 30],
      ['client', 'partner', 'CN=partner', 7],
      ['server', null, 'CN=localhost', 30],
      ['trust_anchor', null, 'CN=Client Root', 30],
    ]);
  });

  it('a seen certificate the client has rotated away from gets no notice; one still in use does', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    const logger = recordingLogger();
    const recorder = createSeenCertificateRecorder({ sql, logger, now: () => new Date(clock) });
    const certs: Record<string, X509Certificate> = {};
    for (const client of ['rotated', 'alternating']) {
      certs[`${client}-old`] = await certificate(`CN=${client}`, clock, 5);
      certs[`${client}-new`] = await certificate(`CN=${client}`, clock, 90);
    }
    const seen = (name: string) => recorder.record(name.replace(/-(old|new)$/, ''), certs[name], x5tS256(certs[name]));
    seen('rotated-old');
    seen('alternating-old');
    await recorder.settled();
    clock += 2 * 3_600_000;
    seen('rotated-new'); // from now on only the new one
    seen('alternating-new');
    await recorder.settled();
    clock += 2 * 3_600_000;
    seen('alternating-old'); // still used after the new one appeared
    await recorder.settled();
    await createExpiryNotices({ sql, logger, now: () => new Date(clock) }).runOnce();
    assert.deepEqual(logger.notices().map((l) => [l.obj['client_id'], l.obj['x5t']]), [['alternating', x5tS256(certs['alternating-old'])]]);
  });

  it('writes a seen certificate at most once per hour per process', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    const writes: string[] = [];
    const counting = withQuery(sql, (text, params) => {
      if (text.includes('seen_certificates')) writes.push(text);
      return sql.query(text, params);
    });
    const cert = await certificate('CN=partner', clock, 100);
    const recorder = createSeenCertificateRecorder({ sql: counting, logger: recordingLogger(), now: () => new Date(clock) });
    for (let i = 0; i < 5; i++) recorder.record('partner', cert, x5tS256(cert));
    await recorder.settled();
    assert.equal(writes.length, 1);
    clock += 59 * 60_000;
    recorder.record('partner', cert, x5tS256(cert));
    recorder.record('other', cert, x5tS256(cert)); // another client: its own entry
    await recorder.settled();
    assert.equal(writes.length, 2);
    clock += 2 * 60_000;
    recorder.record('partner', cert, x5tS256(cert));
    await recorder.settled();
    assert.equal(writes.length, 3);
    const { rows } = await sql.query<{ client_id: string; last_seen: Date }>('select client_id, last_seen from seen_certificates order by client_id');
    assert.deepEqual(rows.map((r) => [r.client_id, r.last_seen.getTime()]), [['other', clock - 2 * 60_000], ['partner', clock]]);
  });

  it('POSTs the logged JSON to the webhook, signed with the key derived from the key-encryption key', async () => {
    const sql = await freshDb();
    const clock = Date.now();
    const cert = await certificate('CN=ledger', clock, 6);
    await register(sql, 'ledger', cert);
    const kek = randomBytes(32);
    const logger = recordingLogger();
    const before = receiver.requests.length;
    const webhook = createWebhookSender({ url: receiver.url, key: webhookSigningKey(kek), ca: receiver.ca });
    assert.deepEqual(await createExpiryNotices({ sql, logger, webhook, now: () => new Date(clock) }).runOnce(), { claimed: 1, delivered: 1, failed: 0 });
    const got = receiver.requests.slice(before);
    assert.equal(got.length, 1);
    const req = got[0];
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body), logger.notices()[0].obj);
    assert.equal(req.headers[NOTICE_ID_HEADER.toLowerCase()], logger.notices()[0].obj['notice_id']);
    const signature = String(req.headers[SIGNATURE_HEADER.toLowerCase()]);
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    const nowSeconds = Math.floor(Date.now() / 1000);
    assert.equal(verifySignature(webhookSigningKey(kek), req.body, signature, nowSeconds), true);
    // Another key, a changed body or a stale timestamp does not verify.
    assert.equal(verifySignature(webhookSigningKey(randomBytes(32)), req.body, signature, nowSeconds), false);
    assert.equal(verifySignature(webhookSigningKey(kek), req.body.replace('ledger', 'ledgeR'), signature, nowSeconds), false);
    assert.equal(verifySignature(webhookSigningKey(kek), req.body, signature, nowSeconds + 3600), false);
    const [row] = await listNotices(sql, { x5t: x5tS256(cert) });
    assert.ok(row?.delivered_at);
    assert.equal(row.attempts, 1);
  });

  it('a failing webhook is retried with back-off by later rounds and delivered exactly once', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    const cert = await certificate('CN=ledger', clock, 20);
    await register(sql, 'ledger', cert);
    const logger = recordingLogger();
    const before = receiver.requests.length;
    const webhook = createWebhookSender({ url: receiver.url, key: randomBytes(32), ca: receiver.ca, attempts: 3, backoffMs: 1 });
    const notices = createExpiryNotices({ sql, logger, webhook, intervalMs: 60_000, now: () => new Date(clock) });
    receiver.failNext(4);

    assert.deepEqual(await notices.runOnce(), { claimed: 1, delivered: 0, failed: 1 });
    const failed = logger.lines.filter((l) => l.obj['event'] === 'certificate_expiry_webhook_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].obj['error'], 'answered HTTP 503');
    assert.equal(failed[0].obj['webhook'], new URL(receiver.url).origin);
    assert.ok(!JSON.stringify(logger.lines).includes('s3cr3t-path'), 'the webhook path (which may hold a secret) is never logged');
    let [row] = await listNotices(sql);
    assert.equal(row?.delivered_at, null);
    assert.equal(row?.attempts, 3);
    assert.equal(row?.last_error, 'answered HTTP 503');

    // Not before its retry time (one interval after the first failed round).
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 0, failed: 0 });
    clock += 61_000;
    // 4th request fails, 5th succeeds.
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 1, failed: 0 });
    clock += 3_600_000;
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 0, failed: 0 });

    const got = receiver.requests.slice(before);
    assert.deepEqual(got.map((r) => r.status), [503, 503, 503, 503, 204]);
    assert.equal(new Set(got.map((r) => r.body)).size, 1, 'every attempt sends the same body');
    assert.equal(logger.notices().length, 1);
    [row] = await listNotices(sql);
    assert.ok(row?.delivered_at);
    assert.equal(row.attempts, 5);
  });

  it('a failed delivery gives the round\'s other notices back untried; once the receiver is back each is delivered once', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    for (const name of ['a', 'b', 'c']) await register(sql, name, await certificate(`CN=${name}`, clock, 20));
    const logger = recordingLogger();
    const before = receiver.requests.length;
    const webhook = createWebhookSender({ url: receiver.url, key: randomBytes(32), ca: receiver.ca, attempts: 1 });
    const notices = createExpiryNotices({ sql, logger, webhook, intervalMs: 60_000, now: () => new Date(clock) });
    receiver.failNext(1);
    assert.deepEqual(await notices.runOnce(), { claimed: 3, delivered: 0, failed: 1 });
    assert.equal(receiver.requests.length - before, 1, 'one request while the receiver is down, not one per notice');
    const rows = await listNotices(sql);
    assert.deepEqual(rows.map((n) => n.attempts).sort(), [0, 0, 1]);
    assert.ok(rows.every((n) => n.delivered_at === null && n.lease_until.getTime() === clock + 60_000), 'all three retried together, one interval later');
    clock += 60_000;
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 3, failed: 0 });
    clock += 3_600_000;
    assert.deepEqual(await notices.runOnce(), { claimed: 0, delivered: 0, failed: 0 });
    const got = receiver.requests.slice(before);
    assert.deepEqual(got.map((r) => r.status), [503, 204, 204, 204]);
    assert.equal(new Set(got.filter((r) => r.status < 300).map((r) => (JSON.parse(r.body) as NoticeBody).notice_id)).size, 3);
    assert.equal(logger.notices().length, 3);
  });

  it('a second failed round waits twice as long', async () => {
    const sql = await freshDb();
    let clock = Date.now();
    await register(sql, 'ledger', await certificate('CN=ledger', clock, 20));
    const webhook = createWebhookSender({ url: receiver.url, key: randomBytes(32), ca: receiver.ca, attempts: 2, backoffMs: 1 });
    const notices = createExpiryNotices({ sql, logger: recordingLogger(), webhook, intervalMs: 60_000, now: () => new Date(clock) });
    receiver.failNext(4);
    await notices.runOnce();
    assert.equal((await listNotices(sql))[0].lease_until.getTime(), clock + 60_000);
    clock += 60_000;
    assert.equal((await notices.runOnce()).failed, 1);
    assert.equal((await listNotices(sql))[0].lease_until.getTime(), clock + 120_000);
  });

  it('verifies the receiver\'s certificate: one the trusted CAs did not issue gets nothing', async () => {
    const sql = await freshDb();
    const clock = Date.now();
    await register(sql, 'ledger', await certificate('CN=ledger', clock, 6));
    const other = await issueCertificate({ subject: 'CN=another CA', ca: true, days: 2 });
    const logger = recordingLogger();
    const before = receiver.requests.length;
    for (const ca of [undefined, other.certPem]) {
      const webhook = createWebhookSender({ url: receiver.url, key: randomBytes(32), attempts: 1, ...(ca === undefined ? {} : { ca }) });
      await createExpiryNotices({ sql, logger, webhook, now: () => new Date(clock + (ca === undefined ? 0 : DAY_MS / 2)) }).runOnce();
    }
    assert.equal(receiver.requests.length, before, 'no request reached the receiver');
    const errors = logger.lines.filter((l) => l.obj['event'] === 'certificate_expiry_webhook_failed').map((l) => l.obj['error']);
    assert.equal(errors.length, 2);
    for (const e of errors) assert.match(String(e), /CERT|SIGNATURE|ISSUER|VERIFY/);
    assert.equal((await listNotices(sql))[0].delivered_at, null);
  });

  it('a store that is down: the round fails, the scheduled check logs it once and its recovery once', async () => {
    let down = true;
    const sql = await freshDb();
    const flaky = withQuery(sql, (text, params) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : sql.query(text, params)));
    const logger = recordingLogger();
    const notices = createExpiryNotices({ sql: flaky, logger, intervalMs: 1000 });
    await assert.rejects(notices.runOnce(), /ECONNREFUSED/);
    notices.start();
    const deadline = Date.now() + 10_000;
    const count = (event: string) => logger.lines.filter((l) => l.obj['event'] === event).length;
    while (count('certificate_expiry_check_failed') < 1) {
      assert.ok(Date.now() < deadline, 'no failure line');
      await new Promise((r) => setTimeout(r, 20));
    }
    notices.checkSoon();
    notices.checkSoon();
    down = false;
    while (count('certificate_expiry_check_recovered') < 1) {
      assert.ok(Date.now() < deadline, 'no recovery line');
      await new Promise((r) => setTimeout(r, 20));
    }
    await notices.stop();
    assert.equal(count('certificate_expiry_check_failed'), 1);
    assert.equal(count('certificate_expiry_check_recovered'), 1);
  });
});

describe('expiry notice configuration', () => {
  const base = { PUBLIC_PORT: '0', MTLS_PORT: '0' };
  it('defaults to 30, 7, 1 days, every minute, no webhook', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.expiryNoticeDays, [30, 7, 1]);
    assert.equal(config.expiryCheckIntervalMs, 60_000);
    assert.equal(config.expiryWebhookUrl, undefined);
  });

  it('reads the days in any order, largest first', () => {
    assert.deepEqual(loadConfig({ ...base, EXPIRY_NOTICE_DAYS: '7, 60,14' }).expiryNoticeDays, [60, 14, 7]);
  });

  it('refuses bad values, naming the variable and the problem', () => {
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ EXPIRY_NOTICE_DAYS: '30,x' }, /^EXPIRY_NOTICE_DAYS: "x" is not a number of days from 1 to 3650$/],
      [{ EXPIRY_NOTICE_DAYS: '0' }, /^EXPIRY_NOTICE_DAYS: "0" is not a number of days/],
      [{ EXPIRY_NOTICE_DAYS: '7,7' }, /^EXPIRY_NOTICE_DAYS: names a day count twice$/],
      [{ EXPIRY_WEBHOOK_URL: 'http://hooks.example/x' }, /^EXPIRY_WEBHOOK_URL: scheme http: is refused: must be an https URL/],
      [{ EXPIRY_WEBHOOK_URL: 'https://user:pw@hooks.example/x' }, /^EXPIRY_WEBHOOK_URL: must not carry credentials/],
      [{ EXPIRY_WEBHOOK_URL: 'not a url' }, /^EXPIRY_WEBHOOK_URL: is not a URL$/],
      [{ EXPIRY_CHECK_INTERVAL_MS: '10' }, /^EXPIRY_CHECK_INTERVAL_MS: 10 is outside 1000 to 3600000 milliseconds$/],
    ];
    for (const [env, message] of refused) {
      assert.throws(() => loadConfig({ ...base, ...env }), (err: unknown) => err instanceof ConfigError && message.test(err.message), JSON.stringify(env));
    }
  });
});
