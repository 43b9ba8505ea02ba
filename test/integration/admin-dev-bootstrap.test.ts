// The dev setup end to end, as a real process: the first `npm start` registers the admin client
// from .data/pki/admin.pem, and the curl commands of apps/authz-server/src/admin/README.md work
// exactly as written (only the port differs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCertificate, loadIssued, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { https } from '../support/https.ts';
import { startDevServer, repoRoot, type DevServer, type RunningProcess } from '../support/processes.ts';

describe('dev setup: bootstrap the admin client and call /admin/v1 with curl', () => {
  let server: DevServer | undefined;
  let dir: string;
  let proc: RunningProcess;
  let mtlsPort: number;
  let ledger: IssuedCertificate;
  let readmeBlock: string;

  before(async () => {
    server = await startDevServer('certbound-admin-dev-');
    ({ dir, proc, mtlsPort } = server);
    // What `npx certbound pki issue --cn ledger --out ./certs` writes.
    const pki = join(dir, '.data/pki');
    const ca = await loadIssued(await readFile(join(pki, 'ca.pem'), 'utf8'), await readFile(join(pki, 'ca-key.pem'), 'utf8'));
    ledger = await issueCertificate({ subject: 'CN=ledger', issuer: ca, days: 20 });
    await mkdir(join(dir, 'certs'));
    await writeFile(join(dir, 'certs/ledger.pem'), ledger.certPem);
    await writeFile(join(dir, 'certs/ledger-key.pem'), ledger.keyPem, { mode: 0o600 });

    const readme = await readFile(join(repoRoot, 'apps/authz-server/src/admin/README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Calling it with curl'));
    readmeBlock = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  });

  after(async () => {
    await server?.close();
  });

  it('registered the admin client from the dev PKI on first start', () => {
    const line = proc.logs().find((l) => l.event === 'bootstrap' && /client admin/.test(l.msg));
    assert.ok(line, 'a bootstrap log line for the admin client');
    assert.match(line.msg, /tls_client_auth_subject_dn "CN=admin"/);
  });

  it('the README commands get an admin token, register a pinned client with its certificate, update it and read the audit log', async () => {
    const script = readmeBlock.replaceAll('https://localhost:8444', `https://localhost:${mtlsPort}`);
    assert.notEqual(script, readmeBlock, 'the block addresses the mutual-TLS listener');
    const out = execFileSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8' });
    assert.match(out, /"client_id":"admin"/, 'the client list');
    assert.match(out, /"x5t#S256"/, 'the certificate was registered');
    assert.match(out, /ETag: "1"/i, 'GET answered the ETag');
    // The README's `scope` is mapped to the one resource server defining it; answers use `resources`.
    assert.match(out, /"resources":\{"https:\/\/localhost:9443":\["settlements:read","settlements:write"\]\}/, 'the PUT was applied');
    assert.match(out, /"action":"client.update"/, 'the audit log');
    assert.doesNotMatch(out, /"error"/, `no refusal:\n${out}`);

    // The pinned client, with the certificate the README registered, gets its token.
    const ca = await readFile(join(dir, '.data/pki/ca.pem'), 'utf8');
    const res = await https(`https://localhost:${mtlsPort}/token`, { ca, identity: { cert: ledger.certPem, key: ledger.keyPem }, form: { grant_type: 'client_credentials', client_id: 'ledger' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.scope, 'settlements:read settlements:write');
  });
});
