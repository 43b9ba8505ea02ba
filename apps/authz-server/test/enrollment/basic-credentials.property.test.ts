// DESIGN.md: everything parsed from the network goes through a vetted parser or one with property
// tests. basicCredentials (enrollment/est.ts) reads simpleenroll's RFC 7617 Authorization header by
// hand: random and mutated headers must give a credential pair or undefined, never a throw, and a
// well-formed header must give back exactly the client_id and code that were put in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { basicCredentials } from '../../src/enrollment/est.ts';

const NUM_RUNS = 500;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
/** A client_id: non-empty, no colon, no NUL (what the parser accepts as a user). */
const clientId = fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !s.includes(':') && !s.includes('\0'));

describe('basicCredentials (the EST Authorization header)', () => {
  it('gives back the client_id and code a well-formed header carries', () => {
    fc.assert(fc.property(clientId, fc.string({ maxLength: 128 }).filter((s) => !s.includes('\0')), (user, password) => {
      assert.deepEqual(basicCredentials(basic(user, password)), { user, password });
    }), { numRuns: NUM_RUNS });
  });

  it('never throws on random headers, and what it returns is a non-empty user without a colon', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }).map((s) => `Basic ${s}`)), (header) => {
      const got = basicCredentials(header);
      if (got !== undefined) {
        assert.ok(got.user.length > 0 && !got.user.includes(':') && !got.user.includes('\0'));
        assert.ok(!got.password.includes('\0'));
      }
    }), { numRuns: NUM_RUNS });
  });

  it('never throws on mutated well-formed headers (a character replaced, cut, or inserted)', () => {
    const mutated = fc.tuple(clientId, fc.string({ maxLength: 64 }), fc.nat(), fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom('replace', 'cut', 'insert'))
      .map(([user, password, at, text, kind]) => {
        const header = basic(user, password);
        const i = at % (header.length + 1);
        if (kind === 'cut') return header.slice(0, i);
        if (kind === 'insert') return header.slice(0, i) + text + header.slice(i);
        return header.slice(0, i) + text + header.slice(i + text.length);
      });
    fc.assert(fc.property(mutated, (header) => {
      const got = basicCredentials(header);
      if (got !== undefined) assert.ok(got.user.length > 0 && !got.user.includes(':'));
    }), { numRuns: NUM_RUNS });
  });

  it('refuses what is not Basic credentials', () => {
    for (const header of [undefined, '', 'Basic', 'Basic !!!', 'Bearer abc', `Basic ${Buffer.from('nocolon').toString('base64')}`,
      `Basic ${Buffer.from(':code').toString('base64')}`, `Basic ${Buffer.from('a\0b:code').toString('base64')}`]) {
      assert.equal(basicCredentials(header), undefined, String(header));
    }
  });
});
