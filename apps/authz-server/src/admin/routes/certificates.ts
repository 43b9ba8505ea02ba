// /admin/v1/clients/:client_id/certificates, /admin/v1/certificates (every certificate, for the
// console's timeline), /certificates/expiring and /certificates/check. A client holds several
// certificates at once so that rotations overlap. For a self-signed client they are its jwks
// (RFC 8705 §2.2); for a tls_client_auth client they are recorded for expiry tracking and, with
// certificate_pinning, are the only ones its token requests may present.
import type { X509Certificate } from 'node:crypto';
import { findClient, lockClient, updateClientIfVersion, type ClientMetadata } from '../../storage/postgres/clients.ts';
import {
  addClientCertificate,
  findClientCertificate,
  listClientCertificates,
  listExpiringCertificates,
  retireClientCertificate,
} from '../../storage/postgres/client-certificates.ts';
import { validatePath } from '../../mtls/path-validation.ts';
import { subjectDnMatches, subjectDnOf } from '../../mtls/subject-dn.ts';
import { sanMatches, sansOf } from '../../mtls/san.ts';
import { x5tS256 } from '../../mtls/thumbprint.ts';
import type { AdminContext } from '../context.ts';
import type { RouteDeps } from '../deps.ts';
import type { Route } from '../router.ts';
import { conflict, invalidMetadata, invalidRequest, notFound } from '../errors.ts';
import { JSON_TYPE, PEM_TYPES, parseJsonObject, readText, refuseUnknownFields } from '../body.ts';
import { certificateJwk, certificateRow, certificateView, parseCertificatePem, selfSignedKeyProblem, type ParsedPem } from '../certificates.ts';
import { SUBJECT_MATCHERS } from '../../oidc/vocabulary.ts';
import { decodeCursor, limitOf, page, queryOf } from '../query.ts';
import { recordChange, targets } from '../audit.ts';
import { existingClient, isSelfSigned } from './clients.ts';
import { AUTH, BODY, statuses } from './statuses.ts';
import { diagnose, type ClientRegistration } from '../../mtls/diagnosis.ts';
import { isClientId } from '../client-metadata.ts';
import { certificateTimeline, CERTIFICATE_STATES, type CertificateState } from '../certificate-timeline.ts';

const WITHIN = /^(\d{1,5})([dh])$/;
/** GET /certificates: the timeline is read whole by the console, so its bound is larger than a page's. */
export const TIMELINE_DEFAULT_LIMIT = 500;
export const TIMELINE_MAX_LIMIT = 2_000;

function clientIdOf(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isClientId(value)) throw invalidRequest(field, 'must be a client_id: 1 to 255 printable ASCII characters');
  return value;
}

/** The body of POST /certificates/check: `{"pem": "...", "client_id"?: "..."}`, or the PEM itself (client_id then in the query). */
async function checkInputOf(ctx: AdminContext): Promise<{ pem: string; clientId: string | undefined }> {
  const query = queryOf(ctx, ['client_id']);
  const { type, text } = await readText(ctx, [JSON_TYPE, ...PEM_TYPES]);
  if (type !== JSON_TYPE) return { pem: text, clientId: clientIdOf('client_id', query.client_id) };
  const body = parseJsonObject(text);
  refuseUnknownFields(body, new Set(['pem', 'client_id']));
  if (typeof body.pem !== 'string') throw invalidRequest('pem', 'required: the certificate in PEM, optionally followed by its intermediates');
  if (query.client_id !== undefined && body.client_id !== undefined) throw invalidRequest('client_id', 'given in both the query and the body');
  return { pem: body.pem, clientId: clientIdOf('client_id', body.client_id ?? query.client_id) };
}

/** The PEM of a POST: `{"pem": "..."}` or the PEM itself (application/x-pem-file). */
async function pemOf(ctx: AdminContext): Promise<string> {
  const { type, text } = await readText(ctx, [JSON_TYPE, ...PEM_TYPES]);
  if (type !== JSON_TYPE) return text;
  const body = parseJsonObject(text);
  refuseUnknownFields(body, new Set(['pem']));
  if (typeof body.pem !== 'string') throw invalidRequest('pem', 'required: the certificate in PEM');
  return body.pem;
}

/** tls_client_auth: the certificate must be one the client could authenticate with. */
async function checkForTlsClientAuth(deps: RouteDeps, metadata: ClientMetadata, parsed: ParsedPem): Promise<void> {
  const matcher = SUBJECT_MATCHERS.find((m) => typeof metadata[m] === 'string');
  if (matcher) {
    const expected = metadata[matcher] as string;
    const matches = matcher === 'tls_client_auth_subject_dn'
      ? subjectDnMatches(parsed.leaf, expected)
      : sanMatches(parsed.leaf, matcher, expected);
    if (!matches) {
      const presented = matcher === 'tls_client_auth_subject_dn'
        ? `subject "${subjectDnOf(parsed.leaf)}"`
        : `SAN ${matcher.slice('tls_client_auth_san_'.length).toUpperCase()} ${JSON.stringify(sansOf(parsed.leaf)[matcher.slice('tls_client_auth_san_'.length) as 'dns'])}`;
      throw invalidMetadata('pem', `certificate ${presented} does not match the registered ${matcher} "${expected}"`);
    }
  }
  // RFC 8705 §2.1: it must chain to a configured client CA, as at the token endpoint.
  const verdict = await validatePath({ leaf: parsed.leaf, presented: parsed.intermediates, trustStore: deps.trustStore, minRsaBits: deps.minRsaBits });
  if (!verdict.ok) throw invalidMetadata('pem', verdict.reason);
}

function withKey(metadata: ClientMetadata, cert: X509Certificate): ClientMetadata {
  const keys = ((metadata.jwks as { keys?: Record<string, unknown>[] } | undefined)?.keys ?? []);
  const x5t = x5tS256(cert);
  const others = keys.filter((k) => thumbprintOfJwk(k) !== x5t);
  return { ...metadata, jwks: { keys: [...others, certificateJwk(cert)] } };
}

function withoutKey(metadata: ClientMetadata, x5t: string): ClientMetadata {
  const keys = ((metadata.jwks as { keys?: Record<string, unknown>[] } | undefined)?.keys ?? []);
  return { ...metadata, jwks: { keys: keys.filter((k) => thumbprintOfJwk(k) !== x5t) } };
}

function thumbprintOfJwk(jwk: Record<string, unknown>): string | undefined {
  const x5c: unknown = jwk.x5c;
  const der: unknown = Array.isArray(x5c) ? (x5c as unknown[])[0] : undefined;
  if (typeof der !== 'string') return undefined;
  return x5tS256(Buffer.from(der, 'base64'));
}

export function certificateRoutes(deps: RouteDeps): Route[] {
  async function listCertificates(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    await existingClient(deps.sql, clientId);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: (await listClientCertificates(deps.sql, clientId)).map(certificateView), next_cursor: null };
  }

  async function addCertificate(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    const client = await existingClient(deps.sql, clientId);
    const parsed = parseCertificatePem(await pemOf(ctx));
    const method = client.metadata.token_endpoint_auth_method ?? 'tls_client_auth';
    if (method === 'private_key_jwt') {
      throw invalidMetadata('token_endpoint_auth_method', 'a private_key_jwt client authenticates with signed assertions, not certificates');
    }
    if (method === 'tls_client_auth') {
      await checkForTlsClientAuth(deps, client.metadata, parsed);
    } else {
      const problem = selfSignedKeyProblem(parsed.leaf, deps.minRsaBits);
      if (problem !== undefined) throw invalidMetadata('pem', problem);
      if (parsed.leaf.validToDate.getTime() < Date.now()) throw invalidMetadata('pem', `certificate expired at ${parsed.leaf.validToDate.toISOString()}`);
    }
    const x5t = x5tS256(parsed.leaf);
    const added = await deps.sql.transaction(async (tx) => {
      const locked = await lockClient(tx, clientId);
      if (!locked) throw notFound(`client "${clientId}" is not registered`);
      const row = await addClientCertificate(tx, certificateRow(clientId, parsed.leaf));
      if (!row) throw conflict(`pem: certificate x5t#S256 ${x5t} is already active for client "${clientId}"`);
      if (isSelfSigned(locked.metadata)) {
        await updateClientIfVersion(tx, { metadata: withKey(locked.metadata, parsed.leaf), disabled: locked.disabled, version: locked.version });
      }
      await recordChange(tx, ctx, { action: 'client.certificate.add', target: targets.certificate(clientId, x5t), clientId, before: null, after: { ...certificateView(row) } });
      return row;
    });
    ctx.status = 201;
    ctx.set('Location', `/admin/v1/clients/${encodeURIComponent(clientId)}/certificates/${x5t}`);
    ctx.body = certificateView(added);
  }

  async function retireCertificate(ctx: AdminContext): Promise<void> {
    const clientId = ctx.state.params.client_id;
    const x5t = ctx.state.params.x5t;
    await existingClient(deps.sql, clientId);
    const row = await deps.sql.transaction(async (tx) => {
      const locked = await lockClient(tx, clientId);
      if (!locked) throw notFound(`client "${clientId}" is not registered`);
      const existing = await findClientCertificate(tx, clientId, x5t);
      if (!existing) throw notFound(`certificate x5t#S256 ${x5t} is not registered for client "${clientId}"`);
      if (existing.status === 'retired') return existing; // already done: nothing changes, nothing to audit
      const retired = (await retireClientCertificate(tx, clientId, x5t))!;
      if (isSelfSigned(locked.metadata)) {
        await updateClientIfVersion(tx, { metadata: withoutKey(locked.metadata, x5t), disabled: locked.disabled, version: locked.version });
      }
      await recordChange(tx, ctx, {
        action: 'client.certificate.retire',
        target: targets.certificate(clientId, x5t), clientId,
        before: { ...certificateView(existing) },
        after: { ...certificateView(retired) },
      });
      return retired;
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = certificateView(row);
  }

  async function expiringCertificates(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['within', 'limit', 'cursor']);
    const within = WITHIN.exec(query.within ?? '30d');
    if (!within) throw invalidRequest('within', 'must be a number of days or hours, e.g. 30d or 12h');
    const ms = Number(within[1]) * (within[2] === 'd' ? 86_400_000 : 3_600_000);
    const limit = limitOf(query.limit);
    const cursor = decodeCursor(query.cursor, 3);
    if (cursor && Number.isNaN(Date.parse(cursor[0]))) throw invalidRequest('cursor', 'is not a cursor this API returned');
    const rows = await listExpiringCertificates(deps.sql, {
      before: new Date(Date.now() + ms),
      after: cursor && { notAfter: cursor[0], clientId: cursor[1], x5t: cursor[2] },
      limit: limit + 1,
    });
    const result = page(rows, limit, (r) => [new Date(r.not_after!).toISOString(), r.client_id, r.x5t_s256]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: result.rows.map(certificateView), next_cursor: result.nextCursor };
  }

  async function certificateList(ctx: AdminContext): Promise<void> {
    const query = queryOf(ctx, ['client_id', 'status', 'limit']);
    const clientId = clientIdOf('client_id', query.client_id);
    const state = query.status;
    if (state !== undefined && !(CERTIFICATE_STATES as readonly string[]).includes(state)) {
      throw invalidRequest('status', `must be one of ${CERTIFICATE_STATES.join(', ')}`);
    }
    const limit = limitOf(query.limit, { fallback: TIMELINE_DEFAULT_LIMIT, max: TIMELINE_MAX_LIMIT });
    const now = new Date();
    const { items, truncated } = await certificateTimeline(deps.sql, { clientId, state: state as CertificateState | undefined, limit, now });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { now: now.toISOString(), items, truncated };
  }

  async function checkCertificate(ctx: AdminContext): Promise<void> {
    const { pem, clientId } = await checkInputOf(ctx);
    const parsed = parseCertificatePem(pem);
    let registration: ClientRegistration | undefined;
    if (clientId !== undefined) {
      if (deps.findClientRegistration) {
        registration = (await deps.findClientRegistration(clientId)) ?? undefined;
      } else {
        const row = await findClient(deps.sql, clientId);
        registration = row && !row.disabled ? row.metadata : undefined;
      }
    }
    // The same steps, in the same functions, as GET /mtls/check and `certbound doctor` (mtls/diagnosis.ts),
    // against the client CAs in force and the token endpoint's revocation checker.
    const diagnosis = await diagnose({
      presented: { leaf: parsed.leaf, chain: parsed.intermediates },
      trustStore: deps.trustStore,
      now: new Date(),
      ...(deps.revocation ? { revocation: deps.revocation } : {}),
      ...(deps.minRsaBits === undefined ? {} : { minRsaBits: deps.minRsaBits }),
      ...(clientId === undefined ? {} : { client: { id: clientId, registration } }),
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = diagnosis;
  }

  return [
    { method: 'GET', path: '/certificates', name: 'listCertificates', auth: true, statuses: statuses(200, 400, AUTH), handler: certificateList },
    { method: 'POST', path: '/certificates/check', name: 'checkCertificate', auth: true, statuses: statuses(200, BODY, AUTH), readOnly: true, handler: checkCertificate },
    { method: 'GET', path: '/clients/:client_id/certificates', name: 'listClientCertificates', auth: true, statuses: statuses(200, AUTH, 404), handler: listCertificates },
    { method: 'POST', path: '/clients/:client_id/certificates', name: 'addClientCertificate', auth: true, statuses: statuses(201, BODY, AUTH, 404, 409), handler: addCertificate },
    { method: 'DELETE', path: '/clients/:client_id/certificates/:x5t', name: 'retireClientCertificate', auth: true, statuses: statuses(200, AUTH, 404), handler: retireCertificate },
    { method: 'GET', path: '/certificates/expiring', name: 'listExpiringCertificates', auth: true, statuses: statuses(200, 400, AUTH), handler: expiringCertificates },
  ];
}
