// mtls/diagnosis.ts names the right failing step, with the detail a partner can act on, for each
// branch of the troubleshooting tree (no certificate, unknown CA, missing intermediate, expired,
// not yet valid, wrong EKU, revoked, subject and SAN mismatch), and agrees with validatePath.
// Certificates are issued at test time; revocation runs against a real `openssl ocsp` responder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { diagnose, duration, type Diagnosis, type DiagnosisInput } from '../../src/mtls/diagnosis.ts';
import { loadTrustStore, type TrustStore } from '../../src/mtls/trust-store.ts';
import { validatePath } from '../../src/mtls/path-validation.ts';
import { createRevocationChecker } from '../../src/mtls/revocation/index.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { issueCertificate, type IssuedCertificate } from '../../../../test/support/pki.ts';
import { createFixture, type Fixture } from './revocation/fixture.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 86_400_000;
const LONG = { notBefore: new Date('2025-01-01T00:00:00.000Z'), notAfter: new Date('2030-01-01T00:00:00.000Z') };

let root: IssuedCertificate;
let intermediate: IssuedCertificate;
let store: TrustStore;

function steps(d: Diagnosis): Record<string, boolean | null> {
  return Object.fromEntries(d.steps.map((s) => [s.check, s.ok]));
}
function detail(d: Diagnosis, check: string): string {
  return d.steps.find((s) => s.check === check)!.detail;
}
/** the first failure is `check`, every later step is reported as not run */
function failsAt(d: Diagnosis, check: string, code: string): void {
  assert.equal(d.ok, false);
  assert.equal(d.first_failure?.check, check, JSON.stringify(d, null, 1));
  assert.equal(d.first_failure?.code, code);
  const order = d.steps.map((s) => s.check);
  assert.deepEqual(order, ['presented', 'chain', 'dates', 'key_usage', 'revocation', 'client_match']);
  const at = order.indexOf(check as never);
  for (const step of d.steps.slice(0, at)) assert.equal(step.ok, true, `${step.check} before the failure passed`);
  assert.equal(d.steps[at].ok, false);
  for (const step of d.steps.slice(at + 1)) {
    assert.equal(step.ok, null);
    assert.match(step.detail, /^not checked: /);
  }
  assert.ok(d.first_failure.fix.length > 0);
}

const leafOf = (issued: IssuedCertificate, chain: IssuedCertificate[] = []) => ({ leaf: issued.cert, chain: chain.map((c) => c.cert) });
const run = (presented: DiagnosisInput['presented'], more: Partial<DiagnosisInput> = {}) => diagnose({ presented, trustStore: store, now: NOW, ...more });

before(async () => {
  root = await issueCertificate({ subject: 'CN=diagnosis root,O=certbound test', ca: true, ...LONG });
  intermediate = await issueCertificate({ subject: 'CN=diagnosis issuing CA,O=certbound test', ca: true, issuer: root, ...LONG });
  store = loadTrustStore(root.certPem, 'client-ca.pem');
});

describe('mtls/diagnosis.ts: one step per branch of the decision tree', () => {
  it('passes every step for a good certificate, and skips client_match without a client', async () => {
    const leaf = await issueCertificate({ subject: 'CN=good,O=partner', issuer: intermediate, sanDns: ['good.partner.test'], ...LONG });
    const d = await run(leafOf(leaf, [intermediate]));
    assert.equal(d.ok, true);
    assert.equal(d.first_failure, null);
    assert.deepEqual(steps(d), { presented: true, chain: true, dates: true, key_usage: true, revocation: true, client_match: null });
    assert.match(detail(d, 'client_match'), /^not checked: no client_id given/);
    assert.equal(d.certificate?.subject, 'CN=good,O=partner');
    assert.equal(d.certificate?.issuer, 'CN=diagnosis issuing CA,O=certbound test');
    assert.equal(d.certificate?.['x5t#S256'], x5tS256(leaf.cert));
    assert.equal(d.certificate?.not_after, '2030-01-01T00:00:00.000Z');
    assert.deepEqual(d.certificate?.san?.dns, ['good.partner.test']);
    assert.match(detail(d, 'chain'), /"CN=diagnosis issuing CA,O=certbound test" <- "CN=diagnosis root,O=certbound test"/);
    assert.match(detail(d, 'dates'), /expires in 1309 days/);
    assert.match(detail(d, 'key_usage'), /keyUsage digitalSignature; extendedKeyUsage includes clientAuth; key EC prime256v1/);
  });

  it('no certificate: presented fails', async () => {
    const d = await run(undefined);
    failsAt(d, 'presented', 'no_certificate');
    assert.equal(d.certificate, null);
  });

  it('unknown CA: chain fails naming the issuer DN and its key id', async () => {
    const otherRoot = await issueCertificate({ subject: 'CN=someone else root', ca: true, ...LONG });
    const leaf = await issueCertificate({ subject: 'CN=stranger', issuer: otherRoot, ...LONG });
    const d = await run(leafOf(leaf));
    failsAt(d, 'chain', 'untrusted');
    assert.match(detail(d, 'chain'), /the certificate was issued by "CN=someone else root" \(authority key id ([0-9a-f]{2}:)+[0-9a-f]{2}\), which is neither a configured client CA nor among the 0 intermediates the client sent/);
  });

  it('missing intermediate: chain fails naming the intermediate the client did not send', async () => {
    const leaf = await issueCertificate({ subject: 'CN=forgetful', issuer: intermediate, ...LONG });
    const d = await run(leafOf(leaf));
    failsAt(d, 'chain', 'untrusted');
    assert.match(detail(d, 'chain'), /the missing intermediate is "CN=diagnosis issuing CA,O=certbound test"$/);
    // the same certificate with its intermediate passes: the step is about what was sent
    assert.equal((await run(leafOf(leaf, [intermediate]))).ok, true);
  });

  it('a self-signed certificate or a foreign root: chain fails saying so, not asking for an intermediate', async () => {
    const self = await issueCertificate({ subject: 'CN=robot', ...LONG });
    const alone = await run(leafOf(self));
    failsAt(alone, 'chain', 'untrusted');
    assert.match(detail(alone, 'chain'), /: the certificate is self-signed; a tls_client_auth client needs one issued by a configured client CA/);
    const otherRoot = await issueCertificate({ subject: 'CN=foreign root', ca: true, ...LONG });
    const leaf = await issueCertificate({ subject: 'CN=foreigner', issuer: otherRoot, ...LONG });
    const sent = await run(leafOf(leaf, [otherRoot]));
    assert.match(detail(sent, 'chain'), /: the chain the client sent ends at root "CN=foreign root", which is not a configured client CA$/);
  });

  it('expired: dates fails with the skew against the server clock', async () => {
    const leaf = await issueCertificate({ subject: 'CN=old', issuer: intermediate, notBefore: new Date(NOW.getTime() - 30 * DAY), notAfter: new Date(NOW.getTime() - 3 * DAY) });
    const d = await run(leafOf(leaf, [intermediate]));
    failsAt(d, 'dates', 'expired');
    assert.match(detail(d, 'dates'), /expired 3 days ago by the server's clock \(2026-06-01T12:00:00\.000Z\)/);
    assert.equal(d.first_failure!.fix, 'the certificate expired 3 days ago: issue a new one and add it with `certbound certs add`');
  });

  it('not yet valid: dates fails with how long until it is', async () => {
    const leaf = await issueCertificate({ subject: 'CN=early', issuer: intermediate, notBefore: new Date(NOW.getTime() + 2 * 3_600_000 + 60_000), notAfter: new Date(NOW.getTime() + 30 * DAY) });
    const d = await run(leafOf(leaf, [intermediate]));
    failsAt(d, 'dates', 'not_yet_valid');
    assert.match(detail(d, 'dates'), /valid from in 2 hours/);
  });

  it('wrong EKU: key_usage fails', async () => {
    const leaf = await issueCertificate({ subject: 'CN=server-ish', issuer: intermediate, extKeyUsage: ['serverAuth'], ...LONG });
    const d = await run(leafOf(leaf, [intermediate]));
    failsAt(d, 'key_usage', 'ext_key_usage');
    assert.equal(detail(d, 'key_usage'), 'certificate extendedKeyUsage does not include clientAuth (TLS client authentication)');
  });

  it('hostile bytes: presented fails as malformed, never a throw', async () => {
    const leaf = await issueCertificate({ subject: 'CN=hostile', issuer: intermediate, extraExtensions: [{ oid: '2.5.29.37', critical: false, value: Uint8Array.from([0x30, 0x02, 0x06, 0x84]) }], ...LONG });
    const d = await run(leafOf(leaf, [intermediate]));
    failsAt(d, 'presented', 'malformed');
    assert.match(detail(d, 'presented'), /could not be parsed/);
  });

  it('agrees with validatePath: the first failure carries its code and reason', async () => {
    const leaf = await issueCertificate({ subject: 'CN=agree', issuer: intermediate, extKeyUsage: ['serverAuth'], ...LONG });
    const verdict = await validatePath({ leaf: leaf.cert, presented: [intermediate.cert], trustStore: store, at: NOW });
    const d = await run(leafOf(leaf, [intermediate]));
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.code, d.first_failure?.code);
    assert.equal(!verdict.ok && verdict.reason, d.first_failure?.detail);
  });
});

describe('client_match', () => {
  let leaf: IssuedCertificate;
  before(async () => {
    leaf = await issueCertificate({ subject: 'CN=ledger,OU=payments,O=partner', issuer: intermediate, sanDns: ['ledger.partner.test'], sanUri: ['spiffe://partner/ledger'], ...LONG });
  });
  const client = (registration: Record<string, unknown> | undefined) => ({ client: { id: 'ledger', registration } });

  it('passes on the registered subject DN (distinguishedNameMatch: case and spacing do not matter)', async () => {
    const d = await run(leafOf(leaf, [intermediate]), client({ tls_client_auth_subject_dn: 'cn=Ledger, ou=payments, o=partner' }));
    assert.equal(d.ok, true, JSON.stringify(d.first_failure));
    assert.equal(steps(d).client_match, true);
  });

  it('subject mismatch names the first differing RDN', async () => {
    const d = await run(leafOf(leaf, [intermediate]), client({ tls_client_auth_subject_dn: 'CN=ledger,OU=treasury,O=partner' }));
    failsAt(d, 'client_match', 'subject_mismatch');
    assert.equal(detail(d, 'client_match'),
      'client "ledger": certificate subject "CN=ledger,OU=payments,O=partner" does not match the registered tls_client_auth_subject_dn "CN=ledger,OU=treasury,O=partner": ' +
      'first difference at RDN 2 (from the left, RFC 4514 order): expected "OU=treasury", presented "OU=payments"');
  });

  it('SAN mismatch lists the SANs of that type the certificate carries', async () => {
    const d = await run(leafOf(leaf, [intermediate]), client({ tls_client_auth_san_dns: 'books.partner.test' }));
    failsAt(d, 'client_match', 'san_mismatch');
    assert.equal(detail(d, 'client_match'), 'client "ledger": the registered tls_client_auth_san_dns "books.partner.test" is not among the certificate\'s DNS SANs ("ledger.partner.test")');
    const uri = await run(leafOf(leaf, [intermediate]), client({ tls_client_auth_san_uri: 'spiffe://partner/ledger' }));
    assert.equal(uri.ok, true);
  });

  it('an unknown client fails the step naming it', async () => {
    const d = await run(leafOf(leaf, [intermediate]), client(undefined));
    failsAt(d, 'client_match', 'unknown_client');
    assert.equal(detail(d, 'client_match'), 'no client "ledger" is registered (or it is disabled)');
  });

  it('certificate pinning: the subject matches but the certificate is not registered', async () => {
    const d = await run(leafOf(leaf, [intermediate]), client({ tls_client_auth_subject_dn: leaf.subject, certificate_pinning: true, certificate_thumbprints: ['x'] }));
    failsAt(d, 'client_match', 'certificate_pinning');
    const pinning = { tls_client_auth_subject_dn: leaf.subject, certificate_pinning: true, certificate_thumbprints: [x5tS256(leaf.cert)] };
    const pinned = await run(leafOf(leaf, [intermediate]), client(pinning));
    assert.equal(pinned.ok, true);
  });

  it('self_signed_tls_client_auth: no chain needed, the certificate must be in the jwks', async () => {
    const self = await issueCertificate({ subject: 'CN=robot', ...LONG });
    const jwks = { keys: [{ kty: 'EC', x5c: [self.cert.raw.toString('base64')] }] };
    const d = await run(leafOf(self), client({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks }));
    assert.equal(d.ok, true, JSON.stringify(d.first_failure));
    const other = await run(leafOf(leaf), client({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks }));
    failsAt(other, 'client_match', 'certificate_not_registered');
  });
});

describe('revocation (a real OCSP responder)', () => {
  let fixture: Fixture;
  let revoked: X509Certificate;
  let good: X509Certificate;
  let fixtureStore: TrustStore;
  before(async () => {
    fixture = await createFixture();
    const ocsp = [`${fixture.base}/ocsp`];
    good = await fixture.issue('diagnosis-good', { ocsp });
    revoked = await fixture.issue('diagnosis-revoked', { ocsp });
    await fixture.revoke(revoked, 'keyCompromise');
    fixtureStore = loadTrustStore(fixture.ca.toString(), 'fixture-ca.pem');
  });
  after(() => fixture?.dispose());

  it('revoked: the revocation step fails with the responder\'s answer', async () => {
    const revocation = createRevocationChecker({ mode: 'soft' });
    const d = await diagnose({ presented: { leaf: revoked, chain: [] }, trustStore: fixtureStore, revocation });
    failsAt(d, 'revocation', 'revoked');
    assert.match(detail(d, 'revocation'), /is revoked since .*: keyCompromise \(reason code 1\), according to its OCSP responder/);
    const ok = await diagnose({ presented: { leaf: good, chain: [] }, trustStore: fixtureStore, revocation });
    assert.equal(ok.ok, true, JSON.stringify(ok.first_failure));
    assert.match(detail(ok, 'revocation'), /is not revoked \(ocsp\)/);
  });

  it('an untrusted chain naming a responder is never sent to it', async () => {
    const before = fixture.hits.get('/ocsp') ?? 0;
    const revocation = createRevocationChecker({ mode: 'hard' });
    const d = await diagnose({ presented: { leaf: revoked, chain: [] }, trustStore: store, revocation });
    failsAt(d, 'chain', 'untrusted');
    assert.equal(fixture.hits.get('/ocsp') ?? 0, before);
  });
});

describe('hostile input (property): mutated DER never makes diagnose throw or answer an inconsistent shape', () => {
  it('bit flips, truncations and inserted bytes in a certificate the client sends', async () => {
    const leaf = await issueCertificate({ subject: 'CN=mutant,O=partner', issuer: intermediate, sanDns: ['mutant.test'], ...LONG });
    const der = Uint8Array.from(leaf.cert.raw);
    const mutated = fc.oneof(
      fc.record({ at: fc.nat(der.length - 1), bit: fc.nat(7) }).map(({ at, bit }) => {
        const out = Uint8Array.from(der);
        out[at] ^= 1 << bit;
        return out;
      }),
      fc.nat(der.length - 1).map((at) => der.subarray(0, at)),
      fc.record({ at: fc.nat(der.length - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) })
        .map(({ at, bytes }) => Uint8Array.from([...der.subarray(0, at), ...bytes, ...der.subarray(at)])),
    );
    let parsed = 0;
    await fc.assert(fc.asyncProperty(mutated, fc.boolean(), async (bytes, asIntermediate) => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(bytes); // what Node's TLS stack would hand over; the rest never reaches us
      } catch {
        return;
      }
      parsed++;
      const presented = asIntermediate ? { leaf: leaf.cert, chain: [cert] } : { leaf: cert, chain: [intermediate.cert] };
      const d = await run(presented, { client: { id: 'mutant', registration: { tls_client_auth_subject_dn: 'CN=mutant,O=partner' } } });
      assert.deepEqual(d.steps.map((s) => s.check), ['presented', 'chain', 'dates', 'key_usage', 'revocation', 'client_match']);
      assert.equal(d.ok, d.first_failure === null);
      assert.equal(d.ok, d.steps.every((s) => s.ok === true));
      for (const step of d.steps) assert.equal(typeof step.detail, 'string');
      assert.equal(typeof d.certificate?.['x5t#S256'], 'string');
    }), { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) });
    assert.ok(parsed > 0, 'some mutants were still certificates');
  });
});

describe('duration', () => {
  it('reads in the largest whole unit', () => {
    assert.equal(duration(3 * DAY + 5), '3 days');
    assert.equal(duration(DAY), '1 day');
    assert.equal(duration(2 * 3_600_000 + 59_000), '2 hours');
    assert.equal(duration(-90_000), '1 minute');
    assert.equal(duration(40_000), '40 seconds');
  });
});
