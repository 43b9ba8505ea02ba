// The newcomer's path on ports of their own: `npm start` (scripts/start.ts) with PUBLIC_PORT,
// MTLS_PORT and DEMO_PORT set, then every command its banner prints, run as printed by `sh` from
// the repository root in a shell that has none of those variables, and `npm run demo:dpop`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, https } from '../support/https.ts';
import type { JsonAnswer, LogLine } from '../support/json-answer.ts';
import { decodeJwt } from '../support/oauth.ts';
import { repoRoot, startProcess, type RunningProcess } from '../support/processes.ts';

const run = promisify(execFile);

/** A fresh shell: the ports reach a printed command only through what the banner says. */
async function sh(command: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('sh', ['-c', command], {
    cwd: repoRoot, encoding: 'utf8', timeout: 90_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  return stdout;
}

/** The indented commands of the banner, continuation lines joined, comments dropped. */
function printedCommands(banner: string): string[] {
  const commands: string[] = [];
  let current: string | undefined;
  for (const line of banner.split('\n')) {
    if (current !== undefined) {
      current += ` ${line.trim()}`;
    } else if (/^ {2}\S/.test(line)) {
      current = line.trim();
    } else {
      continue;
    }
    if (current.endsWith('\\')) current = current.slice(0, -1).trimEnd();
    else { commands.push(current.replace(/\s+#.*$/, '')); current = undefined; }
  }
  return commands;
}

describe('quick start on configured ports: PUBLIC_PORT, MTLS_PORT, DEMO_PORT', () => {
  let dir: string;
  let proc: RunningProcess | undefined;
  let ports: { public: number; mtls: number; demo: number };
  let banner: string;
  let commands: string[];
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-ports-'));
    ports = { public: await freePort(), mtls: await freePort(), demo: await freePort() };
    proc = await startProcess('scripts/start.ts', {
      PUBLIC_PORT: String(ports.public), MTLS_PORT: String(ports.mtls), DEMO_PORT: String(ports.demo),
      DATA_DIR: join(dir, '.data'), LOG_LEVEL: 'info',
    }, { ready: /requires once TLS_CERT_FILE or DATABASE_URL is set\.\n/ });
    const out = proc.stdout();
    banner = out.slice(out.indexOf('The admin console, in your browser:'));
    commands = printedCommands(banner);
  });

  after(async () => {
    await proc?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the banner after both servers listen, in one piece, with no log line inside it', () => {
    const lines = proc!.stdout().split('\n');
    const first = lines.findIndex((l) => l.startsWith('The admin console, in your browser:'));
    const before = lines.slice(0, first).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    assert.deepEqual(before.filter((l) => l.event === 'listening').map((l) => l.service).sort(), ['certbound-authz', 'resource-server-demo']);
    const last = lines.findIndex((l) => l.includes('requires once TLS_CERT_FILE'));
    assert.deepEqual(lines.slice(first, last + 1).filter((l) => l.startsWith('{')), []);
    assert.doesNotMatch(banner, /:(8443|8444|9443)\b/, 'no default port anywhere in the banner');
  });

  it('prints the console on PUBLIC_PORT with where alice\'s password is, and the console answers there', async () => {
    const url = `https://localhost:${ports.public}/console/`;
    assert.match(banner, new RegExp(`^The admin console, in your browser: ${url.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(banner, /^Sign in as alice \(who has the admin role\); her password is in .*\.data\/dev-user\.json\.$/m);
    const ca = await readFile(join(dir, '.data', 'pki', 'ca.pem'), 'utf8');
    const page = await https(url, { ca });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  });

  it('registers the demo resource server on DEMO_PORT and the demo server expects it', () => {
    const bootstrap = proc!.logs().filter((l) => l.event === 'bootstrap').map((l) => l.msg);
    assert.ok(bootstrap.includes(`registered resource server https://localhost:${ports.demo}`), bootstrap.join('\n'));
    const demo = proc!.logs().find((l) => l.service === 'resource-server-demo' && l.event === 'listening')!;
    assert.equal(demo.audience, `https://localhost:${ports.demo}`);
  });

  it('the printed token request answers a JWT for the demo resource on DEMO_PORT', async () => {
    const printed = commands.find((c) => c.startsWith('curl') && c.endsWith(`https://localhost:${ports.mtls}/token`))!;
    assert.ok(printed, banner);
    const answer = JSON.parse(await sh(printed)) as JsonAnswer;
    const { header, payload } = decodeJwt(answer.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(payload.iss, `https://localhost:${ports.public}`);
    assert.equal(payload.aud, `https://localhost:${ports.demo}`);
    assert.equal(answer.scope, 'settlements:read settlements:write');
  });

  it('the printed TOKEN= line and settlement curl settle at the demo server', async () => {
    const tokenLine = commands.find((c) => c.startsWith('TOKEN=$(curl'))!;
    token = (await sh(`${tokenLine}; printf %s "$TOKEN"`)).trim();
    assert.equal(decodeJwt(token).payload.aud, `https://localhost:${ports.demo}`);
    const settle = commands.filter((c) => c.endsWith(`https://localhost:${ports.demo}/api/v1/settlements`));
    assert.equal(settle.length, 2, banner);
    const created = JSON.parse(await sh(settle[0], { TOKEN: token })) as JsonAnswer;
    assert.equal(created.settlement.reference, 'INV-2026-0042');
    assert.equal(created.caller.client_id, 'demo-client');
    assert.equal(created.caller.binding, 'mtls');
  });

  it('the printed refusal: the same token over the admin certificate is 401 invalid_token', async () => {
    const refusal = commands.filter((c) => c.endsWith('/api/v1/settlements'))[1];
    assert.match(refusal, /--cert \S*admin\.pem/);
    const answer = await sh(`${refusal.replace(/^curl /, "curl -s -o /dev/null -w '%{http_code} %header{www-authenticate}' ")}`, { TOKEN: token });
    assert.match(answer, /^401 Bearer error="invalid_token", error_description="access token is bound to a different certificate"/);
  });

  it('the printed openssl thumbprint is the token\'s cnf.x5t#S256', async () => {
    const openssl = commands.find((c) => c.startsWith('openssl x509'))!;
    assert.equal((await sh(openssl)).trim(), decodeJwt(token).payload.cnf['x5t#S256']);
  });

  it('the printed `npm run demo:dpop` settles with a DPoP-bound token', async () => {
    const demo = commands.find((c) => c.endsWith('npm run demo:dpop'))!;
    assert.match(demo, new RegExp(`PUBLIC_PORT=${ports.public} DEMO_PORT=${ports.demo} npm run demo:dpop$`));
    const out = await sh(demo);
    assert.match(out, /Done: the token works only together with the DPoP key that made the proofs\./);
    assert.match(out, new RegExp(`https://localhost:${ports.demo}/api/v1/settlements`));
    // The login variant needs a browser; it carries the same settings.
    assert.ok(commands.includes(`${demo} -- login`), banner);
  });

  it('the printed `npx certbound clients list` reaches the admin API on MTLS_PORT', async () => {
    const cli = commands.find((c) => c.endsWith('npx certbound clients list'))!;
    assert.match(cli, new RegExp(`MTLS_PORT=${ports.mtls} npx certbound clients list$`));
    const out = await sh(cli);
    assert.match(out, new RegExp(`demo-client +enabled +tls_client_auth .* https://localhost:${ports.demo} \\(settlements:read settlements:write\\)`));
    assert.match(out, new RegExp(`demo-dpop-client +enabled +private_key_jwt .* https://localhost:${ports.demo} `));
  });

  it('the printed /mtls/check curl answers the steps, and shows admin.pem is not demo-client', async () => {
    const check = commands.find((c) => c.startsWith('curl') && c.includes('/mtls/check?client_id=demo-client'))!;
    assert.ok(check.includes(`https://localhost:${ports.mtls}/mtls/check`), check);
    const answer = JSON.parse(await sh(check)) as { ok: boolean; steps: Array<{ check: string; ok: boolean | null }>; first_failure: { check: string } | null };
    assert.equal(answer.ok, false);
    assert.equal(answer.first_failure?.check, 'client_match');
    assert.deepEqual(answer.steps.filter((s) => s.ok === true).map((s) => s.check), ['presented', 'chain', 'dates', 'key_usage', 'revocation']);
  });

  it('the printed `npx certbound doctor` passes for demo-client on MTLS_PORT', async () => {
    const doctor = commands.find((c) => c.includes('npx certbound doctor'))!;
    assert.match(doctor, new RegExp(`MTLS_PORT=${ports.mtls} npx certbound doctor --cert \\S+demo-client\\.pem --client-id demo-client$`));
    const out = await sh(doctor);
    assert.match(out, /client_match/);
  });

  it('the printed metrics curl shows demo-client\'s certificate expiry', async () => {
    const metrics = commands.find((c) => c.includes('/metrics | grep certbound_client_certificate_expiry'))!;
    const out = await sh(metrics);
    assert.match(out, /certbound_client_certificate_expiry_timestamp_seconds\{client_id="demo-client"/);
  });

  it('runs nothing it did not check: every printed command was run above', () => {
    const checked = commands.filter((c) =>
      c.startsWith('curl') || c.startsWith('TOKEN=$(curl') || c.startsWith('openssl x509')
      || /npm run demo:dpop( -- login)?$/.test(c) || c.endsWith('npx certbound clients list') || c.includes('npx certbound doctor'));
    assert.deepEqual(commands.filter((c) => !checked.includes(c)), []);
    assert.equal(commands.length, 11, commands.join('\n'));
  });

  it('stops both servers on SIGTERM with exit code 0', async () => {
    assert.equal(await proc!.stop('SIGTERM'), 0);
  });

  it('started again on the same DATA_DIR with another DEMO_PORT, the demo clients get the new resource as default', async () => {
    const demoPort = await freePort();
    proc = await startProcess('scripts/start.ts', {
      PUBLIC_PORT: String(ports.public), MTLS_PORT: String(ports.mtls), DEMO_PORT: String(demoPort),
      DATA_DIR: join(dir, '.data'), LOG_LEVEL: 'info',
    }, { ready: /requires once TLS_CERT_FILE or DATABASE_URL is set\.\n/ });
    const bootstrap = proc.logs().filter((l) => l.event === 'bootstrap').map((l) => l.msg);
    assert.ok(bootstrap.includes(`registered resource https://localhost:${demoPort} for client demo-client (DEMO_PORT changed)`), bootstrap.join('\n'));
    const again = printedCommands(proc.stdout().slice(proc.stdout().indexOf('Get a certificate-bound access token')));
    const tokenLine = again.find((c) => c.startsWith('TOKEN=$(curl'))!;
    const fresh = (await sh(`${tokenLine}; printf %s "$TOKEN"`)).trim();
    assert.equal(decodeJwt(fresh).payload.aud, `https://localhost:${demoPort}`);
    const created = JSON.parse(await sh(again.find((c) => c.endsWith(`https://localhost:${demoPort}/api/v1/settlements`))!, { TOKEN: fresh })) as JsonAnswer;
    assert.equal(created.caller.client_id, 'demo-client');
    assert.match(await sh(again.find((c) => c.endsWith('npm run demo:dpop'))!), /Done: the token works only together with the DPoP key/);
    assert.equal(await proc.stop('SIGTERM'), 0);
  });
});
