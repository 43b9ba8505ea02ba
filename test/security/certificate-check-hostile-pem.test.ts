// Attack class: hostile PEM pasted into the console's "Check a certificate" (POST
// /admin/v1/certificates/check). The body is read from the network and parsed as PEM, then DER,
// then walked through path validation: random text, PEM armour around random bytes, mutated real
// certificates and chains, and random JSON must each get a 200 diagnosis or a 400 naming what is
// wrong — never a 500, a hang or an error-level log line (DESIGN.md "Security rules"). Property
// tests (fast-check) against a real server over mutual TLS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import type { HttpsAnswer } from '../support/https.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);
/** Per request: "answers, never hangs" — far above a check (~10 ms), far below a hang. */
const BOUND_MS = 5_000;

const armour = (der: Uint8Array, label = 'CERTIFICATE') =>
  `-----BEGIN ${label}-----\n${(Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;

/** A DER certificate with one mutation: a bit flipped, cut short, bytes inserted, or a length octet edited. */
function mutated(der: Uint8Array) {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(der.length - 1), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(der.length - 1) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(der.length - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('length' as const), at: fc.nat(der.length - 2), value: fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x84, 0x89, 0xff) }),
  ).map((m) => {
    const out = Uint8Array.from(der);
    if (m.kind === 'flip') out[m.at] ^= 1 << m.bit;
    if (m.kind === 'length') out[m.at + 1] = m.value;
    if (m.kind === 'truncate') return out.subarray(0, m.at);
    if (m.kind === 'insert') return Uint8Array.from([...out.subarray(0, m.at), ...m.bytes, ...out.subarray(m.at)]);
    return out;
  });
}

describe('POST /admin/v1/certificates/check: hostile PEM gets 200 or 400, never 500 or a hang', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let leaf: IssuedCertificate;
  let intermediate: IssuedCertificate;

  before(async () => {
    pki = await makeTestPki();
    intermediate = await issueCertificate({ subject: 'CN=partner issuing CA', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 30 });
    leaf = await issueCertificate({ subject: 'CN=partner,O=Example', issuer: intermediate, days: 20, sanDns: ['partner.test'] });
    as = await startTestAuthz({ pki });
  });

  after(async () => { await as?.close(); });

  /** One check; the answer must be a diagnosis (200) or an invalid_request naming a field (400), in bounded time. */
  async function expectAnswered(request: () => Promise<HttpsAnswer>): Promise<void> {
    const started = performance.now();
    const res = await request();
    const took = performance.now() - started;
    assert.ok(took < BOUND_MS, `took ${took.toFixed(0)} ms`);
    if (res.status === 200) {
      assert.equal(res.json.steps.length, 6, res.text);
      assert.equal(typeof res.json.ok, 'boolean');
      return;
    }
    assert.equal(res.status, 400, `${res.status}: ${res.text}`);
    assert.equal(res.json.error, 'invalid_request', res.text);
    // "<field>: <problem>"; an unknown field is named as sent (cut at 100), even when that name is empty.
    assert.match(res.json.error_description, /^[^\n]{0,100}: \S/, res.text);
  }

  const check = (pem: string, clientId?: string) => () => as.admin.request('POST', '/certificates/check', { json: { pem, ...(clientId ? { client_id: clientId } : {}) } });

  it('random text and random bytes in PEM armour', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 2000, unit: 'binary' }),
        fc.uint8Array({ maxLength: 1500 }).map((bytes) => armour(bytes)),
        fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('CERTIFICATE', 'X509 CRL', 'PUBLIC KEY', 'CERTIFICATE REQUEST')).map(([b, l]) => armour(b, l)),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }).map((blocks) => blocks.map((b) => armour(b)).join('')),
      ),
      async (pem) => expectAnswered(check(pem)),
    ), { numRuns: RUNS });
  });

  it('mutated certificates, alone or in a chain, with and without a client to match', async () => {
    await fc.assert(fc.asyncProperty(
      mutated(leaf.cert.raw), fc.boolean(), fc.constantFrom(undefined, 'admin', 'nobody'),
      async (der, withChain, clientId) => expectAnswered(check(armour(der) + (withChain ? intermediate.certPem : ''), clientId)),
    ), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(
      mutated(intermediate.cert.raw),
      async (der) => expectAnswered(check(leaf.certPem + armour(der))),
    ), { numRuns: RUNS });
  });

  it('random JSON and raw bodies', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.json({ maxDepth: 3 }),
        fc.string({ maxLength: 500, unit: 'binary' }),
        fc.dictionary(fc.constantFrom('pem', 'client_id', 'x'), fc.oneof(fc.string({ maxLength: 300, unit: 'binary' }), fc.integer(), fc.constant(null))).map((o) => JSON.stringify(o)),
      ),
      async (body) => expectAnswered(() => as.admin.request('POST', '/certificates/check', { body, headers: { 'content-type': 'application/json' } })),
    ), { numRuns: RUNS });
  });

  it('logged no server error and answered only declared statuses', () => {
    assert.deepEqual(as.logs.filter((l) => typeof l.level === 'number' && l.level >= 50), []);
    assert.deepEqual(as.logs.filter((l) => l.event === 'admin_undeclared_status'), []);
  });
});
