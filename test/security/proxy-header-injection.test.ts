// Attack class: certificate headers injected through a TLS-terminating proxy (issue 10). A proxy
// replaces the one certificate header it sets and forwards every other header its client sent;
// when certbound believed all three formats from a trusted proxy, anyone without a certificate
// sent `Client-Cert: :<admin.pem as base64 DER>:` through the usual nginx recipe (which sets only
// X-SSL-Client-Cert) and got an admin token. Now TRUSTED_PROXY_HEADER names the one format, and
// a header of either other format from the proxy is refused.
//
// Everything runs for real: the authorization server as a child process (security-server.ts),
// behind a real nginx (Debian nginx-light, installed by .ci/run) started here as a plain process
// on loopback, with TLS terminated by nginx. Its server block is deploy/nginx/certbound.conf,
// the documented example, with only the addresses and file names replaced. nginx connects
// upstream from 127.0.0.2 (proxy_bind in the http block around it), the only TRUSTED_PROXIES
// address, so the harness's own admin calls from 127.0.0.1 stay plain mutual TLS.
//
// Per format, nginx serves the same block in up to three variants:
//   documented  the example: sets the format's header and clears the other two formats.
//   lax         "the usual recipe": sets only the format's header, forwards the others.
//               The injection reaches certbound, which refuses it (400 naming the header).
//   append      xfcc only: Envoy's APPEND_FORWARD (a second element after the client's own).
// nginx has no RFC 9440 or XFCC output of its own; for those formats it stands in for a proxy that
// has one (a map turns $ssl_client_raw_cert into `:base64 DER:`, $ssl_client_escaped_cert into
// `Cert="…"`), so the variants differ from the example only in the certificate lines.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/https.ts';
import { NGINX, writeNginxConf } from '../support/nginx.ts';
import { repoRoot, startProcess } from '../support/processes.ts';
import {
  expectRefusal, expectStillServing, expectToken, registerWorld, startSecurityServer, thumbprintOfPem, timedRequest,
  type Attempt, type SecurityServer, type SecurityWorld, type TlsClientIdentity,
} from '../support/security-server.ts';

type Format = 'client-cert' | 'xfcc' | 'nginx';
type Variant = 'documented' | 'lax' | 'append';

const PROXY_ADDRESS = '127.0.0.2';
const TEMPLATE = readFileSync(join(repoRoot, 'deploy/nginx/certbound.conf'), 'utf8');

// The certificate lines of the example, exactly as documented (README "Behind a TLS-terminating proxy").
const SET_LINE = '        proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;\n';
const CLEAR_LINES = [
  '        proxy_set_header Client-Cert "";\n',
  '        proxy_set_header Client-Cert-Chain "";\n',
  '        proxy_set_header X-Forwarded-Client-Cert "";\n',
];

/** The header each format is passed in, as certbound names it in a refusal. */
const HEADER: Record<Format, string> = { 'client-cert': 'client-cert', xfcc: 'x-forwarded-client-cert', nginx: 'x-ssl-client-cert' };

/** An injected header carrying `pem` in `format`. */
function injected(format: Format, pem: string): Record<string, string> {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64');
  if (format === 'client-cert') return { 'client-cert': `:${der.toString('base64')}:` };
  if (format === 'xfcc') return { 'x-forwarded-client-cert': `Hash=00;Cert="${encodeURIComponent(pem)}"` };
  return { 'x-ssl-client-cert': encodeURIComponent(pem) };
}

/** The certificate lines of one variant (the documented nginx variant is the template itself). */
function certificateLines(format: Format, variant: Variant): string {
  const set: Record<Format, string> = {
    'client-cert': '        proxy_set_header Client-Cert $certbound_client_cert;\n',
    xfcc: `        proxy_set_header X-Forwarded-Client-Cert ${variant === 'append' ? '$certbound_xfcc_append' : '$certbound_xfcc'};\n`,
    nginx: SET_LINE,
  };
  if (variant !== 'documented') return set[format];
  const clear: Record<Format, string[]> = {
    'client-cert': ['        proxy_set_header Client-Cert-Chain "";\n', '        proxy_set_header X-SSL-Client-Cert "";\n', CLEAR_LINES[2]],
    xfcc: [CLEAR_LINES[0], CLEAR_LINES[1], '        proxy_set_header X-SSL-Client-Cert "";\n'],
    nginx: CLEAR_LINES,
  };
  return set[format] + clear[format].join('');
}

function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  assert.equal(text.match(new RegExp(pattern.source, `${pattern.flags}g`))?.length, 1, `deploy/nginx/certbound.conf: expected one ${pattern}`);
  return text.replace(pattern, replacement);
}

/** The example's server block with this test's addresses and files, for one format and variant. */
function serverBlock(format: Format, variant: Variant, o: { port: number; upstreamPort: number; dir: string }): string {
  let block = TEMPLATE.slice(TEMPLATE.indexOf('server {'));
  block = replaceOnce(block, /^(\s*listen) 443 ssl;$/m, `$1 127.0.0.1:${o.port} ssl;`);
  block = replaceOnce(block, /^(\s*server_name) as\.example\.com;$/m, '$1 localhost;');
  block = replaceOnce(block, /^(\s*ssl_certificate) +\S+;$/m, `$1 ${o.dir}/server.pem;`);
  block = replaceOnce(block, /^(\s*ssl_certificate_key) \S+;$/m, `$1 ${o.dir}/server-key.pem;`);
  block = replaceOnce(block, /^(\s*proxy_pass) https:\/\/10\.0\.0\.10:8444;$/m, `$1 https://127.0.0.1:${o.upstreamPort};`);
  block = replaceOnce(block, /^(\s*proxy_ssl_trusted_certificate) \S+;$/m, `$1 ${o.dir}/certbound-ca.pem;`);
  block = replaceOnce(block, /^(\s*proxy_ssl_name) as\.example\.com;$/m, '$1 localhost;');
  const start = block.indexOf(SET_LINE);
  assert.ok(start > 0 && block.indexOf(CLEAR_LINES.join(''), start) > start, 'deploy/nginx/certbound.conf holds the documented certificate lines');
  const lines = block.slice(start, block.indexOf(CLEAR_LINES[2]) + CLEAR_LINES[2].length);
  const comment = block.slice(start + SET_LINE.length, block.indexOf(CLEAR_LINES[0]));
  assert.equal(lines, SET_LINE + comment + CLEAR_LINES.join(''));
  if (format === 'nginx' && variant === 'documented') return block;
  return block.replace(lines, certificateLines(format, variant));
}

// nginx has no RFC 9440 output: rebuild `:base64 DER:` from the PEM by removing its armour and line
// breaks, up to 8 per map (PCRE cannot replace globally), 48 lines in all (RSA 4096 needs 30).
function clientCertMaps(): string {
  const steps = 6;
  const out = [
    'map $ssl_client_raw_cert $certbound_cc_0 {',
    '    "~^-----BEGIN CERTIFICATE-----\\n(?<certbound_cc_body>[A-Za-z0-9+/=\\n]+?)\\n?-----END CERTIFICATE-----\\n?$" $certbound_cc_body;',
    '    default "";',
    '}',
  ];
  const group = '([^\\n]*)\\n';
  for (let i = 0; i < steps; i++) {
    out.push(`map $certbound_cc_${i} $certbound_cc_${i + 1} {`,
      `    "~^${group.repeat(8)}([\\s\\S]*)$" "$1$2$3$4$5$6$7$8$9";`,
      `    "~^([^\\n]*)\\n([\\s\\S]*)$" "$1$2";`,
      `    default $certbound_cc_${i};`,
      '}');
  }
  out.push(`map $certbound_cc_${steps} $certbound_client_cert {`, '    "" "";', `    default ":$certbound_cc_${steps}:";`, '}');
  return out.join('\n');
}

// Envoy's element for the client's certificate (URL-encoded PEM in Cert), and APPEND_FORWARD:
// the element appended to what the client sent.
const XFCC_MAPS = `
map $ssl_client_escaped_cert $certbound_xfcc {
    "" "";
    default "Cert=\\"$ssl_client_escaped_cert\\"";
}
map "$http_x_forwarded_client_cert|$certbound_xfcc" $certbound_xfcc_append {
    "|" "";
    "~^\\|(?<certbound_own>.+)$" $certbound_own;
    "~^(?<certbound_in>.+)\\|$" $certbound_in;
    "~^(?<certbound_in2>.+)\\|(?<certbound_own2>.+)$" "$certbound_in2,$certbound_own2";
}`;

interface Nginx {
  url: Record<Variant, string>;
  stop(): Promise<void>;
}

async function startNginx(server: SecurityServer, format: Format): Promise<Nginx> {
  assert.ok(NGINX, 'nginx is not installed: apt-get install nginx-light (.ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'certbound-nginx-'));
  await writeFile(join(dir, 'server.pem'), server.pki.server.certPem + server.pki.serverCa.certPem);
  await writeFile(join(dir, 'server-key.pem'), server.pki.server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'certbound-ca.pem'), server.ca);
  const upstreamPort = Number(new URL(server.mtlsUrl).port);
  const variants: Variant[] = format === 'xfcc' ? ['documented', 'lax', 'append'] : ['documented', 'lax'];
  const ports = {} as Record<Variant, number>;
  for (const v of variants) ports[v] = await freePort();
  const args = await writeNginxConf(dir, {
    workerConnections: 64,
    what: 'the test configuration',
    http: `    # Test only: connect upstream from the one TRUSTED_PROXIES address.
    proxy_bind ${PROXY_ADDRESS};
${format === 'client-cert' ? clientCertMaps() : ''}
${format === 'xfcc' ? XFCC_MAPS : ''}
${variants.map((v) => serverBlock(format, v, { port: ports[v], upstreamPort, dir })).join('\n')}`,
  });
  const child: ChildProcess = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  // Ready once every variant answers (any HTTP answer: TLS is up and proxying).
  const url = Object.fromEntries(variants.map((v) => [v, `https://localhost:${ports[v]}`])) as Record<Variant, string>;
  const deadline = Date.now() + 10_000;
  for (const v of variants) {
    while ((await timedRequest(`${url[v]}/.well-known/openid-configuration`, { ca: server.ca, timeoutMs: 1_000 })).status === 0) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`nginx did not start: ${stderr}\n${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
      }
      await sleep(50);
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A token request through nginx, and the log lines it caused (as security-server.ts attempt()). */
async function through(
  server: SecurityServer, url: string, clientId: string, identity: TlsClientIdentity | undefined, headers: Record<string, string> = {},
): Promise<Attempt> {
  const mark = server.logs().length;
  const res = await timedRequest(`${url}/token`, {
    ca: server.ca,
    identity,
    headers,
    form: { grant_type: 'client_credentials', client_id: clientId, ...(clientId === 'admin' ? { scope: 'admin' } : {}) },
  });
  if (res.status !== 200) {
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && !server.logs().slice(mark).some((l) => l.event === 'oauth_refusal')) await sleep(10);
    await sleep(50);
  }
  return { res, logs: server.logs().slice(mark), exitStatus: server.exitStatus() };
}

const NO_CERTIFICATE = 'no client certificate presented';
const notAccepted = (name: string, format: Format) => `client certificate header ${name} is not accepted: the proxy passes the certificate in ${HEADER[format]}`;

interface Setup {
  server: SecurityServer;
  world: SecurityWorld;
  nginx: Nginx;
}

// One server and one nginx per format, all started at once (a server start is most of the time).
const FORMATS = ['nginx', 'client-cert', 'xfcc'] as const;
let setups: Promise<Record<Format, Setup>> | undefined;
const stopping: Array<() => Promise<void>> = [];
function setup(format: Format): Promise<Setup> {
  setups ??= Promise.all(FORMATS.map(async (f) => {
    const server = await startSecurityServer({ env: { TRUSTED_PROXIES: PROXY_ADDRESS, TRUSTED_PROXY_HEADER: f } });
    stopping.push(() => server.stop());
    const world = await registerWorld(server);
    const nginx = await startNginx(server, f);
    stopping.push(() => nginx.stop());
    return [f, { server, world, nginx }] as const;
  })).then((entries) => Object.fromEntries(entries) as Record<Format, Setup>);
  return setups.then((all) => all[format]);
}
after(async () => {
  // nginx first (pushed after its server), then the servers.
  for (const stop of stopping.reverse()) await stop();
});

for (const format of FORMATS) {
  const others = (['client-cert', 'xfcc', 'nginx'] as const).filter((f) => f !== format);

  describe(`TRUSTED_PROXY_HEADER=${format} behind a real nginx`, () => {
    let server: SecurityServer;
    let world: SecurityWorld;
    let nginx: Nginx;
    let adminPem: string;
    let legitPem: string;

    before(async () => {
      ({ server, world, nginx } = await setup(format));
      adminPem = server.pki.admin.certPem;
      legitPem = world.legit.identity.cert!;
    });

    it('a client presenting its certificate to nginx gets a token bound to it', async () => {
      expectToken(await through(server, nginx.url.documented, 'legit', world.legit.identity), thumbprintOfPem(legitPem));
      expectToken(await through(server, nginx.url.lax, 'legit', world.legit.identity), thumbprintOfPem(legitPem));
    });

    for (const other of others) {
      it(`the admin certificate injected in ${HEADER[other]}: cleared by the documented config, refused by certbound behind the usual recipe`, async () => {
        // The documented config removes the header, so certbound sees a request without a certificate.
        expectRefusal(await through(server, nginx.url.documented, 'admin', undefined, injected(other, adminPem)), 401, 'invalid_client', NO_CERTIFICATE);
        // A proxy that forwards it: certbound refuses the request, naming the header.
        expectRefusal(await through(server, nginx.url.lax, 'admin', undefined, injected(other, adminPem)), 400, 'invalid_request', notAccepted(HEADER[other], format));
        // Also beside a real certificate: the injected header is not ignored, the request is refused.
        expectRefusal(await through(server, nginx.url.lax, 'legit', world.legit.identity, injected(other, adminPem)), 400, 'invalid_request', notAccepted(HEADER[other], format));
        await expectStillServing(server, world.legit);
      });
    }

    it(`the admin certificate in ${HEADER[format]} itself: nginx replaces it with the real (absent) certificate`, async () => {
      for (const url of [nginx.url.documented, nginx.url.lax]) {
        expectRefusal(await through(server, url, 'admin', undefined, injected(format, adminPem)), 401, 'invalid_client', NO_CERTIFICATE);
        // With a certificate of its own, the client gets a token bound to that one, never the admin's.
        expectToken(await through(server, url, 'legit', world.legit.identity, injected(format, adminPem)), thumbprintOfPem(legitPem));
      }
      await expectStillServing(server, world.legit);
    });

    if (format === 'nginx') {
      it('Client-Cert-Chain is of the client-cert format too', async () => {
        const chain = { 'client-cert-chain': injected('client-cert', server.pki.clientRoot.certPem)['client-cert'] };
        expectRefusal(await through(server, nginx.url.lax, 'legit', world.legit.identity, chain), 400, 'invalid_request', notAccepted('client-cert-chain', 'nginx'));
        expectToken(await through(server, nginx.url.documented, 'legit', world.legit.identity, chain), thumbprintOfPem(legitPem));
      });
    }

    if (format === 'xfcc') {
      it('x-forwarded-client-cert with two elements (a proxy appending, APPEND_FORWARD) is refused', async () => {
        const d = 'x-forwarded-client-cert must hold exactly one element, not 2: the proxy must set it (SANITIZE_SET), not append to it';
        // The client's own element first, nginx's (the real certificate) appended after it.
        expectRefusal(await through(server, nginx.url.append, 'admin', world.legit.identity, injected('xfcc', adminPem)), 400, 'invalid_request', d);
        // No certificate, two elements of the client's own.
        const two = { 'x-forwarded-client-cert': `${injected('xfcc', legitPem)['x-forwarded-client-cert']},${injected('xfcc', adminPem)['x-forwarded-client-cert']}` };
        expectRefusal(await through(server, nginx.url.append, 'admin', undefined, two), 400, 'invalid_request', d);
        // The documented (SANITIZE_SET-like) config replaces the header: the client's own certificate.
        expectToken(await through(server, nginx.url.documented, 'legit', world.legit.identity, two), thumbprintOfPem(legitPem));
        await expectStillServing(server, world.legit);
      });
    }
  });
}

describe('the documented proxy configuration', () => {
  it('README shows deploy/nginx/certbound.conf\'s server block, the one tested here', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    assert.ok(readme.includes(`\`\`\`nginx\n${TEMPLATE.slice(TEMPLATE.indexOf('server {'))}\`\`\``), 'README "Behind a TLS-terminating proxy" differs from deploy/nginx/certbound.conf');
    assert.match(readme, /forward_client_cert_details: SANITIZE_SET\nset_current_client_cert_details: \{ cert: true, chain: true \}/);
  });
});

describe('TRUSTED_PROXY_HEADER at start', () => {
  it('the server does not start with TRUSTED_PROXIES and no TRUSTED_PROXY_HEADER, naming the variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-proxy-config-'));
    try {
      await assert.rejects(
        startProcess('apps/authz-server/src/main.ts', { PUBLIC_PORT: '0', MTLS_PORT: '0', DATA_DIR: dir, TRUSTED_PROXIES: PROXY_ADDRESS }, { ready: /"event":"listening"/, timeoutMs: 30_000 }),
        /certbound: configuration error: TRUSTED_PROXY_HEADER: must be set when TRUSTED_PROXIES is set/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
