import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { validatePath } from '../../src/mtls/path-validation.ts';
import { subjectDnOf } from '../../src/mtls/subject-dn.ts';
import { loadTrustStore } from '../../src/mtls/trust-store.ts';
import { issueCertificate, pemBundle, type IssuedCertificate } from '../../../../test/support/pki.ts';

describe('client CA trust store', () => {
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  before(async () => {
    root = await issueCertificate({ subject: 'CN=Store Root', ca: true });
    intermediate = await issueCertificate({ subject: 'CN=Store Issuing CA', ca: true, pathLength: 0, issuer: root });
  });

  it('trusts every certificate of the bundle as an anchor, telling roots from intermediates (RFC 5280 §6.1.1 d)', () => {
    const store = loadTrustStore(`# client CAs\n${pemBundle(intermediate, root)}`, 'CLIENT_CA_FILE');
    assert.deepEqual(store.anchors.map(subjectDnOf), ['CN=Store Root']);
    assert.deepEqual(store.intermediates.map(subjectDnOf), ['CN=Store Issuing CA']);
    assert.equal(store.size, 2);
    assert.equal(store.source, 'CLIENT_CA_FILE');
    assert.equal(store.isAnchor(root.cert), true);
    assert.equal(store.isAnchor(intermediate.cert), true);
    assert.equal(store.isRoot(root.cert), true);
    assert.equal(store.isRoot(intermediate.cert), false);
  });

  it('counts a certificate listed twice once', () => {
    assert.equal(loadTrustStore(pemBundle(root, root), 'dup').size, 1);
  });

  it('finds the issuer of a certificate by its issuer DN', async () => {
    const store = loadTrustStore(pemBundle(intermediate, root), 'bundle');
    const leaf = await issueCertificate({ subject: 'CN=leaf', issuer: intermediate });
    assert.deepEqual(store.findIssuers(leaf.cert).map(subjectDnOf), ['CN=Store Issuing CA']);
    assert.deepEqual(store.findIssuers(intermediate.cert).map(subjectDnOf), ['CN=Store Root']);
    assert.deepEqual(store.findIssuers((await issueCertificate({ subject: 'CN=stranger' })).cert), []);
  });

  it('refuses a bundle without certificates, naming the source', () => {
    assert.throws(() => loadTrustStore('', '/etc/certbound/ca.pem'), { message: '/etc/certbound/ca.pem: no certificate found' });
    assert.throws(() => loadTrustStore('not pem at all', 'CLIENT_CA_FILE'), { message: 'CLIENT_CA_FILE: no certificate found' });
  });

  it('refuses a bundle holding something other than certificates', () => {
    assert.throws(() => loadTrustStore(root.certPem + root.keyPem, 'CLIENT_CA_FILE'), { message: 'CLIENT_CA_FILE: PEM block 2 is a PRIVATE KEY, not a CERTIFICATE' });
  });

  it('refuses a certificate block that does not parse', () => {
    const broken = root.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    assert.throws(() => loadTrustStore(broken, 'CLIENT_CA_FILE'), (error: Error) => error.message.startsWith('CLIENT_CA_FILE: certificate 1 could not be parsed ('));
  });

  describe('with 1000 client CAs', () => {
    let cas: IssuedCertificate[];
    before(async () => {
      cas = [];
      for (let batch = 0; batch < 10; batch++) {
        cas.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => issueCertificate({ subject: `CN=Partner CA ${batch * 100 + i},O=partners`, ca: true })))));
      }
    });

    it('loads them all and finds each issuer directly', async () => {
      const store = loadTrustStore(pemBundle(...cas), 'partners.pem');
      assert.equal(store.size, 1000);
      assert.equal(store.anchors.length, 1000);
      const leaf = await issueCertificate({ subject: 'CN=client of 777', issuer: cas[777] });
      for (let i = 0; i < 1000; i++) assert.equal(store.findIssuers(leaf.cert).length, 1);
      assert.deepEqual(store.findIssuers(leaf.cert).map(subjectDnOf), ['CN=Partner CA 777,O=partners']);
      const verdict = await validatePath({ leaf: leaf.cert, trustStore: store });
      assert.equal(verdict.ok && verdict.chain.length, 2);
      // How the cost grows with 1 / 1000 CAs is a bench figure (growth.cas), not a timed assertion.
    });
  });
});
