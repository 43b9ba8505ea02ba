// The console's certificate timeline (admin/certificate-timeline.ts) and the overview's counts
// (storage/postgres/client-certificates.ts countCertificates) on PGlite and PostgreSQL: the three
// sources merged by (client_id, x5t#S256), the state decided from all of them (revoked > retired >
// expired > active), sorted by notAfter then client_id in byte order, bounded by limit with
// `truncated`, and a state filter that reads on past rows it leaves out.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { onEachEngine } from '../storage/helpers.ts';
import { upsertClient } from '../../src/storage/postgres/clients.ts';
import { addClientCertificate, countCertificates, retireClientCertificate } from '../../src/storage/postgres/client-certificates.ts';
import { recordIssuedCertificate, revokeIssuedCertificate } from '../../src/storage/postgres/issued-certificates.ts';
import { recordSeenCertificate } from '../../src/storage/postgres/seen-certificates.ts';
import { certificateTimeline } from '../../src/admin/certificate-timeline.ts';
import type { SqlClient } from '../../src/storage/sql.ts';

const NOW = new Date('2030-06-01T00:00:00Z');
const DAY = 86_400_000;
const at = (days: number) => new Date(NOW.getTime() + days * DAY);

async function register(sql: SqlClient, clientId: string, x5t: string, notAfterDays: number): Promise<void> {
  await addClientCertificate(sql, {
    client_id: clientId, x5t_s256: x5t, pem: `pem of ${x5t}`, subject: `CN=${clientId}`, issuer: 'CN=CA', serial: `S-${x5t}`,
    sans: { dns: [], ip: [], uri: [], email: [] }, not_before: at(notAfterDays - 90), not_after: at(notAfterDays),
  });
}

async function issued(sql: SqlClient, clientId: string, x5t: string, notAfterDays: number): Promise<void> {
  await recordIssuedCertificate(sql, {
    serial: `I-${x5t}`, client_id: clientId, x5t_s256: x5t, issuer_x5t_s256: 'issuing-ca', not_before: at(notAfterDays - 30), not_after: at(notAfterDays),
    issued_by: 'enroll', previous_x5t_s256: null,
  });
}

async function seen(sql: SqlClient, clientId: string, x5t: string, notAfterDays: number): Promise<void> {
  await recordSeenCertificate(sql, { client_id: clientId, x5t_s256: x5t, subject: `CN=${clientId} (seen)`, issuer: 'CN=CA', not_after: at(notAfterDays) }, at(-1));
}

onEachEngine('certificate timeline', (sql) => {
  it('merges the three sources by client and thumbprint, with each state, soonest expiry first', async () => {
    for (const id of ['bank', 'Bank', 'émetteur', 'zeta']) await upsertClient(sql(), { client_id: id });
    await register(sql(), 'bank', 'reg-active', 20);
    await register(sql(), 'bank', 'reg-retired', 40);
    await retireClientCertificate(sql(), 'bank', 'reg-retired');
    await register(sql(), 'bank', 'enrolled', 10);
    await issued(sql(), 'bank', 'enrolled', 10);
    await seen(sql(), 'bank', 'enrolled', 10);
    await issued(sql(), 'zeta', 'revoked', 5);
    await register(sql(), 'zeta', 'revoked', 5);
    await revokeIssuedCertificate(sql(), 'zeta', 'revoked', 'keyCompromise');
    await seen(sql(), 'zeta', 'seen-expired', -3);
    // The same notAfter: client_id in byte order (PostgreSQL collate "C"), 'B' < 'b' < 'é'.
    for (const id of ['émetteur', 'bank', 'Bank']) await seen(sql(), id, `tie-${id}`, 60);

    const { items, truncated } = await certificateTimeline(sql(), { limit: 100, now: NOW });
    assert.equal(truncated, false);
    assert.deepEqual(items.map((c) => [c.client_id, c['x5t#S256'], c.state, c.sources.join('+')]), [
      ['zeta', 'seen-expired', 'expired', 'seen'],
      ['zeta', 'revoked', 'revoked', 'registered+issued'],
      ['bank', 'enrolled', 'active', 'registered+issued+seen'],
      ['bank', 'reg-active', 'active', 'registered'],
      ['bank', 'reg-retired', 'retired', 'registered'],
      ['Bank', 'tie-Bank', 'active', 'seen'],
      ['bank', 'tie-bank', 'active', 'seen'],
      ['émetteur', 'tie-émetteur', 'active', 'seen'],
    ]);
    const enrolled = items[2];
    assert.deepEqual(enrolled, {
      client_id: 'bank', 'x5t#S256': 'enrolled', subject: 'CN=bank', issuer: 'CN=CA', serial: 'S-enrolled',
      not_before: at(-80).toISOString(), not_after: at(10).toISOString(), sources: ['registered', 'issued', 'seen'], state: 'active',
      retired_at: null, revoked_at: null, revocation_reason: null, first_seen_at: at(-1).toISOString(), last_seen_at: at(-1).toISOString(),
    });
    assert.equal(items[1].revocation_reason, 'keyCompromise');
    assert.equal(items[0].subject, 'CN=zeta (seen)', 'a certificate only seen has the subject it was seen with');
    assert.equal(items[0].not_before, null);
  });

  it('filters by client and state; the limit says when more match', async () => {
    const bank = await certificateTimeline(sql(), { clientId: 'bank', limit: 100, now: NOW });
    assert.deepEqual(bank.items.map((c) => c['x5t#S256']), ['enrolled', 'reg-active', 'reg-retired', 'tie-bank']);
    const two = await certificateTimeline(sql(), { limit: 2, now: NOW });
    assert.deepEqual(two.items.map((c) => c['x5t#S256']), ['seen-expired', 'revoked']);
    assert.equal(two.truncated, true);
    const exact = await certificateTimeline(sql(), { clientId: 'bank', limit: 4, now: NOW });
    assert.equal(exact.truncated, false, 'exactly limit: nothing more');
    assert.deepEqual((await certificateTimeline(sql(), { state: 'retired', limit: 100, now: NOW })).items.map((c) => c['x5t#S256']), ['reg-retired']);
    assert.deepEqual((await certificateTimeline(sql(), { state: 'revoked', limit: 100, now: NOW })).items.map((c) => c['x5t#S256']), ['revoked']);
    assert.deepEqual((await certificateTimeline(sql(), { clientId: 'nobody', limit: 100, now: NOW })).items, []);
  });

  it('a state filter reads past the rows it leaves out, round after round', async () => {
    await upsertClient(sql(), { client_id: 'many' });
    // More than one round of BATCH (200) rows that the filter leaves out.
    for (let i = 0; i < 230; i++) await seen(sql(), 'many', `old-${String(i).padStart(3, '0')}`, -10 + i / 1000);
    await seen(sql(), 'many', 'the-live-one', 100);
    const live = await certificateTimeline(sql(), { clientId: 'many', state: 'active', limit: 1, now: NOW });
    assert.deepEqual(live.items.map((c) => c['x5t#S256']), ['the-live-one']);
    assert.equal(live.truncated, false);
    const expired = await certificateTimeline(sql(), { clientId: 'many', state: 'expired', limit: 5, now: NOW });
    assert.deepEqual(expired.items.map((c) => c['x5t#S256']), ['old-000', 'old-001', 'old-002', 'old-003', 'old-004']);
    assert.equal(expired.truncated, true);
  });

  it('counts each certificate in use once, by its expiry window', async () => {
    // In use: bank enrolled (10 d), reg-active (20 d), the three ties (60 d), many/the-live-one (100 d);
    // seen-expired and the 230 old ones have expired; revoked and retired are not counted.
    assert.deepEqual(await countCertificates(sql(), NOW), { active: 6, within7: 0, within30: 2, expired: 231 });
    assert.deepEqual(await countCertificates(sql(), at(12)), { active: 5, within7: 0, within30: 1, expired: 232 });
    assert.deepEqual((await countCertificates(sql(), at(5))).within7, 1);
  });
});
