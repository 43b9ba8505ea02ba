import assert from 'node:assert/strict';
import { generateKeyPairSync, type X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { before, describe, it } from 'node:test';
import { validatePath, type PathVerdict } from '../../src/mtls/path-validation.ts';
import { parseDn, subjectDnOf } from '../../src/mtls/subject-dn.ts';
import { encodeName } from '../../src/mtls/names.ts';
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

    it('refuses an intermediate without a keyUsage extension (RFC 5280 §4.2.1.3 MUST)', async () => {
      const noKu = await ca('CN=No KU CA', { issuer: root, pathLength: 0, omitKeyUsage: true });
      const leaf = await issue('CN=client', { issuer: noKu });
      assertRefused(await validate(leaf.cert, [noKu.cert]), 'key_usage', 'issuer CN=No KU CA has no keyUsage extension, which RFC 5280 §4.2.1.3 requires of a CA');
    });

    it('takes an anchor without a keyUsage extension as the operator configured it', async () => {
      const bareRoot = await ca('CN=Bare Root', { pathLength: 0, omitKeyUsage: true });
      const leaf = await issue('CN=client', { issuer: bareRoot });
      assert.equal((await validate(leaf.cert, [], loadTrustStore(bareRoot.certPem, 'bare'))).ok, true);
    });

    it('refuses an intermediate whose basicConstraints is not critical (RFC 5280 §4.2.1.9)', async () => {
      const soft = await issue('CN=Soft BC CA', { issuer: root, omitBasicConstraints: true, keyUsage: ['keyCertSign', 'cRLSign'], extKeyUsage: null, extraExtensions: [{ oid: '2.5.29.19', critical: false, value: Uint8Array.from([0x30, 0x03, 0x01, 0x01, 0xff]) }] });
      const leaf = await issue('CN=client', { issuer: soft });
      assertRefused(await validate(leaf.cert, [soft.cert]), 'not_a_ca', 'issuer CN=Soft BC CA basicConstraints is not marked critical, as RFC 5280 §4.2.1.9 requires of a CA');
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

    it('refuses a CA carrying a critical extension it does not process', async () => {
      const constrained = await ca('CN=Policy CA', { issuer: root, pathLength: 0, extraExtensions: [{ oid: '2.5.29.36', critical: true, value: Uint8Array.from([0x30, 0x03, 0x80, 0x01, 0x00]) }] });
      const leaf = await issue('CN=client', { issuer: constrained });
      assertRefused(await validate(leaf.cert, [constrained.cert]), 'unhandled_extension', 'intermediate CN=Policy CA carries a critical extension certbound does not process: policyConstraints (2.5.29.36)');
    });

    it('refuses an issuer whose extendedKeyUsage is for servers only', async () => {
      const serverCa = await ca('CN=Server CA', { issuer: root, pathLength: 0, extKeyUsage: ['serverAuth'] });
      const leaf = await issue('CN=client', { issuer: serverCa });
      assertRefused(await validate(leaf.cert, [serverCa.cert]), 'ext_key_usage', 'issuer CN=Server CA extendedKeyUsage does not include clientAuth, so it cannot issue TLS client certificates');
    });

    it('accepts an issuer whose extendedKeyUsage includes clientAuth', async () => {
      const clientCa = await ca('CN=Client CA', { issuer: root, pathLength: 0, extKeyUsage: ['serverAuth', 'clientAuth'] });
      const leaf = await issue('CN=client', { issuer: clientCa });
      assertChain(await validate(leaf.cert, [clientCa.cert]), ['CN=client', 'CN=Client CA', 'CN=Root CA,O=test']);
    });
  });

  describe('RFC 5280 §6.1.1 d trust anchors that are not self-signed', () => {
    it('accepts a chain to an intermediate trusted without its root', async () => {
      const leaf = await issue('CN=client', { issuer: intermediate });
      assertChain(await validate(leaf.cert, [], loadTrustStore(intermediate.certPem, 'issuing CA only')), ['CN=client', 'CN=Issuing CA,O=test']);
    });

    it('goes on to the root when the store holds both, so the root\'s constraints apply', async () => {
      const oldRoot = await ca('CN=Expired Root', { ...EXPIRED });
      const issuing = await ca('CN=Issuing under expired root', { issuer: oldRoot, pathLength: 0 });
      const leaf = await issue('CN=client', { issuer: issuing });
      assertChain(await validate(leaf.cert, [], loadTrustStore(issuing.certPem, 'issuing only')), ['CN=client', 'CN=Issuing under expired root']);
      assertRefused(await validate(leaf.cert, [], loadTrustStore(pemBundle(issuing, oldRoot), 'both')), 'expired', 'client CA CN=Expired Root expired at 2026-01-01T00:00:00.000Z');
    });
  });

  describe('minimum key strength', () => {
    it('refuses an RSA-1024 leaf and an RSA-1024 intermediate', async () => {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const leaf = await issue('CN=weak', { issuer: root, keyPem: weak });
      assertRefused(await validate(leaf.cert), 'weak_key', 'certificate public key is RSA with 1024 bits; at least 2048 bits are required');
      const weakCa = await ca('CN=Weak CA', { issuer: root, pathLength: 0, keyPem: weak });
      const below = await issue('CN=client', { issuer: weakCa });
      assertRefused(await validate(below.cert, [weakCa.cert]), 'weak_key', 'intermediate CN=Weak CA public key is RSA with 1024 bits; at least 2048 bits are required');
    });

    it('accepts RSA-2048 by default and refuses it when the minimum is raised', async () => {
      const leaf = await issue('CN=rsa', { issuer: root, keyAlgorithm: 'RS256' });
      assert.equal((await validate(leaf.cert)).ok, true);
      assertRefused(await validatePath({ leaf: leaf.cert, trustStore: store, at: AT, minRsaBits: 3072 }), 'weak_key', 'certificate public key is RSA with 2048 bits; at least 3072 bits are required');
    });

    it('never lowers the minimum below 2048 bits', async () => {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const leaf = await issue('CN=weak', { issuer: root, keyPem: weak });
      assert.equal((await validatePath({ leaf: leaf.cert, trustStore: store, at: AT, minRsaBits: 512 })).ok, false);
    });
  });

  describe('the leaf is not a CA', () => {
    it('refuses a non-CA leaf whose keyUsage includes keyCertSign', async () => {
      const leaf = await issue('CN=signer', { issuer: root, keyUsage: ['digitalSignature', 'keyCertSign'] });
      assertRefused(await validate(leaf.cert), 'key_usage', 'certificate keyUsage includes keyCertSign but the certificate is not a CA (RFC 5280 §4.2.1.3)');
    });

    it('refuses a leaf with basicConstraints cA=TRUE', async () => {
      const leaf = await ca('CN=ca-as-client', { issuer: root, extKeyUsage: ['clientAuth'], keyUsage: ['digitalSignature', 'keyCertSign'] });
      assertRefused(await validate(leaf.cert), 'leaf_is_ca', 'certificate is a CA certificate (basicConstraints cA=TRUE) and cannot authenticate a client');
    });
  });

  describe('strict DER', () => {
    it('refuses a basicConstraints BOOLEAN that is not 0xFF (X.690 §11.1)', async () => {
      const sloppy = await issue('CN=sloppy CA', { issuer: root, omitBasicConstraints: true, keyUsage: ['keyCertSign'], extKeyUsage: null, extraExtensions: [{ oid: '2.5.29.19', critical: true, value: Uint8Array.from([0x30, 0x03, 0x01, 0x01, 0x01]) }] });
      const leaf = await issue('CN=client', { issuer: sloppy });
      assertRefused(await validate(leaf.cert, [sloppy.cert]), 'malformed', "certificate 1 of the client's chain could not be parsed (basicConstraints is not DER: BOOLEAN is not a single 0x00 or 0xFF octet)");
    });

    it('refuses an extendedKeyUsage whose length runs past its end, at once', async () => {
      const leaf = await issue('CN=hostile', { issuer: root, extKeyUsage: null, extraExtensions: [{ oid: '2.5.29.37', critical: false, value: Uint8Array.from([0x30, 0x02, 0x06, 0x84]) }] });
      const verdict = await validate(leaf.cert);
      assert.equal(verdict.ok, false);
      assert.equal(!verdict.ok && verdict.code, 'malformed');
      assert.match(!verdict.ok ? verdict.reason : '', /^client certificate could not be parsed \(extendedKeyUsage is not valid DER/);
    });
  });

  describe('RFC 5280 §4.2.1.10 name constraints, critical or not', () => {
    const constrainedCa = (subject: string, constraints: NameConstraintSpec, critical = false) =>
      ca(subject, { issuer: root, pathLength: 0, extraExtensions: [{ oid: '2.5.29.30', critical, value: nameConstraintsDer(constraints) }] });

    it('permits a DNS name under the permitted subtree and refuses one outside it', async () => {
      const nc = await constrainedCa('CN=Partner CA', { permitted: [{ dns: 'partner.example' }] });
      const good = await issue('CN=api', { issuer: nc, sanDns: ['api.partner.example'] });
      assertChain(await validate(good.cert, [nc.cert]), ['CN=api', 'CN=Partner CA', 'CN=Root CA,O=test']);
      const bad = await issue('CN=evil', { issuer: nc, sanDns: ['evil.example.org'] });
      assertRefused(await validate(bad.cert, [nc.cert]), 'name_constraints', 'certificate DNS name "evil.example.org" is not permitted by the nameConstraints of issuer CN=Partner CA');
      const lookalike = await issue('CN=evil', { issuer: nc, sanDns: ['evilpartner.example'] });
      assertRefused(await validate(lookalike.cert, [nc.cert]), 'name_constraints', 'certificate DNS name "evilpartner.example" is not permitted by the nameConstraints of issuer CN=Partner CA');
    });

    it('holds a host-name CN to DNS constraints when the leaf has no DNS SAN', async () => {
      const nc = await constrainedCa('CN=Partner CA', { permitted: [{ dns: 'partner.example' }] });
      const bad = await issue('CN=www.bank.example', { issuer: nc });
      assertRefused(await validate(bad.cert, [nc.cert]), 'name_constraints', 'certificate subject CN "www.bank.example" is not permitted by the nameConstraints of issuer CN=Partner CA');
    });

    it('refuses an excluded directoryName and permits the rest', async () => {
      const nc = await constrainedCa('CN=Org CA', { excluded: [{ dn: 'O=Bank' }] }, true);
      const bad = await issue('CN=ledger,O=Bank', { issuer: nc });
      assertRefused(await validate(bad.cert, [nc.cert]), 'name_constraints', 'certificate subject "CN=ledger,O=Bank" is excluded by the nameConstraints of issuer CN=Org CA');
      const good = await issue('CN=ledger,O=Partner', { issuer: nc });
      assert.equal((await validate(good.cert, [nc.cert])).ok, true);
    });

    it('compares IP addresses under the mask, per family', async () => {
      const nc = await constrainedCa('CN=Net CA', { permitted: [{ ip: [[10, 1, 0, 0], [255, 255, 0, 0]] }] });
      assert.equal((await validate((await issue('CN=a', { issuer: nc, sanIp: ['10.1.2.3'] })).cert, [nc.cert])).ok, true);
      assertRefused(await validate((await issue('CN=b', { issuer: nc, sanIp: ['10.2.0.1'] })).cert, [nc.cert]), 'name_constraints', 'certificate IP address 10.2.0.1 is not permitted by the nameConstraints of issuer CN=Net CA');
      assertRefused(await validate((await issue('CN=c', { issuer: nc, sanIp: ['::1'] })).cert, [nc.cert]), 'name_constraints', 'certificate IP address ::1 is not permitted by the nameConstraints of issuer CN=Net CA');
    });

    it('applies email constraints to rfc822Name SANs (host and .domain forms)', async () => {
      const nc = await constrainedCa('CN=Mail CA', { permitted: [{ email: '.partner.example' }, { email: 'partner.example' }] });
      assert.equal((await validate((await issue('CN=a', { issuer: nc, sanEmail: ['ops@mail.partner.example'] })).cert, [nc.cert])).ok, true);
      assert.equal((await validate((await issue('CN=a', { issuer: nc, sanEmail: ['ops@partner.example'] })).cert, [nc.cert])).ok, true);
      assertRefused(await validate((await issue('CN=b', { issuer: nc, sanEmail: ['ops@evil.example'] })).cert, [nc.cert]), 'name_constraints', 'certificate email "ops@evil.example" is not permitted by the nameConstraints of issuer CN=Mail CA');
    });

    it('applies URI constraints to the host of a SPIFFE ID', async () => {
      const nc = await constrainedCa('CN=Mesh CA', { excluded: [{ uri: 'evil.example' }] });
      assert.equal((await validate((await issue('CN=a', { issuer: nc, sanUri: ['spiffe://partner.example/ns/a'] })).cert, [nc.cert])).ok, true);
      assertRefused(await validate((await issue('CN=b', { issuer: nc, sanUri: ['spiffe://evil.example/ns/a'] })).cert, [nc.cert]), 'name_constraints', 'certificate URI "spiffe://evil.example/ns/a" is excluded by the nameConstraints of issuer CN=Mesh CA');
    });

    it('applies a root\'s constraints to the intermediate below it as well', async () => {
      const ncRoot = await ca('CN=Constrained Root', { pathLength: 1, extraExtensions: [{ oid: '2.5.29.30', critical: true, value: nameConstraintsDer({ permitted: [{ dn: 'O=Partner' }] }) }] });
      const issuing = await ca('CN=Issuing,O=Elsewhere', { issuer: ncRoot, pathLength: 0 });
      const leaf = await issue('CN=client,O=Partner', { issuer: issuing });
      assertRefused(await validate(leaf.cert, [issuing.cert], loadTrustStore(ncRoot.certPem, 'nc root')), 'name_constraints', 'intermediate CN=Issuing,O=Elsewhere subject "CN=Issuing,O=Elsewhere" is not permitted by the nameConstraints of issuer CN=Constrained Root');
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

type NameConstraintSpec = { permitted?: SubtreeSpec[]; excluded?: SubtreeSpec[] };
type SubtreeSpec = { dns?: string; email?: string; uri?: string; ip?: [number[], number[]]; dn?: string };

/** DER of a nameConstraints extension value (RFC 5280 §4.2.1.10), for issuing test CAs. */
function nameConstraintsDer(spec: NameConstraintSpec): Uint8Array {
  const base = (s: SubtreeSpec): asn1js.AsnType => {
    const implicit = (tag: number, bytes: Uint8Array) => new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: tag }, valueHex: bytes });
    if (s.email !== undefined) return implicit(1, Buffer.from(s.email));
    if (s.dns !== undefined) return implicit(2, Buffer.from(s.dns));
    if (s.uri !== undefined) return implicit(6, Buffer.from(s.uri));
    if (s.ip) return implicit(7, Uint8Array.from([...s.ip[0], ...s.ip[1]]));
    return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 4 }, value: [asn1js.fromBER(encodeName(parseDn(s.dn!))).result] });
  };
  const subtrees = (tag: number, list: SubtreeSpec[]) =>
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: tag }, value: list.map((s) => new asn1js.Sequence({ value: [base(s)] })) });
  const parts = [...(spec.permitted ? [subtrees(0, spec.permitted)] : []), ...(spec.excluded ? [subtrees(1, spec.excluded)] : [])];
  return new Uint8Array(new asn1js.Sequence({ value: parts }).toBER());
}
