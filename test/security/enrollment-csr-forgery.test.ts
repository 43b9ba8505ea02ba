// Attack class: a forged or unacceptable certificate request at EST simpleenroll /
// simplereenroll (RFC 7030 §4.2). A partner holding a valid code (or certificate) writes another
// identity into its CSR — the admin's subject, the server's DNS name, a URI SAN another client
// is matched by — hoping the CA copies it and the certificate then authenticates as someone else;
// or sends a CSR whose signature does not verify (no proof of possession: a request for someone
// else's public key); or a key too weak to protect the tokens bound to it (RSA-1024). The CA
// writes only the client's registered identity; the other two are 400 invalid_request naming the
// check, nothing issued, and the code is not spent.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { attempt, describeAnswer, ensureServing, expectRefusal, expectStillServing, expectToken } from '../support/security-server.ts';
import { expectEstRefusal, issuedCertificates, opensslCsr, startEnrollmentServer, x5tOf, type EnrollmentServer } from '../support/est.ts';

const PARTNER_DN = 'CN=partner,O=certbound tests';
const FOREIGN = { subject: '/O=certbound tests/CN=certbound test admin', addext: ['subjectAltName=DNS:localhost,URI:spiffe://certbound/admin,email:admin@example.com'] };

/** 'CN=partner,O=certbound tests' as node:crypto prints a subject. */
const nodeSubject = (dn: string) => dn.split(',').reverse().join('\n');

describe('forged certificate requests (EST)', () => {
  let est: EnrollmentServer;

  before(async () => {
    est = await startEnrollmentServer();
    await est.partner('partner', PARTNER_DN);
    // a client matched by the URI SAN the forged CSR asks for
    await est.world.tlsClient('spiffe-admin', { tls_client_auth_san_uri: 'spiffe://certbound/admin' });
  });
  after(async () => { await est?.server.stop(); });
  beforeEach(async () => { await ensureServing(est.server); });

  function expectRegisteredIdentityOnly(cert: X509Certificate): void {
    assert.equal(cert.subject, nodeSubject(PARTNER_DN), 'the registered subject, not the CSR\'s');
    assert.equal(cert.subjectAltName, undefined, 'no SAN copied from the CSR');
    assert.ok(cert.checkIssued(new X509Certificate(est.issuing.certPem)), 'issued by the issuing CA');
  }

  it('simpleenroll with a CSR naming the admin and foreign SANs: the certificate carries the registered identity only, and authenticates as no one else', async () => {
    const csr = await opensslCsr(est.pki.dir, FOREIGN);
    const res = await est.est('simpleenroll', { csr: csr.base64, basic: ['partner', (await est.code('partner')).code] });
    assert.equal(res.res.status, 200, describeAnswer(res.res));
    const [cert] = issuedCertificates(res.res.text);
    expectRegisteredIdentityOnly(cert);
    const identity = { cert: cert.toString() + est.issuing.certPem, key: csr.keyPem };

    expectToken(await attempt(est.server, 'partner', identity), x5tOf(cert));
    expectRefusal(await attempt(est.server, 'admin', identity), 401, 'invalid_client', /subject/);
    expectRefusal(await attempt(est.server, 'spiffe-admin', identity), 401, 'invalid_client', /san|SAN|URI|subject/);
  });

  it('simplereenroll with a CSR naming the admin: the renewed certificate carries the registered identity only', async () => {
    const { identity } = await est.enroll('partner');
    const csr = await opensslCsr(est.pki.dir, FOREIGN);
    const res = await est.est('simplereenroll', { csr: csr.base64, identity });
    assert.equal(res.res.status, 200, describeAnswer(res.res));
    expectRegisteredIdentityOnly(issuedCertificates(res.res.text)[0]);
  });

  it('a CSR whose signature does not verify (no proof of possession): 400, the code not spent', async () => {
    const { code } = await est.code('partner');
    const csr = await opensslCsr(est.pki.dir, { subject: '/CN=partner' });
    const forged = Buffer.from(csr.der);
    forged[forged.length - 1] ^= 0x01; // the last byte of the ECDSA signature's s
    const tried = await est.est('simpleenroll', { csr: forged.toString('base64'), basic: ['partner', code] });
    expectEstRefusal(tried, 400, 'invalid_request', 'the request\'s signature does not verify with its public key (proof of possession failed)');
    const honest = await est.est('simpleenroll', { csr: csr.base64, basic: ['partner', code] });
    assert.equal(honest.res.status, 200, `the code still works: ${describeAnswer(honest.res)}`);
    await expectStillServing(est.server, est.world.legit);
  });

  it('a CSR for an RSA-1024 key: 400 naming the key size', async () => {
    const csr = await opensslCsr(est.pki.dir, { subject: '/CN=partner', key: 'rsa1024' });
    const tried = await est.est('simpleenroll', { csr: csr.base64, basic: ['partner', (await est.code('partner')).code] });
    expectEstRefusal(tried, 400, 'invalid_request', /^RSA key of 1024 bits is too weak \(CLIENT_CERT_MIN_RSA_BITS is 2048\)/);
    await expectStillServing(est.server, est.world.legit);
  });

  it('a body that is not a CSR (not base64; a certificate instead of a request): 400 naming what was wrong', async () => {
    const { code } = await est.code('partner');
    expectEstRefusal(await est.est('simpleenroll', { csr: '%%% not base64 %%%', basic: ['partner', code] }), 400, 'invalid_request',
      'the body is not base64 (RFC 7030 §4.2.1: base64 DER PKCS#10)');
    const certDer = new X509Certificate(est.issuing.certPem).raw.toString('base64');
    expectEstRefusal(await est.est('simpleenroll', { csr: certDer, basic: ['partner', code] }), 400, 'invalid_request', 'the body is not a DER PKCS#10 certificate request');
    await expectStillServing(est.server, est.world.legit);
  });
});
