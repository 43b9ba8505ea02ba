// The EST endpoints (RFC 7030) under /.well-known/est/, as one Koa middleware mounted before
// oidc-provider: cacerts, simpleenroll (HTTP Basic: client_id + one-time enrollment code),
// simplereenroll (the client's current certbound-issued certificate on this TLS connection),
// csrattrs, and crl. All but crl are on the mutual-TLS listener only; the CRL is served on both
// listeners because a revocation checker must fetch it without a client certificate.
// Every refusal is JSON {error, error_description} with one log line; a store that is down is a 503.
import { createHash, randomUUID } from 'node:crypto';
import type { Middleware, ParameterizedContext } from 'koa';
import type { CertificateSource, PresentedCertificate } from '@certbound/cnf-verifier';
import type { Logger } from '../log.ts';
import type { SqlClient } from '../storage/sql.ts';
import { findClient, type ClientRow } from '../storage/postgres/clients.ts';
import { consumeEnrollmentCode, isLiveEnrollmentCode, recordEnrollmentFailure } from '../storage/postgres/enrollment-codes.ts';
import { listenerOf } from '../http/listeners.ts';
import { BodyReadError, readBody } from '../http/body.ts';
import type { VerdictCache } from '../mtls/connection-verdict.ts';
import { certsOnly } from '../pki/issuing.ts';
import { csrAttributes, readCsr } from './csr.ts';
import { EnrollmentRefusal, type Issuer } from './issuer.ts';

export const EST_PREFIX = '/.well-known/est';
export const EST_REALM = 'certbound EST';
/** A PKCS#10 request is a few hundred bytes to ~2 KiB (RSA 4096) in base64 */
export const EST_BODY_LIMIT = 16 * 1024;
const CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only';

export interface EstDeps {
  /** undefined: enrollment is off (no issuing CA), every endpoint answers 404 */
  issuer: Issuer | undefined;
  sql: SqlClient;
  logger: Logger;
  source: CertificateSource;
  verdicts: VerdictCache;
  minRsaBits: number;
  /** ENROLLMENT_CODE_MAX_FAILURES */
  maxFailures: number;
}

class EstError extends Error {
  readonly status: number;
  readonly error: string;
  readonly headers: Record<string, string>;
  constructor(status: number, error: string, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.status = status;
    this.error = error;
    this.headers = headers;
  }
}

const hashCode = (code: string) => createHash('sha256').update(code, 'utf8').digest('base64url');

/** RFC 7617 Basic credentials, or undefined when absent or malformed. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || decoded.isWellFormed() === false || decoded.includes('\0')) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const unauthorized = (description: string) => new EstError(401, 'invalid_client', description, { 'WWW-Authenticate': `Basic realm="${EST_REALM}"` });

export function createEstEndpoints(deps: EstDeps): Middleware {
  const { logger } = deps;

  const storeDown = (err: unknown) => {
    logger.error({ event: 'est_store_unavailable', err }, 'enrollment: a store did not answer');
    return new EstError(503, 'temporarily_unavailable', 'the enrollment store is unavailable; retry shortly', { 'Retry-After': '5' });
  };
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof EstError || err instanceof EnrollmentRefusal) throw err;
      throw storeDown(err);
    }
  };

  async function body(ctx: ParameterizedContext): Promise<string> {
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (type !== 'application/pkcs10') throw new EstError(415, 'invalid_request', `Content-Type must be application/pkcs10 (RFC 7030 §4.2.1), not ${type === '' ? 'absent' : JSON.stringify(type.slice(0, 60))}`);
    try {
      return (await readBody(ctx.req, EST_BODY_LIMIT)).toString('latin1');
    } catch (err) {
      if (err instanceof BodyReadError && err.problem === 'too_large') throw new EstError(413, 'invalid_request', `the request body is larger than ${EST_BODY_LIMIT} bytes`);
      throw new EstError(400, 'invalid_request', `the request body could not be read (${(err as Error).message})`);
    }
  }

  async function csrKey(ctx: ParameterizedContext) {
    const csr = await readCsr(await body(ctx), deps.minRsaBits);
    if (!csr.ok) throw new EstError(400, 'invalid_request', csr.problem);
    return csr;
  }

  function issued(ctx: ParameterizedContext, der: Buffer): void {
    ctx.status = 200;
    ctx.set('Content-Type', CERTS_ONLY);
    ctx.set('Content-Transfer-Encoding', 'base64');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = `${der.toString('base64').replace(/(.{64})/g, '$1\r\n')}\r\n`;
  }

  function usableClient(row: ClientRow | undefined, clientId: string): ClientRow {
    if (!row || row.disabled) throw unauthorized(`client "${clientId}" is unknown or disabled`);
    return row;
  }

  async function simpleenroll(ctx: ParameterizedContext, issuer: Issuer): Promise<void> {
    const credentials = basicCredentials(ctx.get('authorization'));
    if (!credentials) throw unauthorized('simpleenroll needs HTTP Basic credentials: the client_id and its one-time enrollment code');
    const { user: clientId, password: code } = credentials;
    const codeHash = hashCode(code);
    const live = await guarded(() => isLiveEnrollmentCode(deps.sql, clientId, codeHash));
    if (!live) {
      const invalidated = await guarded(() => recordEnrollmentFailure(deps.sql, clientId, deps.maxFailures));
      if (invalidated > 0) logger.warn({ event: 'enrollment_codes_invalidated', client_id: clientId, codes: invalidated }, `enrollment codes of ${clientId} invalidated after ${deps.maxFailures} wrong codes`);
      throw unauthorized('the enrollment code is wrong, used, expired or invalidated for this client');
    }
    const client = usableClient(await guarded(() => findClient(deps.sql, clientId)), clientId);
    issuer.subjectFor(client.metadata); // 403 before the code is spent
    const csr = await csrKey(ctx);
    const result = await guarded(() => issuer.issue({
      clientId, metadata: client.metadata, publicKey: csr.publicKey, by: 'enroll', actorX5t: null, requestId: requestIdOf(ctx),
      async before(tx) {
        // of two requests with one code, one spends it; the other issues nothing
        if (!(await consumeEnrollmentCode(tx, clientId, codeHash))) throw unauthorized('the enrollment code was used meanwhile');
      },
    }));
    logger.info({ event: 'certificate_enrolled', client_id: clientId, serial: result.row.serial, x5t: result.row.x5t_s256, key: csr.key, not_after: result.row.not_after }, `enrolled a certificate for ${clientId}`);
    issued(ctx, certsOnly([result.cert]));
  }

  async function simplereenroll(ctx: ParameterizedContext, issuer: Issuer): Promise<void> {
    let presented: PresentedCertificate | undefined;
    try {
      presented = deps.source.fromRequest(ctx.req);
    } catch (err) {
      throw new EstError(400, 'invalid_request', (err as Error).message);
    }
    if (!presented) throw new EstError(401, 'invalid_client', 'simplereenroll is authenticated by the client certificate certbound issued: none was presented on this connection');
    const verdict = await deps.verdicts.verdict(ctx.req.socket, presented);
    if (!verdict.ok) {
      const status = verdict.code === 'revoked' ? 403 : 401;
      throw new EstError(status, verdict.code === 'revoked' ? 'forbidden' : 'invalid_client', `the presented certificate is refused: ${verdict.reason}`);
    }
    if (verdict.chain.length < 2 || verdict.chain[1].fingerprint256 !== issuer.ca.cert.fingerprint256) {
      throw new EstError(403, 'forbidden', 'the presented certificate was not issued by certbound\'s issuing CA: re-enrollment renews certificates certbound issued (enroll with a code instead)');
    }
    const record = await guarded(() => issuer.findIssued(presented.thumbprint));
    if (!record) throw new EstError(403, 'forbidden', 'the presented certificate was not issued for a client through enrollment');
    if (record.revoked_at !== null) throw new EstError(403, 'forbidden', `the presented certificate was revoked at ${new Date(record.revoked_at).toISOString()} (${record.revocation_reason ?? 'unspecified'})`);
    const client = await guarded(() => findClient(deps.sql, record.client_id));
    if (!client || client.disabled) throw new EstError(403, 'forbidden', `client "${record.client_id}" the certificate was issued for is deleted or disabled`);
    const csr = await csrKey(ctx);
    const result = await guarded(() => issuer.issue({
      clientId: record.client_id, metadata: client.metadata, publicKey: csr.publicKey, by: 'reenroll', previous: record,
      actorX5t: presented.thumbprint, requestId: requestIdOf(ctx),
    }));
    logger.info({ event: 'certificate_reenrolled', client_id: record.client_id, serial: result.row.serial, x5t: result.row.x5t_s256, previous_x5t: record.x5t_s256, not_after: result.row.not_after }, `re-enrolled a certificate for ${record.client_id}`);
    issued(ctx, certsOnly([result.cert]));
  }

  async function answer(ctx: ParameterizedContext, issuer: Issuer | undefined, operation: string): Promise<void> {
    const routes: Record<string, 'GET' | 'POST'> = { cacerts: 'GET', simpleenroll: 'POST', simplereenroll: 'POST', csrattrs: 'GET', crl: 'GET' };
    const method = routes[operation];
    if (method === undefined) throw new EstError(404, 'not_found', `no EST operation "${operation.slice(0, 60)}" (cacerts, simpleenroll, simplereenroll, csrattrs, crl)`);
    if (issuer === undefined) throw new EstError(404, 'not_found', 'enrollment is off: no issuing CA is configured (ISSUING_CA_CERT_FILE / ISSUING_CA_KEY_FILE)');
    if (operation !== 'crl' && listenerOf(ctx.req) !== 'mtls') throw new EstError(404, 'not_found', `${EST_PREFIX}/${operation} is served on the mutual-TLS listener only`);
    if (ctx.method !== method && !(method === 'GET' && ctx.method === 'HEAD')) {
      throw new EstError(405, 'invalid_request', `${ctx.method} is not allowed on ${EST_PREFIX}/${operation}; allowed: ${method}`, { Allow: method });
    }
    switch (operation) {
      case 'cacerts':
        issued(ctx, certsOnly([issuer.ca.cert, ...issuer.ca.chain]));
        ctx.set('Cache-Control', 'max-age=300'); // public certificates: a client may keep them a while
        return;
      case 'csrattrs':
        ctx.status = 200;
        ctx.set('Content-Type', 'application/csrattrs');
        ctx.set('Content-Transfer-Encoding', 'base64');
        ctx.body = `${csrAttributes().toString('base64')}\r\n`;
        return;
      case 'crl':
        ctx.status = 200;
        ctx.set('Content-Type', 'application/pkix-crl');
        ctx.set('Cache-Control', 'no-cache');
        ctx.body = await guarded(() => issuer.crl());
        return;
      case 'simpleenroll':
        return simpleenroll(ctx, issuer);
      default:
        return simplereenroll(ctx, issuer);
    }
  }

  return async function estEndpoints(ctx, next) {
    if (ctx.path !== EST_PREFIX && !ctx.path.startsWith(`${EST_PREFIX}/`)) {
      await next();
      return;
    }
    const operation = ctx.path.slice(EST_PREFIX.length + 1);
    try {
      await answer(ctx, deps.issuer, operation);
    } catch (err) {
      const refusal = err instanceof EstError ? err
        : err instanceof EnrollmentRefusal ? new EstError(err.status, err.error, err.message)
        : new EstError(400, 'invalid_request', 'the request could not be processed');
      if (!(err instanceof EstError) && !(err instanceof EnrollmentRefusal)) logger.error({ event: 'est_unexpected', err }, 'enrollment: unexpected error');
      ctx.status = refusal.status;
      for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = { error: refusal.error, error_description: refusal.message };
      if (refusal.status !== 503) {
        logger.info({ event: 'est_refused', operation: operation.slice(0, 60), status: refusal.status, error: refusal.error, reason: refusal.message }, `EST ${operation.slice(0, 60)} refused: ${refusal.message}`);
      }
    }
  };
}

function requestIdOf(ctx: ParameterizedContext): string {
  const id = ctx.get('x-request-id');
  return /^[A-Za-z0-9._-]{1,64}$/.test(id) ? id : randomUUID();
}
