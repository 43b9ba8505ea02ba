import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { validatePath, type PathVerdict } from '../../src/mtls/path-validation.ts';
import { subjectDnOf } from '../../src/mtls/subject-dn.ts';
import { loadTrustStore, type TrustStore } from '../../src/mtls/trust-store.ts';
import { issueCertificate, pemBundle, type IssueOptions, type IssuedCertificate } from '../../../../test/support/pki.ts';

// Time is frozen: every certificate has explicit dates and every validation an explicit `at`.
const AT = new Date('2026-06-01T00:00:00.000Z');
const LONG = { notBefore: new Date('2025-01-01T00:00:00.000Z'), notAfter: new Date('2035-01-01T00:00:00.000Z') };
const EXPIRED = { notBefore: new Date('2025-01-01T00:00:00.000Z'), notAfter: new Date('2026-01-01T00:00:00.000Z') };
const FUTURE = { notBefore: new Date('2027-01-01T00:00:00.000Z'), notAfter: new Date('2028-01-01T00:00:00.000Z') };

const issue = (subject: string, options: Partial<IssueOptions> = {}) => issueCertificate({ subject, ...LONG, ...options });
const ca = (subject: string, options: Partial<IssueOptions> = {}) => issue(subject, { ca: true, ...options });

function assertRefused(verdict: PathVerdict, code: string, reason: string) {
  assert.deepEqual(verdict, { ok: false, code, reason });
}
function assertChain(verdict: PathVerdict, subjects: string[]) {
  assert.equal(verdict.ok, true, verdict.ok ? '' : `${verdict.code}: ${verdict.reason}`);
  assert.deepEqual(verdict.ok && verdict.chain.map(subjectDnOf), subjects);
}

describe('RFC 5280 §6.1 path validation for RFC 8705 §2.1 PKI client authentication', () => {
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  let store: TrustStore;
  before(async () => {
    root = await ca('CN=Root CA,O=test', { pathLength: 1 });
    intermediate = await ca('CN=Issuing CA,O=test', { issuer: root, pathLength: 0 });
    store = loadTrustStore(root.certPem, 'test client CAs');
  });
  const validate = (leaf: X509Certificate, presented: X509Certificate[] = [], trustStore = store) => validatePath({ leaf, presented, trustStore, at: AT });

  describe('chain building', () => {
    it('accepts a leaf issued directly by a trusted root', async () => {
      const leaf = await issue('CN=client,O=test', { issuer: root });
      assertChain(await validate(leaf.cert), ['CN=client,O=test', 'CN=Root CA,O=test']);
    });

    it('accepts a leaf whose intermediate the client presents', async () => {
      const leaf = await issue('CN=client,O=test', { issuer: intermediate });
      assertChain(await validate(leaf.cert, [intermediate.cert]), ['CN=client,O=test', 'CN=Issuing CA,O=test', 'CN=Root CA,O=test']);
    });

    it('accepts a leaf whose intermediate the trust store holds', async () => {
      const leaf = await issue('CN=client,O=test', { issuer: intermediate });
      const withIntermediate = loadTrustStore(pemBundle(root, intermediate), 'bundle');
      assertChain(await validate(leaf.cert, [], withIntermediate), ['CN=client,O=test', 'CN=Issuing CA,O=test', 'CN=Root CA,O=test']);
    });

    it('ignores the root and the leaf itself when the client sends them along', async () => {
      const leaf = await issue('CN=client,O=test', { issuer: intermediate });
      assertChain(await validate(leaf.cert, [leaf.cert, root.cert, intermediate.cert]), ['CN=client,O=test', 'CN=Issuing CA,O=test', 'CN=Root CA,O=test']);
    });

    it('refuses a leaf whose intermediate is missing, naming the missing issuer', async () => {
      const leaf = await issue('CN=client,O=test', { issuer: intermediate });
      assertRefused(await validate(leaf.cert), 'untrusted', 'certificate chain does not lead to a trusted client CA (issuer CN=Issuing CA,O=test)');
    });

    it('refuses a leaf from a CA that is not in the store', async () => {
      const other = await ca('CN=Other Root,O=elsewhere');
      const leaf = await issue('CN=client,O=test', { issuer: other });
      assertRefused(await validate(leaf.cert), 'untrusted', 'certificate chain does not lead to a trusted client CA (issuer CN=Other Root,O=elsewhere)');
      assertRefused(await validate(leaf.cert, [other.cert]), 'untrusted', 'certificate chain does not lead to a trusted client CA (issuer CN=Other Root,O=elsewhere)');
    });

    it('refuses a self-signed leaf that is not in the store', async () => {
      const self = await issue('CN=self-signed-client');
      assertRefused(await validate(self.cert), 'untrusted', 'certificate chain does not lead to a trusted client CA (issuer CN=self-signed-client)');
    });

    it('refuses a certificate signed by an impostor CA with a trusted CA\'s name', async () => {
      const impostor = await ca('CN=Root CA,O=test', { omitKeyIdentifiers: true });
      const leaf = await issue('CN=client,O=test', { issuer: impostor, omitKeyIdentifiers: true });
      assertRefused(await validate(leaf.cert), 'bad_signature', 'signature of the certificate does not verify with the public key of client CA CN=Root CA,O=test');
    });

    it('uses the store\'s valid intermediate when the client presents an expired one with the same key', async () => {
      const old = await ca('CN=Rolled CA,O=test', { issuer: root, pathLength: 0, ...EXPIRED });
      const renewed = await ca('CN=Rolled CA,O=test', { issuer: root, pathLength: 0, keyPem: old.keyPem });
      const leaf = await issue('CN=client,O=test', { issuer: old });
      const bundle = loadTrustStore(pemBundle(root, renewed), 'bundle');
      assertChain(await validate(leaf.cert, [old.cert], bundle), ['CN=client,O=test', 'CN=Rolled CA,O=test', 'CN=Root CA,O=test']);
    });

    it('validates RSA and Ed25519 signatures as well as ECDSA', async () => {
      const rsaRoot = await ca('CN=RSA Root', { keyAlgorithm: 'RS256' });
      const leaf = await issue('CN=ed-client', { issuer: rsaRoot, keyAlgorithm: 'Ed25519' });
      assertChain(await validate(leaf.cert, [], loadTrustStore(rsaRoot.certPem, 'rsa')), ['CN=ed-client', 'CN=RSA Root']);
    });

    it('uses the current time when no `at` is given', async () => {
      const fresh = await ca('CN=Fresh Root');
      const leaf = await issueCertificate({ subject: 'CN=now', issuer: fresh });
      assert.equal((await validatePath({ leaf: leaf.cert, trustStore: loadTrustStore(fresh.certPem, 'fresh') })).ok, true);
    });
  });

  describe('validity periods', () => {
    it('refuses an expired leaf', async () => {
      const leaf = await issue('CN=client', { issuer: root, ...EXPIRED });
      assertRefused(await validate(leaf.cert), 'expired', 'certificate expired at 2026-01-01T00:00:00.000Z');
    });

    it('refuses a leaf that is not yet valid', async () => {
      const leaf = await issue('CN=client', { issuer: root, ...FUTURE });
      assertRefused(await validate(leaf.cert), 'not_yet_valid', 'certificate not valid before 2027-01-01T00:00:00.000Z');
    });

    it('refuses an expired intermediate, naming it', async () => {
      const stale = await ca('CN=Stale CA,O=test', { issuer: root, pathLength: 0, ...EXPIRED });
      const leaf = await issue('CN=client', { issuer: stale });
      assertRefused(await validate(leaf.cert, [stale.cert]), 'expired', 'intermediate CN=Stale CA,O=test expired at 2026-01-01T00:00:00.000Z');
    });

    it('refuses a chain to an expired client CA, naming it', async () => {
      const oldRoot = await ca('CN=Old Root', EXPIRED);
      const leaf = await issue('CN=client', { issuer: oldRoot });
      assertRefused(await validate(leaf.cert, [], loadTrustStore(oldRoot.certPem, 'old')), 'expired', 'client CA CN=Old Root expired at 2026-01-01T00:00:00.000Z');
    });
  });

  describe('CA constraints on every issuer', () => {
    it('refuses an issuer whose basicConstraints has cA false', async () => {
      const notCa = await issue('CN=Not A CA', { issuer: root, ca: false, keyUsage: ['keyCertSign', 'digitalSignature'], extKeyUsage: null });
      const leaf = await issue('CN=client', { issuer: notCa });
      assertRefused(await validate(leaf.cert, [notCa.cert]), 'not_a_ca', 'issuer CN=Not A CA is not a CA (basicConstraints cA is not set), so it cannot issue certificates');
    });

    it('refuses an issuer without basicConstraints', async () => {
      const noBc = await ca('CN=No Constraints CA', { issuer: root, omitBasicConstraints: true });
      const leaf = await issue('CN=client', { issuer: noBc });
      assertRefused(await validate(leaf.cert, [noBc.cert]), 'not_a_ca', 'issuer CN=No Constraints CA is not a CA (basicConstraints cA is not set), so it cannot issue certificates');
    });

    it('refuses an issuer whose keyUsage lacks keyCertSign', async () => {
      const crlOnly = await ca('CN=CRL Signer', { issuer: root, pathLength: 0, keyUsage: ['cRLSign', 'digitalSignature'] });
      const leaf = await issue('CN=client', { issuer: crlOnly });
      assertRefused(await validate(leaf.cert, [crlOnly.cert]), 'key_usage', 'issuer CN=CRL Signer keyUsage does not include keyCertSign, so it cannot sign certificates');
    });

    it('accepts an issuer without a keyUsage extension', async () => {
      const noKu = await ca('CN=No KU CA', { issuer: root, pathLength: 0, omitKeyUsage: true });
      const leaf = await issue('CN=client', { issuer: noKu });
      assert.equal((await validate(leaf.cert, [noKu.cert])).ok, true);
    });

    it('refuses a chain longer than a pathLenConstraint allows', async () => {
      const tight = await ca('CN=Tight Root', { pathLength: 0 });
      const sub = await ca('CN=Sub CA', { issuer: tight });
      const leaf = await issue('CN=client', { issuer: sub });
      assertRefused(
        await validate(leaf.cert, [sub.cert], loadTrustStore(tight.certPem, 'tight')),
        'path_length',
        'issuer CN=Tight Root allows 0 intermediate CA certificates below it (pathLenConstraint) but the chain has 1',
      );
    });

    it('refuses a chain that exceeds an intermediate\'s pathLenConstraint', async () => {
      const sub = await ca('CN=Sub CA', { issuer: intermediate }); // intermediate has pathLength 0
      const leaf = await issue('CN=client', { issuer: sub });
      assertRefused(
        await validate(leaf.cert, [sub.cert, intermediate.cert], loadTrustStore(pemBundle(root), 'root')),
        'path_length',
        'issuer CN=Issuing CA,O=test allows 0 intermediate CA certificates below it (pathLenConstraint) but the chain has 1',
      );
    });

    it('refuses a CA carrying a critical extension it cannot honour (nameConstraints)', async () => {
      const constrained = await ca('CN=Constrained CA', { issuer: root, pathLength: 0, extraExtensions: [{ oid: '2.5.29.30', critical: true, value: Uint8Array.from([0x30, 0x00]) }] });
      const leaf = await issue('CN=client', { issuer: constrained });
      assertRefused(await validate(leaf.cert, [constrained.cert]), 'untrusted', 'intermediate CN=Constrained CA carries a critical extension certbound does not process: nameConstraints (2.5.29.30)');
    });
  });

  describe('the leaf\'s key purposes', () => {
    it('refuses a leaf whose extendedKeyUsage lacks clientAuth', async () => {
      const server = await issue('CN=server', { issuer: root, extKeyUsage: ['serverAuth'] });
      assertRefused(await validate(server.cert), 'ext_key_usage', 'certificate extendedKeyUsage does not include clientAuth (TLS client authentication)');
    });

    it('accepts a leaf without an extendedKeyUsage extension', async () => {
      const leaf = await issue('CN=client', { issuer: root, extKeyUsage: null });
      assert.equal((await validate(leaf.cert)).ok, true);
    });

    it('accepts clientAuth next to serverAuth', async () => {
      const leaf = await issue('CN=client', { issuer: root, extKeyUsage: ['serverAuth', 'clientAuth'] });
      assert.equal((await validate(leaf.cert)).ok, true);
    });

    it('refuses a leaf whose keyUsage cannot sign the TLS handshake', async () => {
      const leaf = await issue('CN=client', { issuer: root, keyUsage: ['keyEncipherment'] });
      assertRefused(await validate(leaf.cert), 'key_usage', 'certificate keyUsage includes neither digitalSignature nor keyAgreement, so it cannot authenticate a TLS client');
    });
  });

  describe('hostile input', () => {
    it('answers garbage with malformed and never throws', async () => {
      assertRefused(await validatePath({ leaf: {} as X509Certificate, trustStore: store }), 'malformed', 'client certificate could not be parsed (not an X.509 certificate)');
      assertRefused(await validatePath({ leaf: undefined as unknown as X509Certificate, trustStore: store }), 'malformed', 'client certificate could not be parsed (not an X.509 certificate)');
      const leaf = await issue('CN=client', { issuer: root });
      assertRefused(
        await validatePath({ leaf: leaf.cert, presented: ['-----BEGIN CERTIFICATE-----' as unknown as X509Certificate], trustStore: store, at: AT }),
        'malformed',
        "certificate 1 of the client's chain could not be parsed (not an X.509 certificate)",
      );
      const broken = await validatePath({ leaf: leaf.cert, trustStore: null as unknown as TrustStore, at: AT });
      assert.equal(broken.ok === false && broken.code, 'malformed');
    });

    it('terminates on CAs that certify each other', async () => {
      const a = await ca('CN=Loop A');
      const b = await ca('CN=Loop B', { issuer: a });
      const aByB = await ca('CN=Loop A', { issuer: b, keyPem: a.keyPem });
      const leaf = await issue('CN=client', { issuer: a });
      assertRefused(await validate(leaf.cert, [aByB.cert, b.cert]), 'untrusted', 'certificate chain does not lead to a trusted client CA (issuer CN=Loop A)');
    });

    it('gives up on chains longer than 8 certificates', async () => {
      const deepRoot = await ca('CN=Deep Root');
      const chain: IssuedCertificate[] = [];
      let parent = deepRoot;
      for (let i = 1; i <= 9; i++) chain.push((parent = await ca(`CN=Level ${i}`, { issuer: parent })));
      const leaf = await issue('CN=client', { issuer: parent });
      assertRefused(
        await validate(leaf.cert, chain.map((c) => c.cert).reverse(), loadTrustStore(deepRoot.certPem, 'deep')),
        'untrusted',
        'certificate chain is longer than 8 certificates',
      );
    });
  });
});
