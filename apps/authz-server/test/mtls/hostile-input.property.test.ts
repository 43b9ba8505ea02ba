// Property tests: everything that reads a certificate, a DER value, a DN string or a proxy
// certificate header answers random and mutated input with a typed result within a time bound —
// never a hang, a crash or an untyped exception (DESIGN.md "Security rules").
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseClientCert, parseClientCertChain, parseEscapedPem, parseXfcc } from '../../../../packages/cnf-verifier/src/client-cert-header.ts';
import { InvalidRequestError } from '../../../../packages/cnf-verifier/src/errors.ts';
import { Asn1Error, decodeDer } from '../../src/mtls/asn1.ts';
import { decodeName } from '../../src/mtls/names.ts';
import { CertificateParseError, fieldsOf } from '../../src/mtls/parsing.ts';
import { validatePath } from '../../src/mtls/path-validation.ts';
import { sanMatches, sansOf } from '../../src/mtls/san.ts';
import { DnSyntaxError, dnMatches, parseDn, subjectDnMatches } from '../../src/mtls/subject-dn.ts';
import { describeCert, loadTrustStore, type TrustStore } from '../../src/mtls/trust-store.ts';
import { issueCertificate, type IssuedCertificate } from '../../../../test/support/pki.ts';

/**
 * Per input: the property is "refuses, never hangs", not a speed (speed lives in npm run bench).
 * Two seconds is orders of magnitude above a parse here (~1 ms) and still far below a hang, so a
 * loaded CI machine cannot fail it while a quadratic blow-up or an endless loop still does.
 */
const BOUND_MS = 2_000;
const RUNS = Number(process.env.PROPERTY_RUNS ?? 400);

function timed<T>(run: () => T): T {
  const started = performance.now();
  const result = run();
  const took = performance.now() - started;
  assert.ok(took < BOUND_MS, `took ${took.toFixed(1)} ms`);
  return result;
}

/** Runs `run`; an exception must be one of `allowed`. */
function typed(run: () => unknown, ...allowed: Array<new (...args: never[]) => Error>): void {
  timed(() => {
    try {
      run();
    } catch (error) {
      assert.ok(allowed.some((type) => error instanceof type), `untyped ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    }
  });
}

/** A DER certificate with one mutation: bit flip, truncation, byte run inserted, or a length octet edited. */
function mutation(der: Uint8Array) {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(der.length - 1), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(der.length - 1) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(der.length - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('length' as const), at: fc.nat(der.length - 1), value: fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x84, 0x89, 0xff) }),
  ).map((m) => {
    const out = Uint8Array.from(der);
    if (m.kind === 'flip') out[m.at] ^= 1 << m.bit;
    if (m.kind === 'length') {
      // edit the length octet that follows some tag: find the next constructed tag at or after `at`
      const tag = out.findIndex((b, i) => i >= m.at && (b === 0x30 || b === 0x31 || b === 0x04 || b === 0x06) && i + 1 < out.length);
      if (tag >= 0) out[tag + 1] = m.value;
    }
    if (m.kind === 'truncate') return out.subarray(0, m.at);
    if (m.kind === 'insert') return Uint8Array.from([...out.subarray(0, m.at), ...m.bytes, ...out.subarray(m.at)]);
    return out;
  });
}

describe('hostile certificates and DER: typed answers in bounded time', () => {
  let root: IssuedCertificate;
  let leaf: IssuedCertificate;
  let store: TrustStore;
  before(async () => {
    root = await issueCertificate({ subject: 'CN=Property Root,O=certbound', ca: true, pathLength: 1 });
    leaf = await issueCertificate({
      subject: 'CN=property-client,O=certbound,C=DE', issuer: root,
      sanDns: ['client.example'], sanIp: ['10.0.0.1', '::1'], sanUri: ['spiffe://example.org/a'], sanEmail: ['ops@example.org'],
    });
    store = loadTrustStore(root.certPem, 'property');
  });

  it('decodeDer and decodeName refuse random bytes with Asn1Error only', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      typed(() => decodeDer(bytes, 'input'), Asn1Error);
      typed(() => decodeName(bytes), Asn1Error);
    }), { numRuns: RUNS });
  });

  it('decodeDer refuses deep nesting and indefinite lengths', () => {
    const deep = Uint8Array.from(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? 0x30 : 0x80)));
    typed(() => decodeDer(deep, 'deep'), Asn1Error);
    assert.throws(() => decodeDer(Uint8Array.from([0x30, 0x80, 0x05, 0x00, 0x00, 0x00]), 'ber'), { name: 'Asn1Error', message: 'ber is not DER: indefinite length (BER)' });
    assert.throws(() => decodeDer(Uint8Array.from([0x30, 0x02, 0x06, 0x84]), 'eku'), { name: 'Asn1Error' });
  });

  it('every reader of a certificate answers mutated real certificates with a typed result', async () => {
    const der = new Uint8Array(leaf.cert.raw);
    let reachedUs = 0;
    await fc.assert(fc.asyncProperty(mutation(der), async (mutated) => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(mutated);
      } catch {
        return; // OpenSSL refused it: the TLS stack would never hand it to us
      }
      reachedUs++;
      typed(() => fieldsOf(cert), CertificateParseError);
      typed(() => describeCert(cert));
      typed(() => sansOf(cert), CertificateParseError);
      typed(() => sanMatches(cert, 'tls_client_auth_san_dns', 'client.example'));
      typed(() => subjectDnMatches(cert, 'CN=property-client,O=certbound,C=DE'));
      const started = performance.now();
      const verdict = await validatePath({ leaf: cert, presented: [root.cert], trustStore: store });
      assert.ok(performance.now() - started < BOUND_MS);
      assert.equal(typeof verdict.ok, 'boolean');
      if (!verdict.ok) assert.equal(typeof verdict.reason, 'string');
    }), { numRuns: RUNS });
    assert.ok(reachedUs > 0, 'no mutation was accepted by OpenSSL: the property tested nothing');
  });

  it('RFC 4514 parsing and DN matching answer random strings with DnSyntaxError or a boolean', () => {
    const dnish = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(fc.constantFrom('CN', 'O', 'OU', '2.5.4.3', '=', ',', '+', '\\', '#', '"', ' ', 'a', 'ı', 'İ', 'ß', '\\2C', '#0c0161', '\u0000', '\uFFFD', '\uE000'), { maxLength: 30 }).map((parts) => parts.join('')),
    );
    fc.assert(fc.property(dnish, dnish, (a, b) => {
      typed(() => parseDn(a), DnSyntaxError);
      typed(() => assert.equal(typeof dnMatches(a, b), 'boolean'), DnSyntaxError);
      typed(() => assert.equal(typeof subjectDnMatches(leaf.cert, a), 'boolean'));
    }), { numRuns: RUNS });
  });

  it('proxy certificate headers answer random and mutated values with InvalidRequestError only', () => {
    const b64 = leaf.cert.raw.toString('base64');
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.tuple(fc.nat(b64.length), fc.string({ maxLength: 4 })).map(([at, junk]) => `:${b64.slice(0, at)}${junk}${b64.slice(at)}:`),
      fc.nat(b64.length).map((at) => `Hash=abc;Cert="${encodeURIComponent(`-----BEGIN CERTIFICATE-----\n${b64.slice(0, at)}\n-----END CERTIFICATE-----`)}"`),
    );
    fc.assert(fc.property(header, (value) => {
      typed(() => parseClientCert(value), InvalidRequestError);
      typed(() => parseClientCertChain(value), InvalidRequestError);
      typed(() => parseEscapedPem(value, 'x-ssl-client-cert'), InvalidRequestError);
      typed(() => parseXfcc(value), InvalidRequestError);
    }), { numRuns: RUNS });
  });
});
