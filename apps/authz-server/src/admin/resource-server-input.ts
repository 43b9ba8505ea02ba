// Validation of a resource server (RFC 8707 resource indicator) as the admin API receives it:
// 400 invalid_request "<field>: <problem>" for the first problem found.
import type { ResourceServerValues } from '../storage/postgres/resource-servers.ts';
import { invalidRequest } from './errors.ts';
import { refuseUnknownFields } from './body.ts';
import { ADMIN_RESOURCE, ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { SCOPE_TOKEN } from '../oidc/vocabulary.ts';

export const RESOURCE_SERVER_FIELDS: ReadonlySet<string> = new Set([
  'identifier',
  'name',
  'scopes',
  'token_format',
  'access_token_ttl',
  'sender_constraint_required',
]);

/** A day: an access token that must live longer is a refresh token's job. */
export const MAX_ACCESS_TOKEN_TTL = 86_400;

// RFC 6749 §3.3 scope-token.

export function validateResourceServer(
  body: Record<string, unknown>,
  ctx: { mode: 'create' | 'replace'; pathIdentifier?: string; staticScopes: ReadonlySet<string> },
): ResourceServerValues {
  refuseUnknownFields(body, RESOURCE_SERVER_FIELDS);

  let identifier = body.identifier;
  if (identifier !== undefined) {
    // 1024 bytes keeps it well inside a PostgreSQL index entry.
    if (typeof identifier !== 'string' || identifier === '' || Buffer.byteLength(identifier) > 1024) throw invalidRequest('identifier', 'must be an absolute URI of at most 1024 bytes');
    const url = URL.parse(identifier);
    // RFC 8707 §2: an absolute URI without a fragment.
    if (!url) throw invalidRequest('identifier', 'must be an absolute URI (RFC 8707 §2)');
    if (url.hash || identifier.includes('#')) throw invalidRequest('identifier', 'must not carry a fragment (RFC 8707 §2)');
  }
  if (ctx.mode === 'replace') {
    if (identifier !== undefined && identifier !== ctx.pathIdentifier) throw invalidRequest('identifier', 'differs from the identifier in the path; an identifier cannot change');
    identifier = ctx.pathIdentifier;
  }
  if (identifier === undefined) throw invalidRequest('identifier', 'is required');

  const name = body.name;
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 255)) throw invalidRequest('name', 'must be a string of at most 255 characters');

  const scopes = body.scopes ?? [];
  if (!Array.isArray(scopes)) throw invalidRequest('scopes', 'must be an array of scope tokens');
  if (scopes.length > 100) throw invalidRequest('scopes', 'must have at most 100 members');
  scopes.forEach((scope: unknown, i) => {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope) || scope.length > 255) throw invalidRequest(`scopes[${i}]`, 'is not a scope token (RFC 6749 §3.3)');
    if (ctx.staticScopes.has(scope)) throw invalidRequest(`scopes[${i}]`, `"${scope}" is reserved by the authorization server`);
    // A partner granted another API's `admin` must never look like an administrator anywhere.
    if (scope === ADMIN_SCOPE) throw invalidRequest(`scopes[${i}]`, `"${ADMIN_SCOPE}" is reserved for the admin API (${ADMIN_RESOURCE})`);
  });
  if (new Set(scopes).size !== scopes.length) throw invalidRequest('scopes', 'must not repeat a scope');

  const format = body.token_format ?? 'jwt';
  if (format !== 'jwt' && format !== 'opaque') throw invalidRequest('token_format', 'must be "jwt" or "opaque"');

  const ttl = body.access_token_ttl ?? null;
  if (ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_ACCESS_TOKEN_TTL)) {
    throw invalidRequest('access_token_ttl', `must be null (the server default) or an integer number of seconds from 1 to ${MAX_ACCESS_TOKEN_TTL}`);
  }

  const senderConstrained = body.sender_constraint_required ?? true;
  if (typeof senderConstrained !== 'boolean') throw invalidRequest('sender_constraint_required', 'must be true or false');

  return {
    identifier: identifier as string,
    name: name ?? null,
    scopes: scopes as string[],
    token_format: format,
    access_token_ttl: ttl,
    sender_constraint_required: senderConstrained,
  };
}
