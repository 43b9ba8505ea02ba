// oidc-provider's features.mTLS callbacks (RFC 8705 §2) over the shared answer to "which
// certificate did this request present" (@certbound/cnf-verifier) and the per-connection chain
// verdict (mtls/). oidc-provider calls these synchronously, so a middleware resolves the
// certificate and its verdict first; the callbacks only read what it left on ctx.state.
import type { IncomingMessage } from 'node:http';
import type { X509Certificate } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import type { PresentedCertificate } from '@certbound/cnf-verifier';
import type { ConnectionRecord, VerdictCache } from '../mtls/connection-verdict.ts';
import { subjectDnMatches, subjectDnOf } from '../mtls/subject-dn.ts';
import { sanMatches, sansOf } from '../mtls/san.ts';
import { describeCert } from '../mtls/trust-store.ts';
import { CERTIFICATE_AUTH_METHODS, SUBJECT_MATCHERS, type SubjectMatcher } from './vocabulary.ts';
import { CLIENT_AUTHENTICATION_ROUTES } from './client-authentication.ts';
import { answerRefusal, CertificateHeaderRefused, ClientCertificateRefused, GrantRefused, noCertificateDescription } from './errors.ts';

export interface CertificateSource {
  fromRequest(req: IncomingMessage): PresentedCertificate | undefined;
}

export type ClientCertificateState = ConnectionRecord;

export function certificateState(ctx: Context): ClientCertificateState | undefined {
  return ctx.state.clientCertificate;
}

function isSubjectMatcher(property: string): property is SubjectMatcher {
  return SUBJECT_MATCHERS.some((matcher) => matcher === property);
}

/**
 * RFC 8705 §2.2: a self-signed client authenticates with one of the certificates in its
 * registered `jwks` (x5c). Compared as DER, the bytes the thumbprint would hash. Undefined when
 * the client publishes its keys at a jwks_uri instead: oidc-provider fetches and compares those.
 */
function registeredSelfSigned(client: Client, cert: X509Certificate): boolean | undefined {
  const jwks = client.metadata().jwks;
  if (!jwks) return undefined;
  return jwks.keys.some((key) => {
    const first = key.x5c?.[0];
    return first !== undefined && Buffer.from(first, 'base64').equals(cert.raw);
  });
}

function presentedValues(cert: X509Certificate, property: SubjectMatcher): string {
  if (property === 'tls_client_auth_subject_dn') {
    try {
      return `"${subjectDnOf(cert)}"`; // "" for an empty subject: what the partner must see
    } catch {
      return `"${describeCert(cert)}"`;
    }
  }
  const sans = sansOf(cert);
  const values = {
    tls_client_auth_san_dns: sans.dns,
    tls_client_auth_san_uri: sans.uri,
    tls_client_auth_san_ip: sans.ip,
    tls_client_auth_san_email: sans.email,
  }[property];
  return values.length ? values.map((v) => `"${v}"`).join(', ') : 'none';
}

export function createClientCertificateChecks(deps: { source: CertificateSource; verdicts: VerdictCache; mtlsTokenEndpoint: string }) {
  async function clientCertificate(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    let presented: PresentedCertificate | undefined;
    try {
      presented = deps.source.fromRequest(ctx.req);
    } catch (err) {
      // A malformed certificate header from a trusted proxy, or one of a format other than the
      // configured one: the request is bad, not the server. The refusal reporter logs it.
      await answerRefusal(ctx, new CertificateHeaderRefused(err instanceof Error ? err.message : String(err)));
      return;
    }
    if (presented) {
      const socket = presented.source === 'tls' ? ctx.req.socket : undefined;
      const verdict = await deps.verdicts.verdict(socket, presented);
      ctx.state.clientCertificate = { presented, verdict } satisfies ClientCertificateState;
    }
    await next();
  }

  return {
    middleware: clientCertificate,
    mTLS: {
      // Every use of the certificate (client authentication of both methods, binding) starts
      // here, so its readability and validity window are checked here: a registered self-signed certificate has
      // no chain to validate, yet a not-yet-valid or expired one must not authenticate.
      getCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
        const state = certificateState(ctx);
        const cert = state?.presented.leaf;
        // A certificate certbound cannot read is refused as such for every method, not only
        // where its chain is looked at: the partner learns which part is broken.
        if (state?.verdict.ok === false && state.verdict.code === 'malformed') throw new ClientCertificateRefused('certificate_malformed', state.verdict.reason);
        if (state && cert) {
          const now = new Date();
          if (now < cert.validFromDate) throw new ClientCertificateRefused('certificate_not_yet_valid', `certificate not valid before ${cert.validFromDate.toISOString()}`);
          if (now >= cert.validToDate) throw new ClientCertificateRefused('certificate_expired', `certificate expired at ${cert.validToDate.toISOString()}`);
          // oidc-provider compares a self-signed client's certificate with its registered ones
          // only after asking here (lib/shared/client_auth.js); refused first, naming the thumbprint.
          const client = ctx.oidc.client;
          if (client?.clientAuthMethod === 'self_signed_tls_client_auth' && CLIENT_AUTHENTICATION_ROUTES.has(ctx.oidc.route)
            && registeredSelfSigned(client, cert) === false) {
            throw new ClientCertificateRefused('certificate_unregistered', `certificate not registered for this self-signed client (x5t#S256 ${state.presented.thumbprint})`);
          }
          return cert;
        }
        // oidc-provider asks during client authentication (lib/shared/client_auth.js, which then
        // refuses 401 invalid_client itself) and, for bound tokens, later; a client that
        // authenticates with its certificate has always been asked here first. Refused in
        // certbound's words, naming the listener that does request a certificate.
        if (CERTIFICATE_AUTH_METHODS.has(ctx.oidc.client?.clientAuthMethod ?? '')) {
          throw new ClientCertificateRefused('certificate_missing', noCertificateDescription(ctx, deps.mtlsTokenEndpoint));
        }
        // RFC 8705 §3: a client registered for certificate-bound tokens that authenticates
        // otherwise (private_key_jwt, none) gets no token without a certificate to bind it to;
        // oidc-provider asks here at the token endpoint and would refuse next (sender_constraints.js).
        if (ctx.oidc.route === 'token' && ctx.oidc.client?.tlsClientCertificateBoundAccessTokens === true) {
          throw new GrantRefused('certificate_missing', noCertificateDescription(ctx, deps.mtlsTokenEndpoint));
        }
        return undefined;
      },
      // Only tls_client_auth reaches this (RFC 8705 §2.1): the chain must lead to a configured
      // client CA. The verdict's reason names the failed check; it becomes error_description.
      certificateAuthorized(ctx: KoaContextWithOIDC): boolean {
        const verdict = certificateState(ctx)?.verdict;
        if (!verdict) return false;
        if (!verdict.ok) throw new ClientCertificateRefused('certificate_chain', verdict.reason);
        return true;
      },
      // RFC 8705 §2.1.2: exactly one subject matcher is registered; compare it the way its
      // RFC says (DN per RFC 4517 distinguishedNameMatch, IP as addresses, DNS case-insensitive).
      certificateSubjectMatches(ctx: KoaContextWithOIDC, property: string, expected: string): boolean {
        const presented = certificateState(ctx)?.presented;
        if (!presented) return false;
        const cert = presented.leaf;
        if (!isSubjectMatcher(property)) return false;
        const key = property;
        const matches = key === 'tls_client_auth_subject_dn'
          ? subjectDnMatches(cert, expected)
          : sanMatches(cert, key, expected);
        if (!matches) {
          throw new ClientCertificateRefused(
            'certificate_subject',
            `certificate ${key === 'tls_client_auth_subject_dn' ? 'subject' : key.slice('tls_client_auth_'.length).replace('_', ' ').toUpperCase()} ${presentedValues(cert, key)} does not match the registered ${key}`,
          );
        }
        // certbound certificate pinning: the subject matches, and the certificate must also be
        // one of those registered through /admin/v1 (oidc/pinned-certificates.ts lists them).
        const client = ctx.oidc.client;
        if (client?.certificate_pinning === true) {
          const pinned = client.certificate_thumbprints;
          const thumbprint = presented.thumbprint;
          if (!Array.isArray(pinned) || !pinned.includes(thumbprint)) {
            throw new ClientCertificateRefused('certificate_pinning', `certificate x5t#S256 ${thumbprint} is not among the certificates registered for this client`);
          }
        }
        return true;
      },
    },
  };
}
