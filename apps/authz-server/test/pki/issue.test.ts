import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fieldsOf } from '../../src/mtls/parsing.ts';
import { issueCertificate, loadIssued, subjectWithCn, type IssuedCertificate } from '../../../../test/support/pki.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certbound-issue-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Runs openssl on the certificate's PEM and returns stdout. */
async function openssl(issued: IssuedCertificate, ...args: string[]): Promise<string> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.pem`);
  await writeFile(file, issued.certPem);
  return execFileSync('openssl', ['x509', '-in', file, '-noout', ...args], { encoding: 'utf8' });
}

describe('certificate issuance', () => {
  let ca: IssuedCertificate;
  before(async () => {
    ca = await issueCertificate({ subject: 'CN=Issue Test CA,O=certbound dev', ca: true, pathLength: 1 });
  });

  describe('RFC 4514 subject order', () => {
    it('encodes "CN=a,O=b" as the ASN.1 sequence [O=b, CN=a]', async () => {
      const leaf = await issueCertificate({ subject: 'CN=demo-client,O=certbound dev', issuer: ca });
      // RFC2253/4514 output lists the last RDN of the sequence first ...
      assert.equal(await openssl(leaf, '-subject', '-nameopt', 'RFC2253'), 'subject=CN=demo-client,O=certbound dev\n');
      // ... while OpenSSL's classic output walks the sequence in DER order
      assert.equal(await openssl(leaf, '-subject', '-nameopt', 'compat'), 'subject=/O=certbound dev/CN=demo-client\n');
      assert.deepEqual([...fieldsOf(leaf.cert).subjectRdns].reverse().map((rdn) => rdn[0].oid), ['2.5.4.10', '2.5.4.3']);
      assert.equal(leaf.subject, 'CN=demo-client,O=certbound dev');
    });

    it('writes the issuer exactly as the CA\'s subject', async () => {
      const leaf = await issueCertificate({ subject: 'CN=x', issuer: ca });
      assert.equal(await openssl(leaf, '-issuer', '-nameopt', 'RFC2253'), 'issuer=CN=Issue Test CA,O=certbound dev\n');
      assert.deepEqual(fieldsOf(leaf.cert).issuer, fieldsOf(ca.cert).subject);
    });

    it('keeps multi-valued RDNs and escaped characters', async () => {
      const leaf = await issueCertificate({ subject: 'CN=Smith\\, John+UID=jsmith,O=Acme\\+Co,C=DE' });
      const subject = await openssl(leaf, '-subject', '-nameopt', 'RFC2253');
      assert.match(subject, /^subject=(CN=Smith\\, John\+UID=jsmith|UID=jsmith\+CN=Smith\\, John),O=Acme\\\+Co,C=DE\n$/);
    });
  });

  it('issues leaf certificates OpenSSL accepts for TLS client authentication, for every key algorithm', async () => {
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    for (const keyAlgorithm of ['ES256', 'RS256', 'Ed25519'] as const) {
      const leaf = await issueCertificate({ subject: `CN=${keyAlgorithm} client`, issuer: ca, keyAlgorithm });
      const leafFile = join(dir, `${keyAlgorithm}.pem`);
      await writeFile(leafFile, leaf.certPem);
      assert.equal(execFileSync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslclient', leafFile], { encoding: 'utf8' }), `${leafFile}: OK\n`);
      assert.equal(leaf.keyAlgorithm, keyAlgorithm);
      assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    }
  });

  it('writes the subject alternative names of all four kinds', async () => {
    const leaf = await issueCertificate({
      subject: 'CN=sans',
      issuer: ca,
      sanDns: ['client.example.com'],
      sanIp: ['127.0.0.1', '::1', '::ffff:192.0.2.1'],
      sanUri: ['spiffe://example.org/ns/payments/sa/ledger'],
      sanEmail: ['ops@example.com'],
    });
    const text = await openssl(leaf, '-ext', 'subjectAltName');
    assert.match(text, /DNS:client\.example\.com, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:C000:201, URI:spiffe:\/\/example\.org\/ns\/payments\/sa\/ledger, email:ops@example\.com/);
  });

  it('gives a CA basicConstraints, pathLen and certificate-signing key usage', async () => {
    const text = await openssl(ca, '-ext', 'basicConstraints,keyUsage,extendedKeyUsage');
    assert.match(text, /Basic Constraints: critical\n\s+CA:TRUE, pathlen:1\n/);
    assert.match(text, /Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.doesNotMatch(text, /Extended Key Usage/);
  });

  it('gives a leaf cA false, digitalSignature and clientAuth by default', async () => {
    const leaf = await issueCertificate({ subject: 'CN=leaf', issuer: ca });
    const text = await openssl(leaf, '-ext', 'basicConstraints,keyUsage,extendedKeyUsage,authorityKeyIdentifier,subjectKeyIdentifier');
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(text, /Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    assert.equal(fieldsOf(leaf.cert).authorityKeyId, fieldsOf(ca.cert).subjectKeyId);
  });

  it('leaves out extensions when asked to', async () => {
    const bare = await issueCertificate({ subject: 'CN=bare', extKeyUsage: null, omitBasicConstraints: true, omitKeyUsage: true, omitKeyIdentifiers: true });
    assert.deepEqual([...fieldsOf(bare.cert).extensions.keys()], []);
  });

  it('honours notBefore, notAfter and days', async () => {
    const fixed = await issueCertificate({ subject: 'CN=dated', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-01-01T00:00:00Z') });
    assert.equal(fixed.cert.validFromDate.toISOString(), '2025-01-01T00:00:00.000Z');
    assert.equal(fixed.cert.validToDate.toISOString(), '2026-01-01T00:00:00.000Z');
    const tenDays = await issueCertificate({ subject: 'CN=ten', days: 10 });
    const days = (tenDays.cert.validToDate.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 9.99 && days <= 10, `valid for ${days} days`);
    assert.ok(tenDays.cert.validFromDate.getTime() < Date.now() - 60_000, 'backdated for clock skew');
  });

  it('reloads an issued certificate and key from PEM, and can sign with it', async () => {
    const reloaded = await loadIssued(ca.certPem, ca.keyPem);
    assert.equal(reloaded.subject, ca.subject);
    const leaf = await issueCertificate({ subject: 'CN=from reloaded', issuer: reloaded });
    assert.equal(leaf.cert.verify(ca.cert.publicKey), true);
  });

  it('refuses to reload a key that does not belong to the certificate', async () => {
    const stranger = await issueCertificate({ subject: 'CN=stranger' });
    await assert.rejects(loadIssued(ca.certPem, stranger.keyPem), { message: 'private key does not match the certificate CN=Issue Test CA,O=certbound dev' });
  });

  it('escapes a common name into a one-RDN subject', () => {
    assert.equal(subjectWithCn('Smith, John'), 'CN=Smith\\, John');
  });
});
