// `npm run bench -- proxy` (or `node --conditions=certbound-source bench/proxy.ts`): what a
// TLS-terminating proxy buys (issue 14 item 5). The token endpoint with a NEW TLS connection per
// request (a full handshake each time, mutual TLS), directly to certbound and through HAProxy
// running deploy/haproxy/haproxy.cfg as it is (TLS terminated there, RFC 9440 Client-Cert and
// keep-alive TLS to certbound), in alternating rounds. Per scenario: req/s, latency, and CPU time
// per request of each process (certbound's tree and haproxy's, from /proc/<pid>/stat) and of the
// load generator. Same environment as run.ts (BENCH_ROUNDS, BENCH_DURATION_MS, BENCH_CONNECTIONS,
// BENCH_DATABASE_URL + BENCH_REDIS_URL); prints the figures as table rows and writes
// bench/results/proxy.json (BENCH_OUT).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchPki } from './lib/pki.ts';
import { benchOptions } from './lib/suite.ts';
import { newConnectionLoad, type LoadResult } from './lib/load.ts';
import { cpuSeconds } from './lib/proc.ts';
import { TOKEN_BODY, prepareEmbeddedTemplate, startCertbound, type Storage } from './lib/servers.ts';
import { median } from './lib/verifier.ts';
import { freePort } from '../test/support/https.ts';
import { HAPROXY, startHaproxy, writeProxyTls, type RunningProxy } from '../test/faults/support/proxies.ts';

const opts = benchOptions(process.env);
const out = resolve(process.env.BENCH_OUT ?? fileURLToPath(new URL('results/proxy.json', import.meta.url)));
const started = Date.now();
const log = (line: string) => process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}\n`);
if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install haproxy; .ci/run does)');

const PROXY_ADDRESS = '127.0.0.2';
const pki = await createBenchPki();
const storage: Storage = opts.external ? { kind: 'external', ...opts.external } : { kind: 'embedded' };
let proxy: RunningProxy | undefined;
let server: Awaited<ReturnType<typeof startCertbound>> | undefined;
try {
  const template = storage.kind === 'embedded' ? await prepareEmbeddedTemplate(pki) : undefined;
  // One certbound that believes HAProxy's Client-Cert; a direct connection (from 127.0.0.1, not
  // the proxy's address) is plain mutual TLS, so both scenarios reach the same process.
  server = await startCertbound('certbound', {
    pki, storage, workers: 1, ...(template ? { embeddedTemplate: template } : {}),
    env: { TRUSTED_PROXIES: PROXY_ADDRESS, TRUSTED_PROXY_HEADER: 'client-cert' },
  });
  const mtls = new URL(server.origin);
  const publicPort = new URL(server.issuer).port;
  const tlsDir = join(pki.dir, 'haproxy-tls');
  await writeProxyTls(tlsDir, {
    certPem: pki.server.certPem + pki.serverCa.certPem, keyPem: pki.server.keyPem, clientCaPem: pki.clientRoot.certPem, upstreamCaPem: pki.serverCa.certPem,
  });
  const listen = await freePort();
  // The example's two servers both name the one instance here (the API backend is unused).
  proxy = await startHaproxy({
    LISTEN: `127.0.0.1:${listen}`, TLS_DIR: tlsDir, UPSTREAM_NAME: 'localhost',
    '1_MTLS': `127.0.0.1:${mtls.port}`, '1_PUBLIC_PORT': publicPort, '2_MTLS': `127.0.0.1:${mtls.port}`, '2_PUBLIC_PORT': publicPort,
    PROXY_ADDRESS, API_LISTEN: `127.0.0.1:${await freePort()}`, API_UPSTREAM: `127.0.0.1:${mtls.port}`,
  });
  const haproxyPid = proxy.child.pid!;
  const tls = { ca: pki.serverCa.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  const scenarios = {
    direct: { origin: server.origin, label: 'directly to certbound (Node terminates mutual TLS)' },
    haproxy: { origin: `https://127.0.0.1:${listen}`, label: 'through HAProxy (TLS terminated there, keep-alive TLS to certbound)' },
  } as const;
  type Name = keyof typeof scenarios;
  interface Summary { label: string; rps: number; p50: number; p99: number; errors: number; certboundCpuUs: number; haproxyCpuUs: number; clientCpuUs: number }
  const rounds: Record<Name, Array<LoadResult & { certboundCpuUs: number; haproxyCpuUs: number }>> = { direct: [], haproxy: [] };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const name of Object.keys(scenarios) as Name[]) {
      let at: [number, number] = [0, 0];
      const cpu = async (): Promise<[number, number]> => [await server!.cpuSeconds(), await cpuSeconds(haproxyPid)];
      let windowCpu: Promise<[number, number]> | undefined;
      let endCpu: Promise<[number, number]> | undefined;
      const result = await newConnectionLoad({ origin: scenarios[name].origin, path: '/token', body: TOKEN_BODY, tls }, {
        connections: opts.connections, durationMs: opts.durationMs, warmupMs: opts.warmupMs, minRequests: opts.minRequests, resume: false,
        onWindow: (phase) => { if (phase === 'start') windowCpu = cpu(); else endCpu = cpu(); },
      });
      at = await windowCpu!;
      const end = await endCpu!;
      const perRequest = (i: 0 | 1) => (result.requests > 0 ? Math.round(((end[i] - at[i]) * 1e6) / result.requests) : 0);
      rounds[name].push({ ...result, certboundCpuUs: perRequest(0), haproxyCpuUs: perRequest(1) });
      log(`round ${round} ${name}: ${result.rps} req/s, errors ${result.errors}, certbound ${perRequest(0)} µs/req, haproxy ${perRequest(1)} µs/req, client ${result.clientCpuUsPerRequest} µs/req${result.firstError ? `, first error ${result.firstError}` : ''}`);
    }
  }
  const summary = Object.fromEntries((Object.keys(scenarios) as Name[]).map((name) => {
    const r = rounds[name];
    return [name, {
      label: scenarios[name].label,
      rps: median(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.latencyMs.p50)),
      p99: median(r.map((x) => x.latencyMs.p99)),
      errors: r.reduce((a, x) => a + x.errors, 0),
      certboundCpuUs: median(r.map((x) => x.certboundCpuUs)),
      haproxyCpuUs: median(r.map((x) => x.haproxyCpuUs)),
      clientCpuUs: median(r.map((x) => x.clientCpuUsPerRequest)),
    }];
  })) as Record<Name, Summary>;
  const ratio = median(rounds.direct.map((d, i) => rounds.haproxy[i].rps / d.rps));
  const rows = (Object.keys(scenarios) as Name[]).map((name) => {
    const s = summary[name];
    const haproxy = name === 'haproxy' ? ` · haproxy ${s.haproxyCpuUs} µs CPU/req` : '';
    const value = `${s.rps} req/s · p50 ${s.p50} · p99 ${s.p99} ms · certbound ${s.certboundCpuUs} µs CPU/req${haproxy} · load generator ${s.clientCpuUs} µs/req · ${s.errors} errors`;
    return `| Token endpoint, a new TLS connection per request, ${opts.connections} callers, full handshake, ${s.label} | ${value} | — | — |`;
  });
  const saved = Math.round((summary.direct.certboundCpuUs / Math.max(1, summary.haproxy.certboundCpuUs)) * 100) / 100;
  const label = 'New connection per request: through HAProxy / direct, req/s (median of per-round ratios); certbound CPU per request direct / behind HAProxy';
  rows.push(`| ${label} | ${Math.round(ratio * 1000) / 1000}× · ${saved}× less certbound CPU behind HAProxy | — | — |`);
  const report = {
    date: new Date().toISOString(), storage: storage.kind, rounds: opts.rounds, durationMs: opts.durationMs, connections: opts.connections,
    summary, ratio, perRound: rounds,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${rows.join('\n')}\n`);
  log(`results written to ${out}`);
} finally {
  await proxy?.stop();
  await server?.stop();
  await pki.ocsp.close();
  await rm(pki.dir, { recursive: true, force: true });
}
