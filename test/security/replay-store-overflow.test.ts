// Attack class: flushing the DPoP replay store (RFC 9449 §11.1). An in-memory store that forgot
// its oldest unexpired jti when full let anyone who could send enough fresh proofs (100 000 by
// default) make a captured proof acceptable again. The store now refuses the new proof instead:
// 503 temporarily_unavailable with Retry-After (seconds until its oldest entry expires), and a
// replay of an early proof is still refused as a replay.
//
// Real processes: the authorization server after its dev bootstrap and the demo settlement API
// with its in-memory store at a small capacity (DEMO_DPOP_REPLAY_MAX_ENTRIES=3), over real TLS,
// with a real DPoP-bound token for demo-dpop-client. The refusal counter
// (verifier.replayStoreFullRefusals) is asserted in packages/cnf-verifier/test (dpop, adapters).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { demoDpopToken, dpopProof, type TestKey } from '../support/dpop.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { startDevPair, type DevPair, type RunningProcess } from '../support/processes.ts';

const CAPACITY = 3;

describe('a full DPoP replay store refuses new proofs and forgets none (demo resource server process)', () => {
  let pair: DevPair;
  let ca: string;
  let demo: RunningProcess;
  let url: string;
  let key: TestKey;
  let accessToken: string;

  const present = (proof: string): Promise<HttpsAnswer> =>
    https(url, { method: 'GET', ca, headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
  const freshProof = () => dpopProof(key, { htm: 'GET', htu: url, accessToken });

  before(async () => {
    pair = await startDevPair('certbound-security-replay-', { DEMO_DPOP_REPLAY_MAX_ENTRIES: String(CAPACITY) });
    ({ ca, demo } = pair);
    const { publicPort, demoPort, pki } = pair;
    url = `https://localhost:${demoPort}/api/v1/settlements/00000000-0000-4000-8000-000000000000`;

    // A real DPoP-bound token for demo-dpop-client, through the authorization server's nonce challenge.

    ({ accessToken, key } = await demoDpopToken(`https://localhost:${publicPort}`, ca, pki.dir));
  });

  after(async () => {
    await pair?.close();
  });

  it('answers 503 with Retry-After once full of unexpired proofs, and still refuses a replay of the first', async () => {
    // Fill the store: each proof passes the verifier (the settlement does not exist: 404 from the route).
    const early: string[] = [];
    for (let i = 0; i < CAPACITY; i++) {
      const proof = await freshProof();
      const answer = await present(proof);
      assert.equal(answer.status, 404, answer.text);
      early.push(proof);
    }

    // The next new proof: refused, not a slot freed by forgetting the first.
    const full = await present(await freshProof());
    assert.equal(full.status, 503, full.text);
    assert.deepEqual(full.json, { error: 'temporarily_unavailable', error_description: 'DPoP replay store is full; retry later' });
    const retryAfter = Number(full.headers['retry-after']);
    // Proofs are remembered for iat window + future skew + 1 = 66 s; the first was recorded moments ago.
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 66, `Retry-After ${String(full.headers['retry-after'])}`);
    assert.equal(full.headers['cache-control'], 'no-store');

    // Still full: another fresh proof is refused the same way (the store did not evict to make room).
    assert.equal((await present(await freshProof())).status, 503);

    // Every early proof is still remembered: a replay is a replay, not a new proof.
    for (const proof of early) {
      const replay = await present(proof);
      assert.equal(replay.status, 401, replay.text);
      assert.deepEqual(replay.json, { error: 'invalid_dpop_proof', error_description: 'DPoP proof jti has already been used' });
      assert.match(String(replay.headers['www-authenticate']), /^DPoP error="invalid_dpop_proof"/);
    }

    // One refusal log line each, with the status and code; the process is still serving. The lines come through a pipe and
    // may arrive after the last answer: wait for the eighth (or the deadline), then compare them all.
    const refusals = () => demo.logs().filter((l) => l.event === 'refusal');
    for (const deadline = Date.now() + 10_000; refusals().length < 8 && Date.now() < deadline;) await delay(20);
    const lines = refusals();
    assert.deepEqual(lines.map((l) => [l.status, l.error]), [
      [404, 'not_found'], [404, 'not_found'], [404, 'not_found'],
      [503, 'temporarily_unavailable'], [503, 'temporarily_unavailable'],
      [401, 'invalid_dpop_proof'], [401, 'invalid_dpop_proof'], [401, 'invalid_dpop_proof'],
    ]);
    assert.equal(demo.child.exitCode, null);
    assert.equal(demo.stderr(), '');
  });
});
