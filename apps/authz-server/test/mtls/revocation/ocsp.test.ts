// RFC 6960 OCSP through createRevocationChecker, against a real `openssl ocsp` responder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { createRevocationChecker, describeRevocation, type RevocationCheckerOptions } from '../../../src/mtls/revocation/index.ts';
import { closedPort, createFixture, type Fixture } from './fixture.ts';

let pki: Fixture;
let good: X509Certificate;
let revoked: X509Certificate;
let unindexed: X509Certificate;

const checker = (options: Partial<RevocationCheckerOptions> = {}) => createRevocationChecker({ mode: 'soft', ...options });
const requests = () => pki.hits.get('/ocsp') ?? 0;

before(async () => {
  pki = await createFixture();
  const ocsp = [`${pki.base}/ocsp`];
  // One at a time: `openssl ca` rewrites index.txt.
  good = await pki.issue('client-good', { ocsp });
  revoked = await pki.issue('client-revoked', { ocsp });
  unindexed = await pki.issue('client-unknown', { ocsp, unindexed: true });
  await pki.revoke(revoked, 'keyCompromise');
});
after(() => pki.dispose());

describe('RFC 6960 OCSP status', () => {
  it('answers good for a certificate the responder knows, signed by the issuer', async () => {
    pki.ocsp = 'issuer';
    const started = Date.now();
    const answer = await checker().check([good, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'ocsp');
    assert.equal(answer.serial, good.serialNumber);
    assert.equal(answer.subject, 'CN=client-good');
    // -ndays 1: valid until nextUpdate, bounded by the 1 h default maximum age
    assert.ok(answer.validUntil > started + 3_500_000 && answer.validUntil <= Date.now() + 3_600_000);
  });

  it('accepts a response signed by a delegated responder (id-kp-OCSPSigning, issued by the CA) (§4.2.2.2)', async () => {
    pki.ocsp = 'delegated';
    const answer = await checker().check([good, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'ocsp');
  });

  it('answers revoked with serial, reason name and code, and renders them for error_description', async () => {
    pki.ocsp = 'issuer';
    const answer = await checker().check([revoked, pki.ca]);
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.source, 'ocsp');
    assert.equal(answer.serial, revoked.serialNumber);
    assert.equal(answer.reason, 'keyCompromise');
    assert.equal(answer.reasonCode, 1);
    assert.ok(answer.revokedAt instanceof Date);
    assert.match(describeRevocation(answer), new RegExp(`^certificate serial ${revoked.serialNumber} \\(CN=client-revoked\\) is revoked since .+: keyCompromise \\(reason code 1\\), according to its OCSP responder$`));
  });

  it('answers unknown (not good) for a serial the responder does not know', async () => {
    pki.ocsp = 'issuer';
    const answer = await checker().check([unindexed, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.equal(answer.detail, `OCSP responder ${pki.base}/ocsp does not know serial ${unindexed.serialNumber} (certStatus unknown)`);
    assert.ok(answer.validUntil <= Date.now() + 30_000);
  });

  it('refuses a response signed by an unrelated key: unknown, with the reason', async () => {
    pki.ocsp = 'unrelated';
    const c = checker();
    const answer = await c.check([good, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /^OCSP response from http:\/\/127\.0\.0\.1:\d+\/ocsp refused: it is signed neither by the issuer CN=Test CA,O=certbound test nor by a responder it delegated with id-kp-OCSPSigning: responder certificate CN=Unrelated CA,O=elsewhere is not issued by CN=Test CA,O=certbound test$/);
    assert.equal(c.counts()['ocsp:invalid'], 1);
  });

  it('refuses a response whose nextUpdate has passed', async () => {
    pki.ocsp = 'issuer';
    const answer = await checker({ now: () => Date.now() + 2 * 86_400_000 }).check([good, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it is stale: nextUpdate .+ has passed$/);
  });

  it('refuses a response whose thisUpdate is beyond the 5-minute skew in the future', async () => {
    pki.ocsp = 'issuer';
    const answer = await checker({ now: () => Date.now() - 10 * 60_000 }).check([good, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it thisUpdate .+ is in the future$/);
  });
});

describe('reaching the responder', () => {
  it('answers unknown when the responder refuses connections', async () => {
    const down = await pki.issue('client-down', { ocsp: [`http://127.0.0.1:${await closedPort()}/ocsp`] });
    const c = checker();
    const answer = await c.check([down, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /^OCSP responder http:\/\/127\.0\.0\.1:\d+\/ocsp unreachable \(ECONNREFUSED\)$/);
    assert.equal(c.counts()['ocsp:error'], 1);
  });

  it('gives up on a hanging responder at the timeout', async () => {
    pki.ocsp = 'hang';
    const started = performance.now();
    const answer = await checker({ timeoutMs: 300 }).check([good, pki.ca]);
    const elapsed = performance.now() - started;
    pki.ocsp = 'issuer';
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /unreachable \(timeout after 300 ms\)$/);
    assert.ok(elapsed >= 290 && elapsed < 300 + 700, `took ${elapsed} ms`);
  });

  it('refuses a response larger than the cap, declared or streamed', async () => {
    pki.ocsp = 'huge';
    const declared = await checker().check([good, pki.ca]);
    pki.ocsp = 'huge-chunked';
    const streamed = await checker().check([good, pki.ca]);
    pki.ocsp = 'issuer';
    assert.equal(declared.status, 'unknown');
    assert.match(declared.detail!, /ocsp sent 2097152 bytes, more than the 1048576-byte limit$/);
    assert.equal(streamed.status, 'unknown');
    assert.match(streamed.detail!, /ocsp sent more than the 1048576-byte limit$/);
  });

  it('never fetches an https (or other non-http) responder URL, and says so', async () => {
    const tls = await pki.issue('client-https', { ocsp: ['https://127.0.0.1:1/ocsp'] });
    const answer = await checker().check([tls, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.equal(answer.detail, 'OCSP responder https://127.0.0.1:1/ocsp is not an http:// URL (https: is refused: revocation data is fetched over http only)');
  });

  it('shares one request among 10 concurrent checks', async () => {
    pki.ocsp = 'issuer';
    const before = requests();
    const c = checker();
    const answers = await Promise.all(Array.from({ length: 10 }, () => c.check([good, pki.ca])));
    assert.deepEqual(answers.map((a) => a.status), Array(10).fill('good'));
    assert.equal(requests() - before, 1);
    assert.equal(c.counts()['fetch:ocsp'], 1);
  });

  it('answers a second check from the cache, without a request', async () => {
    const c = checker();
    await c.check([good, pki.ca]);
    const before = requests();
    const again = await c.check([good, pki.ca]);
    assert.equal(again.status, 'good');
    assert.equal(requests(), before);
    assert.equal(c.counts()['ocsp:cache-hit'], 1);
  });

  it('shares responses between instances through the key-value store, re-verifying them', async () => {
    const kv = createMemoryKv();
    const first = checker({ kv });
    assert.equal((await first.check([revoked, pki.ca])).status, 'revoked');
    const before = requests();
    const second = checker({ kv });
    const answer = await second.check([revoked, pki.ca]);
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.reason, 'keyCompromise');
    assert.equal(requests(), before);
    assert.equal(second.counts()['ocsp:store-hit'], 1);
  });

  it('does not trust the store: a stored response for another certificate is refused and fetched again', async () => {
    const writes = new Map<string, string>();
    const kv = createMemoryKv();
    const recording = {
      ...kv,
      set: async (key: string, value: string, ttl: number) => {
        writes.set(key, value);
        await kv.set(key, value, ttl);
      },
    };
    await checker({ kv: recording }).check([good, pki.ca]);
    await checker({ kv: recording }).check([revoked, pki.ca]);
    const [goodKey, revokedKey] = [...writes.keys()];
    // A writable Redis swaps the revoked certificate's signed response in under the good one's key.
    const tampered = { ...kv, get: async (key: string) => (key === goodKey ? writes.get(revokedKey) : kv.get(key)) };
    const before = requests();
    const c = checker({ kv: tampered });
    const answer = await c.check([good, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(requests(), before + 1);
    assert.equal(c.counts()['ocsp:store-hit'], undefined);
  });
});

describe('modes and logging', () => {
  it("mode 'off' answers good from no source, and makes no request", async () => {
    const before = requests();
    const answer = await checker({ mode: 'off' }).check([revoked, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'none');
    assert.equal(requests(), before);
  });

  it("answers unknown in 'hard' mode too: refusing is the caller's decision", async () => {
    pki.ocsp = 'error500';
    const answer = await checker({ mode: 'hard' }).check([good, pki.ca]);
    pki.ocsp = 'issuer';
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /answered HTTP 500$/);
  });

  it('soft mode logs one revocation_unknown line per certificate per retry window', async () => {
    pki.ocsp = 'error500';
    const lines: Array<Record<string, unknown>> = [];
    let now = Date.now();
    const c = checker({ logger: { warn: (obj: Record<string, unknown>) => void lines.push(obj) }, now: () => now });
    await c.check([good, pki.ca]);
    await c.check([good, pki.ca]);
    assert.equal(lines.length, 1);
    assert.deepEqual({ ...lines[0], detail: undefined }, { event: 'revocation_unknown', serial: good.serialNumber, subject: 'CN=client-good', source: 'ocsp', detail: undefined });
    now += 31_000;
    await c.check([good, pki.ca]);
    pki.ocsp = 'issuer';
    assert.equal(lines.length, 2);
    assert.equal(c.counts()['log:revocation_unknown'], 2);
  });

  it('answers good with source none for a certificate that names no source', async () => {
    const bare = await pki.issue('client-bare');
    const answer = await checker().check([bare, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'none');
    assert.equal(answer.detail, 'the certificate names no OCSP responder or CRL distribution point');
  });
});
