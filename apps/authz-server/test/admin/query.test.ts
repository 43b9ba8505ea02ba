import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCursor, encodeCursor, limitOf, page, timeOf } from '../../src/admin/query.ts';

describe('admin list parameters', () => {
  it('round-trips a cursor and refuses forged ones', () => {
    const cursor = encodeCursor(["o'brien", 'x/y']);
    assert.deepEqual(decodeCursor(cursor, 2), ["o'brien", 'x/y']);
    assert.equal(decodeCursor(undefined, 1), undefined);
    for (const forged of ['%%%', encodeCursor(['a']), Buffer.from('{"a":1}').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
      assert.throws(() => decodeCursor(forged, 2), /cursor: is not a cursor this API returned/);
    }
  });

  it('pages with limit + 1 rows', () => {
    assert.deepEqual(page([1, 2], 2, (n) => [String(n)]), { rows: [1, 2], nextCursor: null });
    const next = page([1, 2, 3], 2, (n) => [String(n)]);
    assert.deepEqual(next.rows, [1, 2]);
    assert.deepEqual(decodeCursor(next.nextCursor!, 1), ['2']);
  });

  it('accepts limits from 1 to 200', () => {
    assert.equal(limitOf(undefined), 50);
    assert.equal(limitOf('200'), 200);
    for (const bad of ['0', '201', '-1', '1.5', 'ten', '']) assert.throws(() => limitOf(bad), /limit: must be an integer from 1 to 200/);
  });

  it('reads RFC 3339 times with an offset, or dates', () => {
    assert.equal(timeOf('since', '2025-01-31T12:00:00Z')!.toISOString(), '2025-01-31T12:00:00.000Z');
    assert.equal(timeOf('since', '2025-01-31T12:00:00.5+01:00')!.toISOString(), '2025-01-31T11:00:00.500Z');
    assert.equal(timeOf('since', '2025-01-31')!.toISOString(), '2025-01-31T00:00:00.000Z');
    for (const bad of ['yesterday', '2025-01-31T12:00', '1738324800', '2025-13-01']) assert.throws(() => timeOf('until', bad), /^.*until: must be an RFC 3339 date-time/);
  });
});
