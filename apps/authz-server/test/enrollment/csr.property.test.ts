// DESIGN.md: everything parsed from the network goes through a vetted parser or one with property
// tests. readCsr (enrollment/csr.ts) wraps @peculiar/x509's PKCS#10 parser for the EST bodies:
// random text, random base64, and real CSRs with bit flips, truncations and insertions must come
// back as a typed refusal (never a throw), and a mutated CSR is never accepted with another key.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { readCsr } from '../../src/enrollment/csr.ts';
import { x509 } from '../../src/mtls/x509.ts';

const NUM_RUNS = 300;
let real: Buffer;
let realKey: string;

before(async () => {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=prop', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams });
  real = Buffer.from(csr.rawData);
  realKey = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)).toString('hex');
});

const mutation = () => fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(der: Buffer, m: { kind: string; at: number; bit?: number; bytes?: Uint8Array; value?: number }): Buffer {
  const copy = Buffer.from(der);
  const at = m.at % copy.length;
  if (m.kind === 'flip') copy[at] = copy[at] ^ (1 << m.bit!);
  if (m.kind === 'truncate') return copy.subarray(0, at);
  if (m.kind === 'insert') return Buffer.concat([copy.subarray(0, at), Buffer.from(m.bytes!), copy.subarray(at)]);
  if (m.kind === 'length') copy[Math.min(at, 3)] = m.value!;
  return copy;
}

describe('readCsr on hostile bodies', () => {
  it('accepts the real CSR', async () => {
    const result = await readCsr(real.toString('base64'), 2048);
    assert.equal(result.ok, true);
  });

  it('random text is refused, never thrown', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 400 }), async (text) => {
      const result = await readCsr(text, 2048);
      assert.equal(typeof result.ok, 'boolean');
      if (!result.ok) assert.equal(typeof result.problem, 'string');
    }), { numRuns: NUM_RUNS });
  });

  it('random DER-ish bytes in base64 are refused, never thrown', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
      const result = await readCsr(Buffer.from(bytes).toString('base64'), 2048);
      assert.equal(result.ok, false);
    }), { numRuns: NUM_RUNS });
  });

  it('a mutated real CSR is refused, or accepted only with its own key and a valid signature', async () => {
    await fc.assert(fc.asyncProperty(mutation(), async (m) => {
      const body = mutate(real, m);
      const result = await readCsr(body.toString('base64'), 2048);
      if (result.ok) assert.equal(Buffer.from(result.publicKey.rawData).toString('hex'), realKey);
      else assert.equal(typeof result.problem, 'string');
    }), { numRuns: NUM_RUNS });
  });
});
