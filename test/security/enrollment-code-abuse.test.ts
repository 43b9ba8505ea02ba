// Attack class: abuse of the one-time enrollment code that EST simpleenroll (RFC 7030 §4.2.1)
// accepts as HTTP Basic password. A code lets whoever holds it obtain a certificate for the
// client, so a replayed code (read from a log or a shell history after use), a guessed one, an
// expired one, or a correct one after someone has been guessing must all be refused: 401
// invalid_client with WWW-Authenticate: Basic, one est_refused line, nothing issued; and five
// wrong guesses invalidate the client's live codes, so an online guesser gets at most five tries.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { randomBytes, createHash } from 'node:crypto';
import { describeAnswer, ensureServing, expectStillServing } from '../support/security-server.ts';
import { expectEstRefusal, issuedCertificates, opensslCsr, startEnrollmentServer, type EnrollmentServer } from '../support/est.ts';
import { realStores } from '../support/authz.ts';
import { openPostgres } from '../../apps/authz-server/src/storage/postgres/pool.ts';
import { insertEnrollmentCode } from '../../apps/authz-server/src/storage/postgres/enrollment-codes.ts';

const BAD_CODE = 'the enrollment code is wrong, used, expired or invalidated for this client';

describe('enrollment code abuse (EST simpleenroll)', () => {
  let est: EnrollmentServer;
  let csr: string;

  before(async () => {
    est = await startEnrollmentServer();
    csr = (await opensslCsr(est.pki.dir, { subject: '/CN=partner' })).base64;
    for (const id of ['replayed', 'guessed', 'expired', 'guessed-five']) await est.partner(id);
  });
  after(async () => { await est?.server.stop(); });
  beforeEach(async () => { await ensureServing(est.server); });

  const enroll = (clientId: string, code: string) => est.est('simpleenroll', { csr, basic: [clientId, code] });

  function expectUnauthorized(tried: Awaited<ReturnType<typeof enroll>>): void {
    expectEstRefusal(tried, 401, 'invalid_client', BAD_CODE);
    assert.match(String(tried.res.headers['www-authenticate']), /^Basic realm="[^"]+"$/);
  }

  it('a used code replayed: 401, and only the first request got a certificate', async () => {
    const { code } = await est.code('replayed');
    const first = await enroll('replayed', code);
    assert.equal(first.res.status, 200, describeAnswer(first.res));
    assert.equal(issuedCertificates(first.res.text).length, 1);
    const replay = await enroll('replayed', code);
    expectUnauthorized(replay);
    await expectStillServing(est.server, est.world.legit);
  });

  it('a wrong code: 401 with WWW-Authenticate: Basic; the right code still works after one wrong try', async () => {
    const { code } = await est.code('guessed');
    const wrong = await enroll('guessed', randomBytes(32).toString('base64url'));
    expectUnauthorized(wrong);
    const right = await enroll('guessed', code);
    assert.equal(right.res.status, 200, describeAnswer(right.res));
  });

  it('a code for another client: 401 (codes are per client)', async () => {
    const { code } = await est.code('replayed');
    expectUnauthorized(await enroll('guessed', code));
  });

  it('an expired code: 401', async (t) => {
    let code: string;
    if (realStores.database) {
      // As if the admin had created it yesterday: written with expires_at in the past.
      code = randomBytes(32).toString('base64url');
      const sql = await openPostgres(est.server.env.DATABASE_URL, { schema: est.server.env.DATABASE_SCHEMA });
      try {
        await insertEnrollmentCode(sql, { codeHash: createHash('sha256').update(code).digest('base64url'), clientId: 'expired', expiresAt: new Date(Date.now() - 60_000) });
      } finally {
        await sql.close();
      }
    } else {
      // Embedded storage belongs to the server process: the shortest code the API allows (60 s), then its expiry.
      t.diagnostic('no TEST_DATABASE_URL: waiting for a 60 s code to expire');
      const created = await est.code('expired', { expires_in: 60 });
      code = created.code;
      const expiry = new Date(created.expires_at).getTime();
      while (Date.now() <= expiry + 1_000) await new Promise((r) => setTimeout(r, 250));
    }
    expectUnauthorized(await enroll('expired', code));
    await expectStillServing(est.server, est.world.legit);
  });

  it('five wrong codes invalidate the client\'s live code: the correct one is then refused', async () => {
    const { code } = await est.code('guessed-five');
    const mark = est.server.logs().length;
    for (let i = 0; i < 5; i++) expectUnauthorized(await enroll('guessed-five', `guess-${i}-${randomBytes(8).toString('hex')}`));
    const invalidated = est.server.logs().slice(mark).filter((l) => l.event === 'enrollment_codes_invalidated');
    assert.equal(invalidated.length, 1, 'one line says the codes were invalidated');
    assert.equal(invalidated[0].client_id, 'guessed-five');
    expectUnauthorized(await enroll('guessed-five', code));
    // a new code from the admin works again
    const fresh = await enroll('guessed-five', (await est.code('guessed-five')).code);
    assert.equal(fresh.res.status, 200, describeAnswer(fresh.res));
    await expectStillServing(est.server, est.world.legit);
  });

  it('no credentials or an unknown client: 401 with WWW-Authenticate: Basic', async () => {
    const none = await est.est('simpleenroll', { csr });
    expectEstRefusal(none, 401, 'invalid_client', 'simpleenroll needs HTTP Basic credentials: the client_id and its one-time enrollment code');
    assert.match(String(none.res.headers['www-authenticate']), /^Basic /);
    const unknown = await enroll('nobody', 'whatever');
    expectUnauthorized(unknown);
  });
});
