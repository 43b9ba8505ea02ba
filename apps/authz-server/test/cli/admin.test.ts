// `certbound clients | certs | resource-servers`: the admin CLI against a real server in this
// process (real TLS, the bootstrapped `admin` client), driven through main() with captured
// output, the way an operator's script would drive it.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main, type CliIo } from '../../src/cli/main.ts';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../../../../test/support/authz.ts';
import { freePort, https } from '../../../../test/support/https.ts';
import type { JsonAnswer } from '../../../../test/support/json-answer.ts';
import { expectOAuthError } from '../../../../test/support/oauth.ts';

/** The --json output of a command, read as the API's JSON answer it prints. */
const readJson = (text: string) => JSON.parse(text) as JsonAnswer;

const API = 'https://ledger-api.test';
const LEDGER_DN = 'CN=ledger,O=certbound tests';

describe('certbound admin commands against /admin/v1', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let work: string;
  let env: Record<string, string>;
  let ledger: IssuedCertificate;
  let ledgerNext: IssuedCertificate;

  /** Runs the CLI in-process with the dev layout: DATA_DIR/pki/{admin.pem,admin-key.pem,ca.pem}. */
  async function run(argv: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      env: { ...env, ...options.env },
      cwd: work,
      ...(options.stdin === undefined ? {} : { stdin: Readable.from([options.stdin]) }),
    };
    const code = await main(argv, io);
    return { code, stdout, stderr };
  }

  async function ok(argv: string[], options?: { env?: Record<string, string>; stdin?: string }) {
    const result = await run(argv, options);
    assert.equal(result.stderr, '', `certbound ${argv.join(' ')}`);
    assert.equal(result.code, 0);
    return result.stdout;
  }

  async function tokenFor(clientId: string, cert: IssuedCertificate) {
    return https(`${as.mtlsUrl}/token`, {
      ca: as.ca,
      identity: { cert: cert.certPem, key: cert.keyPem },
      form: { grant_type: 'client_credentials', client_id: clientId },
    });
  }

  before(async () => {
    pki = await makeTestPki();
    ledger = await issueCertificate({ subject: LEDGER_DN, issuer: pki.clientRoot, days: 10 });
    ledgerNext = await issueCertificate({ subject: LEDGER_DN, issuer: pki.clientRoot, days: 90 });
    as = await startTestAuthz({ pki });
    work = await mkdtemp(join(tmpdir(), 'certbound-admin-cli-'));
    const pkiDir = join(work, 'data', 'pki');
    await mkdir(pkiDir, { recursive: true });
    await writeFile(join(pkiDir, 'admin.pem'), pki.admin.certPem);
    await writeFile(join(pkiDir, 'admin-key.pem'), pki.admin.keyPem, { mode: 0o600 });
    await writeFile(join(pkiDir, 'ca.pem'), pki.serverCa.certPem);
    await writeFile(join(work, 'ledger.pem'), ledger.certPem);
    await writeFile(join(work, 'ledger-next.pem'), ledgerNext.certPem);
    await writeFile(join(work, 'ledger-with-key.pem'), ledger.certPem + ledger.keyPem);
    env = { DATA_DIR: 'data', CERTBOUND_URL: as.mtlsUrl };
  });

  after(async () => {
    await as?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('a client from registration to deletion', () => {
    let etag: string;

    it('resource-servers create registers the audience the client will use', async () => {
      const out = await ok(['resource-servers', 'create', '--identifier', API, '--name', 'Ledger API', '--scope', 'ledger:read ledger:write', '--access-token-ttl', '300']);
      assert.equal(out, [
        `registered resource server "${API}"`,
        `identifier                  ${API}`,
        'name                        Ledger API',
        'scopes                      ledger:read, ledger:write',
        'token_format                jwt',
        'access_token_ttl            300',
        'sender_constraint_required  true',
        'etag                        "1"',
        '',
      ].join('\n'));
    });

    it('clients create registers a tls_client_auth client from flags', async () => {
      const out = await ok([
        'clients', 'create', '--client-id', 'ledger', '--name', 'Ledger', '--subject-dn', LEDGER_DN,
        '--scope', 'ledger:read', '--default-resource', API, '--certificate-pinning', 'true',
      ]);
      assert.equal(out, [
        'registered client "ledger"',
        'client_id                   ledger',
        'client_name                 Ledger',
        'disabled                    false',
        'token_endpoint_auth_method  tls_client_auth',
        `tls_client_auth_subject_dn  ${LEDGER_DN}`,
        'certificate_pinning         true',
        `resources                   ${API} (ledger:read)`,
        `default_resource            ${API}`,
        'grant_types                 client_credentials',
        'response_types              -',
        'etag                        "1"',
        '',
      ].join('\n'));
    });

    it('clients list shows it next to the admin client (and the console, registered at start)', async () => {
      const out = await ok(['clients', 'list']);
      const width = `subject dn: ${pki.admin.subject}`.length + 2;
      assert.equal(out, [
        `CLIENT_ID          STATUS   AUTH_METHOD      ${'SUBJECT'.padEnd(width)}RESOURCES`,
        `admin              enabled  tls_client_auth  ${`subject dn: ${pki.admin.subject}`.padEnd(width)}urn:certbound:admin-api (admin)`,
        `certbound-console  enabled  none             ${'-'.padEnd(width)}urn:certbound:admin-api (admin)`,
        `ledger             enabled  tls_client_auth  ${`subject dn: ${LEDGER_DN}`.padEnd(width)}${API} (ledger:read)`,
        '',
      ].join('\n'));
      const json = readJson(await ok(['clients', 'list', '--json']));
      assert.deepEqual(json.items.map((c) => c.client_id), ['admin', 'certbound-console', 'ledger']);
      assert.equal(json.next_cursor, null);
    });

    it('clients show prints the client and its ETag; --json prints the API representation', async () => {
      assert.match(await ok(['clients', 'show', 'ledger']), /^client_id {19}ledger\n[\s\S]*\netag {24}"1"\n$/);
      const json = readJson(await ok(['clients', 'show', 'ledger', '--json']));
      assert.deepEqual(json, {
        client_id: 'ledger', client_name: 'Ledger', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: LEDGER_DN,
        grant_types: ['client_credentials'], response_types: [], resources: { [API]: ['ledger:read'] }, default_resource: API, certificate_pinning: true, disabled: false,
      });
    });

    it('clients update changes only what the flags name (GET, then PUT with If-Match)', async () => {
      const out = await ok(['clients', 'update', 'ledger', '--scope', 'ledger:read', '--scope', 'ledger:write', '--contact', 'ops@example.com', '--json']);
      const updated = readJson(out);
      assert.deepEqual(updated.resources, { [API]: ['ledger:read', 'ledger:write'] });
      assert.equal(updated.scope, undefined);
      assert.deepEqual(updated.contacts, ['ops@example.com']);
      assert.equal(updated.client_name, 'Ledger');
      assert.equal(updated.certificate_pinning, true);
      etag = (await as.admin.request('GET', '/clients/ledger')).headers.etag as string;
      assert.equal(etag, '"2"');
      const unset = readJson(await ok(['clients', 'update', 'ledger', '--unset', 'contacts', '--json']));
      assert.equal(unset.contacts, undefined);
    });

    it('clients update with a stale ETag exits 4: changed by someone else since it was read', async () => {
      const result = await run(['clients', 'update', 'ledger', '--name', 'Stale', '--if-match', etag]);
      assert.equal(result.code, 4);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        'certbound: client "ledger" was changed by someone else since it was read; run again ' +
          '(412 precondition_failed: If-Match: the resource changed since that ETag; its ETag is now "3": GET it again and retry)\n',
      );
      assert.equal((await as.admin.request('GET', '/clients/ledger')).json.client_name, 'Ledger');
    });

    it('certs add registers a certificate; with pinning only registered certificates get a token', async () => {
      expectOAuthError(await tokenFor('ledger', ledger), 401, 'invalid_client');
      const out = await ok(['certs', 'add', 'ledger', '--pem', 'ledger.pem']);
      const x5t = x5tS256(ledger.cert);
      assert.equal(out.split('\n')[0], `added certificate ${x5t} to client "ledger"`);
      assert.match(out, new RegExp(`\nsubject +${LEDGER_DN}\n`));
      assert.match(out, /\nstatus +active\n/);
      assert.equal((await tokenFor('ledger', ledger)).status, 200);
      // from standard input, the rotation's next certificate
      const next = readJson(await ok(['certs', 'add', 'ledger', '--pem', '-', '--json'], { stdin: ledgerNext.certPem }));
      assert.equal(next['x5t#S256'], x5tS256(ledgerNext.cert));
    });

    it('certs add refuses a PEM holding a private key before sending anything', async () => {
      const result = await run(['certs', 'add', 'ledger', '--pem', 'ledger-with-key.pem']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `certbound: --pem: ${join(work, 'ledger-with-key.pem')} holds a private key; pass the certificate only (nothing was sent)\n`);
    });

    it('certs add of a certificate already active exits 4 with the API\'s conflict', async () => {
      const result = await run(['certs', 'add', 'ledger', '--pem', 'ledger.pem']);
      assert.equal(result.code, 4);
      assert.equal(result.stderr, `certbound: cannot add a certificate to client "ledger": 409 conflict: pem: certificate x5t#S256 ${x5tS256(ledger.cert)} is already active for client "ledger"\n`);
    });

    it('certs list and certs expiring show them', async () => {
      const list = await ok(['certs', 'list', 'ledger']);
      const lines = list.trimEnd().split('\n');
      assert.match(lines[0], /^X5T#S256 +STATUS +NOT_AFTER +SUBJECT$/);
      assert.equal(lines.length, 3);
      for (const cert of [ledger, ledgerNext]) {
        assert.ok(lines.some((l) => l.startsWith(x5tS256(cert.cert)) && l.includes(' active ') && l.includes(cert.cert.validToDate.toISOString())), list);
      }
      const expiring = await ok(['certs', 'expiring', '--within', '30d']);
      assert.match(expiring, new RegExp(`^CLIENT_ID +X5T#S256 +NOT_AFTER +LEFT +SUBJECT\nledger +${x5tS256(ledger.cert)} +\\S+ +(9|10)d +${LEDGER_DN}\n$`));
      assert.equal(await ok(['certs', 'expiring', '--within', '1h']), 'no active certificate expires within 1h\n');
    });

    it('certs retire retires one; it no longer gets a token, the other still does', async () => {
      const x5t = x5tS256(ledger.cert);
      // "--" ends the options, so a thumbprint starting with "-" is an argument
      assert.equal(await ok(['certs', 'retire', 'ledger', '--', x5t]), `retired certificate ${x5t} of client "ledger"\n`);
      const list = readJson(await ok(['certs', 'list', 'ledger', '--json']));
      assert.deepEqual(list.items.map((c) => [c['x5t#S256'] as string, c.status as string]).sort(), [[x5t, 'retired'], [x5tS256(ledgerNext.cert), 'active']].sort());
      expectOAuthError(await tokenFor('ledger', ledger), 401, 'invalid_client');
      assert.equal((await tokenFor('ledger', ledgerNext)).status, 200);
    });

    it('clients revoke revokes its grants and marks its tokens', async () => {
      const out = await ok(['clients', 'revoke', 'ledger']);
      assert.match(out, /^revoked client "ledger": 0 grant\(s\), 0 refresh token\(s\); its access tokens issued before \d{4}-\d\d-\d\dT[\d:.]+Z are no longer accepted/);
    });

    it('resource-servers delete is refused (exit 4) while the client holds it', async () => {
      const result = await run(['resource-servers', 'delete', API]);
      assert.equal(result.code, 4);
      assert.equal(result.stderr, `certbound: cannot delete resource server "${API}": 409 conflict: resource server "${API}" is held by client "ledger"; remove it from their resources first\n`);
    });

    it('clients update --resource sets what the client holds per resource server; a scope of another is refused naming the member', async () => {
      const out = readJson(await ok(['clients', 'update', 'ledger', '--resource', `${API} ledger:write`, '--json']));
      assert.deepEqual(out.resources, { [API]: ['ledger:write'] });
      assert.match(await ok(['clients', 'show', 'ledger']), new RegExp(`\nresources {19}${API.replace(/[.:/]/g, '\\$&')} \\(ledger:write\\)\n`));
      const refused = await run(['clients', 'update', 'ledger', '--resource', `${API} admin`]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, `certbound: cannot update client "ledger": 400 invalid_client_metadata: resources["${API}"][0]: "admin" is not a scope of this resource server (its scopes: ledger:read, ledger:write)\n`);
      const back = readJson(await ok(['clients', 'update', 'ledger', '--resource', `${API} ledger:read ledger:write`, '--json']));
      assert.deepEqual(back.resources, { [API]: ['ledger:read', 'ledger:write'] });
    });

    it('clients delete removes it; show then exits 3 quoting the API\'s not_found', async () => {
      assert.equal(await ok(['clients', 'delete', 'ledger']), 'deleted client "ledger"\n');
      const result = await run(['clients', 'show', 'ledger']);
      assert.equal(result.code, 3);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, 'certbound: cannot show client "ledger": 404 not_found: client "ledger" is not registered\n');
      assert.equal((await run(['clients', 'delete', 'ledger'])).code, 3);
      assert.equal((await run(['certs', 'list', 'ledger'])).code, 3);
    });

    it('resource-servers list, show, update and delete', async () => {
      assert.match(await ok(['resource-servers', 'list']), new RegExp(`^IDENTIFIER +FORMAT +TTL +BOUND +SCOPES\n${API} +jwt +300 +required +ledger:read, ledger:write\nurn:certbound:admin-api +jwt +default +required +admin\n$`));
      const updated = readJson(await ok(['resource-servers', 'update', API, '--token-format', 'opaque', '--access-token-ttl', 'default', '--json']));
      assert.deepEqual(updated, { identifier: API, name: 'Ledger API', scopes: ['ledger:read', 'ledger:write'], token_format: 'opaque', access_token_ttl: null, sender_constraint_required: true });
      const stale = await run(['resource-servers', 'update', API, '--name', 'x', '--if-match', '"1"']);
      assert.equal(stale.code, 4);
      assert.match(stale.stderr, /^certbound: resource server "https:\/\/ledger-api.test" was changed by someone else since it was read; run again \(412 precondition_failed: /);
      assert.match(await ok(['resource-servers', 'show', API]), /\ntoken_format +opaque\naccess_token_ttl +default \(ACCESS_TOKEN_TTL\)\n[\s\S]*\netag +"2"\n$/);
      assert.equal(await ok(['resource-servers', 'delete', API]), `deleted resource server "${API}"\n`);
      assert.equal((await run(['resource-servers', 'show', API])).code, 3);
    });
  });

  describe('input', () => {
    it('clients create --metadata - reads full JSON from stdin; flags apply on top', async () => {
      const metadata = { client_id: 'team/batch..1', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://example.org/batch', client_name: 'from json' };
      const created = readJson(await ok(['clients', 'create', '--metadata', '-', '--name', 'from flags', '--json'], { stdin: JSON.stringify(metadata) }));
      assert.equal(created.client_id, 'team/batch..1');
      assert.equal(created.client_name, 'from flags');
      // a client_id with "/" is one path segment; a matcher flag replaces the client's matcher
      const switched = readJson(await ok(['clients', 'update', 'team/batch..1', '--subject-dn', 'CN=batch', '--json']));
      assert.equal(switched.tls_client_auth_subject_dn, 'CN=batch');
      assert.equal(switched.tls_client_auth_san_uri, undefined);
      assert.equal(await ok(['clients', 'delete', 'team/batch..1']), 'deleted client "team/batch..1"\n');
    });

    it('"." and ".." are client_ids, not dot segments', async () => {
      const result = await run(['clients', 'show', '..']);
      assert.equal(result.code, 3);
      assert.equal(result.stderr, 'certbound: cannot show client "..": 404 not_found: client ".." is not registered\n');
    });

    it('the server\'s validation error is quoted, exit 1', async () => {
      const result = await run(['clients', 'create', '--client-id', 'bad', '--subject-dn', 'CN=bad', '--scope', 'nonexistent:scope']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'certbound: cannot register client "bad": 400 invalid_client_metadata: scope: "nonexistent:scope" is not a scope of any registered resource server\n');
    });

    it('a client_id that already exists exits 4', async () => {
      const result = await run(['clients', 'create', '--client-id', 'admin', '--subject-dn', 'CN=x']);
      assert.equal(result.code, 4);
      assert.equal(result.stderr, 'certbound: cannot register client "admin": 409 conflict: client_id: "admin" is already registered\n');
    });
  });

  describe('usage errors exit 2 before anything is sent', () => {
    for (const [title, argv, message] of [
      ['without the client_id', ['clients', 'show'], 'missing <client_id>'],
      ['with an extra argument', ['clients', 'show', 'a', 'b'], 'unexpected argument "b"'],
      ['with an unknown auth method', ['clients', 'create', '--auth-method', 'client_secret_basic'], '--auth-method client_secret_basic: must be tls_client_auth, self_signed_tls_client_auth, private_key_jwt'],
      ['with a value for --json', ['clients', 'list', '--json=yes'], '--json takes no value'],
      ['with an http URL', ['clients', 'list', '--url', 'http://localhost:8444'], '--url http://localhost:8444: must be an https:// URL (the admin API is served over mutual TLS only)'],
      ['with a malformed --within', ['certs', 'expiring', '--within', '30'], '--within 30: must be a number of days or hours, e.g. 30d or 12h'],
      ['without --pem', ['certs', 'add', 'ledger'], '--pem is required'],
      ['with true|false flags given something else', ['clients', 'update', 'x', '--disabled', 'yes'], '--disabled yes: must be true or false'],
    ] as const) {
      it(title, async () => {
        const result = await run([...argv]);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.split('\n')[0], `certbound: ${message}`);
        assert.match(result.stderr, /\n\nusage: certbound /);
      });
    }

    it('when there is nothing to change or register', async () => {
      assert.deepEqual(await run(['clients', 'update', 'ledger']), {
        code: 2, stdout: '', stderr: 'certbound: nothing to change: give the fields to change, --unset FIELD or --metadata FILE\n',
      });
      assert.equal((await run(['clients', 'create'])).code, 2);
      assert.equal((await run(['resource-servers', 'create', '--name', 'x'])).code, 2);
    });

    it('--help documents the exit codes', async () => {
      const help = await run(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /exit codes:\n {2}0 {2}success\n {2}1 {2}the command failed[\s\S]*\n {2}2 {2}usage error[\s\S]*\n {2}3 {2}not found[\s\S]*\n {2}4 {2}conflict/);
      assert.match((await run(['clients', 'show', '--help'])).stdout, /^usage: certbound clients show <client_id> \[options\]\n[\s\S]*\n {2}--json {18}print the API's JSON/);
    });
  });

  describe('the admin\'s certificate and the connection', () => {
    it('a certificate the server does not know as the admin: exit 1 with the token endpoint\'s error', async () => {
      const stranger = await issueCertificate({ subject: 'CN=stranger', days: 2 });
      await writeFile(join(work, 'stranger.pem'), stranger.certPem);
      await writeFile(join(work, 'stranger-key.pem'), stranger.keyPem);
      const result = await run(['clients', 'list', '--cert', 'stranger.pem', '--key', 'stranger-key.pem']);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        `certbound: the token endpoint ${as.mtlsUrl}/token refused client "admin" with certificate ${join(work, 'stranger.pem')}: ` +
          '401 invalid_client: certificate chain does not lead to a trusted client CA (issuer CN=stranger)\n',
      );
    });

    it('a trusted certificate with another subject: exit 1, invalid_client naming the subject check', async () => {
      const other = await issueCertificate({ subject: 'CN=not the admin,O=certbound tests', issuer: pki.clientRoot, days: 2 });
      await writeFile(join(work, 'other.pem'), other.certPem);
      await writeFile(join(work, 'other-key.pem'), other.keyPem);
      const result = await run(['clients', 'list'], { env: { CERTBOUND_ADMIN_CERT: 'other.pem', CERTBOUND_ADMIN_KEY: 'other-key.pem' } });
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `certbound: the token endpoint ${as.mtlsUrl}/token refused client "admin" with certificate ${join(work, 'other.pem')}: ` +
          '401 invalid_client: certificate subject "CN=not the admin,O=certbound tests" does not match the registered tls_client_auth_subject_dn\n',
      );
    });

    it('a key that does not belong to the certificate is reported before connecting', async () => {
      const result = await run(['clients', 'list', '--key', 'other-key.pem']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `certbound: the key in ${join(work, 'other-key.pem')} (--key) does not belong to the certificate in ${join(work, 'data', 'pki', 'admin.pem')} (--cert)\n`);
    });

    it('missing files name the flag and the variable', async () => {
      const result = await run(['clients', 'list'], { env: { DATA_DIR: 'nowhere' } });
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `certbound: cannot read the admin certificate ${join(work, 'nowhere', 'pki', 'admin.pem')} (--cert, CERTBOUND_ADMIN_CERT): ENOENT; "certbound pki init" creates the dev PKI\n`);
    });

    it('a server certificate that does not chain to --ca: exit 1, verification stays on', async () => {
      const result = await run(['clients', 'list', '--ca', join(work, 'ledger.pem')]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^certbound: cannot reach ${as.mtlsUrl}: .+ \\(the server's certificate does not chain to --ca ${join(work, 'ledger.pem')}\\)\n$`));
    });

    it('nothing listening: exit 1, cannot reach', async () => {
      const port = await freePort();
      const result = await run(['clients', 'list', '--url', `https://localhost:${port}`]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^certbound: cannot reach https://localhost:${port}: .*ECONNREFUSED.* \\(is the server running\\? --url or CERTBOUND_URL names it\\)\n$`));
    });
  });
});
