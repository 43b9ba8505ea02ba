// Attack class: re-enrollment (EST simplereenroll, RFC 7030 §4.2.2) with a certificate that must
// not renew. Re-enrollment is authenticated only by the TLS client certificate, so whoever can
// re-enroll holds a client's identity for another certificate lifetime: a revoked certificate
// (revoked because its key leaked) must not buy a fresh one, nor may a certificate that
// certbound's issuing CA did not issue for a client through enrollment — another client's
// certificate from a different (trusted) CA, a certificate the dev/root CA signed directly, one
// signed with the issuing CA's key outside enrollment. All 403 forbidden naming the check; a
// certificate from a CA the server does not trust is not authenticated at all (401).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { attempt, describeAnswer, ensureServing, expectRefusal, expectStillServing, presenting } from '../support/security-server.ts';
import { expectEstRefusal, issuedCertificates, opensslCsr, startEnrollmentServer, type EnrollmentServer } from '../support/est.ts';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';

const NOT_OURS = 'the presented certificate was not issued by certbound\'s issuing CA: re-enrollment renews certificates certbound issued (enroll with a code instead)';

describe('re-enrollment abuse (EST simplereenroll)', () => {
  let est: EnrollmentServer;
  let partnerCa: IssuedCertificate;
  let csr: string;

  before(async () => {
    // A second trusted client CA, as an operator adds for a partner with its own PKI.
    partnerCa = await issueCertificate({ subject: 'CN=partner own CA,O=other partner', ca: true, days: 10 });
    est = await startEnrollmentServer({ extraClientCaPem: partnerCa.certPem });
    await est.partner('partner');
    csr = (await opensslCsr(est.pki.dir, { subject: '/CN=partner' })).base64;
  });
  after(async () => { await est?.server.stop(); });
  beforeEach(async () => { await ensureServing(est.server); });

  it('a revoked certificate: 403 naming the revocation; its token requests are refused too', async () => {
    const { identity, x5t } = await est.enroll('partner');
    const revoked = await est.revoke('partner', x5t, 'keyCompromise');
    assert.equal(revoked.status, 200, describeAnswer(revoked));
    const tried = await est.est('simplereenroll', { csr, identity });
    expectEstRefusal(tried, 403, 'forbidden', /revoked/);
    expectRefusal(await attempt(est.server, 'partner', identity), 401, 'invalid_client', /revoked/);
    await expectStillServing(est.server, est.world.legit);
  });

  it('another client\'s certificate from a different trusted CA: 403 (not issued by the issuing CA)', async () => {
    const other = await issueCertificate({ subject: 'CN=other,O=other partner', issuer: partnerCa, days: 2 });
    await est.world.tlsClient('other', { tls_client_auth_subject_dn: other.subject });
    const token = await est.server.token('other', presenting(other));
    assert.equal(token.status, 200, `the certificate is good at the token endpoint: ${describeAnswer(token)}`);
    expectEstRefusal(await est.est('simplereenroll', { csr, identity: presenting(other) }), 403, 'forbidden', NOT_OURS);
  });

  it('a certificate the root CA signed directly for the enrolled client\'s subject: 403 (not issued by the issuing CA)', async () => {
    const direct = await issueCertificate({ subject: 'CN=partner,O=certbound tests', issuer: est.pki.clientRoot, days: 2 });
    expectEstRefusal(await est.est('simplereenroll', { csr, identity: presenting(direct) }), 403, 'forbidden', NOT_OURS);
  });

  it('a certificate signed with the issuing CA\'s key outside enrollment: 403 (not issued for a client)', async () => {
    const forged = await issueCertificate({ subject: 'CN=partner,O=certbound tests', issuer: est.issuing, days: 2 });
    expectEstRefusal(await est.est('simplereenroll', { csr, identity: presenting(forged, [est.issuing]) }), 403, 'forbidden',
      'the presented certificate was not issued for a client through enrollment');
  });

  it('a certificate from a CA the server does not trust: 401 invalid_client, nothing issued', async () => {
    const foreignRoot = await issueCertificate({ subject: 'CN=foreign root', ca: true, days: 2 });
    const foreign = await issueCertificate({ subject: 'CN=partner,O=certbound tests', issuer: foreignRoot, days: 2 });
    expectEstRefusal(await est.est('simplereenroll', { csr, identity: presenting(foreign) }), 401, 'invalid_client', /^the presented certificate is refused: /);
  });

  it('no certificate at all: 401 invalid_client', async () => {
    expectEstRefusal(await est.est('simplereenroll', { csr }), 401, 'invalid_client',
      'simplereenroll is authenticated by the client certificate certbound issued: none was presented on this connection');
  });

  it('after all that, the enrolled partner still renews with its valid certificate', async () => {
    const { identity } = await est.enroll('partner');
    const renewed = await est.est('simplereenroll', { csr, identity });
    assert.equal(renewed.res.status, 200, describeAnswer(renewed.res));
    assert.equal(issuedCertificates(renewed.res.text).length, 1);
    await expectStillServing(est.server, est.world.legit);
  });
});
