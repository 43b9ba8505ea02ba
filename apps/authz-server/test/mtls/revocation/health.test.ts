// Revocation responder health (mtls/revocation/health.ts): what GET /admin/v1/status shows of each
// OCSP responder and CRL distribution point — the last success, the last failure and why, bounded
// in the number of URLs — and that the checker feeds it where its fetches complete, against the
// real `openssl ocsp` responder and CRL server of fixture.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { createRevocationChecker, createRevocationHealth } from '../../../src/mtls/revocation/index.ts';
import { closedPort, createFixture, type Fixture } from './fixture.ts';

describe('revocation responder health', () => {
  it('records successes and failures per source and URL; healthy is the last outcome', () => {
    let clock = Date.parse('2026-03-01T00:00:00Z');
    const health = createRevocationHealth({ now: () => clock });
    health.succeeded('ocsp', 'http://ocsp.example/');
    clock += 1000;
    health.failed('crl', 'http://crl.example/ca.crl', 'unreachable (ECONNREFUSED)');
    assert.deepEqual(health.snapshot(), [
      {
        source: 'crl', url: 'http://crl.example/ca.crl', last_success_at: null, last_failure_at: '2026-03-01T00:00:01.000Z',
        last_error: 'unreachable (ECONNREFUSED)', healthy: false,
      },
      { source: 'ocsp', url: 'http://ocsp.example/', last_success_at: '2026-03-01T00:00:00.000Z', last_failure_at: null, last_error: null, healthy: true },
    ]);
    // In the same millisecond: the later call decides.
    health.succeeded('crl', 'http://crl.example/ca.crl');
    const crl = health.snapshot().find((r) => r.source === 'crl')!;
    assert.equal(crl.healthy, true);
    assert.equal(crl.last_error, 'unreachable (ECONNREFUSED)', 'the last error stays on record');
    health.failed('ocsp', 'http://ocsp.example/', 'answered HTTP 500');
    assert.equal(health.snapshot()[0].url, 'http://ocsp.example/', 'the unhealthy come first');
  });

  it('remembers at most maxUrls, forgetting the least recently updated, and bounds the text it keeps', () => {
    const health = createRevocationHealth({ maxUrls: 3 });
    for (const n of [1, 2, 3]) health.succeeded('ocsp', `http://r${n}.example/`);
    health.succeeded('ocsp', 'http://r1.example/'); // r1 is fresh again: r2 is now the oldest
    health.failed('ocsp', 'http://r4.example/', 'x'.repeat(10_000));
    const urls = health.snapshot().map((r) => r.url).sort();
    assert.deepEqual(urls, ['http://r1.example/', 'http://r3.example/', 'http://r4.example/']);
    const r4 = health.snapshot().find((r) => r.url === 'http://r4.example/')!;
    assert.equal(r4.last_error!.length, 500);
    health.succeeded('crl', `http://long.example/${'a'.repeat(5000)}`);
    assert.ok(health.snapshot().every((r) => r.url.length <= 1024));
  });
});

describe('the checker feeds the health record where a fetch completes', () => {
  let pki: Fixture;
  let viaOcsp: X509Certificate;
  let viaCrl: X509Certificate;
  let viaDeadCrl: X509Certificate;
  let deadCrl: string;

  before(async () => {
    pki = await createFixture();
    deadCrl = `http://127.0.0.1:${await closedPort()}/ca.crl`;
    viaOcsp = await pki.issue('health-ocsp', { ocsp: [`${pki.base}/ocsp`] });
    viaCrl = await pki.issue('health-crl', { crl: [`${pki.base}/ca.crl`] });
    viaDeadCrl = await pki.issue('health-dead-crl', { crl: [deadCrl] });
    pki.crlDer = await pki.gencrl();
  });
  after(() => pki.dispose());

  it('an OCSP answer that verifies is a success; an HTTP error is a failure naming it', async () => {
    const health = createRevocationHealth();
    pki.ocsp = 'issuer';
    assert.equal((await createRevocationChecker({ mode: 'soft', health }).check([viaOcsp, pki.ca])).status, 'good');
    assert.deepEqual(health.snapshot().map((r) => [r.source, r.url, r.healthy, r.last_error]), [['ocsp', `${pki.base}/ocsp`, true, null]]);
    pki.ocsp = 'error500';
    assert.equal((await createRevocationChecker({ mode: 'soft', health }).check([viaOcsp, pki.ca])).status, 'unknown');
    const [ocsp] = health.snapshot();
    assert.equal(ocsp.healthy, false);
    assert.equal(ocsp.last_error, 'answered HTTP 500');
    assert.notEqual(ocsp.last_success_at, null);
    pki.ocsp = 'unrelated';
    await createRevocationChecker({ mode: 'soft', health }).check([viaOcsp, pki.ca]);
    assert.match(health.snapshot()[0].last_error!, /^response refused: it /);
    pki.ocsp = 'issuer';
  });

  it('a CRL that verifies is a success; an unreachable distribution point is a failure', async () => {
    const health = createRevocationHealth();
    const checker = createRevocationChecker({ mode: 'soft', health });
    assert.equal((await checker.check([viaCrl, pki.ca])).status, 'good');
    assert.equal((await checker.check([viaDeadCrl, pki.ca])).status, 'unknown');
    const byUrl = new Map(health.snapshot().map((r) => [r.url, r]));
    assert.equal(byUrl.get(`${pki.base}/ca.crl`)?.healthy, true);
    assert.equal(byUrl.get(deadCrl)?.healthy, false);
    assert.match(byUrl.get(deadCrl)!.last_error!, /^unreachable \(ECONNREFUSED\)$/);
  });
});
