import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateJwk, certificateRow, parseCertificatePem } from '../../src/admin/certificates.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';

describe('client certificates in PEM', () => {
  it('reads the leaf and the intermediates after it', async () => {
    const ca = await issueCertificate({ subject: 'CN=ca', ca: true, days: 2 });
    const leaf = await issueCertificate({ subject: 'CN=leaf,O=x', issuer: ca, sanDns: ['leaf.test'], days: 2 });
    const parsed = parseCertificatePem(`some text before\n${leaf.certPem}${ca.certPem}`);
    assert.equal(parsed.leaf.fingerprint256, leaf.cert.fingerprint256);
    assert.deepEqual(parsed.intermediates.map((c) => c.fingerprint256), [ca.cert.fingerprint256]);
    const row = certificateRow('c', parsed.leaf);
    assert.equal(row.x5t_s256, x5tS256(leaf.cert));
    assert.equal(row.subject, 'CN=leaf,O=x');
    assert.equal(row.issuer, 'CN=ca');
    assert.deepEqual(row.sans, { dns: ['leaf.test'], ip: [], uri: [], email: [] });
  });

  it('refuses any private key, whatever its label, without parsing it', async () => {
    const cert = await issueCertificate({ subject: 'CN=x', days: 2 });
    for (const label of ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'OPENSSH PRIVATE KEY']) {
      assert.throws(() => parseCertificatePem(`${cert.certPem}-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`),
        { message: 'pem: contains a private key; send the certificate only (the key was discarded, not stored)' });
    }
  });

  it('refuses more than ten blocks', async () => {
    const cert = await issueCertificate({ subject: 'CN=x', days: 2 });
    assert.throws(() => parseCertificatePem(cert.certPem.repeat(11)), { message: 'pem: more than 10 PEM blocks' });
  });

  it('makes the RFC 7517 JWK of a certificate: its public key and x5c', async () => {
    const cert = (await issueCertificate({ subject: 'CN=x', days: 2, keyAlgorithm: 'RS256' })).cert;
    const jwk = certificateJwk(cert);
    assert.equal(jwk.kty, 'RSA');
    assert.deepEqual(jwk.x5c, [cert.raw.toString('base64')]);
    assert.equal(jwk.d, undefined);
  });
});
