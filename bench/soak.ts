// `npm run bench -- soak` (or `node --conditions=certbound-source bench/soak.ts`): certbound on
// PostgreSQL + Redis for SOAK_SECONDS (default 600) at half the capacity measured first, on
// keep-alive mutual-TLS connections (issue 14 item 6). Reports errors (target 0), p99 per tenth
// of the run and its drift (last tenth / the first tenth after warm-up), and each process's
// resident memory after warm-up and at the end (targets: growth <= 10 %, <= 256 MB per worker).
// Environment: BENCH_DATABASE_URL + BENCH_REDIS_URL (required), SOAK_SECONDS, SOAK_WORKERS
// (default 1), SOAK_RATE (req/s; skips the capacity measurement), BENCH_CONNECTIONS (capacity
// callers, 32), BENCH_OUT (default bench/results/soak.json). Prints the figures as table rows.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { createBenchPki } from './lib/pki.ts';
import { benchOptions } from './lib/suite.ts';
import { keepAliveLoad } from './lib/load.ts';
import { residentBytes } from './lib/proc.ts';
import { TOKEN_BODY, startCertbound } from './lib/servers.ts';

const opts = benchOptions(process.env);
if (!opts.external) throw new Error('the soak runs on PostgreSQL + Redis: set BENCH_DATABASE_URL and BENCH_REDIS_URL');
const positive = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${raw}" is not a positive number`);
  return n;
};
const seconds = positive('SOAK_SECONDS', 600);
const workers = positive('SOAK_WORKERS', 1);
const out = resolve(process.env.BENCH_OUT ?? fileURLToPath(new URL('results/soak.json', import.meta.url)));
const started = Date.now();
const log = (line: string) => process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}\n`);
const MB = 1024 * 1024;
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Every process of the server but the primary when there are workers: the ones serving requests. */
async function workerRss(pid: number): Promise<number[]> {
  const all = await residentBytes(pid);
  return workers > 1 ? all.slice(1) : all;
}

const pki = await createBenchPki();
const server = await startCertbound('soak', { pki, storage: { kind: 'external', ...opts.external }, workers });
try {
  const tls = { ca: pki.serverCa.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  let rate = positive('SOAK_RATE', 0);
  let capacity: number | undefined;
  if (!rate) {
    const measured = await keepAliveLoad({ origin: server.origin, path: '/token', body: TOKEN_BODY, tls }, { connections: opts.connections, durationMs: opts.durationMs, warmupMs: opts.warmupMs });
    capacity = measured.rps;
    rate = Math.max(1, Math.round(capacity / 2));
    log(`capacity ${capacity} req/s (${opts.connections} keep-alive connections, ${measured.errors} errors): soaking at ${rate} req/s for ${seconds} s`);
  }

  const pool = new Pool(server.origin, { connections: 16, pipelining: 1, keepAliveTimeout: 60_000, connect: { ...tls, servername: 'localhost' } });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const windows = 10;
  const windowMs = (seconds * 1000) / windows;
  interface Window { requests: number; errors: number; p50: number; p99: number; max: number; rssMb: number[]; behind: number }
  const done: Window[] = [];
  let histogram = createHistogram({ lowest: 1, highest: 120_000_000_000, figures: 3 });
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let behind = 0;
  const MAX_IN_FLIGHT = 256;
  const send = async () => {
    inFlight++;
    const t0 = process.hrtime.bigint();
    try {
      const res = await pool.request({ path: '/token', method: 'POST', headers, body: TOKEN_BODY });
      const text = await res.body.text();
      if (res.statusCode === 200 && text.includes('"access_token"')) {
        requests++;
        histogram.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
      } else {
        errors++;
        firstError ??= `${res.statusCode} ${text.slice(0, 200)}`;
      }
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    } finally {
      inFlight--;
    }
  };
  // Paced, not closed-loop: request n is due at n / rate seconds; a server that falls behind
  // accumulates requests in flight (up to 256), then the schedule waits and `behind` counts it.
  const t0 = performance.now();
  let sent = 0;
  let windowStart = t0;
  while (done.length < windows) {
    const now = performance.now();
    const due = Math.floor(((now - t0) / 1000) * rate);
    while (sent < due && inFlight < MAX_IN_FLIGHT) { void send(); sent++; }
    if (sent < due) behind++;
    if (now - windowStart >= windowMs) {
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      const w: Window = {
        requests, errors, behind,
        p50: requests ? ms(histogram.percentile(50)) : 0, p99: requests ? ms(histogram.percentile(99)) : 0, max: requests ? ms(histogram.max) : 0,
        rssMb: (await workerRss(server.pid)).map((b) => round1(b / MB)),
      };
      done.push(w);
      log(`tenth ${done.length}: ${w.requests} ok, ${w.errors} errors, p50 ${w.p50} ms, p99 ${w.p99} ms, RSS ${w.rssMb.join(' / ')} MB${firstError ? `, first error ${firstError}` : ''}`);
      histogram = createHistogram({ lowest: 1, highest: 120_000_000_000, figures: 3 });
      requests = 0; errors = 0; behind = 0;
      windowStart = now;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  await pool.close();

  const total = done.reduce((a, w) => a + w.requests, 0);
  const totalErrors = done.reduce((a, w) => a + w.errors, 0);
  // The first tenth is warm-up (JIT, caches, pools): drift and growth are measured from its end.
  const afterWarmup = done[1];
  const last = done[done.length - 1];
  const drift = afterWarmup.p99 > 0 ? Math.round((last.p99 / afterWarmup.p99) * 100) / 100 : 0;
  const startRss = done[0].rssMb;
  const endRss = last.rssMb;
  const growth = endRss.map((mb, i) => Math.round(((mb - (startRss[i] ?? mb)) / (startRss[i] ?? mb)) * 1000) / 10);
  // On a short run the first tenth may not cover the warm-up: the second half alone, for comparison.
  const midRss = done[Math.floor(windows / 2) - 1].rssMb;
  const secondHalf = endRss.map((mb, i) => Math.round(((mb - (midRss[i] ?? mb)) / (midRss[i] ?? mb)) * 1000) / 10);
  const peak = await server.peakRss();
  const maxRss = Math.max(...done.flatMap((w) => w.rssMb));
  const rows = [
    `| Soak: token endpoint, PostgreSQL + Redis, ${workers} worker${workers > 1 ? 's' : ''}, ${seconds} s at ${rate} req/s${capacity ? ` (half of ${capacity} req/s measured)` : ''} | ${total} requests · ${round1(total / seconds)} req/s achieved | — | — |`,
    `| Soak: failed requests | ${totalErrors}${firstError ? ` (first: ${firstError.slice(0, 80)})` : ''} | 0 | ${totalErrors === 0 ? 'PASS' : 'FAIL'} |`,
    `| Soak: p99 per tenth of the run (ms) and drift, last tenth / first after warm-up | ${done.map((w) => w.p99).join(' · ')} · ${drift}× | — | — |`,
    `| Soak: RSS per worker after warm-up → end (MB), growth | ${startRss.join(' / ')} → ${endRss.join(' / ')} · ${growth.map((g) => `${g} %`).join(' / ')} | ≤ 10 % | ${growth.every((g) => g <= 10) ? 'PASS' : 'FAIL'} |`,
    `| Soak: RSS per worker over the second half of the run (MB), growth | ${midRss.join(' / ')} → ${endRss.join(' / ')} · ${secondHalf.map((g) => `${g} %`).join(' / ')} | — | — |`,
    `| Soak: largest RSS of a worker during the run (MB; peak VmHWM of the largest process) | ${maxRss} (${round1(peak.maxProcessBytes / MB)}) | ≤ 256 MB | ${peak.maxProcessBytes <= 256 * MB ? 'PASS' : 'FAIL'} |`,
  ];
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), seconds, workers, rate, capacity, windows: done, errors: totalErrors, firstError, drift, startRss, midRss, endRss, growth, secondHalf, peakRss: peak }, null, 2)}\n`);
  process.stdout.write(`${rows.join('\n')}\n`);
  log(`results written to ${out}`);
} finally {
  await server.stop();
  await pki.ocsp.close();
  await rm(pki.dir, { recursive: true, force: true });
}
