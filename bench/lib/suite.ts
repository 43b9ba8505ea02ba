// The bench: starts the servers, drives the scenarios, and turns the measurements into figures,
// each with its target. Every figure that has a target is a ratio against something measured in
// the same run (the bare oidc-provider baseline, bare jose, the smallest size), and scenarios
// that are compared run in alternating rounds, so load from other work on the machine lands on
// both sides of a ratio alike.
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBenchPki, caBundle, type BenchPki } from './pki.ts';
import { keepAliveLoad, newConnectionLoad, requestOnNewConnection, type LoadResult, type LoadTarget, type TlsIdentity } from './load.ts';
import { prepareEmbeddedTemplate, startBaseline, startCertbound, TOKEN_BODY, type CertboundOptions, type RunningServer, type Storage } from './servers.ts';
import { benchVerifier, median, type VerifierBench } from './verifier.ts';
import { benchParser, type ParserBench } from './parser.ts';

export interface BenchOptions {
  size: 'full' | 'smoke';
  /** alternating rounds per scenario */
  rounds: number;
  durationMs: number;
  warmupMs: number;
  /** a round lasts until this many requests succeeded (tiny runs on a busy machine) */
  minRequests: number;
  /** concurrent callers for the token-endpoint scenarios */
  connections: number;
  /** registered clients for the growth figure, smallest first */
  clientCounts: number[];
  /** client CAs in the trust store for the growth figure, smallest first */
  caCounts: number[];
  /** keys in the large JWKS */
  jwksKeys: number;
  verifier: { rounds: number; ops: number };
  /** certificate parser micro-benchmark: alternating rounds, certificates per case and round */
  parser: { rounds: number; ops: number };
  /** concurrent callers for the growth figures (light load: p50 is about the work, not the queue) */
  growthConnections: number;
  external: { databaseUrl: string; redisUrl: string } | undefined;
  /** write CPU profiles of the servers here (node --cpu-prof) */
  profileDir: string | undefined;
}

export function benchOptions(env: Record<string, string | undefined>): BenchOptions {
  const smoke = env.BENCH_SIZE === 'smoke';
  const number = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: "${raw}" is not a positive number`);
    return value;
  };
  const databaseUrl = env.BENCH_DATABASE_URL || undefined;
  const redisUrl = env.BENCH_REDIS_URL || undefined;
  if ((databaseUrl === undefined) !== (redisUrl === undefined)) throw new Error('BENCH_DATABASE_URL and BENCH_REDIS_URL are set together');
  return {
    size: smoke ? 'smoke' : 'full',
    rounds: number('BENCH_ROUNDS', smoke ? 1 : 3),
    durationMs: number('BENCH_DURATION_MS', smoke ? 300 : 5_000),
    warmupMs: smoke ? 150 : 1_000,
    minRequests: smoke ? 6 : 0,
    connections: number('BENCH_CONNECTIONS', smoke ? 2 : 32),
    clientCounts: smoke ? [1, 5, 10] : [10, 10_000, 100_000],
    caCounts: smoke ? [1, 3] : [1, 1_000],
    jwksKeys: smoke ? 3 : 50,
    verifier: smoke ? { rounds: 1, ops: 10 } : { rounds: 21, ops: 400 },
    parser: smoke ? { rounds: 1, ops: 20 } : { rounds: 15, ops: 1_000 },
    growthConnections: smoke ? 1 : 4,
    external: databaseUrl && redisUrl ? { databaseUrl, redisUrl } : undefined,
    profileDir: env.BENCH_PROFILE_DIR || undefined,
  };
}

export interface Figure {
  id: string;
  label: string;
  /** the number the target is checked against (null when not measured) */
  value: number | null;
  unit: string;
  /** the value as the table shows it, with context */
  display: string;
  target?: { op: '>=' | '<='; value: number; display: string };
  /** null: no target, or not measured */
  pass: boolean | null;
  note?: string;
}

export interface ScenarioSummary {
  id: string;
  server: string;
  mode: LoadResult['mode'];
  connections: number;
  rps: number;
  latencyMs: { p50: number; p99: number; p999: number };
  errors: number;
  requests: number;
  /** CPU time the server spent per request: its capacity on one core is 1e6 / this */
  serverCpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
  resumedFraction?: number;
  firstError?: string;
  rounds: LoadResult[];
}

export interface BenchReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: { nproc: number; cpuModel: string; memoryBytes: number; node: string; platform: string; loadAverageAtStart: number[] };
  settings: Omit<BenchOptions, 'external' | 'profileDir'> & { storage: string[] };
  figures: Figure[];
  scenarios: Record<string, ScenarioSummary>;
  verifier: VerifierBench;
  parser: ParserBench;
  revocation: RevocationReport;
  rss: Record<string, { maxProcessBytes: number; totalBytes: number; processes: number }>;
}

/** What the bench's OCSP responder saw, and the first (cold) token requests. */
export interface RevocationReport {
  /** OCSP requests the responder answered during the whole run */
  fetchesInRun: number;
  /** certbound servers started with revocation checking on (soft, the default) */
  serversWithRevocation: number;
  /** fetches caused by the REVOCATION_CHECK=soft server of the revocation figures, all of them at its first request */
  fetchesBySoftServer: number;
  /** fetches caused by the REVOCATION_CHECK=off server (expected 0) */
  fetchesByOffServer: number;
  /** fetches while the soft/off scenarios were measured (expected 0: the answer is cached until nextUpdate, at most 1 h) */
  fetchesWhileMeasuring: number;
  /** token requests completed in the measured soft scenarios */
  softRequestsMeasured: number;
  /** first token request on a fresh server, new connection: ms */
  firstRequestMs: { off: number; soft: number };
  /** certificates new to the warmed servers: median time of their first request on each, and the fetches they caused */
  newCertificate: { offMs: number; softMs: number; certificates: number; fetches: number };
  /** soft mode, the certificate's responder answering 503: the token request's status and time */
  responderDown: { status: number; ms: number; responderRequests: number };
  /** openssl failures in the responder (expected 0) */
  responderErrors: number;
}

type Mode = 'keep-alive' | 'full' | 'resumed';

interface Scenario {
  id: string;
  server: RunningServer;
  mode: Mode;
  connections: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const MB = 1024 * 1024;

function targetOf(server: RunningServer, tls: TlsIdentity): LoadTarget {
  return { origin: server.origin, path: server.tokenPath, body: TOKEN_BODY, tls };
}

async function runScenario(s: Scenario, tls: TlsIdentity, opts: { durationMs: number; warmupMs: number; minRequests: number }): Promise<LoadResult> {
  let cpuStart: Promise<number> = Promise.resolve(0);
  let cpuEnd: Promise<number> = Promise.resolve(0);
  const load = {
    connections: s.connections,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    minRequests: opts.minRequests,
    onWindow(phase: 'start' | 'end') {
      if (phase === 'start') cpuStart = s.server.cpuSeconds();
      else cpuEnd = s.server.cpuSeconds();
    },
  };
  const target = targetOf(s.server, tls);
  const result = s.mode === 'keep-alive'
    ? await keepAliveLoad(target, load)
    : await newConnectionLoad(target, { ...load, resume: s.mode === 'resumed' });
  const cpu = (await cpuEnd) - (await cpuStart);
  result.serverCpuUsPerRequest = result.requests > 0 ? Math.round((cpu * 1e6) / result.requests) : 0;
  return result;
}

function summarize(s: Scenario, rounds: LoadResult[]): ScenarioSummary {
  const m = (pick: (r: LoadResult) => number) => round2(median(rounds.map(pick)));
  const firstError = rounds.find((r) => r.firstError)?.firstError;
  return {
    id: s.id,
    server: s.server.name,
    mode: rounds[0].mode,
    connections: s.connections,
    rps: m((r) => r.rps),
    latencyMs: { p50: m((r) => r.latencyMs.p50), p99: m((r) => r.latencyMs.p99), p999: m((r) => r.latencyMs.p999) },
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    serverCpuUsPerRequest: m((r) => r.serverCpuUsPerRequest ?? 0),
    clientCpuUsPerRequest: m((r) => r.clientCpuUsPerRequest),
    ...(rounds[0].resumedFraction === undefined ? {} : { resumedFraction: m((r) => r.resumedFraction ?? 0) }),
    ...(firstError === undefined ? {} : { firstError }),
    rounds,
  };
}

/** Runs the scenarios in alternating rounds: a1 b1 c1 a2 b2 c2 ... */
async function interleave(scenarios: Scenario[], tls: TlsIdentity, opts: BenchOptions, log: (line: string) => void): Promise<Map<string, ScenarioSummary>> {
  const results = new Map<string, LoadResult[]>(scenarios.map((s) => [s.id, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const s of scenarios) {
      const r = await runScenario(s, tls, opts);
      results.get(s.id)!.push(r);
      log(`  round ${round}/${opts.rounds} ${s.id}: ${r.rps} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, server ${r.serverCpuUsPerRequest} µs CPU/req${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}`);
    }
  }
  return new Map(scenarios.map((s) => [s.id, summarize(s, results.get(s.id)!)]));
}

/** Median over rounds of a per-round ratio (the pair ran back to back in each round). */
function pairedRatio(a: ScenarioSummary, b: ScenarioSummary, pick: (r: LoadResult) => number): number {
  const ratios = a.rounds.map((r, i) => pick(r) / pick(b.rounds[i])).filter(Number.isFinite);
  return ratios.length ? Math.round(median(ratios) * 1000) / 1000 : NaN;
}

function describeLoad(s: ScenarioSummary): string {
  return `${s.rps} req/s · p50 ${s.latencyMs.p50} · p99 ${s.latencyMs.p99} · p99.9 ${s.latencyMs.p999} ms · ${s.serverCpuUsPerRequest} µs server CPU/req${s.errors ? ` · ${s.errors} errors` : ''}`;
}

function check(value: number | null, op: '>=' | '<=', target: number): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  return op === '>=' ? value >= target : value <= target;
}

/**
 * Proves each server issues what the bench claims to measure: a JWT bound to the client
 * certificate (`client`, default the bench client's). Resolves to the request's time in ms.
 */
async function expectBoundToken(server: RunningServer, tls: TlsIdentity, pki: BenchPki, client = pki.client): Promise<number> {
  const t0 = performance.now();
  const res = await requestOnNewConnection(targetOf(server, tls));
  const ms = round2(performance.now() - t0);
  if (res.status !== 200) throw new Error(`${server.name}: token request answered ${res.status}: ${res.text.slice(0, 300)}`);
  const token = (JSON.parse(res.text) as { access_token: string }).access_token;
  const [header, payload] = token.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { typ?: unknown; cnf?: { 'x5t#S256'?: unknown } });
  const thumbprint = createHash('sha256').update(client.cert.raw).digest('base64url');
  if (header.typ !== 'at+jwt' || payload.cnf?.['x5t#S256'] !== thumbprint) {
    throw new Error(`${server.name}: the token is not a certificate-bound JWT access token`);
  }
  return ms;
}

export async function runBench(opts: BenchOptions, print: (line: string) => void = () => undefined): Promise<BenchReport> {
  const started = Date.now();
  const log = (line: string) => print(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}`);
  const loadAverageAtStart = loadavg().map(round2);
  const pki = await createBenchPki();
  const tls: TlsIdentity = { ca: pki.serverCa.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  const nodeArgs = (name: string) => (opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(opts.profileDir, name)}`] : []);
  const external: Storage | undefined = opts.external ? { kind: 'external', ...opts.external } : undefined;
  const primaryStorage: Storage = external ?? { kind: 'embedded' };
  const figures: Figure[] = [];
  const scenarios: Record<string, ScenarioSummary> = {};
  const rss: BenchReport['rss'] = {};
  const servers: RunningServer[] = [];
  const started_ = async (server: Promise<RunningServer>) => {
    const s = await server;
    servers.push(s);
    return s;
  };
  let template: string | undefined;
  let serversWithRevocation = 0;
  /** certbound on `storage`; embedded servers start from a prepared DATA_DIR (no initdb each) */
  const certboundOn = async (name: string, options: Omit<CertboundOptions, 'pki' | 'nodeArgs'>) => {
    if (options.storage.kind === 'embedded') template ??= await prepareEmbeddedTemplate(pki);
    if ((options.env?.REVOCATION_CHECK ?? 'soft') !== 'off') serversWithRevocation++;
    return started_(startCertbound(name, { pki, nodeArgs: nodeArgs(name.replace(/\W+/g, '-')), ...options, ...(template ? { embeddedTemplate: template } : {}) }));
  };
  const stopAll = async () => {
    await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
  };

  try {
    // ---- 1-3: token endpoint, keep-alive and new connections, against the baseline ----------
    log('starting servers: baseline, certbound embedded' + (external ? ', certbound PostgreSQL + Redis with 1 and 2 workers' : ''));
    template = await prepareEmbeddedTemplate(pki);
    // The revocation pair starts with the others (they idle until their turn); its first requests
    // are timed later, so that the soft server's OCSP fetch is its own.
    const [baseline, embedded, pg1, pg2, revOff, revSoft] = await Promise.all([
      started_(startBaseline(pki, nodeArgs('baseline'))),
      certboundOn('certbound embedded', { storage: { kind: 'embedded' }, workers: 1 }),
      external ? certboundOn('certbound pg+redis 1 worker', { storage: external, workers: 1 }) : undefined,
      external ? certboundOn('certbound pg+redis 2 workers', { storage: external, workers: 2 }) : undefined,
      certboundOn('certbound revocation off', { storage: primaryStorage, workers: 1, env: { REVOCATION_CHECK: 'off' } }),
      certboundOn('certbound revocation soft', { storage: primaryStorage, workers: 1, env: { REVOCATION_CHECK: 'soft' } }),
    ]);
    for (const server of servers) if (server !== revOff && server !== revSoft) await expectBoundToken(server, tls, pki);
    const certbound = pg1 ?? embedded;

    log(`token endpoint, ${opts.connections} keep-alive connections`);
    const keepAlive = await interleave([
      { id: 'keepalive.baseline', server: baseline, mode: 'keep-alive', connections: opts.connections },
      { id: 'keepalive.embedded', server: embedded, mode: 'keep-alive', connections: opts.connections },
      ...(pg1 ? [{ id: 'keepalive.pg1', server: pg1, mode: 'keep-alive' as const, connections: opts.connections }] : []),
      ...(pg2 ? [{ id: 'keepalive.pg2', server: pg2, mode: 'keep-alive' as const, connections: opts.connections }] : []),
    ], tls, opts, log);
    log(`token endpoint, a new TLS connection per request (${opts.connections} callers)`);
    const handshakes = await interleave([
      { id: 'full.baseline', server: baseline, mode: 'full', connections: opts.connections },
      { id: 'resumed.baseline', server: baseline, mode: 'resumed', connections: opts.connections },
      { id: 'full.certbound', server: certbound, mode: 'full', connections: opts.connections },
      { id: 'resumed.certbound', server: certbound, mode: 'resumed', connections: opts.connections },
      ...(pg2 ? [{ id: 'resumed.pg2', server: pg2, mode: 'resumed' as const, connections: opts.connections }] : []),
    ], tls, opts, log);
    // ---- revocation: REVOCATION_CHECK=soft with a warm OCSP cache against off -----------------
    // The client certificate names the bench's OCSP responder (pki.ts). The soft server asks it
    // once, at its first request; after that the answer is cached (until nextUpdate, at most 1 h)
    // and the verdict with it, per connection and per presented chain.
    log('revocation: REVOCATION_CHECK=off / soft, the client certificate naming an OCSP responder on loopback');
    const fetchesAtStart = pki.ocsp.fetches();
    const firstOff = await expectBoundToken(revOff, tls, pki);
    const fetchesByOffServer = pki.ocsp.fetches() - fetchesAtStart;
    const firstSoft = await expectBoundToken(revSoft, tls, pki);
    const fetchesBySoftServer = pki.ocsp.fetches() - fetchesAtStart - fetchesByOffServer;
    log(`  first request: off ${firstOff} ms, soft ${firstSoft} ms (${fetchesBySoftServer} OCSP fetch)`);
    const revocationRounds = await interleave([
      { id: 'revocation.keepalive.off', server: revOff, mode: 'keep-alive', connections: opts.connections },
      { id: 'revocation.keepalive.soft', server: revSoft, mode: 'keep-alive', connections: opts.connections },
      { id: 'revocation.full.off', server: revOff, mode: 'full', connections: opts.connections },
      { id: 'revocation.full.soft', server: revSoft, mode: 'full', connections: opts.connections },
    ], tls, opts, log);
    const fetchesWhileMeasuring = pki.ocsp.fetches() - fetchesAtStart - fetchesByOffServer - fetchesBySoftServer;
    // The cold fetch on a warm server: certificates of a rotation, new to both servers (off
    // first, then soft: each server has its own cache). Median over the certificates.
    const newCertificateMs = { off: [] as number[], soft: [] as number[] };
    const fetchesBeforeRotation = pki.ocsp.fetches();
    for (const rotated of pki.clientRotated) {
      const rotatedTls: TlsIdentity = { ...tls, cert: rotated.certPem };
      newCertificateMs.off.push(await expectBoundToken(revOff, rotatedTls, pki, rotated));
      newCertificateMs.soft.push(await expectBoundToken(revSoft, rotatedTls, pki, rotated));
    }
    const newCertificate = {
      offMs: round2(median(newCertificateMs.off)), softMs: round2(median(newCertificateMs.soft)),
      certificates: pki.clientRotated.length, fetches: pki.ocsp.fetches() - fetchesBeforeRotation,
    };
    // Soft mode must not lock a partner out when its responder is down: a certificate with the
    // same subject whose AIA names a responder that answers 503.
    const refusedBefore = pki.ocsp.refused();
    const downTls: TlsIdentity = { ...tls, cert: pki.clientResponderDown.certPem };
    const t0 = performance.now();
    const down = await requestOnNewConnection(targetOf(revSoft, downTls));
    const responderDown = { status: down.status, ms: round2(performance.now() - t0), responderRequests: pki.ocsp.refused() - refusedBefore };
    if (down.status !== 200) throw new Error(`REVOCATION_CHECK=soft refused a certificate whose OCSP responder is down: ${down.status} ${down.text.slice(0, 300)}`);
    for (const [id, summary] of [...keepAlive, ...handshakes, ...revocationRounds]) scenarios[id] = summary;
    for (const server of servers) rss[server.name] = await server.peakRss();
    await stopAll();

    const s = (id: string) => scenarios[id];
    const rps = (r: LoadResult) => r.rps;
    const ka = `${opts.connections} keep-alive mTLS connections`;
    figures.push({ id: 'token.keepalive.baseline', label: `Token endpoint, baseline (bare oidc-provider, in-memory), ${ka}`, value: s('keepalive.baseline').rps, unit: 'req/s', display: describeLoad(s('keepalive.baseline')), pass: null });
    const embeddedRatio = pairedRatio(s('keepalive.embedded'), s('keepalive.baseline'), rps);
    figures.push({ id: 'token.keepalive.embedded', label: `Token endpoint, certbound embedded storage (1 process), ${ka}`, value: s('keepalive.embedded').rps, unit: 'req/s', display: `${describeLoad(s('keepalive.embedded'))} · ${embeddedRatio}× baseline`, pass: null });
    if (pg1 && pg2) {
      const w1 = s('keepalive.pg1');
      const w2 = s('keepalive.pg2');
      figures.push({ id: 'token.keepalive.pg1', label: `Token endpoint, certbound PostgreSQL + Redis, 1 worker, ${ka}`, value: w1.rps, unit: 'req/s', display: describeLoad(w1), pass: null });
      const vsBaseline = pairedRatio(w1, s('keepalive.baseline'), rps);
      figures.push({ id: 'token.keepalive.pg1_vs_baseline', label: 'PostgreSQL + Redis, 1 worker / baseline, req/s', value: vsBaseline, unit: '×', display: `${vsBaseline}×`, target: { op: '>=', value: 0.75, display: '≥ 0.75×' }, pass: check(vsBaseline, '>=', 0.75) });
      figures.push({ id: 'token.keepalive.pg2', label: `Token endpoint, certbound PostgreSQL + Redis, 2 workers, ${ka}`, value: w2.rps, unit: 'req/s', display: describeLoad(w2), pass: null });
      const scaling = pairedRatio(w2, w1, rps);
      figures.push({ id: 'token.keepalive.pg2_vs_pg1', label: 'PostgreSQL + Redis, 2 workers / 1 worker, req/s', value: scaling, unit: '×', display: `${scaling}×`, target: { op: '>=', value: 1.2, display: '≥ 1.2×' }, pass: check(scaling, '>=', 1.2) });
      for (const [id, summary, workers] of [['pg1', w1, 1], ['pg2', w2, 2]] as const) {
        figures.push({ id: `token.keepalive.${id}.p99`, label: `PostgreSQL + Redis, ${workers} worker${workers > 1 ? 's' : ''}: p99 latency at ${opts.connections} connections`, value: summary.latencyMs.p99, unit: 'ms', display: `${summary.latencyMs.p99} ms`, target: { op: '<=', value: 50, display: '≤ 50 ms' }, pass: check(summary.latencyMs.p99, '<=', 50) });
      }
    } else {
      figures.push({ id: 'token.keepalive.pg1_vs_baseline', label: 'PostgreSQL + Redis targets (1 worker ≥ 0.75× baseline, 2 workers ≥ 1.2×, p99 ≤ 50 ms)', value: null, unit: '', display: 'not run: set BENCH_DATABASE_URL and BENCH_REDIS_URL', pass: null });
    }

    const where = pg1 ? 'PostgreSQL + Redis, 1 worker' : 'embedded storage';
    const conn = `a new TLS connection per request, ${opts.connections} callers`;
    figures.push({ id: 'token.full.baseline', label: `Token endpoint, baseline, ${conn}, full handshake`, value: s('full.baseline').rps, unit: 'req/s', display: describeLoad(s('full.baseline')), pass: null });
    figures.push({ id: 'token.resumed.baseline', label: `Token endpoint, baseline, ${conn}, resumed`, value: s('resumed.baseline').rps, unit: 'req/s', display: `${describeLoad(s('resumed.baseline'))} · ${pairedRatio(s('resumed.baseline'), s('full.baseline'), rps)}× its full-handshake rate`, pass: null });
    figures.push({ id: 'token.full.certbound', label: `Token endpoint, certbound ${where}, ${conn}, full handshake`, value: s('full.certbound').rps, unit: 'req/s', display: `${describeLoad(s('full.certbound'))} · ${pairedRatio(s('full.certbound'), s('full.baseline'), rps)}× baseline`, pass: null });
    figures.push({ id: 'token.resumed.certbound', label: `Token endpoint, certbound ${where}, ${conn}, resumed`, value: s('resumed.certbound').rps, unit: 'req/s', display: `${describeLoad(s('resumed.certbound'))} · ${pairedRatio(s('resumed.certbound'), s('resumed.baseline'), rps)}× baseline · ${round2((s('resumed.certbound').resumedFraction ?? 0) * 100)}% resumed`, pass: null });
    const resumption = pairedRatio(s('resumed.certbound'), s('full.certbound'), rps);
    const capacity = round2(s('full.certbound').serverCpuUsPerRequest / s('resumed.certbound').serverCpuUsPerRequest);
    figures.push({ id: 'token.resumed_vs_full', label: 'New connection per request: resumed / full-handshake rate (certbound)', value: resumption, unit: '×', display: `${resumption}× (server CPU per request: ${capacity}× less when resumed)`, target: { op: '>=', value: 3, display: '≥ 3×' }, pass: check(resumption, '>=', 3) });
    if (pg2) {
      const fraction = s('resumed.pg2').resumedFraction ?? 0;
      figures.push({ id: 'token.resumed.pg2.fraction', label: 'PostgreSQL + Redis, 2 workers: connections that resumed a session issued by either worker', value: fraction, unit: 'fraction', display: `${round2(fraction * 100)}% · ${describeLoad(s('resumed.pg2'))}`, target: { op: '>=', value: 0.99, display: '≥ 99%' }, pass: check(fraction, '>=', 0.99) });
    }

    const softRequestsMeasured = s('revocation.keepalive.soft').requests + s('revocation.full.soft').requests;
    const cpuOf = (id: string) => s(id).serverCpuUsPerRequest;
    const fetchNote = `${fetchesBySoftServer} OCSP fetch${fetchesBySoftServer === 1 ? '' : 'es'} by the soft server (its first request), ${fetchesWhileMeasuring} during ${softRequestsMeasured} measured requests`;
    figures.push({ id: 'revocation.keepalive.off', label: `Token endpoint, certbound ${where}, REVOCATION_CHECK=off, ${ka}`, value: s('revocation.keepalive.off').rps, unit: 'req/s', display: describeLoad(s('revocation.keepalive.off')), pass: null });
    figures.push({ id: 'revocation.keepalive.soft', label: `Token endpoint, certbound ${where}, REVOCATION_CHECK=soft, OCSP answer cached, ${ka}`, value: s('revocation.keepalive.soft').rps, unit: 'req/s', display: describeLoad(s('revocation.keepalive.soft')), pass: null });
    const keepAliveCost = pairedRatio(s('revocation.keepalive.off'), s('revocation.keepalive.soft'), rps);
    // the steadier guide on a shared machine: the server's own CPU time per request, soft / off
    const serverCpu = (r: LoadResult) => r.serverCpuUsPerRequest ?? NaN;
    const keepAliveCpu = pairedRatio(s('revocation.keepalive.soft'), s('revocation.keepalive.off'), serverCpu);
    const fullCpu = pairedRatio(s('revocation.full.soft'), s('revocation.full.off'), serverCpu);
    figures.push({
      id: 'revocation.keepalive', label: 'Keep-alive: revocation soft (warm OCSP cache) / off, time per request (req/s off ÷ soft)',
      value: keepAliveCost, unit: '×', display: `${keepAliveCost}× (server CPU per request ${cpuOf('revocation.keepalive.soft')} / ${cpuOf('revocation.keepalive.off')} µs: ${keepAliveCpu}×)`,
      target: { op: '<=', value: 1.05, display: '≤ 1.05×' }, pass: check(keepAliveCost, '<=', 1.05),
    });
    figures.push({ id: 'revocation.full.off', label: `Token endpoint, certbound ${where}, REVOCATION_CHECK=off, ${conn}, full handshake`, value: s('revocation.full.off').rps, unit: 'req/s', display: describeLoad(s('revocation.full.off')), pass: null });
    figures.push({ id: 'revocation.full.soft', label: `Token endpoint, certbound ${where}, REVOCATION_CHECK=soft, OCSP answer cached, ${conn}, full handshake`, value: s('revocation.full.soft').rps, unit: 'req/s', display: describeLoad(s('revocation.full.soft')), pass: null });
    const fullCost = pairedRatio(s('revocation.full.off'), s('revocation.full.soft'), rps);
    figures.push({
      id: 'revocation.full', label: 'Full handshake per request: revocation soft (OCSP) / off, time per request (req/s off ÷ soft)',
      value: fullCost, unit: '×', display: `${fullCost}× (server CPU per request ${cpuOf('revocation.full.soft')} / ${cpuOf('revocation.full.off')} µs: ${fullCpu}×) · ${fetchNote}`, pass: null,
      note: 'the OCSP round trip is paid once per nextUpdate (at most 1 h) per server, not per request or per connection',
    });
    const firstRequests = `first request on a fresh server: soft ${firstSoft} ms with the fetch, off ${firstOff} ms`;
    // the whole run's count is filled in at the end
    const fetchFigure: Figure = { id: 'revocation.ocsp_fetches', label: 'OCSP fetches: by the soft server / while measuring / in the whole run (servers with revocation on)', value: fetchesBySoftServer, unit: 'fetches', display: '', pass: null };
    const showFetches = () => {
      fetchFigure.display = `${fetchesBySoftServer} / ${fetchesWhileMeasuring} / ${pki.ocsp.fetches()} (${serversWithRevocation} servers with revocation on, and ${pki.clientRotated.length} certificates new to the soft server) · ${firstRequests}`;
    };
    showFetches();
    figures.push(fetchFigure);
    figures.push({
      id: 'revocation.responder_down', label: 'REVOCATION_CHECK=soft, the certificate\'s OCSP responder answering 503: token request on a new connection',
      value: responderDown.ms, unit: 'ms', display: `HTTP ${responderDown.status} in ${responderDown.ms} ms (${responderDown.responderRequests} request to the responder)`, pass: null,
    });
    figures.push({
      id: 'revocation.cold_fetch', label: 'A certificate new to a warm server (a partner\'s rotation), new connection: soft with its OCSP fetch / off, ms',
      value: round2(newCertificate.softMs - newCertificate.offMs), unit: 'ms',
      display: `${newCertificate.softMs} / ${newCertificate.offMs} ms (median of ${newCertificate.certificates} certificates, ${newCertificate.fetches} OCSP fetches: one per certificate, then cached)`, pass: null,
    });
    const revocationFacts = {
      fetchesBySoftServer, fetchesByOffServer, fetchesWhileMeasuring, softRequestsMeasured,
      firstRequestMs: { off: firstOff, soft: firstSoft }, newCertificate, responderDown,
    };

    // ---- metrics on / off (issue 12) ------------------------------------------------------------
    const metrics = await metricsOverhead(tls, pki, opts, log, (name, env) => certboundOn(name, { storage: primaryStorage, workers: 1, env }), where);
    for (const [id, summary] of metrics.scenarios) scenarios[id] = summary;
    figures.push(...metrics.figures);
    await stopAll();

    // ---- 4: the verifier -----------------------------------------------------------------------
    log('verifier: verify() against bare jose jwtVerify');
    const verifier = await benchVerifier(pki.client, { ...opts.verifier, jwksKeys: opts.jwksKeys });
    const bare = verifier.cases.jwtVerify;
    figures.push({ id: 'verifier.jwtverify', label: 'Bare jose jwtVerify of an ES256 access token', value: bare.opsPerSec, unit: 'ops/s', display: `${bare.opsPerSec} ops/s (${bare.usPerOp} µs/op)`, pass: null });
    figures.push({ id: 'verifier.mtls', label: 'verify(), mTLS-bound JWT on a keep-alive connection / bare jwtVerify, time per op', value: verifier.mtlsRatio, unit: '×', display: `${verifier.mtlsRatio}× (${verifier.cases['verify mTLS'].opsPerSec} ops/s)`, target: { op: '<=', value: 1.05, display: '≤ 1.05×' }, pass: check(verifier.mtlsRatio, '<=', 1.05) });
    figures.push({ id: 'verifier.dpop', label: 'verify(), DPoP-bound JWT with its proof / bare jwtVerify, time per op', value: verifier.dpopRatio, unit: '×', display: `${verifier.dpopRatio}× (${verifier.cases['verify DPoP'].opsPerSec} ops/s)`, target: { op: '<=', value: 2.2, display: '≤ 2.2×' }, pass: check(verifier.dpopRatio, '<=', 2.2) });

    // ---- the certificate parser: fieldsOf against the reader it replaced -----------------------
    log('certificate parser: fieldsOf (asn1js, digest cache) against the replaced hand-written reader');
    const parser = benchParser({
      'client root CA': pki.clientRoot.cert, 'client (AIA)': pki.client.cert, 'leaf with DNS, IP, URI, email SANs, AIA, CRL DP': pki.sanLeaf.cert,
      'server CA': pki.serverCa.cert, 'server (DNS, IP SANs)': pki.server.cert,
    }, opts.parser);
    const pc = parser.cases;
    const construct = pc['X509Certificate only'].usPerOp;
    figures.push({
      id: 'parser.new_connection', label: 'Parser per new connection, a certificate seen before: new X509Certificate + fieldsOf (digest cache) / + the replaced reader, CPU time per certificate',
      value: parser.newConnectionRatio, unit: '×',
      display: `${parser.newConnectionRatio}× (${pc['new, seen before'].usPerOp} / ${pc['old, seen before'].usPerOp} µs, of which X509Certificate ${construct} µs; parsers alone ${parser.newConnectionParseRatio}×)`,
      target: { op: '<=', value: 1, display: '≤ 1.0×' }, pass: check(parser.newConnectionRatio, '<=', 1),
    });
    figures.push({
      id: 'parser.cold', label: 'Parser, a certificate never seen before: new X509Certificate + fieldsOf / + the replaced reader, CPU time per certificate (the vetted decoder is expected to cost more here: once per distinct certificate)',
      value: parser.coldRatio, unit: '×',
      display: `${parser.coldRatio}× (${pc['new, first sight'].usPerOp} / ${pc['old, first sight'].usPerOp} µs, of which X509Certificate ${construct} µs; parsers alone ${parser.coldParseRatio}×)`,
      pass: null, note: 'asn1js decodes the whole certificate with a strict DER check and fieldsOf decodes more (names, AIA, CRL DP); the digest cache makes this a once-per-certificate cost',
    });

    // ---- 5: how cost grows ---------------------------------------------------------------------
    const growthOpts = { ...opts, connections: opts.growthConnections };
    log(`registered clients: ${opts.clientCounts.join(', ')}`);
    const bySize: Scenario[] = await Promise.all(opts.clientCounts.map(async (count) => ({
      id: `clients.${count}`,
      server: await certboundOn(`certbound ${count} clients`, { storage: primaryStorage, workers: 1, extraClients: count - 1 }),
      mode: 'keep-alive' as const,
      connections: opts.growthConnections,
    })));
    for (const scenario of bySize) await expectBoundToken(scenario.server, tls, pki);
    for (const [id, summary] of await interleave(bySize, tls, growthOpts, log)) scenarios[id] = summary;
    await stopAll();
    const p50 = (r: LoadResult) => r.latencyMs.p50;
    const [fewest, most] = [opts.clientCounts[0], opts.clientCounts.at(-1)!];
    const clientsRatio = pairedRatio(s(`clients.${most}`), s(`clients.${fewest}`), p50);
    figures.push({
      id: 'growth.clients', label: `Token endpoint p50 with ${opts.clientCounts.join(' / ')} registered clients (${primaryStorage.kind === 'external' ? 'PostgreSQL + Redis' : 'embedded'}, ${opts.growthConnections} keep-alive connections)`,
      value: clientsRatio, unit: '×', display: `${opts.clientCounts.map((c) => `${s(`clients.${c}`).latencyMs.p50} ms`).join(' / ')} · ${clientsRatio}×`,
      target: { op: '<=', value: 1.25, display: '≤ 1.25×' }, pass: check(clientsRatio, '<=', 1.25),
    });

    log(`client CAs in the trust store: ${opts.caCounts.join(', ')}`);
    const byCas: Scenario[] = await Promise.all(opts.caCounts.map(async (count) => ({
      id: `cas.${count}`,
      server: await certboundOn(`certbound ${count} CAs`, { storage: primaryStorage, workers: 1, clientCaPem: await caBundle(pki, count) }),
      mode: 'full' as const,
      connections: opts.growthConnections,
    })));
    for (const scenario of byCas) await expectBoundToken(scenario.server, tls, pki);
    for (const [id, summary] of await interleave(byCas, tls, growthOpts, log)) scenarios[id] = summary;
    await stopAll();
    const [fewCas, manyCas] = [opts.caCounts[0], opts.caCounts.at(-1)!];
    const casRatio = pairedRatio(s(`cas.${manyCas}`), s(`cas.${fewCas}`), p50);
    figures.push({
      id: 'growth.cas', label: `Token endpoint p50 with ${opts.caCounts.join(' / ')} client CAs (full handshake per request: the chain is validated per connection)`,
      value: casRatio, unit: '×', display: `${opts.caCounts.map((c) => `${s(`cas.${c}`).latencyMs.p50} ms`).join(' / ')} · ${casRatio}×`,
      target: { op: '<=', value: 1.25, display: '≤ 1.25×' }, pass: check(casRatio, '<=', 1.25),
    });
    figures.push({
      id: 'growth.jwks', label: `verify() time with a JWKS of 1 / ${opts.jwksKeys} keys`,
      value: verifier.jwksRatio, unit: '×', display: `${verifier.cases['verify mTLS, JWKS of 1'].usPerOp} / ${verifier.cases[`verify mTLS, JWKS of ${opts.jwksKeys}`].usPerOp} µs · ${verifier.jwksRatio}×`,
      target: { op: '<=', value: 1.25, display: '≤ 1.25×' }, pass: check(verifier.jwksRatio, '<=', 1.25),
    });

    // ---- 6: memory -----------------------------------------------------------------------------
    for (const [name, label] of [['certbound pg+redis 1 worker', 'PostgreSQL + Redis, 1 worker'], ['certbound pg+redis 2 workers', 'PostgreSQL + Redis, 2 workers (largest process)']] as const) {
      const peak = rss[name];
      if (!peak) continue;
      const value = round2(peak.maxProcessBytes / MB);
      figures.push({ id: `rss.${name.replace(/\W+/g, '-')}`, label: `Peak RSS under load, ${label}`, value, unit: 'MB', display: `${value} MB${peak.processes > 1 ? ` (${round2(peak.totalBytes / MB)} MB over ${peak.processes} processes)` : ''}`, target: { op: '<=', value: 256, display: '≤ 256 MB' }, pass: check(value, '<=', 256) });
    }
    const embeddedPeak = rss['certbound embedded'];
    figures.push({ id: 'rss.embedded', label: 'Peak RSS under load, embedded storage (PGlite in process)', value: round2(embeddedPeak.maxProcessBytes / MB), unit: 'MB', display: `${round2(embeddedPeak.maxProcessBytes / MB)} MB`, pass: null, note: 'PGlite (PostgreSQL in WebAssembly) holds its own heap; the target applies to the production shape' });
    const baselinePeak = rss.baseline;
    figures.push({ id: 'rss.baseline', label: 'Peak RSS under load, baseline', value: round2(baselinePeak.maxProcessBytes / MB), unit: 'MB', display: `${round2(baselinePeak.maxProcessBytes / MB)} MB`, pass: null });

    showFetches();
    const cpu = cpus()[0]?.model ?? 'unknown';
    const { external: _external, profileDir: _profileDir, ...settings } = opts;
    return {
      version: 1,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      machine: { nproc: availableParallelism(), cpuModel: cpu, memoryBytes: totalmem(), node: process.version, platform: `${process.platform} ${process.arch}`, loadAverageAtStart },
      settings: { ...settings, storage: external ? ['embedded', 'postgres+redis'] : ['embedded'] },
      figures,
      scenarios,
      verifier,
      parser,
      revocation: { ...revocationFacts, fetchesInRun: pki.ocsp.fetches(), serversWithRevocation, responderErrors: pki.ocsp.errors() },
      rss,
    };
  } finally {
    await stopAll();
    await pki.ocsp.close();
    await rm(pki.dir, { recursive: true, force: true });
  }
}

/**
 * Metrics on / off (issue 12): the same certbound twice, as shipped (METRICS_PORT set: every token
 * request, verdict and store operation recorded) and with METRICS_PORT=off (the recording calls
 * return at once), keep-alive token requests in alternating rounds. The figure is the time per
 * request on / off (req/s off ÷ on, median of the per-round ratios). Nobody scrapes meanwhile:
 * a scrape every 15 s costs its own few milliseconds, not a share of every request.
 * Also run alone by bench/metrics.ts.
 */
export async function metricsOverhead(
  tls: TlsIdentity, pki: BenchPki, opts: BenchOptions, log: (line: string) => void,
  start: (name: string, env: Record<string, string>) => Promise<RunningServer>, where: string,
): Promise<{ scenarios: Map<string, ScenarioSummary>; figures: Figure[] }> {
  log('metrics: METRICS_PORT set (recording) / off, keep-alive');
  const [on, off] = await Promise.all([start('certbound metrics on', { METRICS_PORT: '0' }), start('certbound metrics off', { METRICS_PORT: 'off' })]);
  for (const server of [on, off]) await expectBoundToken(server, tls, pki);
  const scenarios = await interleave([
    { id: 'metrics.keepalive.off', server: off, mode: 'keep-alive', connections: opts.connections },
    { id: 'metrics.keepalive.on', server: on, mode: 'keep-alive', connections: opts.connections },
  ], tls, opts, log);
  const [onS, offS] = [scenarios.get('metrics.keepalive.on')!, scenarios.get('metrics.keepalive.off')!];
  const ka = `${opts.connections} keep-alive mTLS connections`;
  const cost = pairedRatio(offS, onS, (r) => r.rps);
  const cpu = pairedRatio(onS, offS, (r) => r.serverCpuUsPerRequest ?? 0);
  return {
    scenarios,
    figures: [
      { id: 'metrics.keepalive.off', label: `Token endpoint, certbound ${where}, METRICS_PORT=off, ${ka}`, value: offS.rps, unit: 'req/s', display: describeLoad(offS), pass: null },
      { id: 'metrics.keepalive.on', label: `Token endpoint, certbound ${where}, metrics on (recorded, not scraped), ${ka}`, value: onS.rps, unit: 'req/s', display: describeLoad(onS), pass: null },
      {
        id: 'metrics.keepalive', label: 'Keep-alive: metrics on / off, time per request (req/s off ÷ on)', value: cost, unit: '×',
        display: `${cost}× (server CPU per request ${onS.serverCpuUsPerRequest} / ${offS.serverCpuUsPerRequest} µs: ${cpu}×)`,
        target: { op: '<=', value: 1.03, display: '≤ 1.03×' }, pass: check(cost, '<=', 1.03),
      },
    ],
  };
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `certbound bench, ${report.finishedAt} — ${m.nproc} × ${m.cpuModel}, ${Math.round(m.memoryBytes / 1024 ** 3)} GiB, Node ${m.node}, load average at start ${m.loadAverageAtStart.join(' ')}; ${report.settings.rounds} round(s) of ${report.settings.durationMs} ms per scenario, ${report.seconds} s in all`,
    '',
    '| # | figure | value | target | result |',
    '|---|---|---|---|---|',
  ];
  report.figures.forEach((f, i) => {
    const result = f.pass === null ? (f.target ? 'n/a' : '—') : f.pass ? 'PASS' : 'FAIL';
    lines.push(`| ${i + 1} | ${f.label} | ${f.display} | ${f.target?.display ?? '—'} | ${result} |`);
  });
  const failed = report.figures.filter((f) => f.pass === false).length;
  const passed = report.figures.filter((f) => f.pass === true).length;
  lines.push('', `${passed} targets met, ${failed} missed.`);
  return `${lines.join('\n')}\n`;
}
