// RFC 7591 client metadata as /admin/v1 accepts it: certbound's checks, without a server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from 'oidc-provider';
import { validateClientMetadata, type ClientValidationContext } from '../../src/admin/client-metadata.ts';
import { AdminError } from '../../src/admin/errors.ts';
import { issueCertificate } from '../../src/pki/issue.ts';

function context(overrides: Partial<ClientValidationContext> = {}): ClientValidationContext {
  return {
    mode: 'create',
    resourceServers: new Map([['https://api.test', ['read', 'write']]]),
    staticScopes: new Set(['openid', 'offline_access']),
    adminClientIds: ['admin'],
    signingAlgs: ['ES256', 'PS256', 'EdDSA'],
    validateWithProvider: async () => undefined,
    ...overrides,
  };
}

async function refusal(body: Record<string, unknown>, ctx = context()): Promise<AdminError> {
  try {
    await validateClientMetadata(body, ctx);
  } catch (err) {
    assert.ok(err instanceof AdminError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe('client metadata validation', () => {
  it('fills in the method and grant defaults and keeps disabled out of the metadata', async () => {
    const { metadata, disabled, certificates } = await validateClientMetadata(
      { client_id: 'a', tls_client_auth_subject_dn: 'CN=a', scope: 'read openid', default_resource: 'https://api.test', disabled: true }, context());
    assert.deepEqual(metadata, {
      client_id: 'a', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=a',
      grant_types: ['client_credentials'], response_types: [], scope: 'openid', resources: { 'https://api.test': ['read'] }, default_resource: 'https://api.test',
    });
    assert.equal(disabled, true);
    assert.deepEqual(certificates, []);
  });

  it('generates a client_id on create and takes the path\'s on replace', async () => {
    const created = await validateClientMetadata({ tls_client_auth_subject_dn: 'CN=a' }, context());
    assert.match(created.metadata.client_id, /^[A-Za-z0-9_-]{22}$/);
    const replaced = await validateClientMetadata({ tls_client_auth_subject_dn: 'CN=a' }, context({ mode: 'replace', pathClientId: 'path-id' }));
    assert.equal(replaced.metadata.client_id, 'path-id');
    assert.equal(replaced.disabled, undefined, 'omitted: unchanged');
  });

  it('stores a self-signed client\'s keys in canonical form and returns their certificates', async () => {
    const cert = (await issueCertificate({ subject: 'CN=robot', days: 2 })).cert;
    const jwk = { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')], kid: 'mine', use: 'sig' };
    const { metadata, certificates } = await validateClientMetadata({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } }, context());
    assert.deepEqual(metadata.jwks, { keys: [{ ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] }] });
    assert.equal(certificates[0].fingerprint256, cert.fingerprint256);
  });

  it('refuses a jwk whose key is not the certificate\'s', async () => {
    const a = (await issueCertificate({ subject: 'CN=a', days: 2 })).cert;
    const b = (await issueCertificate({ subject: 'CN=b', days: 2 })).cert;
    const err = await refusal({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...a.publicKey.export({ format: 'jwk' }), x5c: [b.raw.toString('base64')] }] } });
    assert.equal(err.code, 'invalid_client_metadata');
    assert.equal(err.message, 'jwks.keys[0].x: does not match the public key of the certificate in x5c');
  });

  it('starts a self-signed client without keys when none are given', async () => {
    const { metadata } = await validateClientMetadata({ token_endpoint_auth_method: 'self_signed_tls_client_auth' }, context());
    assert.deepEqual(metadata.jwks, { keys: [] });
  });

  it('passes a copy of the metadata as oidc-provider sees it, and names the field of its refusal', async () => {
    let seen: unknown;
    const err = await refusal({ tls_client_auth_subject_dn: 'CN=a' }, context({
      validateWithProvider: async (metadata) => {
        seen = metadata;
        throw new errors.InvalidClientMetadata('redirect_uris must only contain web uris');
      },
    }));
    assert.equal(err.message, 'redirect_uris: must only contain web uris');
    assert.equal((seen as { tls_client_auth_subject_dn: string }).tls_client_auth_subject_dn, 'CN=a');
  });

  it('lets an unexpected failure of the provider through (a 500, not a 400)', async () => {
    await assert.rejects(validateClientMetadata({ tls_client_auth_subject_dn: 'CN=a' }, context({ validateWithProvider: async () => { throw new TypeError('bug'); } })), TypeError);
  });

  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown field', { tls_client_auth_subject_dn: 'CN=a', foo: 1 }, 'foo: unknown field'],
    ['a SAN URI that is not a URI', { tls_client_auth_san_uri: 'not a uri' }, 'tls_client_auth_san_uri: is not an absolute URI'],
    ['a SAN email without @', { tls_client_auth_san_email: 'ops' }, 'tls_client_auth_san_email: is not an email address'],
    ['a SAN DNS with a space', { tls_client_auth_san_dns: 'a b' }, 'tls_client_auth_san_dns: is not a DNS name'],
    ['a signing alg on a certificate client', { tls_client_auth_subject_dn: 'CN=a', token_endpoint_auth_signing_alg: 'ES256' }, 'token_endpoint_auth_signing_alg: is only used with private_key_jwt'],
    ['HS256 for private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'HS256', jwks: { keys: [] } }, 'token_endpoint_auth_signing_alg: "HS256" is not supported; use ES256, PS256, EdDSA'],
    ['jwks on a tls_client_auth client', { tls_client_auth_subject_dn: 'CN=a', jwks: { keys: [] } }, 'jwks: is not used with tls_client_auth; register certificates through /certificates'],
    ['a repeated grant type', { tls_client_auth_subject_dn: 'CN=a', grant_types: ['client_credentials', 'client_credentials'] }, 'grant_types: must not repeat a value'],
    ['an empty grant list', { tls_client_auth_subject_dn: 'CN=a', grant_types: [] }, 'grant_types: must name at least one grant type'],
    ['a redirect_uri with a fragment', { tls_client_auth_subject_dn: 'CN=a', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['https://a.test/cb#x'] }, 'redirect_uris[0]: must not carry a fragment (RFC 6749 §3.1.2)'],
    ['a scope that is not a scope token', { tls_client_auth_subject_dn: 'CN=a', scope: 'read "x"' }, 'scope: ""x"" is not a scope token (RFC 6749 §3.3)'],
    ['fapi_profile 1.0', { tls_client_auth_subject_dn: 'CN=a', fapi_profile: '1.0' }, 'fapi_profile: "1.0" is not supported; use 2.0'],
    // RFC 4514 §3 reads "" and " " as the empty DN: the subject of every SAN-only certificate.
    ['an empty subject DN', { tls_client_auth_subject_dn: '' }, 'tls_client_auth_subject_dn: must not be empty'],
    ['a blank subject DN', { tls_client_auth_subject_dn: '   ' }, 'tls_client_auth_subject_dn: must not be empty'],
    ['a subject DN of other white space', { tls_client_auth_subject_dn: '\t\u00A0\u3000' }, 'tls_client_auth_subject_dn: must not be empty'],
    ['an empty SAN DNS matcher', { tls_client_auth_san_dns: '' }, 'tls_client_auth_san_dns: must not be empty'],
    ['a blank SAN URI matcher', { tls_client_auth_san_uri: ' ' }, 'tls_client_auth_san_uri: must not be empty'],
    ['an empty SAN IP matcher', { tls_client_auth_san_ip: '' }, 'tls_client_auth_san_ip: must not be empty'],
    ['a blank SAN email matcher', { tls_client_auth_san_email: '  ' }, 'tls_client_auth_san_email: must not be empty'],
    // RFC 4518 §2.4: the DN could never match, so it is refused rather than stored.
    ['a subject DN with a private-use character', { tls_client_auth_subject_dn: 'CN=admin\uE000,O=Example' },
      'tls_client_auth_subject_dn: CN value: prohibited character U+E000 (RFC 4518 §2.4); this DN could never match a certificate'],
    ['a subject DN with REPLACEMENT CHARACTER, hex-escaped', { tls_client_auth_subject_dn: 'CN=admin,O=Ex\\EF\\BF\\BDample' },
      'tls_client_auth_subject_dn: O value: prohibited character U+FFFD (RFC 4518 §2.4); this DN could never match a certificate'],
    ['a subject DN that is not a string', { tls_client_auth_subject_dn: 42 }, 'tls_client_auth_subject_dn: must be a non-empty string'],
  ];
  for (const [what, body, description] of refusals) {
    it(`refuses ${what}`, async () => {
      const err = await refusal(body);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'invalid_client_metadata');
      assert.equal(err.message, description);
    });
  }

  it('accepts http redirect URIs on loopback addresses only (RFC 8252 §7.3)', async () => {
    const base = { tls_client_auth_subject_dn: 'CN=a', grant_types: ['authorization_code'], response_types: ['code'] };
    await validateClientMetadata({ ...base, redirect_uris: ['http://127.0.0.1:8788/cb', 'http://[::1]/cb'] }, context());
    assert.match((await refusal({ ...base, redirect_uris: ['http://localhost/cb'] })).message, /^redirect_uris\[0\]: must be an https URL/);
  });
});
