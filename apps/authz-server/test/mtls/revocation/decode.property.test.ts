// DESIGN.md: everything parsed from the network goes through a parser with property tests on
// random and mutated input; it can refuse, never hang or crash. These feed random bytes and
// real OpenSSL OCSP responses and CRLs with bit flips, truncations, insertions and length edits
// to the decoders+verifiers, and require a typed verdict, quickly, that never turns a revoked
// certificate into a good one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { buildOcspRequest, verifyOcspResponse } from '../../../src/mtls/revocation/ocsp.ts';
import { checkCrl, crlDerBlocks } from '../../../src/mtls/revocation/crl.ts';
import { createFixture, type Fixture } from './fixture.ts';

const NUM_RUNS = 300;
const MAX_MS_PER_CALL = 1000;

let pki: Fixture;
let revoked: X509Certificate;
let issuerSigned: Buffer;
let delegatedSigned: Buffer;
let crl: Buffer;

async function ocspResponse(behaviour: 'issuer' | 'delegated'): Promise<Buffer> {
  pki.ocsp = behaviour;
  const res = await fetch(`${pki.base}/ocsp`, { method: 'POST', body: new Uint8Array(buildOcspRequest(revoked, pki.ca).der) });
  return Buffer.from(await res.arrayBuffer());
}

before(async () => {
  pki = await createFixture();
  await pki.issue('client-good');
  revoked = await pki.issue('client-revoked');
  await pki.revoke(revoked, 'keyCompromise');
  issuerSigned = await ocspResponse('issuer');
  delegatedSigned = await ocspResponse('delegated');
  crl = await pki.gencrl();
});
after(() => pki.dispose());

/** one edit of a real encoding: what a broken or hostile server could send instead */
const mutation = (length: number) => fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(length - 1), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(length - 1) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(length - 1), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(length), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(length - 1), count: fc.integer({ min: 1, max: 8 }) }),
  // Length octets are where decoders overrun: set a plausible long-form length anywhere.
  fc.record({ kind: fc.constant('length' as const), at: fc.nat(length - 1), value: fc.constantFrom(0x80, 0x81, 0x82, 0x84, 0x88, 0xff, 0x00, 0x7f) }),
);

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'truncate'; at: number } | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; count: number } | { kind: 'length'; at: number; value: number };

function apply(original: Buffer, edits: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const edit of edits) {
    const at = Math.min(edit.at, Math.max(0, bytes.length - 1));
    switch (edit.kind) {
      case 'flip': bytes[at] = bytes[at] ^ (1 << edit.bit); break;
      case 'truncate': bytes = bytes.subarray(0, at); break;
      case 'set': case 'length': bytes[at] = edit.value; break;
      case 'insert': bytes = Buffer.concat([bytes.subarray(0, at), edit.bytes, bytes.subarray(at)]); break;
      case 'delete': bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + edit.count)]); break;
    }
  }
  return bytes;
}

function timed<T>(run: () => T): T {
  const started = performance.now();
  const result = run();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < MAX_MS_PER_CALL, `took ${elapsed.toFixed(0)} ms`);
  return result;
}

function assertOcspVerdict(der: Uint8Array) {
  const verdict = timed(() => verifyOcspResponse(der, { cert: revoked, issuer: pki.ca, now: Date.now() }));
  if (verdict.ok) {
    // Only a re-encoding that kept the signed bytes intact can verify: it must still say revoked.
    assert.equal(verdict.status, 'revoked');
  } else {
    assert.equal(typeof verdict.detail, 'string');
    assert.ok(verdict.detail.length > 0);
  }
}

function assertCrlLookup(der: Uint8Array) {
  const found = timed(() => checkCrl(der, revoked, pki.ca, Date.now()));
  assert.ok(found.status === 'revoked' || found.status === 'unknown', `status ${found.status}`);
  if (found.status === 'unknown') assert.ok(found.detail.length > 0);
}

describe('OCSP response decoding and verification (RFC 6960 §4.2.1) on hostile input', () => {
  it('the unmutated responses verify', () => {
    for (const der of [issuerSigned, delegatedSigned]) {
      const verdict = verifyOcspResponse(der, { cert: revoked, issuer: pki.ca, now: Date.now() });
      assert.equal(verdict.ok && verdict.status, 'revoked');
    }
  });

  it('random bytes get a typed refusal', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => assertOcspVerdict(bytes)), { numRuns: NUM_RUNS });
  });

  it('mutated issuer-signed and delegated-responder responses never crash, hang or turn good', () => {
    fc.assert(fc.property(fc.boolean(), fc.array(mutation(delegatedSigned.length), { minLength: 1, maxLength: 3 }), (delegated, edits) => {
      assertOcspVerdict(apply(delegated ? delegatedSigned : issuerSigned, edits));
    }), { numRuns: NUM_RUNS });
  });
});

describe('CRL decoding and verification (RFC 5280 §5) on hostile input', () => {
  it('the unmutated CRL lists the certificate as revoked', () => {
    assert.equal(checkCrl(crl, revoked, pki.ca, Date.now()).status, 'revoked');
  });

  it('random bytes, as DER or inside a PEM armour, get a typed refusal', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), (bytes, armoured) => {
      const input = armoured ? Buffer.from(`-----BEGIN X509 CRL-----\n${Buffer.from(bytes).toString('base64')}\n-----END X509 CRL-----\n`) : bytes;
      for (const der of crlDerBlocks(input)) assertCrlLookup(der);
    }), { numRuns: NUM_RUNS });
  });

  it('mutated CRLs never crash, hang or un-revoke', () => {
    fc.assert(fc.property(fc.array(mutation(crl.length), { minLength: 1, maxLength: 3 }), (edits) => {
      assertCrlLookup(apply(crl, edits));
    }), { numRuns: NUM_RUNS });
  });
});
