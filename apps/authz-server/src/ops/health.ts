// Health endpoints (issue 12 item 2): GET /healthz answers 200 while the process serves; GET
// /readyz answers 200 only when every store answers within a short deadline, else 503 with
// Retry-After naming what is down, so a load balancer sends no traffic to an instance that would
// answer 503 anyway. Served on the public listener (a Koa middleware mounted before
// oidc-provider's stack, like /admin) and on the metrics port (ops/metrics-listener.ts).
import type { Context, Next } from 'koa';
import type { Logger } from '../log.ts';

/** A store the server cannot serve without; `ping` resolves when it answers. */
export interface Dependency {
  readonly name: string;
  ping(): Promise<unknown>;
}

export interface Readiness {
  /** The dependencies that did not answer within the deadline (none = ready). */
  check(): Promise<{ down: string[] }>;
}

export interface HealthAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** How long /readyz waits for a store: well under a probe's usual timeout (1 s in Kubernetes). */
export const READY_DEADLINE_MS = 800;
/** What Retry-After says when a store is down. */
export const RETRY_AFTER_SECONDS = 5;

export function createReadiness(dependencies: readonly Dependency[], options: { deadlineMs?: number; logger?: Pick<Logger, 'warn' | 'info'> } = {}): Readiness {
  const deadlineMs = options.deadlineMs ?? READY_DEADLINE_MS;
  // One log line when a store goes down and one when it is back: a probe every second must not
  // write a line every second (DESIGN.md: a bounded number of log lines).
  const wasDown = new Set<string>();

  async function answers(dependency: Dependency): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
      return await Promise.race([dependency.ping().then(() => true, () => false), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async check() {
      const results = await Promise.all(dependencies.map(async (d) => [d.name, await answers(d)] as const));
      const down = results.filter(([, up]) => !up).map(([name]) => name);
      for (const [name, up] of results) {
        if (!up && !wasDown.has(name)) {
          wasDown.add(name);
          options.logger?.warn({ event: 'readiness_down', store: name, deadline_ms: deadlineMs }, `${name} did not answer within ${deadlineMs} ms: /readyz answers 503`);
        } else if (up && wasDown.delete(name)) {
          options.logger?.info({ event: 'readiness_up', store: name }, `${name} answers again`);
        }
      }
      return { down };
    },
  };
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** The answer to a GET of `path`, or undefined when `path` is neither /healthz nor /readyz. */
export async function healthAnswer(path: string, readiness: Readiness): Promise<HealthAnswer | undefined> {
  if (path === '/healthz') return { status: 200, headers: JSON_HEADERS, body: '{"status":"ok"}' };
  if (path !== '/readyz') return undefined;
  const { down } = await readiness.check();
  if (down.length === 0) return { status: 200, headers: JSON_HEADERS, body: '{"status":"ready"}' };
  return {
    status: 503,
    headers: { ...JSON_HEADERS, 'retry-after': String(RETRY_AFTER_SECONDS) },
    body: JSON.stringify({ status: 'unavailable', down }),
  };
}

/** /healthz and /readyz on the public listener; every other request goes on to the next middleware. */
export function createHealthRoutes(readiness: Readiness, logger?: Pick<Logger, 'info'>) {
  return async function healthRoutes(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/healthz' && ctx.path !== '/readyz') {
      await next();
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      logger?.info({ event: 'health_refusal', status: 405, method: ctx.method, path: ctx.path }, `${ctx.path} answers GET and HEAD only`);
      ctx.body = { error: 'method_not_allowed', error_description: `${ctx.path} answers GET and HEAD only` };
      return;
    }
    const answer = (await healthAnswer(ctx.path, readiness))!;
    ctx.status = answer.status;
    ctx.set(answer.headers);
    ctx.body = answer.body;
  };
}
