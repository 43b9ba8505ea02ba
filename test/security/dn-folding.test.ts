// Attack class: a certificate whose subject DN only LOOKS like a registered one (RFC 8705 §2.1.2).
// Subject DNs are compared by RFC 4517 distinguishedNameMatch with RFC 4518 string preparation;
// a home-made case fold (toUpperCase().toLowerCase()) took the dotless ı (U+0131) to "i", so a
// certificate any partner could obtain from the shared client CA for "CN=admın-partner" got the
// tokens of "CN=admin-partner". And a blank tls_client_auth_subject_dn parsed as the empty DN,
// which is the subject of every SAN-only certificate (RFC 5280 §4.1.2.6).
//
// The attacks go over real TLS to the server as a real child process (startSecurityServer:
// apps/authz-server/src/main.ts, embedded storage in a temporary DATA_DIR), clients registered
// through /admin/v1. Only the two legacy-row tests at the end use an in-process server, see there.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import {
  SECURITY_RESOURCE, attempt, ensureServing, expectRefusal, expectStillServing, expectToken, presenting, registerWorld,
  startSecurityServer, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const LOOK_ALIKE = 'CN=adm\u0131n-partner,O=Example';

/** The registered partner's certificate, its dotless-ı look-alike and a SAN-only one, all from the trusted client root. */
async function issueCerts(issuer: IssuedCertificate): Promise<Record<'partner' | 'dotless' | 'sanOnly', IssuedCertificate>> {
  return {
    partner: await issueCertificate({ subject: 'CN=admin-partner,O=Example', issuer, days: 2 }),
    dotless: await issueCertificate({ subject: LOOK_ALIKE, issuer, days: 2 }),
    sanOnly: await issueCertificate({ subject: '', issuer, sanDns: ['partner.example.com'], days: 2 }),
  };
}

/** The child harness's answers (TimedAnswer) carry no headers; expectOAuthError reads only status, text and json. */
function answer(res: Pick<HttpsAnswer, 'status' | 'text' | 'json'>): HttpsAnswer {
  return { headers: {}, ...res };
}

function refusedWithoutToken(res: Pick<HttpsAnswer, 'status' | 'text' | 'json'>): void {
  expectOAuthError(answer(res), 401, 'invalid_client');
  assert.equal(res.json.access_token, undefined);
}

// The two servers start side by side (each start takes seconds); the tests of each run in order.
describe('security: subject DN look-alikes and empty DNs (RFC 8705 §2.1.2, RFC 4518)', { concurrency: true }, () => {
  describe('real server process', { concurrency: 1 }, () => {
    let server: SecurityServer;
    let world: SecurityWorld;
    let certs: Awaited<ReturnType<typeof issueCerts>>;

    const client = (clientId: string, matcher: Record<string, unknown>) => ({
      client_id: clientId, token_endpoint_auth_method: 'tls_client_auth', scope: 'read', default_resource: SECURITY_RESOURCE, ...matcher,
    });

    before(async () => {
      server = await startSecurityServer();
      world = await registerWorld(server);
      certs = await issueCerts(server.pki.clientRoot); // the client CA the server trusts
      await world.tlsClient('admin-partner', { tls_client_auth_subject_dn: 'CN=admin-partner,O=Example' });
    });

    after(async () => { await server?.stop(); });
    beforeEach(async () => { await ensureServing(server); });

    it('the look-alike certificate really carries U+0131 in a UTF8String', () => {
      // UTF8String (tag 0x0c), 14 bytes: "adm" C4 B1 "n-partner"
      assert.ok(certs.dotless.cert.raw.includes(Buffer.from('0c0e61646dc4b16e2d706172746e6572', 'hex')));
      assert.equal(certs.dotless.subject, 'CN=adm\u0131n-partner,O=Example');
    });

    it('the registered partner\'s own certificate gets a token bound to it', async () => {
      const thumbprint = createHash('sha256').update(certs.partner.cert.raw).digest('base64url');
      const tried = await attempt(server, 'admin-partner', presenting(certs.partner));
      expectToken(tried, thumbprint);
      assert.equal(decodeJwt(tried.res.json.access_token).payload.cnf['x5t#S256'], thumbprint);
    });

    it('refuses a certificate for CN=admın-partner (dotless ı) from the same trusted CA', async () => {
      const tried = await attempt(server, 'admin-partner', presenting(certs.dotless));
      expectRefusal(tried, 401, 'invalid_client',
        'certificate subject "CN=adm\u0131n-partner,O=Example" does not match the registered tls_client_auth_subject_dn');
      assert.equal(tried.res.json.access_token, undefined);
      await expectStillServing(server, world.legit);
    });

    it('refuses to register a blank tls_client_auth_subject_dn, naming the field', async () => {
      for (const blank of [' ', '', '   ']) {
        const res = await server.admin('POST', '/clients', client('blank-dn', { tls_client_auth_subject_dn: blank }));
        expectOAuthError(answer(res), 400, 'invalid_client_metadata', 'tls_client_auth_subject_dn: must not be empty');
      }
      assert.equal((await server.admin('GET', '/clients/blank-dn')).status, 404, 'nothing was stored');
      await expectStillServing(server, world.legit);
    });

    it('refuses to register a DN holding a prohibited character, naming the field and the character', async () => {
      const res = await server.admin('POST', '/clients', client('private-use', { tls_client_auth_subject_dn: 'CN=admin-partner\uE000,O=Example' }));
      expectOAuthError(answer(res),
        400, 'invalid_client_metadata', 'tls_client_auth_subject_dn: CN value: prohibited character U+E000 (RFC 4518 §2.4); this DN could never match a certificate');
      assert.equal((await server.admin('GET', '/clients/private-use')).status, 404, 'nothing was stored');
      await expectStillServing(server, world.legit);
    });

    it('never authenticates a certificate with an empty subject as a DN-registered client', async () => {
      const tried = await attempt(server, 'admin-partner', presenting(certs.sanOnly));
      refusedWithoutToken(tried.res);
      expectRefusal(tried, 401, 'invalid_client', 'certificate subject "" does not match the registered tls_client_auth_subject_dn');
      await expectStillServing(server, world.legit);
    });

    it('refuses the empty subject at the DN comparison itself, while its SAN still authenticates it as a SAN client', async () => {
      await world.tlsClient('partner-by-san', { tls_client_auth_san_dns: 'partner.example.com' });
      const bySan = await attempt(server, 'partner-by-san', presenting(certs.sanOnly));
      assert.equal(bySan.res.status, 200, bySan.res.text);
      expectToken(bySan, createHash('sha256').update(certs.sanOnly.cert.raw).digest('base64url'));
      const tried = await attempt(server, 'admin-partner', presenting(certs.sanOnly));
      expectRefusal(tried, 401, 'invalid_client',
        'certificate subject "" does not match the registered tls_client_auth_subject_dn');
      await expectStillServing(server, world.legit);
    });
  });

  // Legacy rows: a client stored with a blank DN (' ') or an empty one ('') from before /admin/v1
  // refused them. Such a row can only be written straight into the store, past the admin API's
  // validation (as.register -> upsertClient), and the child process's embedded database cannot be
  // written from the test process; so these two tests, and only these, run against an in-process
  // server (startTestAuthz: still real TLS on loopback listeners, but the server's own store).
  describe('legacy client rows with a blank or empty subject DN (in-process server: the row is written into its store)', { concurrency: 1 }, () => {
    const RESOURCE = 'https://partner-api.test';
    let as: TestAuthz;
    let certs: Awaited<ReturnType<typeof issueCerts>>;

    const client = (clientId: string, matcher: Record<string, unknown>) => ({
      client_id: clientId, token_endpoint_auth_method: 'tls_client_auth', scope: 'partner:read', default_resource: RESOURCE, ...matcher,
    });

    async function token(clientId: string, cert: IssuedCertificate) {
      return https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: { cert: cert.certPem, key: cert.keyPem }, form: { grant_type: 'client_credentials', client_id: clientId } });
    }

    /** Exactly one oauth_refusal line since `from`, naming the answer's reason, and no server error line. */
    async function expectLoggedRefusal(from: number, res: HttpsAnswer): Promise<void> {
      // The answer and the log line race, as in attempt(): wait for the line, then briefly for a second one.
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline && !as.logs.slice(from).some((l) => l.event === 'oauth_refusal')) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const lines = as.logs.slice(from);
      const refusals = lines.filter((l) => l.event === 'oauth_refusal');
      assert.equal(refusals.length, 1, `expected one oauth_refusal log line, got ${JSON.stringify(refusals)}`);
      assert.equal(refusals[0].reason, res.json.error_description);
      assert.deepEqual(lines.filter((l) => l.msg === 'server error' || (typeof l.level === 'number' && l.level >= 50)), [], 'no server error line');
    }

    before(async () => {
      const pki = await makeTestPki();
      certs = await issueCerts(pki.clientRoot);
      as = await startTestAuthz({ pki });
      await as.registerResource({ identifier: RESOURCE, scopes: ['partner:read'] });
    });

    after(async () => { await as?.close(); });

    it('never authenticates a certificate with an empty subject as a client stored with a blank DN (a row from before registration refused them)', async () => {
      // Written straight into the store, past /admin/v1's validation: matching must hold on its own.
      await as.register({ ...client('legacy-blank', { tls_client_auth_subject_dn: ' ' }), grant_types: ['client_credentials'], response_types: [] });
      let mark = as.logs.length;
      const sanOnly = await token('legacy-blank', certs.sanOnly);
      refusedWithoutToken(sanOnly);
      expectOAuthError(sanOnly, 401, 'invalid_client',
        'certificate subject "" does not match the registered tls_client_auth_subject_dn');
      await expectLoggedRefusal(mark, sanOnly);
      mark = as.logs.length;
      const partner = await token('legacy-blank', certs.partner);
      expectOAuthError(partner, 401, 'invalid_client',
        'certificate subject "CN=admin-partner,O=Example" does not match the registered tls_client_auth_subject_dn');
      await expectLoggedRefusal(mark, partner);
    });

    it('never authenticates it as a client stored with an empty-string DN', async () => {
      // oidc-provider's matching loop skips a falsy matcher (client_auth.js `if (value)`), so it is
      // its client schema, refusing "" when the client is loaded, that keeps this client out. Today
      // that answer is 400 invalid_client_metadata; what matters here is that no token is issued.
      await as.register({ ...client('legacy-empty', { tls_client_auth_subject_dn: '' }), grant_types: ['client_credentials'], response_types: [] });
      for (const cert of [certs.sanOnly, certs.partner]) {
        const res = await token('legacy-empty', cert);
        assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
        assert.equal(res.json?.access_token, undefined);
        assert.match(String(res.json?.error), /^invalid_client/);
      }
    });
  });
});
