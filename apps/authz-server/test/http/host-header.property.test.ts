// Property test for the Host check (http/host-header.ts): on random and mutated Host values it
// never throws, and every Host it accepts is one oidc-provider can build its URLs from
// (`new URL(path, https://<host>)`, what made discovery answer 500 before).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hostProblem } from '../../src/http/host-header.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 500);

describe('RFC 9110 §7.2 Host: random and mutated values', () => {
  const host = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.array(fc.constantFrom('localhost', 'a', '.', ':', '[', ']', '::1', '8443', '99999', '%', '%zz', ' ', '@', '/', '#', '?', 'xn--', 'ı', '\u0000', '-'), { maxLength: 12 }).map((parts) => parts.join('')),
  );

  it('answers a problem or accepts, never throws, and what it accepts builds a URL', () => {
    fc.assert(fc.property(fc.array(host, { maxLength: 3 }), (values) => {
      const problem = hostProblem(values);
      if (problem === undefined) {
        assert.equal(values.length, 1);
        assert.doesNotThrow(() => new URL('/.well-known/openid-configuration', `https://${values[0]}`));
      } else {
        assert.match(problem, /^Host header /);
      }
    }), { numRuns: RUNS });
  });
});
