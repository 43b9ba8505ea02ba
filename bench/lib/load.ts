// The load generator: N concurrent callers POSTing the same token request, either over
// keep-alive mutual-TLS connections (undici Pool with the client certificate) or over a new TLS
// connection for every request (a full handshake each time, or resuming the caller's last TLS
// session). Latency is recorded from the first byte written to the last byte read, after a
// warm-up that is not counted.
import { connect, createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import { createHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface TlsIdentity {
  /** PEM that verifies the server's certificate */
  ca: string;
  /** the client certificate (PEM) and its key */
  cert: string;
  key: string;
}

export interface LoadTarget {
  /** https://127.0.0.1:port */
  origin: string;
  path: string;
  /** application/x-www-form-urlencoded body */
  body: string;
  tls: TlsIdentity;
}

export interface LoadOptions {
  connections: number;
  durationMs: number;
  warmupMs: number;
  /** called when the measured window opens and closes (to read the server's CPU time) */
  onWindow?: (phase: 'start' | 'end') => void;
  /** keep the window open past durationMs until this many requests succeeded (tiny runs) */
  minRequests?: number;
}

export type LoadMode = 'keep-alive' | 'new-connection' | 'new-connection-resumed';

export interface LoadResult {
  mode: LoadMode;
  connections: number;
  /** successful requests (200 with an access token) completed inside the measured window */
  requests: number;
  errors: number;
  durationMs: number;
  rps: number;
  latencyMs: { p50: number; p99: number; p999: number; mean: number; max: number };
  /** new-connection modes: fraction of measured connections that resumed a TLS session */
  resumedFraction?: number;
  /** the load generator's own CPU time per successful request (µs) */
  clientCpuUsPerRequest: number;
  /** the server's CPU time per successful request (µs), when the caller measured it */
  serverCpuUsPerRequest?: number;
  firstError?: string;
}

interface Outcome {
  ok: boolean;
  resumed?: boolean;
  error?: string;
}

const SERVER_NAME = 'localhost';

function okBody(status: number, text: string): boolean {
  return status === 200 && text.includes('"access_token"');
}

async function drive(mode: LoadMode, opts: LoadOptions, once: (caller: number) => Promise<Outcome>): Promise<LoadResult> {
  const histogram = createHistogram({ lowest: 1, highest: 120_000_000_000, figures: 3 });
  let measuring = false;
  let done = false;
  let requests = 0;
  let errors = 0;
  let resumed = 0;
  let connectionsMeasured = 0;
  let firstError: string | undefined;
  let startedAt = 0;
  let endedAt = 0;
  let cpuAtStart = process.cpuUsage();
  let clientCpuUs = 0;
  const warm = setTimeout(() => {
    measuring = true;
    startedAt = performance.now();
    cpuAtStart = process.cpuUsage();
    opts.onWindow?.('start');
  }, opts.warmupMs);
  let stop: NodeJS.Timeout;
  const finish = () => {
    if (requests < (opts.minRequests ?? 0) && performance.now() - startedAt < 60_000) {
      stop = setTimeout(finish, 10);
      return;
    }
    done = true;
    endedAt = performance.now();
    const used = process.cpuUsage(cpuAtStart);
    clientCpuUs = used.user + used.system;
    opts.onWindow?.('end');
  };
  stop = setTimeout(finish, opts.warmupMs + opts.durationMs);

  async function caller(index: number): Promise<void> {
    while (!done) {
      const t0 = process.hrtime.bigint();
      let outcome: Outcome;
      try {
        outcome = await once(index);
      } catch (err) {
        outcome = { ok: false, error: (err as Error).message };
      }
      const elapsed = Number(process.hrtime.bigint() - t0);
      if (!measuring || done) continue;
      if (outcome.ok) {
        requests++;
        histogram.record(Math.max(1, elapsed));
      } else {
        errors++;
        firstError ??= outcome.error;
      }
      if (outcome.resumed !== undefined) {
        connectionsMeasured++;
        if (outcome.resumed) resumed++;
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: opts.connections }, (_, i) => caller(i)));
  } finally {
    clearTimeout(warm);
    clearTimeout(stop);
  }
  const durationMs = endedAt - startedAt;
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const result: LoadResult = {
    mode,
    connections: opts.connections,
    requests,
    errors,
    durationMs: Math.round(durationMs),
    rps: durationMs > 0 ? Math.round((requests / durationMs) * 1000 * 10) / 10 : 0,
    latencyMs: requests > 0
      ? {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        p999: ms(histogram.percentile(99.9)),
        mean: ms(histogram.mean),
        max: ms(histogram.max),
      }
      : { p50: 0, p99: 0, p999: 0, mean: 0, max: 0 },
    clientCpuUsPerRequest: requests > 0 ? Math.round(clientCpuUs / requests) : 0,
  };
  if (mode !== 'keep-alive') result.resumedFraction = connectionsMeasured ? Math.round((resumed / connectionsMeasured) * 1000) / 1000 : 0;
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

/** N keep-alive connections through one undici Pool; each caller waits for its answer before the next. */
export async function keepAliveLoad(target: LoadTarget, opts: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(target.origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    connect: { ...target.tls, servername: SERVER_NAME },
  });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  try {
    return await drive('keep-alive', opts, async () => {
      const res = await pool.request({ path: target.path, method: 'POST', headers, body: target.body });
      const text = await res.body.text();
      return okBody(res.statusCode, text) ? { ok: true } : { ok: false, error: `${res.statusCode} ${text.slice(0, 200)}` };
    });
  } finally {
    await pool.close();
  }
}

interface OneShot {
  status: number;
  text: string;
  resumed: boolean;
  session: Buffer | undefined;
}

// One secure context per identity: building it parses the PEMs and loads the CA store, which
// would otherwise cost the load generator more than the handshake it is measuring.
const contexts = new WeakMap<TlsIdentity, SecureContext>();

function secureContextOf(tls: TlsIdentity): SecureContext {
  let context = contexts.get(tls);
  if (!context) {
    context = createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
    contexts.set(tls, context);
  }
  return context;
}

/** One request on its own TLS connection (`Connection: close`), optionally resuming `session`. */
export function requestOnNewConnection(target: LoadTarget, session?: Buffer): Promise<OneShot> {
  const url = new URL(target.origin);
  const options: ConnectionOptions = {
    host: url.hostname,
    port: Number(url.port),
    servername: SERVER_NAME,
    secureContext: secureContextOf(target.tls),
    ...(session ? { session } : {}),
  };
  const request = `POST ${target.path} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: application/json\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(target.body)}\r\n` +
    `Connection: close\r\n\r\n${target.body}`;
  return new Promise((resolve, reject) => {
    const socket = connect(options);
    // Without it Nagle holds the request behind the unacknowledged handshake flight until the
    // server's delayed ACK (~40 ms): the figure would measure TCP timers, not the server.
    socket.setNoDelay(true);
    let latest: Buffer | undefined;
    const chunks: Buffer[] = [];
    socket.on('session', (s: Buffer) => { latest = s; });
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      resolve({ status, text, resumed: socket.isSessionReused(), session: latest });
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/**
 * A new TLS connection per request. With `resume`, each caller offers the last session ticket it
 * was given (as a partner's HTTP client does); without, every connection is a full handshake.
 */
export async function newConnectionLoad(target: LoadTarget, opts: LoadOptions & { resume: boolean }): Promise<LoadResult> {
  const sessions: Array<Buffer | undefined> = Array.from({ length: opts.connections }, () => undefined);
  return drive(opts.resume ? 'new-connection-resumed' : 'new-connection', opts, async (caller) => {
    const res = await requestOnNewConnection(target, opts.resume ? sessions[caller] : undefined);
    if (opts.resume && res.session) sessions[caller] = res.session;
    return okBody(res.status, res.text)
      ? { ok: true, resumed: res.resumed }
      : { ok: false, resumed: res.resumed, error: `${res.status} ${res.text.slice(0, 200)}` };
  });
}
