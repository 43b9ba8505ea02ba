// `node --conditions=certbound-source bench/enrollment.ts`: enrollment (EST, issue 13). Reports
// enrollments and re-enrollments per second (each on its own TLS connection, as a partner's cron
// job makes them; the CSRs are made before the window), and the token endpoint's keep-alive speed
// with an issuing CA configured but unused against none, in alternating rounds: the ratio
// (req/s off ÷ on) should be ~1.00. Same environment as run.ts (BENCH_ROUNDS, BENCH_DURATION_MS,
// BENCH_CONNECTIONS, BENCH_DATABASE_URL + BENCH_REDIS_URL); prints the figures as table rows.
import { request } from 'node:https';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';
import { createBenchPki, BENCH_CLIENT_SUBJECT } from './lib/pki.ts';
import { benchOptions } from './lib/suite.ts';
import { keepAliveLoad } from './lib/load.ts';
import { CLIENT_ID, TOKEN_BODY, prepareEmbeddedTemplate, startCertbound, type RunningServer, type Storage } from './lib/servers.ts';
import { issueCertificate } from '../apps/authz-server/src/pki/issue.ts';
import { x509 } from '../apps/authz-server/src/mtls/x509.ts';

const opts = benchOptions(process.env);
const started = Date.now();
const log = (line: string) => process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round2 = (x: number) => Math.round(x * 100) / 100;

interface Answer { status: number; text: string }
function post(origin: string, path: string, o: { ca: string; cert?: string; key?: string; body?: string; headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { method: o.body === undefined ? 'GET' : 'POST', ca: o.ca, cert: o.cert, key: o.key, agent: false, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

async function newCsr(): Promise<{ csr: string; keyPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=bench', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { csr: Buffer.from(csr.rawData).toString('base64'), keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n` };
}

/** `workers` callers run `one` until the window closes; successful calls per second. */
async function rate(workers: number, durationMs: number, one: (i: number) => Promise<boolean>): Promise<{ perSecond: number; ok: number; failed: number }> {
  let ok = 0;
  let failed = 0;
  let n = 0;
  const until = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < until) {
      if (await one(n++)) ok++;
      else failed++;
    }
  }));
  return { perSecond: round2(ok / ((performance.now() - t0) / 1000)), ok, failed };
}

const pki = await createBenchPki();
const storage: Storage = opts.external ? { kind: 'external', ...opts.external } : { kind: 'embedded' };
const servers: RunningServer[] = [];
try {
  const issuing = await issueCertificate({ subject: 'CN=certbound bench issuing CA,O=certbound bench', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 2 });
  const caFiles = { cert: join(pki.dir, 'issuing-ca.pem'), key: join(pki.dir, 'issuing-ca-key.pem') };
  await writeFile(caFiles.cert, issuing.certPem);
  await writeFile(caFiles.key, issuing.keyPem, { mode: 0o600 });
  const template = storage.kind === 'embedded' ? await prepareEmbeddedTemplate(pki) : undefined;
  const start = async (name: string, env: Record<string, string>) => {
    const server = await startCertbound(name, { pki, storage, workers: 1, env, ...(template ? { embeddedTemplate: template } : {}) });
    servers.push(server);
    return server;
  };
  // The bench client's certificate also matches the admin client (ADMIN_SUBJECT_DN): it creates the codes.
  const [off, on] = await Promise.all([
    start('certbound, no issuing CA', {}),
    start('certbound, issuing CA configured', { ISSUING_CA_CERT_FILE: caFiles.cert, ISSUING_CA_KEY_FILE: caFiles.key, ADMIN_SUBJECT_DN: BENCH_CLIENT_SUBJECT }),
  ]);
  const tls = { ca: pki.serverCa.certPem, cert: pki.client.certPem, key: pki.client.keyPem };

  log(`token endpoint, keep-alive, enrollment unused: ${opts.rounds} alternating rounds of ${opts.durationMs} ms`);
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const rps = { off: [] as number[], on: [] as number[] };
  const cpu = { off: [] as number[], on: [] as number[] };
  // The server's CPU time per request is much less disturbed by other load on the machine than req/s.
  const load = async (server: RunningServer) => {
    let t0 = 0;
    let t1 = 0;
    const pending: Array<Promise<void>> = [];
    const result = await keepAliveLoad({ origin: server.origin, path: server.tokenPath, body: TOKEN_BODY, tls }, {
      connections: opts.connections, durationMs: opts.durationMs, warmupMs: opts.warmupMs, minRequests: opts.minRequests,
      onWindow: (phase) => {
        pending.push(server.cpuSeconds().then((s) => {
          if (phase === 'start') t0 = s;
          else t1 = s;
        }));
      },
    });
    await Promise.all(pending);
    if (result.errors > 0) throw new Error(`${server.name}: token requests failed: ${result.firstError}`);
    return { rps: result.rps, cpuUs: ((t1 - t0) * 1e6) / Math.max(1, result.requests) };
  };
  for (let r = 0; r < opts.rounds; r++) {
    const a = r % 2 === 0 ? await load(off) : undefined;
    const b = await load(on);
    const a2 = a ?? await load(off);
    rps.off.push(a2.rps);
    rps.on.push(b.rps);
    cpu.off.push(a2.cpuUs);
    cpu.on.push(b.cpuUs);
    ratios.push(a2.rps / b.rps);
    cpuRatios.push(b.cpuUs / a2.cpuUs);
  }

  const token = await post(on.origin, '/token', { ...tls, body: 'grant_type=client_credentials&client_id=admin&scope=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (token.status !== 200) throw new Error(`admin token: ${token.status} ${token.text}`);
  const admin = (JSON.parse(token.text) as { access_token: string }).access_token;
  const csrs = await Promise.all(Array.from({ length: 16 }, newCsr));
  const codes: string[] = [];
  const wanted = Math.max(50, Math.ceil((opts.durationMs / 1000) * 150));
  log(`creating ${wanted} enrollment codes`);
  for (let i = 0; i < wanted; i++) {
    const res = await post(on.origin, `/admin/v1/clients/${CLIENT_ID}/enrollment-codes`, { ...tls, body: '{}', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } });
    if (res.status !== 201) throw new Error(`enrollment code: ${res.status} ${res.text}`);
    codes.push((JSON.parse(res.text) as { code: string }).code);
  }
  const workers = 4;
  const enrolled: Array<{ cert: string; key: string }> = [];
  log(`simpleenroll, ${workers} callers, a new TLS connection each, ${opts.durationMs} ms`);
  const enroll = await rate(workers, opts.durationMs, async (i) => {
    const code = codes.pop();
    if (code === undefined) return false;
    const { csr, keyPem } = csrs[i % csrs.length];
    const res = await post(on.origin, '/.well-known/est/simpleenroll', {
      ca: tls.ca, body: csr, headers: { 'content-type': 'application/pkcs10', authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${code}`).toString('base64')}` },
    });
    if (res.status !== 200) return false;
    if (enrolled.length < 8) {
      const [cert] = new x509.X509Certificates(Buffer.from(res.text.replace(/\s+/g, ''), 'base64'));
      enrolled.push({ cert: cert.toString('pem'), key: keyPem });
    }
    return true;
  });
  if (enrolled.length === 0) throw new Error('no enrollment succeeded');
  log(`simplereenroll, ${workers} callers, a new TLS connection each, ${opts.durationMs} ms`);
  const reenroll = await rate(workers, opts.durationMs, async (i) => {
    const identity = enrolled[i % enrolled.length];
    const res = await post(on.origin, '/.well-known/est/simplereenroll', {
      ca: tls.ca, cert: identity.cert, key: identity.key, body: csrs[i % csrs.length].csr, headers: { 'content-type': 'application/pkcs10' },
    });
    return res.status === 200;
  });
  const where = storage.kind === 'external' ? 'PostgreSQL + Redis, 1 worker' : 'embedded storage';
  const ratio = round2(median(ratios));
  const rows = [
    [`Token endpoint, ${where}, no issuing CA, ${opts.connections} keep-alive mTLS connections`, `${round2(median(rps.off))} req/s`, '—', '—'],
    [`Token endpoint, ${where}, issuing CA configured (enrollment unused)`, `${round2(median(rps.on))} req/s`, '—', '—'],
    ['Keep-alive: enrollment configured / not, time per request (req/s off ÷ on)',
      `${ratio}× (server CPU per request ${round2(median(cpu.on))} / ${round2(median(cpu.off))} µs: ${round2(median(cpuRatios))}×)`, '≤ 1.03×', ratio <= 1.03 ? 'PASS' : 'FAIL'],
    [`EST simpleenroll, ${where}, ${workers} callers, new TLS connection each`, `${enroll.perSecond} /s (${enroll.ok} ok, ${enroll.failed} refused)`, '—', '—'],
    [`EST simplereenroll, ${where}, ${workers} callers, new TLS connection each`, `${reenroll.perSecond} /s (${reenroll.ok} ok, ${reenroll.failed} refused)`, '—', '—'],
  ];
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
} finally {
  await Promise.allSettled(servers.map((s) => s.stop()));
  await pki.ocsp.close();
  await rm(pki.dir, { recursive: true, force: true });
}
