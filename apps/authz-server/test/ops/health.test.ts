// ops/health.ts on its own: /readyz waits for each store only until its deadline (a store that
// hangs is as down as one that refuses), names every store that is down, answers 503 with
// Retry-After, and logs one line when a store goes down and one when it is back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createReadiness, healthAnswer, RETRY_AFTER_SECONDS } from '../../src/ops/health.ts';

function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, warn: (line: Record<string, unknown>) => lines.push({ level: 'warn', ...line }), info: (line: Record<string, unknown>) => lines.push({ level: 'info', ...line }) };
}

describe('ops/health', () => {
  it('answers /healthz 200 whatever the stores do', async () => {
    const readiness = createReadiness([{ name: 'postgres', ping: () => Promise.reject(new Error('down')) }]);
    const answer = await healthAnswer('/healthz', readiness);
    assert.equal(answer?.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
  });

  it('is ready when every store answers', async () => {
    const readiness = createReadiness([{ name: 'postgres', ping: async () => 1 }, { name: 'redis', ping: async () => 'x' }]);
    const answer = await healthAnswer('/readyz', readiness);
    assert.equal(answer?.status, 200);
    assert.deepEqual(JSON.parse(answer.body), { status: 'ready' });
  });

  it('names every store that refuses or does not answer within the deadline', async () => {
    const readiness = createReadiness([
      { name: 'postgres', ping: () => new Promise(() => undefined) },
      { name: 'redis', ping: () => Promise.reject(new Error('ECONNREFUSED')) },
      { name: 'other', ping: async () => true },
    ], { deadlineMs: 50 });
    const answer = await healthAnswer('/readyz', readiness);
    assert.equal(answer?.status, 503);
    assert.equal(answer?.headers['retry-after'], String(RETRY_AFTER_SECONDS));
    assert.deepEqual(JSON.parse(answer.body), { status: 'unavailable', down: ['postgres', 'redis'] });
  });

  it('logs a store going down once, and once when it is back', async () => {
    let up = false;
    const logger = recordingLogger();
    const readiness = createReadiness([{ name: 'postgres', ping: async () => { if (!up) throw new Error('down'); } }], { logger });
    for (let i = 0; i < 5; i++) assert.deepEqual(await readiness.check(), { down: ['postgres'] });
    up = true;
    for (let i = 0; i < 3; i++) assert.deepEqual(await readiness.check(), { down: [] });
    assert.deepEqual(logger.lines.map((l) => [l.level, l.event, l.store]), [['warn', 'readiness_down', 'postgres'], ['info', 'readiness_up', 'postgres']]);
  });

  it('answers nothing for other paths', async () => {
    assert.equal(await healthAnswer('/metrics', createReadiness([])), undefined);
  });
});
