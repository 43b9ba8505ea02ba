// Counts the TLS connections on the mutual-TLS listener that presented no client certificate
// (certbound_tls_client_certificates_total{reason="no_certificate"}): mtls/connection-verdict.ts
// counts every connection that did present one, and never sees these. Looked at once per
// connection, on its first request; a Koa middleware mounted before oidc-provider's stack.
//
// It asks the server's own certificate source (@certbound/cnf-verifier), never the socket: the
// source reads the peer certificate once per connection and keeps it (getPeerX509Certificate()
// a second time on a socket loses the intermediates the client sent, and getPeerCertificate()
// crashes Node 24 on a brainpool or secp256k1 key). Behind a trusted proxy it reads the header.
import type { Context, Middleware, Next } from 'koa';
import type { CertificateSource } from '@certbound/cnf-verifier';
import { listenerOf } from '../http/listeners.ts';
import { metricsEnabled, recordNoCertificate } from './metrics.ts';

export function createCertificatelessCounter(source: Pick<CertificateSource, 'fromRequest'>): Middleware {
  const seen = new WeakSet<object>();
  return async function countCertificatelessConnections(ctx: Context, next: Next): Promise<void> {
    const socket = ctx.req.socket;
    if (metricsEnabled() && !seen.has(socket) && listenerOf(ctx.req) === 'mtls') {
      seen.add(socket);
      let presented: unknown;
      try {
        presented = source.fromRequest(ctx.req);
      } catch {
        presented = 'unreadable'; // a bad proxy header: oidc/client-certificate.ts refuses and logs it
      }
      if (presented === undefined) recordNoCertificate();
    }
    await next();
  };
}
