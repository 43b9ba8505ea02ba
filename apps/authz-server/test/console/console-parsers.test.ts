// DESIGN.md: everything parsed from the network goes through a vetted parser or one with property
// tests. The console reads JSON with JSON.parse and two things by hand, both tested here on
// random, mutated and real input: the field an admin API refusal names ("<field>: <problem>",
// admin/errors.ts), which puts the message next to that form field, and the error code of a
// WWW-Authenticate challenge, which decides between a DPoP nonce retry and a token refresh.
// Neither may throw or hang; a well-formed input gives back exactly what was put in it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

interface Parsers {
  fieldOf(description: string): { field: string; path: string; problem: string } | undefined;
  challengeErrorOf(challenge: string | null): string | undefined;
}

// The console is plain browser JavaScript outside the server's TypeScript program: loaded by URL.
const ui = new URL('../../console/assets/ui.js', import.meta.url).href;
const api = new URL('../../console/assets/api.js', import.meta.url).href;
const { fieldOf } = (await import(ui)) as Pick<Parsers, 'fieldOf'>;
const { challengeErrorOf } = (await import(api)) as Pick<Parsers, 'challengeErrorOf'>;

const NUM_RUNS = 500;
const member = fc.stringMatching(/^[a-z_][a-z0-9_]{0,30}$/);
const step = fc.oneof(
  fc.nat({ max: 99 }).map((i) => `[${i}]`),
  fc.webUrl().map((u) => `[${JSON.stringify(u)}]`),
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/).map((m) => `.${m}`),
);
const problem = fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim() !== '');

/** One character replaced, cut, or inserted. */
function mutate(text: string, at: number, insert: string, kind: 'replace' | 'cut' | 'insert'): string {
  const i = at % (text.length + 1);
  if (kind === 'cut') return text.slice(0, i);
  if (kind === 'insert') return text.slice(0, i) + insert + text.slice(i);
  return text.slice(0, i) + insert + text.slice(i + insert.length);
}

describe('fieldOf (the field an admin API refusal names)', () => {
  it('names the field of the descriptions admin/client-metadata.ts and admin/routes write', () => {
    assert.deepEqual(fieldOf('redirect_uris[0]: must be an https URL'), { field: 'redirect_uris', path: 'redirect_uris[0]', problem: 'must be an https URL' });
    assert.equal(fieldOf('resources["https://api.example.com"][1]: "x" is not a scope of this resource server')?.field, 'resources');
    assert.equal(fieldOf('jwks.keys[0].kty: must be EC, RSA or OKP (asymmetric keys only)')?.field, 'jwks');
    assert.equal(fieldOf('client_id: "partner-a" is already registered')?.field, 'client_id');
    assert.equal(fieldOf('tls_client_auth_subject_dn: must not be empty')?.problem, 'must not be empty');
    assert.equal(fieldOf('pem: certificate x5t#S256 abc is already active for client "a"')?.field, 'pem');
    assert.equal(fieldOf('rejected by the client schema'), undefined);
    assert.equal(fieldOf(''), undefined);
  });

  it('gives back the field, path and problem a well-formed description carries', () => {
    fc.assert(fc.property(member, fc.array(step, { maxLength: 4 }), problem, (field, steps, text) => {
      const path = field + steps.join('');
      assert.deepEqual(fieldOf(`${path}: ${text}`), { field, path, problem: text });
    }), { numRuns: NUM_RUNS });
  });

  it('never throws on random or mutated descriptions, and what it returns is read from the input', () => {
    const wellFormed = fc.tuple(member, fc.array(step, { maxLength: 3 }), problem).map(([f, s, p]) => `${f}${s.join('')}: ${p}`);
    const input = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.tuple(wellFormed, fc.nat(), fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom<'replace' | 'cut' | 'insert'>('replace', 'cut', 'insert'))
        .map(([text, at, insert, kind]) => mutate(text, at, insert, kind)),
    );
    fc.assert(fc.property(input, (description) => {
      const got = fieldOf(description);
      if (got !== undefined) {
        assert.equal(description, `${got.path}: ${got.problem}`);
        assert.ok(got.path.startsWith(got.field) && /^[A-Za-z_]/.test(got.field));
      }
    }), { numRuns: NUM_RUNS });
  });

  it('answers at once on long hostile input (no catastrophic backtracking)', () => {
    for (const hostile of ['a'.repeat(100_000), `a${'[0]'.repeat(30_000)}`, `a${'.b'.repeat(30_000)}:`, `${'['.repeat(50_000)}: x`]) {
      assert.equal(fieldOf(hostile), undefined);
    }
  });
});

describe('challengeErrorOf (the error code of a WWW-Authenticate challenge)', () => {
  it('reads the error of the challenges the admin API and RFC 9449 send', () => {
    assert.equal(challengeErrorOf('DPoP error="invalid_token", error_description="the access token expired", algs="ES256"'), 'invalid_token');
    assert.equal(challengeErrorOf('DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"'), 'use_dpop_nonce');
    assert.equal(challengeErrorOf('Bearer realm="certbound"'), undefined);
    assert.equal(challengeErrorOf('DPoP error_description="no error here"'), undefined);
    assert.equal(challengeErrorOf(null), undefined);
  });

  it('gives back the error code of a well-formed challenge', () => {
    const code = fc.stringMatching(/^[a-z_]{1,40}$/);
    fc.assert(fc.property(fc.constantFrom('DPoP', 'Bearer'), code, fc.string({ maxLength: 100 }).map((s) => s.replace(/["\\]/g, '')), (scheme, error, description) => {
      assert.equal(challengeErrorOf(`${scheme} error="${error}", error_description="${description}"`), error);
    }), { numRuns: NUM_RUNS });
  });

  it('never throws on random or mutated challenges, and what it returns appears quoted in the input', () => {
    const wellFormed = fc.stringMatching(/^[a-z_]{1,20}$/).map((e) => `DPoP error="${e}", algs="ES256"`);
    const input = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.tuple(wellFormed, fc.nat(), fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom<'replace' | 'cut' | 'insert'>('replace', 'cut', 'insert'))
        .map(([text, at, insert, kind]) => mutate(text, at, insert, kind)),
    );
    fc.assert(fc.property(input, (challenge) => {
      const got = challengeErrorOf(challenge);
      if (got !== undefined) {
        assert.ok(!got.includes('"') && !got.includes('\\'));
        assert.ok(challenge.includes(`error="${got}"`));
      }
    }), { numRuns: NUM_RUNS });
  });
});
