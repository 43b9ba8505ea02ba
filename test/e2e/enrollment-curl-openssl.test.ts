// Certificate enrollment (EST, RFC 7030) with nothing but curl and openssl, as the README's recipe
// runs it: the admin registers a client and creates a one-time code, the partner makes its key
// and CSR with openssl, enrolls, checks the chain to the dev root through the issuing CA, gets a
// certificate-bound token, settles at the demo API, renews with simplereenroll; then both
// certificates get tokens, the admin revokes the first, and a second instance sharing PostgreSQL
// and Redis refuses it (invalid_client, naming the revocation) within seconds while the renewed
// one still works. Every action is a curl or openssl child process; node only starts the servers
// and reads the answers. A second test runs the README's own block (between <!-- est-recipe -->
// markers) so the recipe as printed keeps working.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_RESOURCE } from '../../apps/authz-server/src/dev/registrations.ts';
import { realStores } from '../support/authz.ts';
import { freePort } from '../support/https.ts';
import { repoRoot, startProcess, type RunningProcess } from '../support/processes.ts';

/**
 * The README recipe (the block between <!-- est-recipe --> and <!-- /est-recipe -->): admin
 * side, then partner side with curl + openssl only. CERTBOUND_URL, DATA_DIR and DEMO_API default
 * to the dev setup (`npm start`).
 */
export const EST_RECIPE = String.raw`# The admin (on the server, with the admin certificate): register the partner's client with the
# identity its certificates will carry, and create a one-time enrollment code (valid 24 h).
AS=${'$'}{CERTBOUND_URL:-https://localhost:8444}   # the mutual-TLS listener
API=${'$'}{DEMO_API:-https://localhost:9443}       # the demo settlement API
PKI=${'$'}{DATA_DIR:-.data}/pki
ADMIN="--cacert $PKI/ca.pem --cert $PKI/admin.pem --key $PKI/admin-key.pem"
TOKEN=$(curl -sf $ADMIN -d grant_type=client_credentials -d client_id=admin -d scope=admin "$AS/token" \
  | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
curl -sf $ADMIN -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"client_id":"partner-a","tls_client_auth_subject_dn":"CN=partner-a,O=Example Partner",
       "resources":{"https://localhost:9443":["settlements:write"]},"default_resource":"https://localhost:9443"}' \
  "$AS/admin/v1/clients" > /dev/null
CODE=$(curl -sf $ADMIN -H "Authorization: Bearer $TOKEN" -X POST "$AS/admin/v1/clients/partner-a/enrollment-codes" \
  | sed -E 's/.*"code":"([^"]+)".*/\1/')

# The partner (curl, openssl, the server's CA certificate and the code): the key never leaves
# this machine; the CSR's subject is only a label, the certificate carries the registered one.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout partner-a-key.pem \
  -subj /CN=partner-a -outform DER -out partner-a.csr
openssl base64 -in partner-a.csr -out partner-a.csr.b64
curl -sf --cacert $PKI/ca.pem -u "partner-a:$CODE" -H 'Content-Type: application/pkcs10' \
  --data-binary @partner-a.csr.b64 "$AS/.well-known/est/simpleenroll" \
  | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out partner-a.pem
curl -sf --cacert $PKI/ca.pem "$AS/.well-known/est/cacerts" \
  | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out est-ca.pem
openssl verify -CAfile $PKI/ca.pem -untrusted est-ca.pem partner-a.pem
cat partner-a.pem est-ca.pem > partner-a-chain.pem    # a client sends its certificate with the issuing CA

# A certificate-bound token (cnf.x5t#S256 is the certificate's thumbprint), then a settlement.
openssl x509 -in partner-a.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='; echo
ACCESS=$(curl -sf --cacert $PKI/ca.pem --cert partner-a-chain.pem --key partner-a-key.pem \
  -d grant_type=client_credentials -d client_id=partner-a "$AS/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
curl -sf --cacert $PKI/ca.pem --cert partner-a-chain.pem --key partner-a-key.pem \
  -H "Authorization: Bearer $ACCESS" -H 'Content-Type: application/json' \
  -d '{"amount":"125.00","currency":"EUR","counterparty":"ACME GmbH","reference":"INV-2026-0042"}' \
  "$API/api/v1/settlements"; echo

# Before it expires: a NEW key and CSR, simplereenroll authenticated by the current certificate.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout partner-a-next-key.pem \
  -subj /CN=partner-a -outform DER -out partner-a-next.csr
openssl base64 -in partner-a-next.csr -out partner-a-next.csr.b64
curl -sf --cacert $PKI/ca.pem --cert partner-a-chain.pem --key partner-a-key.pem \
  -H 'Content-Type: application/pkcs10' --data-binary @partner-a-next.csr.b64 "$AS/.well-known/est/simplereenroll" \
  | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out partner-a-next.pem
cat partner-a-next.pem est-ca.pem > partner-a-next-chain.pem
`;

/** The admin revokes a certificate by its thumbprint (README, after the recipe). */
export const REVOKE = String.raw`X5T=$(openssl x509 -in partner-a.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
curl -sf $ADMIN -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"reason":"superseded"}' \
  "$AS/admin/v1/clients/partner-a/certificates/$X5T/revoke"
`;

const README_MARKERS = /<!-- est-recipe -->\s*```(?:sh|bash|console)?\n([\s\S]*?)```\s*<!-- \/est-recipe -->/;

interface TokenAnswer {
  access_token?: string;
  error?: string;
  error_description?: string;
}

/** cnf.x5t#S256 of a JWT access token (RFC 8705 §3.1) */
function boundTo(accessToken: string | undefined): unknown {
  const payload = JSON.parse(Buffer.from(String(accessToken).split('.')[1] ?? '', 'base64url').toString('utf8')) as { cnf?: Record<string, unknown> };
  return payload.cnf?.['x5t#S256'];
}

interface Shell {
  stdout: string;
  stderr: string;
  code: number;
}

/** bash -euo pipefail in `cwd`: only PATH and the recipe's variables in its environment. */
function bash(script: string, cwd: string, env: Record<string, string>): Promise<Shell> {
  return new Promise((resolve) => {
    execFile('/bin/bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { PATH: '/usr/bin:/bin', OPENSSL_CONF: '/dev/null', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0 });
    });
  });
}

async function ok(script: string, cwd: string, env: Record<string, string>): Promise<string> {
  const res = await bash(script, cwd, env);
  assert.equal(res.code, 0, `${script}\nexit ${res.code}\n${res.stderr}\n${res.stdout}`);
  return res.stdout;
}

describe('EST enrollment with only curl and openssl (README recipe)', () => {
  let dir: string;
  let dataDir: string;
  let work: string;
  let as1: RunningProcess;
  let as2: RunningProcess | undefined;
  let demo: RunningProcess;
  let env: Record<string, string>;
  let mtls2: string | undefined;

  /** the admin variables of the recipe, for commands run after it */
  const ADMIN_VARS = String.raw`AS=$CERTBOUND_URL; PKI=$DATA_DIR/pki
ADMIN="--cacert $PKI/ca.pem --cert $PKI/admin.pem --key $PKI/admin-key.pem"
TOKEN=$(curl -sf $ADMIN -d grant_type=client_credentials -d client_id=admin -d scope=admin "$AS/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
`;

  /** curl at a token endpoint with a chain and key; status line last */
  const tokenCurl = (as: string, chain: string, key: string) =>
    `curl -s -w '\\n%{http_code}' --cacert "$DATA_DIR/pki/ca.pem" --cert ${chain} --key ${key} -d grant_type=client_credentials -d client_id=partner-a ${as}/token`;
  async function token(as: string, chain: string, key: string): Promise<{ status: number; json: TokenAnswer }> {
    const out = await ok(tokenCurl(as, chain, key), work, env);
    const nl = out.lastIndexOf('\n');
    return { status: Number(out.slice(nl + 1)), json: JSON.parse(out.slice(0, nl)) as TokenAnswer };
  }
  const thumbprint = (file: string) => ok(`openssl x509 -in ${file} -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='`, work, env);

  async function startAs(ports: { public: number; mtls: number }, stores: Record<string, string>): Promise<RunningProcess> {
    return startProcess('apps/authz-server/src/main.ts', { PUBLIC_PORT: String(ports.public), MTLS_PORT: String(ports.mtls), DATA_DIR: dataDir, ...stores },
      { ready: /"event":"listening"/, cwd: dir });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-e2e-est-'));
    dataDir = join(dir, '.data');
    work = join(dir, 'partner');
    await mkdir(work);
    // Two instances share PostgreSQL and Redis when the test has them (a schema of their own);
    // the dev PKI through DATA_DIR, and one key-encryption key.
    const stores: Record<string, string> = realStores.database && realStores.redis
      ? { DATABASE_URL: realStores.database, DATABASE_SCHEMA: `e_${randomBytes(6).toString('hex')}`, REDIS_URL: realStores.redis, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
      : {};
    const [publicPort, mtlsPort, demoPort] = [await freePort(), await freePort(), await freePort()];
    as1 = await startAs({ public: publicPort, mtls: mtlsPort }, stores);
    demo = await startProcess('apps/resource-server-demo/src/main.ts', {
      DATA_DIR: dataDir, DEMO_ISSUER: `https://localhost:${publicPort}`, DEMO_PORT: String(demoPort), DEMO_AUDIENCE: DEMO_RESOURCE,
    }, { ready: /"event":"listening"/ });
    if (stores.DATABASE_URL) {
      const second = { public: await freePort(), mtls: await freePort() };
      as2 = await startAs(second, stores);
      mtls2 = `https://localhost:${second.mtls}`;
    }
    env = { CERTBOUND_URL: `https://localhost:${mtlsPort}`, DATA_DIR: dataDir, DEMO_API: `https://localhost:${demoPort}` };
  });

  after(async () => {
    await Promise.all([demo?.stop(), as1?.stop(), as2?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('enroll, verify the chain, token bound to it, settle, re-enroll; both certificates get tokens; a revoked one is refused on a second instance within seconds', async (t) => {
    const out = await ok(EST_RECIPE, work, env);
    const [x5tPrinted, settlement] = out.trim().split('\n').slice(-2);

    // The certificate: the registered subject, not the CSR's; chains to the dev root through the issuing CA.
    const subject = await ok('openssl x509 -in partner-a.pem -noout -subject -nameopt RFC2253', work, env);
    assert.equal(subject.trim(), 'subject=CN=partner-a,O=Example Partner');
    assert.equal((await ok('openssl verify -CAfile "$DATA_DIR/pki/ca.pem" -untrusted "$DATA_DIR/pki/issuing-ca.pem" partner-a.pem', work, env)).trim(), 'partner-a.pem: OK');
    assert.equal((await ok('openssl verify -CAfile "$DATA_DIR/pki/ca.pem" -untrusted "$DATA_DIR/pki/issuing-ca.pem" partner-a-next.pem', work, env)).trim(), 'partner-a-next.pem: OK');
    assert.match(await ok('openssl verify -CAfile "$DATA_DIR/pki/ca.pem" partner-a.pem 2>&1 || true', work, env), /unable to get local issuer certificate/, 'the root did not sign it');
    const keys = await ok('openssl pkey -in partner-a-key.pem -pubout | openssl sha256; openssl x509 -in partner-a.pem -noout -pubkey | openssl sha256', work, env);
    assert.equal(new Set(keys.trim().split('\n')).size, 1, `the certificate certifies the key made with openssl: ${keys}`);

    // The token is bound to it: cnf.x5t#S256 equals the thumbprint openssl computed; the settlement went through.
    const first = await thumbprint('partner-a.pem');
    assert.equal(x5tPrinted, first);
    const settled = JSON.parse(settlement) as { settlement: { amount: string }; caller: unknown };
    assert.equal(settled.settlement.amount, '125.00');
    assert.deepEqual(settled.caller, { client_id: 'partner-a', certificate_subject: 'CN=partner-a,O=Example Partner', binding: 'mtls' });

    // Both certificates get tokens bound to them.
    const next = await thumbprint('partner-a-next.pem');
    assert.notEqual(next, first);
    for (const [chain, key, x5t] of [['partner-a-chain.pem', 'partner-a-key.pem', first], ['partner-a-next-chain.pem', 'partner-a-next-key.pem', next]]) {
      const res = await token(env.CERTBOUND_URL, chain, key);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(boundTo(res.json.access_token), x5t);
    }

    // The admin revokes the first certificate.
    const revoked = JSON.parse(await ok(ADMIN_VARS + REVOKE, work, env)) as Record<string, unknown>;
    assert.equal(revoked['x5t#S256'], first);
    assert.equal(revoked.revocation_reason, 'superseded');
    assert.ok(revoked.revoked_at);

    // Refused on the second instance within seconds, and on the instance that revoked it.
    // The second instance first: it learns of the revocation only through PostgreSQL / Redis.
    const instances = [...(mtls2 ? [mtls2] : []), env.CERTBOUND_URL];
    if (!mtls2) t.diagnostic('TEST_DATABASE_URL and TEST_REDIS_URL are not both set: the second instance sharing PostgreSQL/Redis is skipped');
    for (const as of instances) {
      const deadline = Date.now() + 5_000;
      let res = await token(as, 'partner-a-chain.pem', 'partner-a-key.pem');
      while (res.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        res = await token(as, 'partner-a-chain.pem', 'partner-a-key.pem');
      }
      assert.equal(res.status, 401, `${as}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error, 'invalid_client');
      assert.match(String(res.json.error_description), /revoked/);
      const renewed = await token(as, 'partner-a-next-chain.pem', 'partner-a-next-key.pem');
      assert.equal(renewed.status, 200, `${as}: the renewed certificate still works: ${JSON.stringify(renewed.json)}`);
      assert.equal(boundTo(renewed.json.access_token), next);
    }
  });

  it('the README\'s est-recipe block runs as printed', async (t) => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const block = README_MARKERS.exec(readme)?.[1];
    if (block === undefined) {
      t.skip('README.md has no <!-- est-recipe --> ... <!-- /est-recipe --> block yet');
      return;
    }
    // A client of its own, so the block runs after the test above on the same server.
    const script = block.replaceAll('partner-a', 'partner-readme');
    const own = join(dir, 'readme');
    await mkdir(own);
    const out = await ok(script, own, env);
    assert.match(out, /"settlement"/, 'the block settles at the demo API');
    assert.equal((await ok('openssl verify -CAfile "$DATA_DIR/pki/ca.pem" -untrusted est-ca.pem partner-readme-next.pem', own, env)).trim(), 'partner-readme-next.pem: OK');
  });
});
