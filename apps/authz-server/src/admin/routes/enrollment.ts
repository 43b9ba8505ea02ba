// /admin/v1 routes of enrollment (EST, enrollment/): one-time enrollment codes for a client's
// first certificate (created, and listed without the codes), and revocation of a certificate
// certbound issued (the CRL, every instance's token endpoint, its refresh tokens).
import { createHash, randomBytes } from 'node:crypto';
import { insertEnrollmentCode, listEnrollmentCodes, type EnrollmentCodeRow } from '../../storage/postgres/enrollment-codes.ts';
import { findClientCertificate } from '../../storage/postgres/client-certificates.ts';
import type { IssuedCertificateRow } from '../../storage/postgres/issued-certificates.ts';
import type { Issuer } from '../../enrollment/issuer.ts';
import { CRL_REASONS } from '../../pki/issuing.ts';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { AdminError, conflict, invalidRequest, notFound } from '../errors.ts';
import { readJsonObject, refuseUnknownFields } from '../body.ts';
import { recordChange, targets } from '../audit.ts';
import { existingClient } from './clients.ts';
import { AUTH, BODY, statuses } from './statuses.ts';

export const CODE_DEFAULT_TTL = 86_400;
export const CODE_MAX_TTL = 30 * 86_400;

export interface EnrollmentRouteDeps extends RouteDeps {
  /** undefined: enrollment is off; these routes answer 404 */
  enrollmentIssuer?: Issuer | undefined;
}

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());

function codeView(row: EnrollmentCodeRow) {
  const state = row.used_at !== null ? 'used' : row.invalidated_at !== null ? 'invalidated' : new Date(row.expires_at).getTime() <= Date.now() ? 'expired' : 'active';
  // The hash identifies the code in the list and the audit log; it cannot be turned back into the code.
  return {
    id: row.code_hash.slice(0, 16), client_id: row.client_id, state,
    created_at: iso(row.created_at), expires_at: iso(row.expires_at), used_at: iso(row.used_at), failures: row.failures,
  };
}

export function issuedView(row: IssuedCertificateRow) {
  return {
    client_id: row.client_id, 'x5t#S256': row.x5t_s256, serial: row.serial, issued_by: row.issued_by, previous_x5t_s256: row.previous_x5t_s256,
    not_before: iso(row.not_before), not_after: iso(row.not_after), revoked_at: iso(row.revoked_at), revocation_reason: row.revocation_reason,
  };
}

/** A JSON body, or {} when the request has none (the body is optional on these routes). */
async function optionalBody(ctx: AdminContext): Promise<Record<string, unknown>> {
  const hasBody = ctx.get('content-length') !== '' ? ctx.get('content-length') !== '0' : ctx.get('transfer-encoding') !== '';
  return hasBody ? readJsonObject(ctx) : {};
}

export function enrollmentRoutes(deps: EnrollmentRouteDeps): Route[] {
  const enabled = (): Issuer => {
    if (deps.enrollmentIssuer === undefined) throw notFound('enrollment is off: no issuing CA is configured (ISSUING_CA_CERT_FILE / ISSUING_CA_KEY_FILE)');
    return deps.enrollmentIssuer;
  };

  async function createCode(ctx: AdminContext): Promise<void> {
    const issuer = enabled();
    const clientId = ctx.state.params.client_id;
    const body = await optionalBody(ctx);
    refuseUnknownFields(body, new Set(['expires_in']));
    const expiresIn = body.expires_in ?? CODE_DEFAULT_TTL;
    if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > CODE_MAX_TTL) {
      throw invalidRequest('expires_in', `must be a whole number of seconds from 60 to ${CODE_MAX_TTL} (30 days)`);
    }
    const client = await existingClient(deps.sql, clientId);
    try {
      issuer.subjectFor(client.metadata);
    } catch (err) {
      throw new AdminError(409, 'conflict', (err as Error).message);
    }
    const code = randomBytes(32).toString('base64url');
    const codeHash = createHash('sha256').update(code, 'utf8').digest('base64url');
    const row = await deps.sql.transaction(async (tx) => {
      const inserted = await insertEnrollmentCode(tx, { codeHash, clientId, expiresAt: new Date(Date.now() + expiresIn * 1000) });
      await recordChange(tx, ctx, { action: 'client.enrollment_code.create', target: `${targets.client(clientId)}/enrollment-codes/${codeView(inserted).id}`, before: null, after: codeView(inserted) });
      return inserted;
    });
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { code, expires_at: iso(row.expires_at), id: codeView(row).id };
  }

  async function listCodes(ctx: AdminContext): Promise<void> {
    enabled();
    const clientId = ctx.state.params.client_id;
    await existingClient(deps.sql, clientId);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: (await listEnrollmentCodes(deps.sql, clientId)).map(codeView), next_cursor: null };
  }

  async function revoke(ctx: AdminContext): Promise<void> {
    const issuer = enabled();
    const { client_id: clientId, x5t } = ctx.state.params;
    const body = await optionalBody(ctx);
    refuseUnknownFields(body, new Set(['reason']));
    const reason = body.reason ?? 'unspecified';
    if (typeof reason !== 'string' || !(reason in CRL_REASONS) || reason === 'removeFromCRL') {
      throw invalidRequest('reason', `must be an RFC 5280 CRLReason: ${Object.keys(CRL_REASONS).filter((r) => r !== 'removeFromCRL').join(', ')}`);
    }
    await existingClient(deps.sql, clientId);
    const record = await issuer.findIssued(x5t);
    if (!record || record.client_id !== clientId) {
      if (await findClientCertificate(deps.sql, clientId, x5t)) {
        throw conflict(`certificate x5t#S256 ${x5t} was not issued by certbound: only certificates certbound issued are revoked here; retire it with DELETE /admin/v1/clients/${clientId}/certificates/${x5t}`);
      }
      throw notFound(`certificate x5t#S256 ${x5t} is not registered for client "${clientId}"`);
    }
    const revoked = await issuer.revoke(clientId, x5t, reason, {
      actorClientId: ctx.state.admin?.clientId ?? 'certbound', actorX5t: ctx.state.admin?.thumbprint ?? null, requestId: ctx.state.requestId,
    });
    (ctx.state.changedClients ??= new Set()).add(clientId);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = issuedView(revoked ?? record);
  }

  return [
    { method: 'POST', path: '/clients/:client_id/enrollment-codes', name: 'createEnrollmentCode', auth: true, statuses: statuses(201, BODY, AUTH, 404, 409), handler: createCode },
    { method: 'GET', path: '/clients/:client_id/enrollment-codes', name: 'listEnrollmentCodes', auth: true, statuses: statuses(200, AUTH, 404), handler: listCodes },
    { method: 'POST', path: '/clients/:client_id/certificates/:x5t/revoke', name: 'revokeClientCertificate', auth: true, statuses: statuses(200, BODY, AUTH, 404, 409), handler: revoke },
  ];
}
