// The baseline: bare oidc-provider with its in-memory adapter and the minimal RFC 8705
// configuration — tls_client_auth, certificate-bound JWT access tokens — on one HTTPS server that
// lets OpenSSL verify the client chain. No certbound code runs here; the bench drives it with
// the same load generator and client certificate as certbound, so certbound/baseline is the
// cost of everything certbound adds (path validation, subject matching, storage, logging).
import { createServer, type Server } from 'node:https';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Provider, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

const resource = required('BASELINE_RESOURCE');
const clientSubject = required('BASELINE_CLIENT_SUBJECT');
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const tlsSocket = (ctx: KoaContextWithOIDC) => ctx.req.socket as TLSSocket;

const configuration: Configuration = {
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'baseline', alg: 'ES256', use: 'sig' }] },
  clients: [{
    client_id: 'bench-client',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: clientSubject,
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    id_token_signed_response_alg: 'ES256',
  }],
  clientAuthMethods: ['tls_client_auth'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    mTLS: {
      enabled: true,
      tlsClientAuth: true,
      certificateBoundAccessTokens: true,
      getCertificate: (ctx: KoaContextWithOIDC) => tlsSocket(ctx).getPeerX509Certificate(),
      // OpenSSL verified the chain against `ca` during the handshake.
      certificateAuthorized: (ctx: KoaContextWithOIDC) => tlsSocket(ctx).authorized,
      certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) =>
        property === 'tls_client_auth_subject_dn' && tlsSocket(ctx).getPeerX509Certificate()?.subject === expected,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'bench:read',
        audience: resource,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
};

const provider = new Provider(required('BASELINE_ISSUER'), configuration);
const handle = provider.callback();
const server: Server = createServer({
  cert: readFileSync(required('BASELINE_TLS_CERT_FILE')),
  key: readFileSync(required('BASELINE_TLS_KEY_FILE')),
  ca: readFileSync(required('BASELINE_CLIENT_CA_FILE')),
  requestCert: true,
  rejectUnauthorized: false,
}, (req, res) => {
  void handle(req, res); // Koa's handler answers its own errors: the promise does not reject
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.BASELINE_PORT ?? 0), '127.0.0.1');
await once(server, 'listening');
const address = server.address();
process.stdout.write(`${JSON.stringify({ event: 'listening', port: typeof address === 'object' && address ? address.port : 0 })}\n`);
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
