// What enrollment does, apart from HTTP: issue a certificate to a client for a verified public
// key (subject and SAN from the client's registration, never from the CSR), record it
// (issued_certificates, client_certificates, audit) in one transaction, revoke one (marks, CRL,
// refresh tokens bound to it), and serve the CA's CRL, re-signed after every revocation.
import type { X509Certificate } from 'node:crypto';
import type { SqlClient } from '../storage/sql.ts';
import type { ClientMetadata } from '../storage/postgres/clients.ts';
import { addClientCertificate } from '../storage/postgres/client-certificates.ts';
import {
  findIssuedByThumbprint, listRevokedUnexpired, recordIssuedCertificate, revokeIssuedCertificate, type IssuedCertificateRow,
} from '../storage/postgres/issued-certificates.ts';
import { deleteRefreshTokensBoundTo } from '../storage/postgres/oidc-models.ts';
import { appendAudit } from '../storage/postgres/audit-log.ts';
import { certificateRow } from '../admin/certificates.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { subjectWithCn } from '../pki/issue.ts';
import { issueClientCertificate, signCrl, type IssuingCa, type PublicationUrls } from '../pki/issuing.ts';
import type { x509 } from '../mtls/x509.ts';
import type { RevocationMarks } from './revocations.ts';

const SAN_TYPES = {
  tls_client_auth_san_dns: 'dns',
  tls_client_auth_san_uri: 'url',
  tls_client_auth_san_ip: 'ip',
  tls_client_auth_san_email: 'email',
} as const;
const BACKDATE_MS = 60_000;
const CRL_VALID_MS = 86_400_000;
/** a CRL is signed again when less than this is left before its nextUpdate */
const CRL_RESIGN_BEFORE_MS = 12 * 3_600_000;

/** A refusal the EST endpoint or the admin API turns into its status and error. */
export class EnrollmentRefusal extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409;
  readonly error: string;
  constructor(status: 400 | 401 | 403 | 404 | 409, error: string, description: string) {
    super(description);
    this.name = 'EnrollmentRefusal';
    this.status = status;
    this.error = error;
  }
}

export interface IssuerDeps {
  ca: IssuingCa;
  sql: SqlClient;
  marks: RevocationMarks;
  urls: PublicationUrls;
  /** ISSUED_CERT_TTL, seconds */
  defaultTtl: number;
  /** after a commit that changed the client's certificates: every instance's client cache */
  invalidateClient(clientId: string): Promise<void>;
  /** adapter revokeByGrantId: the grant-bound tokens kept in the KV store */
  revokeGrant(grantId: string): Promise<void>;
  now?: () => number;
}

export interface Issued {
  cert: X509Certificate;
  row: IssuedCertificateRow;
}

export interface Issuer {
  readonly ca: IssuingCa;
  /** What the client's certificates carry, or a 403 naming why the client cannot enroll. */
  subjectFor(metadata: ClientMetadata): { subject: string; san?: { type: 'dns' | 'ip' | 'url' | 'email'; value: string } };
  issue(request: {
    clientId: string;
    metadata: ClientMetadata;
    publicKey: x509.PublicKey;
    by: 'enroll' | 'reenroll';
    previous?: IssuedCertificateRow;
    /** runs first in the transaction (spending the enrollment code); throw to abort */
    before?: (tx: SqlClient) => Promise<void>;
    actorX5t: string | null;
    requestId: string;
  }): Promise<Issued>;
  findIssued(x5t: string): Promise<IssuedCertificateRow | undefined>;
  /** undefined when the certificate is not one certbound issued to this client */
  revoke(
    clientId: string,
    x5t: string,
    reason: string,
    audit: { actorClientId: string; actorX5t: string | null; requestId: string },
  ): Promise<IssuedCertificateRow | undefined>;
  /** The current CRL, DER. */
  crl(): Promise<Buffer>;
  /** drop the cached CRL (a revocation on any instance) */
  forgetCrl(): void;
}

export function createIssuer(deps: IssuerDeps): Issuer {
  const now = deps.now ?? Date.now;
  let cached: { der: Buffer; nextUpdate: number } | undefined;
  let signing: Promise<Buffer> | undefined;
  let generation = 0;

  function subjectFor(metadata: ClientMetadata) {
    const dn = metadata.tls_client_auth_subject_dn;
    if (typeof dn === 'string') return { subject: dn };
    for (const [matcher, type] of Object.entries(SAN_TYPES)) {
      const value = metadata[matcher];
      if (typeof value === 'string') return { subject: subjectWithCn(metadata.client_id), san: { type, value } };
    }
    throw new EnrollmentRefusal(403, 'forbidden', `client "${metadata.client_id}" has no tls_client_auth_subject_dn or tls_client_auth_san_* to put in a certificate (token_endpoint_auth_method ${typeof metadata.token_endpoint_auth_method === 'string' ? metadata.token_endpoint_auth_method : 'tls_client_auth'}): it cannot enroll`);
  }

  async function revokeBoundRefreshTokens(clientId: string, x5t: string): Promise<number> {
    const grantIds = await deleteRefreshTokensBoundTo(deps.sql, clientId, x5t);
    for (const grantId of grantIds) await deps.revokeGrant(grantId);
    return grantIds.length;
  }

  async function revoke(clientId: string, x5t: string, reason: string, audit: { actorClientId: string; actorX5t: string | null; requestId: string }) {
    const existing = await findIssuedByThumbprint(deps.sql, x5t);
    if (!existing || existing.client_id !== clientId) return undefined;
    if (existing.revoked_at !== null) return existing;
    const revoked = await deps.sql.transaction(async (tx) => {
      const row = await revokeIssuedCertificate(tx, clientId, x5t, reason);
      if (!row) return (await findIssuedByThumbprint(tx, x5t))!; // revoked meanwhile
      await appendAudit(tx, {
        requestId: audit.requestId, actorClientId: audit.actorClientId, actorX5t: audit.actorX5t,
        action: 'client.certificate.revoke', target: `clients/${clientId}/certificates/${x5t}`,
        before: { revoked_at: null }, after: { serial: row.serial, revoked_at: new Date(row.revoked_at!).toISOString(), revocation_reason: reason },
      });
      return row;
    });
    // After commit: every instance refuses it now (marks + pub/sub), the CRL is signed again,
    // and its refresh tokens go. Access tokens already issued live until exp (introspection: inactive).
    const marked = { serial: revoked.serial, x5t: revoked.x5t_s256 };
    await deps.marks.revoke(marked, revoked.revocation_reason ?? reason, new Date(revoked.revoked_at!), new Date(revoked.not_after));
    cached = undefined;
    generation++;
    await revokeBoundRefreshTokens(clientId, x5t);
    await deps.invalidateClient(clientId);
    return revoked;
  }

  return {
    ca: deps.ca,
    subjectFor,
    async issue(request) {
      const { subject, san } = subjectFor(request.metadata);
      const ttl = typeof request.metadata.issued_cert_ttl === 'number' ? request.metadata.issued_cert_ttl : deps.defaultTtl;
      const at = now();
      const notAfter = Math.min(at + ttl * 1000, deps.ca.cert.validToDate.getTime());
      const cert = await issueClientCertificate(deps.ca, deps.urls, {
        publicKey: request.publicKey, subject, ...(san ? { san } : {}), notBefore: new Date(at - BACKDATE_MS), notAfter: new Date(notAfter),
      });
      const x5t = x5tS256(cert);
      const row = await deps.sql.transaction(async (tx) => {
        await request.before?.(tx);
        const recorded = await recordIssuedCertificate(tx, {
          serial: cert.serialNumber.toUpperCase(), client_id: request.clientId, x5t_s256: x5t, issuer_x5t_s256: deps.ca.x5t,
          not_before: cert.validFromDate, not_after: cert.validToDate, issued_by: request.by, previous_x5t_s256: request.previous?.x5t_s256 ?? null,
        });
        // Registered like a certificate an admin added: a pinned client accepts it at once.
        await addClientCertificate(tx, certificateRow(request.clientId, cert));
        await appendAudit(tx, {
          requestId: request.requestId, actorClientId: request.clientId, actorX5t: request.actorX5t,
          action: `client.certificate.${request.by}`, target: `clients/${request.clientId}/certificates/${x5t}`,
          before: null,
          after: {
            serial: recorded.serial, not_before: cert.validFromDate.toISOString(), not_after: cert.validToDate.toISOString(), subject,
            previous_x5t_s256: recorded.previous_x5t_s256,
          },
        });
        return recorded;
      });
      await deps.invalidateClient(request.clientId);
      if (request.previous && request.metadata.revoke_previous_on_renewal === true) {
        await revoke(request.clientId, request.previous.x5t_s256, 'superseded', { actorClientId: request.clientId, actorX5t: request.actorX5t, requestId: request.requestId });
      }
      return { cert, row };
    },
    findIssued: (x5t) => findIssuedByThumbprint(deps.sql, x5t),
    revoke,
    async crl() {
      const at = now();
      if (cached && cached.nextUpdate - at > CRL_RESIGN_BEFORE_MS) return cached.der;
      if (signing === undefined) {
        const mine = generation;
        signing = (async () => {
          const revoked = await listRevokedUnexpired(deps.sql, deps.ca.x5t);
          const thisUpdate = new Date(now() - BACKDATE_MS);
          const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALID_MS);
          const der = await signCrl(deps.ca, revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason ?? 'unspecified' })), thisUpdate, nextUpdate);
          if (mine === generation) cached = { der, nextUpdate: nextUpdate.getTime() };
          return der;
        })().finally(() => {
          signing = undefined;
        });
      }
      return signing;
    },
    forgetCrl() {
      cached = undefined;
      generation++;
    },
  };
}
