import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InsufficientScopeError, InvalidDpopProofError, InvalidRequestError, InvalidTokenError, UseDpopNonceError, VerifierError, requireScopes, type VerifierErrorCode } from '@certbound/cnf-verifier';

describe('RFC 6750 §3 / RFC 9449 §7.1 error model', () => {
  it('each error class has a literal code and its status', () => {
    const table: Array<[VerifierError, VerifierErrorCode, number]> = [
      [new InvalidRequestError('x'), 'invalid_request', 400],
      [new InvalidTokenError('x'), 'invalid_token', 401],
      [new InsufficientScopeError('x'), 'insufficient_scope', 403],
      [new InvalidDpopProofError('x'), 'invalid_dpop_proof', 401],
      [new UseDpopNonceError('x'), 'use_dpop_nonce', 401],
    ];
    for (const [error, code, status] of table) {
      assert.ok(error instanceof VerifierError);
      assert.equal(error.code, code);
      assert.equal(error.status, status);
      assert.equal(error.expose, true);
      assert.deepEqual(error.toJSON(), { error: code, error_description: 'x' });
    }
  });

  it('renders a Bearer-only challenge by default', () => {
    assert.equal(new InvalidTokenError('access token has expired').wwwAuthenticate, 'Bearer error="invalid_token", error_description="access token has expired"');
  });

  it('puts realm first and algs on the DPoP challenge', () => {
    const error = new InvalidTokenError('bad');
    error.challenge = { scheme: 'Bearer', dpopAlgs: ['ES256', 'EdDSA'], realm: 'settle "ments"' };
    assert.equal(error.wwwAuthenticate, 'Bearer realm="settle \\"ments\\"", error="invalid_token", error_description="bad", DPoP realm="settle \\"ments\\"", algs="ES256 EdDSA"');
  });

  it('keeps error_description inside the RFC 6750 character set', () => {
    const error = new InvalidTokenError('say "hi" \\ café\n');
    assert.equal(error.description, "say 'hi' ' caf??");
    assert.equal(error.wwwAuthenticate, `Bearer error="invalid_token", error_description="say 'hi' ' caf??"`);
  });

  it('puts proof and nonce errors on the DPoP challenge, first', () => {
    const error = new UseDpopNonceError('DPoP proof nonce is missing or stale', { dpopNonce: 'n1' });
    error.challenge = { scheme: 'DPoP', dpopAlgs: ['ES256'] };
    assert.equal(error.wwwAuthenticate, 'DPoP error="use_dpop_nonce", error_description="DPoP proof nonce is missing or stale", algs="ES256", Bearer');
    assert.deepEqual(error.headers, { 'www-authenticate': error.wwwAuthenticate, 'cache-control': 'no-store', 'dpop-nonce': 'n1' });
  });

  it('omits the error code when no credentials were sent (RFC 6750 §3.1)', () => {
    const error = new InvalidTokenError('no access token presented', { credentialsMissing: true });
    error.challenge = { dpopAlgs: ['ES256'] };
    assert.equal(error.wwwAuthenticate, 'Bearer, DPoP algs="ES256"');
  });

  it('keeps the cause', () => {
    const cause = new Error('jose said no');
    assert.equal(new InvalidTokenError('x', { cause }).cause, cause);
  });
});

describe('RFC 6750 §3.1 insufficient_scope', () => {
  it('answers 403 with the required scope in the challenge', () => {
    const check = requireScopes('settlements:write', 'settlements:read');
    assert.doesNotThrow(() => check({ scopes: ['settlements:read', 'settlements:write'] }));
    assert.throws(
      () => check({ scopes: ['settlements:read'] }),
      (err: unknown) => {
        assert.ok(err instanceof InsufficientScopeError);
        assert.equal(err.status, 403);
        assert.equal(err.description, 'access token lacks scope settlements:write');
        assert.equal(err.wwwAuthenticate, 'Bearer error="insufficient_scope", error_description="access token lacks scope settlements:write", scope="settlements:write settlements:read"');
        return true;
      },
    );
  });

  it('refuses a scope that is not a scope-token at creation', () => {
    assert.throws(() => requireScopes('a b'), { name: 'TypeError', message: 'scopes[0]: "a b" is not a scope token' });
  });

  it('is a programming error before verification', () => {
    assert.throws(() => requireScopes('a')(undefined), { name: 'TypeError', message: 'requireScopes: the request was not verified; run verify first' });
  });
});
