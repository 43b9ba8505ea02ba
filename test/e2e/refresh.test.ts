// Refresh tokens, driven by oauth4webapi over real TLS: rotation, theft detection (a rotated
// token presented again revokes the grant), and sender-constraining: bound to the DPoP key for
// DPoP clients (confidential and public) and to the certificate for public mTLS clients
// (RFC 8705 §4). The wrong certificate or key gets invalid_grant.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { tlsFetch } from '../support/tls-fetch.ts';
import { retryOnNonce, runCodeFlow } from '../support/code-flow.ts';
import { decodeJwt } from '../support/oauth.ts';

const RESOURCE = 'https://settlements.test';
const CALLBACK = 'https://app.example/callback';
const ALICE = { username: 'alice', password: 'correct horse battery staple' };
const CODE_CLIENT = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [CALLBACK], scope: 'settlements:read', default_resource: RESOURCE };

function expectInvalidGrant(err: unknown, description: RegExp): true {
  assert.ok(err instanceof oauth.ResponseBodyError, String(err));
  assert.equal(err.status, 400);
  assert.equal(err.error, 'invalid_grant');
  assert.match(String(err.error_description), description);
  return true;
}

describe('refresh tokens: rotation, reuse detection and sender-constraining (oauth4webapi)', () => {
  let as: TestAuthz;
  let server: oauth.AuthorizationServer;
  let clientKeys: oauth.CryptoKeyPair;
  let laptop: IssuedCertificate;
  let otherLaptop: IssuedCertificate;

  before(async () => {
    const pki = await makeTestPki();
    // RFC 8705 §4: a public client's certificate need not chain to anything; it only binds.
    laptop = await issueCertificate({ subject: 'CN=laptop', days: 2 });
    otherLaptop = await issueCertificate({ subject: 'CN=laptop', days: 2 });
    clientKeys = await oauth.generateKeyPair('ES256', { extractable: true });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'], sender_constraint_required: true });
    await as.register({
      ...CODE_CLIENT, client_id: 'dpop-app', token_endpoint_auth_method: 'private_key_jwt', dpop_bound_access_tokens: true,
      jwks: { keys: [{ ...await crypto.subtle.exportKey('jwk', clientKeys.publicKey), alg: 'ES256', kid: 'k1' }] },
    });
    await as.register({ ...CODE_CLIENT, client_id: 'public-mtls', token_endpoint_auth_method: 'none', tls_client_certificate_bound_access_tokens: true });
    await as.register({ ...CODE_CLIENT, client_id: 'public-dpop', token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true });
    await createLocalAccount(as.server.stores.sql, { ...ALICE });
    const issuer = new URL(as.issuer);
    server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.customFetch]: tlsFetch({ ca: as.ca }) }));
  });

  after(async () => { await as?.close(); });

  async function refresh(client: oauth.Client, auth: oauth.ClientAuth, token: string, options: oauth.TokenEndpointRequestOptions) {
    return retryOnNonce(async () => oauth.processRefreshTokenResponse(server, client,
      await oauth.refreshTokenGrantRequest(server, client, auth, token, options)));
  }

  describe('confidential DPoP client (private_key_jwt)', () => {
    const client: oauth.Client = { client_id: 'dpop-app' };
    const auth = () => oauth.PrivateKeyJwt(clientKeys.privateKey);
    const plain = () => ({ [oauth.customFetch]: tlsFetch({ ca: as.ca }) });

    async function start(DPoP: oauth.DPoPHandle) {
      return runCodeFlow({ server, client, auth, options: { ...plain(), DPoP }, redirectUri: CALLBACK, ca: as.ca }, { scope: 'settlements:read' }, ALICE);
    }

    it('refreshes with the same DPoP key: a new DPoP-bound access token and a rotated refresh token', async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await start(DPoP);
      const second = await refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP });
      assert.equal(second.token_type, 'dpop');
      assert.equal(decodeJwt(second.access_token).payload.cnf.jkt, await DPoP.calculateThumbprint());
      assert.ok(second.refresh_token);
      assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
      const third = await refresh(client, auth(), second.refresh_token, { ...plain(), DPoP });
      assert.ok(third.access_token);
    });

    it('refuses a refresh with another DPoP key (invalid_grant), and the token still works with the right one', async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await start(DPoP);
      const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP: thief }),
        (err) => expectInvalidGrant(err, /refresh token is bound to another DPoP key/));
      assert.ok((await refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP })).access_token);
    });

    it('refuses a refresh without any DPoP proof (dpop_bound_access_tokens)', async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await start(DPoP);
      await assert.rejects(refresh(client, auth(), first.refresh_token!, plain()),
        (err) => expectInvalidGrant(err, /DPoP proof JWT not provided/));
    });

    it('treats a rotated refresh token presented again as theft: refused, and the whole grant revoked', async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await start(DPoP);
      const second = await refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP });
      const sql = as.server.stores.sql;
      const { rows: [row] } = await sql.query<{ grant_id: string }>(
        "select payload->>'grantId' as grant_id from oidc_models where model = 'RefreshToken' and id = $1", [second.refresh_token!]);
      assert.ok(row?.grant_id, 'the refresh token is stored with its grant');

      await assert.rejects(refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP }),
        (err) => expectInvalidGrant(err, /already used.*grant is now revoked/));
      // The legitimate holder's newer refresh token dies with the grant.
      await assert.rejects(refresh(client, auth(), second.refresh_token!, { ...plain(), DPoP }), (err) => expectInvalidGrant(err, /.+/));
      const { rows: [left] } = await sql.query<{ grants: string; tokens: string }>(
        `select count(*) filter (where model = 'Grant' and id = $1)::text as grants,
                count(*) filter (where model = 'RefreshToken' and payload->>'grantId' = $1)::text as tokens
           from oidc_models`, [row.grant_id]);
      assert.deepEqual(left, { grants: '0', tokens: '0' });
    });
  });

  describe('public client bound to its certificate (RFC 8705 §4)', () => {
    const client: oauth.Client = { client_id: 'public-mtls', use_mtls_endpoint_aliases: true };
    const auth = () => oauth.None();
    const over = (cert?: IssuedCertificate) => ({ [oauth.customFetch]: tlsFetch({ ca: as.ca, cert: cert?.certPem, key: cert?.keyPem }) });

    it('refreshes over the same certificate; another certificate or none gets invalid_grant', async () => {
      const first = await runCodeFlow({ server, client, auth, options: over(laptop), redirectUri: CALLBACK, ca: as.ca }, { scope: 'settlements:read' }, ALICE);
      const thumbprint = createHash('sha256').update(laptop.cert.raw).digest('base64url');
      assert.equal(decodeJwt(first.access_token).payload.cnf['x5t#S256'], thumbprint);

      await assert.rejects(refresh(client, auth(), first.refresh_token!, over(otherLaptop)),
        (err) => expectInvalidGrant(err, /refresh token is bound to another client certificate/));
      await assert.rejects(refresh(client, auth(), first.refresh_token!, over()),
        (err) => expectInvalidGrant(err, /certificate/));
      const second = await refresh(client, auth(), first.refresh_token!, over(laptop));
      assert.equal(decodeJwt(second.access_token).payload.cnf['x5t#S256'], thumbprint);
    });
  });

  describe('public client bound to its DPoP key (RFC 9449 §5)', () => {
    const client: oauth.Client = { client_id: 'public-dpop' };
    const auth = () => oauth.None();
    const plain = () => ({ [oauth.customFetch]: tlsFetch({ ca: as.ca }) });

    it('refreshes with the same key; another key gets invalid_grant', async () => {
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await runCodeFlow({ server, client, auth, options: { ...plain(), DPoP }, redirectUri: CALLBACK, ca: as.ca }, { scope: 'settlements:read' }, ALICE);
      const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP: thief }),
        (err) => expectInvalidGrant(err, /another DPoP key/));
      const second = await refresh(client, auth(), first.refresh_token!, { ...plain(), DPoP });
      assert.equal(decodeJwt(second.access_token).payload.cnf.jkt, await DPoP.calculateThumbprint());
    });
  });
});
