// The two HTTPS listeners: public (server-authenticated TLS only) and mutual TLS (requests a
// client certificate). Both serve the same application; each request is tagged with the
// listener it arrived on. close() stops accepting, lets in-flight requests finish, then returns.
// reload() swaps the server certificate and key (ops/reload.ts): open connections keep the
// context they were established with, every new handshake gets the new one.
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { mutualTlsOptions, publicTlsOptions, type ServerTlsMaterial } from './tls-options.ts';
import type { SessionTickets } from './session-tickets.ts';

export type ListenerName = 'public' | 'mtls';

const LISTENER = Symbol.for('certbound.listener');

export function listenerOf(req: IncomingMessage): ListenerName {
  return (req as unknown as Record<symbol, ListenerName>)[LISTENER] ?? 'public';
}

export interface Listeners {
  readonly publicPort: number;
  readonly mtlsPort: number;
  /** new TLS material for both listeners' next handshakes; throws (changing nothing) if OpenSSL refuses it */
  reload(material: ServerTlsMaterial): void;
  close(graceMs?: number): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function tagged(name: ListenerName, handler: Handler): Handler {
  return function taggedRequest(req, res) {
    (req as unknown as Record<symbol, ListenerName>)[LISTENER] = name;
    handler(req, res);
  };
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

async function drain(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

export async function startListeners(options: {
  host: string;
  publicPort: number;
  mtlsPort: number;
  tls: ServerTlsMaterial;
  handler: Handler;
  /** Session-ticket keys shared by every worker and instance (resumption across processes). */
  sessionTickets?: SessionTickets;
}): Promise<Listeners> {
  // requireHostHeader: false lets an HTTP/1.1 request without Host reach the application, whose
  // Host check (host-header.ts) answers it as an OAuth error rather than Node's bare 400.
  const common = { ...options.sessionTickets?.serverOptions(), requireHostHeader: false };
  const publicServer = createServer({ ...publicTlsOptions(options.tls), ...common }, tagged('public', options.handler));
  const mtlsServer = createServer({ ...mutualTlsOptions(options.tls), ...common }, tagged('mtls', options.handler));
  const stopRotation = new Map<Server, () => void>();
  for (const server of [publicServer, mtlsServer]) {
    // A client that never finishes its handshake or request must not hold a socket forever.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    if (options.sessionTickets) stopRotation.set(server, options.sessionTickets.install(server));
  }
  let publicPort: number, mtlsPort: number;
  try {
    publicPort = await listen(publicServer, options.publicPort, options.host);
    mtlsPort = await listen(mtlsServer, options.mtlsPort, options.host);
  } catch (err) {
    // A port taken (EADDRINUSE) must not leave the other listener or the ticket rotation running.
    for (const stop of stopRotation.values()) stop();
    for (const server of [publicServer, mtlsServer]) if (server.listening) server.close();
    throw err;
  }
  return {
    publicPort,
    mtlsPort,
    reload(material) {
      // Both contexts are built before either is installed, so a refusal leaves both listeners as they were.
      const contexts: Array<[Server, TlsOptions]> = [
        [publicServer, { ...publicTlsOptions(material), ...options.sessionTickets?.serverOptions() }],
        [mtlsServer, { ...mutualTlsOptions(material), ...options.sessionTickets?.serverOptions() }],
      ];
      for (const [, context] of contexts) createSecureContext(context);
      for (const [server, context] of contexts) {
        server.setSecureContext(context);
        // The new context has neither the ticket-key hook nor the rotation: install them on it.
        if (options.sessionTickets) {
          stopRotation.get(server)?.();
          stopRotation.set(server, options.sessionTickets.install(server));
        }
      }
    },
    async close(graceMs = 10_000) {
      for (const stop of stopRotation.values()) stop();
      await Promise.all([drain(publicServer, graceMs), drain(mtlsServer, graceMs)]);
    },
  };
}
