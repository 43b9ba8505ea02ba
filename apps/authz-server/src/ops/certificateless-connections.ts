// Counts the TLS connections on the mutual-TLS listener that presented no client certificate
// (certbound_tls_client_certificates_total{reason="no_certificate"}): mtls/connection-verdict.ts
// counts every connection that did present one, and never sees these. Looked at once per
// connection, on its first request; a Koa middleware mounted before oidc-provider's stack.
import type { TLSSocket } from 'node:tls';
import type { Context, Next } from 'koa';
import { listenerOf } from '../http/listeners.ts';
import { metricsEnabled, recordNoCertificate } from './metrics.ts';

const seen = new WeakSet<object>();

export async function countCertificatelessConnections(ctx: Context, next: Next): Promise<void> {
  const socket = ctx.req.socket as TLSSocket;
  if (metricsEnabled() && !seen.has(socket) && listenerOf(ctx.req) === 'mtls') {
    seen.add(socket);
    // getPeerX509Certificate() is undefined when the client sent none. Never getPeerCertificate():
    // on Node 24 it crashes the process (SIGSEGV) for a brainpool or secp256k1 client key.
    if (typeof socket.getPeerX509Certificate === 'function' && socket.getPeerX509Certificate() === undefined) recordNoCertificate();
  }
  await next();
}
