// RFC 9449 DPoP end to end, as real processes (the authorization server after its dev bootstrap,
// the demo settlement API) driven by an independent client library (oauth4webapi): the mTLS
// baseline, then demo-dpop-client with private_key_jwt and no certificate at all, the nonce
// challenge, the settlement API accepting the DPoP-bound token and refusing it as Bearer, and
// the `npm run demo:dpop` script a newcomer runs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import type { DevPki } from '../../apps/authz-server/src/dev/pki.ts';
import { DEMO_RESOURCE } from '../../apps/authz-server/src/dev/registrations.ts';
import { demoDpopClientKeyFile } from '../../apps/authz-server/src/dev/dpop-demo-client.ts';
import { decodeJwt } from '../support/oauth.ts';
import type { JsonAnswer } from '../support/json-answer.ts';
import { repoRoot, startDevPair, type DevPair } from '../support/processes.ts';
import { tlsFetch } from '../support/tls-fetch.ts';

const SETTLEMENT = { amount: '125.00', currency: 'EUR', counterparty: 'ACME GmbH', reference: 'INV-2026-0042' };

describe('DPoP-bound tokens with an independent client (real processes)', () => {
  let pair: DevPair;
  let pki: DevPki;
  let ca: string;
  let issuer: URL;
  let server: oauth.AuthorizationServer;
  let settlementsUrl: URL;
  let dataDir: string;

  before(async () => {
    pair = await startDevPair('certbound-e2e-dpop-');
    ({ pki, ca, dataDir } = pair);
    const { publicPort, demoPort } = pair;
    issuer = new URL(`https://localhost:${publicPort}`);
    settlementsUrl = new URL(`https://localhost:${demoPort}/api/v1/settlements`);
    server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.customFetch]: tlsFetch({ ca }) }));
  });

  after(async () => {
    await pair?.close();
  });

  it('mTLS baseline: demo-client gets a certificate-bound token through oauth4webapi (mTLS alias)', async () => {
    const [cert, key] = [await readFile(pki.demoClientCertFile, 'utf8'), await readFile(pki.demoClientKeyFile, 'utf8')];
    const client: oauth.Client = { client_id: 'demo-client', use_mtls_endpoint_aliases: true };
    const mtls = { [oauth.customFetch]: tlsFetch({ ca, cert, key }) };
    const tokens = await oauth.processClientCredentialsResponse(server, client,
      await oauth.clientCredentialsGrantRequest(server, client, oauth.TlsClientAuth(), { scope: 'settlements:read settlements:write' }, mtls));
    assert.equal(tokens.token_type, 'bearer');
    const thumbprint = createHash('sha256').update(new X509Certificate(cert).raw).digest('base64url');
    assert.equal(decodeJwt(tokens.access_token).payload.cnf['x5t#S256'], thumbprint);

    const res = await oauth.protectedResourceRequest(tokens.access_token, 'POST', settlementsUrl,
      new Headers({ 'content-type': 'application/json' }), JSON.stringify(SETTLEMENT), mtls);
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(((await res.json()) as JsonAnswer).caller.binding, 'mtls');
  });

  describe('demo-dpop-client: private_key_jwt + DPoP, no certificate, public listener', () => {
    const client: oauth.Client = { client_id: 'demo-dpop-client' };
    let auth: oauth.ClientAuth;
    let DPoP: oauth.DPoPHandle;
    let accessToken: string;
    const plain = () => ({ [oauth.customFetch]: tlsFetch({ ca }) });

    before(async () => {
      const clientKey = await importPKCS8(await readFile(demoDpopClientKeyFile(pki.dir), 'utf8'), 'ES256');
      auth = oauth.PrivateKeyJwt(clientKey);
      DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    });

    it('is answered 400 use_dpop_nonce with a DPoP-Nonce first (RFC 9449 §8), then gets a DPoP-bound token', async () => {
      const request = async () => oauth.processClientCredentialsResponse(server, client,
        await oauth.clientCredentialsGrantRequest(server, client, auth, { scope: 'settlements:read settlements:write' }, { ...plain(), DPoP }));
      await assert.rejects(request(), (err: unknown) => {
        assert.ok(oauth.isDPoPNonceError(err), String(err));
        assert.equal((err as oauth.ResponseBodyError).status, 400);
        assert.ok((err as oauth.ResponseBodyError).response.headers.get('dpop-nonce'));
        return true;
      });
      const tokens = await request();
      assert.equal(tokens.token_type, 'dpop');
      const { payload } = decodeJwt(tokens.access_token);
      assert.equal(payload.cnf.jkt, await DPoP.calculateThumbprint());
      assert.equal(payload.cnf['x5t#S256'], undefined);
      assert.equal(payload.client_id, 'demo-dpop-client');
      assert.equal(payload.aud, DEMO_RESOURCE);
      accessToken = tokens.access_token;
    });

    it('settles at the demo resource server with the DPoP-bound token and no certificate', async () => {
      const call = () => oauth.protectedResourceRequest(accessToken, 'POST', settlementsUrl,
        new Headers({ 'content-type': 'application/json' }), JSON.stringify(SETTLEMENT), { ...plain(), DPoP });
      const res = await call();
      assert.equal(res.status, 201, await res.clone().text());
      assert.deepEqual(((await res.json()) as JsonAnswer).caller, { client_id: 'demo-dpop-client', certificate_subject: null, binding: 'dpop' });
    });

    it('is refused by the demo resource server when the same token is sent as Bearer', async () => {
      const res = await tlsFetch({ ca })(settlementsUrl, {
        method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(SETTLEMENT),
      });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /error="invalid_token"/);
    });

    it('is refused by the demo resource server with a proof from another key', async () => {
      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(
        oauth.protectedResourceRequest(accessToken, 'GET', new URL(`${settlementsUrl.href}/00000000-0000-0000-0000-000000000000`), undefined, undefined, { ...plain(), DPoP: other }),
        (err: oauth.WWWAuthenticateChallengeError) => {
          assert.equal(err.status, 401);
          assert.equal(err.cause[0].parameters.error, 'invalid_token');
          assert.match(String(err.cause[0].parameters.error_description), /cnf\.jkt/);
          return true;
        },
      );
    });
  });

  it('`npm run demo:dpop` gets a DPoP-bound token through the nonce challenge and settles, printing each step', async () => {
    const child = spawn(process.execPath, ['--conditions=certbound-source', join(repoRoot, 'scripts/dpop-demo.ts')], {
      cwd: pair.dir,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ISSUER: issuer.origin, DEMO_URL: settlementsUrl.origin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /use_dpop_nonce, DPoP-Nonce: /);
    assert.match(out, /"token_type": "DPoP"/);
    assert.match(out, /"binding": "dpop"/);
    assert.match(out, /401 WWW-Authenticate: Bearer/);
  });
});
