// postgres/enrollment-codes.ts and postgres/issued-certificates.ts (db/migrations/0006): a code is
// spent once even by concurrent uses, wrong codes invalidate the client's live codes at the
// limit, and the CRL lists revoked, unexpired certificates of one issuing CA only; revoking twice
// changes nothing. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import {
  consumeEnrollmentCode, insertEnrollmentCode, isLiveEnrollmentCode, listEnrollmentCodes, recordEnrollmentFailure,
} from '../../../src/storage/postgres/enrollment-codes.ts';
import {
  findIssuedByThumbprint, listRevokedUnexpired, recordIssuedCertificate, revokeIssuedCertificate,
} from '../../../src/storage/postgres/issued-certificates.ts';
import { onEachEngine } from '../helpers.ts';

const HOUR = 3_600_000;

onEachEngine('enrollment tables', (sql) => {
  it('enrollment codes: live until spent; concurrent uses spend it once; expired codes are not live', async () => {
    await insertEnrollmentCode(sql(), { codeHash: 'h1', clientId: 'c', expiresAt: new Date(Date.now() + HOUR) });
    await insertEnrollmentCode(sql(), { codeHash: 'h-old', clientId: 'c', expiresAt: new Date(Date.now() - 1000) });
    assert.equal(await isLiveEnrollmentCode(sql(), 'c', 'h1'), true);
    assert.equal(await isLiveEnrollmentCode(sql(), 'other', 'h1'), false, 'another client\'s code');
    assert.equal(await isLiveEnrollmentCode(sql(), 'c', 'h-old'), false);
    const spent = await Promise.all([consumeEnrollmentCode(sql(), 'c', 'h1'), consumeEnrollmentCode(sql(), 'c', 'h1')]);
    assert.deepEqual(spent.sort(), [false, true]);
    assert.equal(await isLiveEnrollmentCode(sql(), 'c', 'h1'), false);
  });

  it('enrollment codes: the fifth wrong code invalidates every live code of the client, not others\'', async () => {
    await insertEnrollmentCode(sql(), { codeHash: 'a1', clientId: 'victim', expiresAt: new Date(Date.now() + HOUR) });
    await insertEnrollmentCode(sql(), { codeHash: 'a2', clientId: 'victim', expiresAt: new Date(Date.now() + HOUR) });
    await insertEnrollmentCode(sql(), { codeHash: 'b1', clientId: 'bystander', expiresAt: new Date(Date.now() + HOUR) });
    for (let i = 0; i < 4; i++) assert.equal(await recordEnrollmentFailure(sql(), 'victim', 5), 0);
    assert.equal(await recordEnrollmentFailure(sql(), 'victim', 5), 2);
    assert.equal(await isLiveEnrollmentCode(sql(), 'victim', 'a1'), false);
    assert.equal(await isLiveEnrollmentCode(sql(), 'bystander', 'b1'), true);
    const listed = await listEnrollmentCodes(sql(), 'victim');
    assert.deepEqual(listed.map((r) => [r.failures, r.invalidated_at !== null]), [[5, true], [5, true]]);
  });

  it('issued certificates: found by thumbprint; revoked once; the CRL lists revoked unexpired ones of that CA', async () => {
    const row = (serial: string, x5t: string, issuer: string, notAfter: Date) => ({
      serial, client_id: 'c', x5t_s256: x5t, issuer_x5t_s256: issuer, not_before: new Date(Date.now() - HOUR), not_after: notAfter, issued_by: 'enroll' as const, previous_x5t_s256: null,
    });
    await recordIssuedCertificate(sql(), row('01', 'x1', 'ca', new Date(Date.now() + HOUR)));
    await recordIssuedCertificate(sql(), row('02', 'x2', 'ca', new Date(Date.now() + HOUR)));
    await recordIssuedCertificate(sql(), row('03', 'x3', 'ca', new Date(Date.now() - 1000)));
    await recordIssuedCertificate(sql(), row('04', 'x4', 'other-ca', new Date(Date.now() + HOUR)));
    await assert.rejects(recordIssuedCertificate(sql(), { ...row('05', 'x5', 'ca', new Date()), issued_by: 'minted' as 'enroll' }), /issued_certificates_issued_by_check/);
    assert.equal((await findIssuedByThumbprint(sql(), 'x2'))!.serial, '02');
    for (const x5t of ['x1', 'x3', 'x4']) assert.ok(await revokeIssuedCertificate(sql(), 'c', x5t, 'keyCompromise'));
    assert.equal(await revokeIssuedCertificate(sql(), 'c', 'x1', 'superseded'), undefined, 'already revoked');
    assert.equal(await revokeIssuedCertificate(sql(), 'someone-else', 'x2', 'unspecified'), undefined, 'not that client\'s');
    const listed = await listRevokedUnexpired(sql(), 'ca');
    assert.deepEqual(listed.map((r) => [r.serial, r.revocation_reason]), [['01', 'keyCompromise']]);
  });
});
