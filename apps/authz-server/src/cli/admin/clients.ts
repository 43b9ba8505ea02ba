// `certbound clients ...`: OAuth clients through /admin/v1/clients. Fields come from flags for
// the common RFC 7591 / RFC 8705 metadata or whole from --metadata; the server validates them
// (admin/client-metadata.ts), so the CLI checks only the shape of each flag value.
// `update` reads the client (GET, ETag), changes what the flags name, and writes it back with
// If-Match (RFC 9110 §13.1.1): a change made by someone else in between is a 412, never lost.
// Scopes belong to resource servers: `--resource "URI SCOPE..."` sets what the client holds on
// each (metadata `resources`); `--scope` still works where each scope has one resource server.
import { isIP } from 'node:net';
import type { CliIo, Command, CommandGroup, FlagSpec, FlagValues } from '../command.ts';
import { answerObject, segment } from './api.ts';
import { runAdmin } from './run.ts';
import { CommandError, LateUsageError, unlessChanged } from './errors.ts';
import { checkAbsoluteUri, checkTrueFalse, readJsonObject, words } from './input.ts';
import { printJson, quoted, show, summary, table } from './output.ts';
import { connectionFlags } from './settings.ts';
import { AUTH_METHODS, type SubjectMatcher } from '../../oidc/vocabulary.ts';

/** RFC 8705 §2.1.2 subject matchers: flag -> metadata field. A tls_client_auth client has exactly one. */
const MATCHERS = {
  'subject-dn': 'tls_client_auth_subject_dn',
  'san-uri': 'tls_client_auth_san_uri',
  'san-dns': 'tls_client_auth_san_dns',
  'san-ip': 'tls_client_auth_san_ip',
  'san-email': 'tls_client_auth_san_email',
} as const satisfies Record<string, SubjectMatcher>;

const fieldFlags = {
  name: { type: 'string', help: 'client_name' },
  'auth-method': { type: 'string', help: `token_endpoint_auth_method: ${AUTH_METHODS.join(', ')} (server default tls_client_auth)`, check: (v) => ((AUTH_METHODS as readonly string[]).includes(v) ? undefined : `must be ${AUTH_METHODS.join(', ')}`) },
  'subject-dn': { type: 'string', help: 'tls_client_auth_subject_dn, RFC 4514: "CN=ledger,O=Example"' },
  'san-uri': { type: 'string', help: 'tls_client_auth_san_uri, e.g. spiffe://example.org/ns/payments/sa/ledger', check: checkAbsoluteUri },
  'san-dns': { type: 'string', help: 'tls_client_auth_san_dns' },
  'san-ip': { type: 'string', help: 'tls_client_auth_san_ip (IPv4 or IPv6)', check: (v) => (isIP(v) ? undefined : 'not an IP address') },
  'san-email': { type: 'string', help: 'tls_client_auth_san_email' },
  resource: { type: 'strings', help: 'a resource server the client holds and its scopes there: "URI SCOPE SCOPE..." (URI alone: the audience without scopes); repeated; replaces the client\'s resources' },
  scope: { type: 'strings', help: 'scopes the client holds, each of exactly one resource server (mapped to it); space-separated or repeated; replaces the client\'s resources' },
  'default-resource': { type: 'string', help: 'default_resource: the audience when a token request names none', check: checkAbsoluteUri },
  'grant-type': { type: 'strings', help: 'grant_types: client_credentials (server default), authorization_code, refresh_token' },
  'redirect-uri': { type: 'strings', help: 'redirect_uris (authorization_code)' },
  contact: { type: 'strings', help: 'contacts' },
  'certificate-pinning': { type: 'string', help: 'true: accept only the certificates added with "certs add" (tls_client_auth)', check: checkTrueFalse },
  'certificate-bound-tokens': { type: 'string', help: 'tls_client_certificate_bound_access_tokens: true or false', check: checkTrueFalse },
  jwks: { type: 'string', help: 'FILE with the JWK Set: private_key_jwt assertion keys (public keys only)' },
  disabled: { type: 'string', help: 'true: the client gets no token (and is revoked); false: enabled', check: checkTrueFalse },
  metadata: { type: 'string', help: 'FILE (or - for stdin) with the client metadata as JSON; the other options apply on top' },
} as const satisfies Record<string, FlagSpec>;

type FieldFlags = FlagValues<typeof fieldFlags>;

/** The fields the flags set (read once: --jwks may be a file). */
async function fieldsOf(flags: FieldFlags, io: CliIo): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = {};
  if (flags.name !== undefined) fields.client_name = flags.name;
  if (flags['auth-method'] !== undefined) fields.token_endpoint_auth_method = flags['auth-method'];
  for (const [flag, field] of Object.entries(MATCHERS)) {
    if (flags[flag as keyof typeof MATCHERS] !== undefined) fields[field] = flags[flag as keyof typeof MATCHERS];
  }
  if (flags.scope.length > 0) fields.scope = words(flags.scope).join(' ');
  if (flags.resource.length > 0) fields.resources = resourcesOf(flags.resource);
  if (flags['default-resource'] !== undefined) fields.default_resource = flags['default-resource'];
  if (flags['grant-type'].length > 0) fields.grant_types = flags['grant-type'];
  if (flags['redirect-uri'].length > 0) fields.redirect_uris = flags['redirect-uri'];
  if (flags.contact.length > 0) fields.contacts = flags.contact;
  if (flags['certificate-pinning'] !== undefined) fields.certificate_pinning = flags['certificate-pinning'] === 'true';
  if (flags['certificate-bound-tokens'] !== undefined) fields.tls_client_certificate_bound_access_tokens = flags['certificate-bound-tokens'] === 'true';
  if (flags.jwks !== undefined) fields.jwks = await readJsonObject(io, flags.jwks, '--jwks');
  if (flags.disabled !== undefined) fields.disabled = flags.disabled === 'true';
  return fields;
}

/** --resource "URI SCOPE..." values as `resources`; the server validates URIs and scopes. */
function resourcesOf(values: readonly string[]): Record<string, string[]> {
  const resources: Record<string, string[]> = {};
  for (const value of values) {
    const [identifier, ...scopes] = value.split(/\s+/).filter(Boolean);
    if (identifier === undefined) throw new LateUsageError('--resource: give "URI SCOPE..." (the resource server, then its scopes)');
    const problem = checkAbsoluteUri(identifier);
    if (problem !== undefined) throw new LateUsageError(`--resource ${identifier}: ${problem}`);
    if (Object.hasOwn(resources, identifier)) throw new LateUsageError(`--resource ${identifier}: given twice; list all its scopes in one --resource`);
    Object.defineProperty(resources, identifier, { value: scopes, enumerable: true, writable: true, configurable: true });
  }
  return resources;
}

/** `{"https://a": ["x", "y"], "https://b": []}` as `https://a (x y); https://b (no scopes)`. */
function resourcesSummary(resources: unknown): string {
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) return show(resources);
  const entries = Object.entries(resources);
  if (entries.length === 0) return '-';
  return entries.map(([identifier, scopes]) => `${show(identifier)} (${Array.isArray(scopes) && scopes.length ? scopes.map(show).join(' ') : 'no scopes'})`).join('; ');
}

/**
 * `body` with `fields` set; a matcher among them replaces the client's matcher (it has exactly
 * one), and --scope or --resource replaces what the client holds (the server would otherwise
 * add a mapped `scope` to the `resources` it was given).
 */
function withFields(body: Record<string, unknown>, fields: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  if (Object.values(MATCHERS).some((m) => m in fields)) for (const m of Object.values(MATCHERS)) delete out[m];
  if ('scope' in fields || 'resources' in fields) {
    // openid / offline_access stay in `scope` unless --scope replaces it too.
    delete out.resources;
  }
  return { ...out, ...fields };
}

/** The order `show` prints fields in; anything else follows. */
const FIELD_ORDER = [
  'client_id', 'client_name', 'disabled', 'token_endpoint_auth_method', 'token_endpoint_auth_signing_alg', ...Object.values(MATCHERS),
  'certificate_pinning', 'tls_client_certificate_bound_access_tokens', 'dpop_bound_access_tokens', 'resources', 'scope', 'default_resource',
  'grant_types', 'response_types', 'redirect_uris', 'contacts', 'introspection_allowed', 'require_pushed_authorization_requests', 'fapi_profile', 'jwks',
];

function describeClient(client: Record<string, unknown>, etag: string | undefined): string {
  const keys = [...FIELD_ORDER.filter((k) => k in client), ...Object.keys(client).filter((k) => !FIELD_ORDER.includes(k)).sort()];
  const entries: [string, unknown][] = keys.map((k) => [k, k === 'jwks' ? jwksSummary(client.jwks) : k === 'resources' ? resourcesSummary(client.resources) : client[k]]);
  if (etag !== undefined) entries.push(['etag', etag]);
  return summary(entries);
}

function jwksSummary(jwks: unknown): string {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return show(jwks);
  return `${keys.length} key${keys.length === 1 ? '' : 's'}`;
}

function matcherOf(client: Record<string, unknown>): string {
  for (const [flag, field] of Object.entries(MATCHERS)) if (typeof client[field] === 'string') return `${flag.replace('-', ' ')}: ${show(client[field])}`;
  return '-';
}

const asClient = (body: unknown, what: string) => answerObject(body, what, 'a client');

// ---------------------------------------------------------------------------------------------

const createFlags = {
  'client-id': { type: 'string', help: 'client_id (generated by the server when absent)' },
  ...fieldFlags,
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const create: Command<typeof createFlags> = {
  summary: 'register a client: POST /admin/v1/clients',
  flags: createFlags,
  run: (flags, io) =>
    runAdmin(io, flags, async (api) => {
      const fields = await fieldsOf(flags, io);
      if (flags['client-id'] !== undefined) fields.client_id = flags['client-id'];
      if (flags.metadata === undefined && Object.keys(fields).length === 0) {
        throw new LateUsageError('nothing to register: give the client\'s fields (e.g. --client-id and --subject-dn) or --metadata FILE');
      }
      const body = withFields(flags.metadata === undefined ? {} : await readJsonObject(io, flags.metadata, '--metadata'), fields);
      const label = typeof body.client_id === 'string' ? `client ${quoted(body.client_id)}` : 'a client';
      const answer = await api.call(`register ${label}`, 'POST', '/clients', { json: body });
      const client = asClient(answer.body, `register ${label}`);
      if (flags.json) return printJson(io, client);
      io.stdout(`registered client ${quoted(String(client.client_id))}\n${describeClient(client, answer.etag)}`);
    }),
};

const listFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const list: Command<typeof listFlags> = {
  summary: 'list every client: GET /admin/v1/clients',
  flags: listFlags,
  run: (flags, io) =>
    runAdmin(io, flags, async (api) => {
      const items = (await api.listAll('list clients', '/clients')).map((c) => asClient(c, 'list clients'));
      if (flags.json) return printJson(io, { items, next_cursor: null });
      if (items.length === 0) return io.stdout('no clients registered\n');
      io.stdout(table(
        ['CLIENT_ID', 'STATUS', 'AUTH_METHOD', 'SUBJECT', 'RESOURCES'],
        items.map((c) => [show(c.client_id), c.disabled === true ? 'disabled' : 'enabled', show(c.token_endpoint_auth_method ?? 'tls_client_auth'), matcherOf(c), resourcesSummary(c.resources)]),
      ));
    }),
};

const idArg = [{ name: 'client_id', help: 'the client' }] as const;

const showFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const showCommand: Command<typeof showFlags, 'client_id'> = {
  summary: 'one client and its ETag: GET /admin/v1/clients/{client_id}',
  args: idArg,
  flags: showFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      const what = `show client ${quoted(id)}`;
      const answer = await api.call(what, 'GET', `/clients/${segment(id)}`);
      const client = asClient(answer.body, what);
      if (flags.json) return printJson(io, client);
      io.stdout(describeClient(client, answer.etag));
    }),
};

const updateFlags = {
  ...fieldFlags,
  unset: { type: 'strings', help: 'remove this metadata field, e.g. default_resource' },
  'if-match': { type: 'string', help: 'write only if the client is still at this ETag (from "clients show"), e.g. \'"3"\'' },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const update: Command<typeof updateFlags, 'client_id'> = {
  summary: 'change a client: GET it, apply the options, PUT it back with If-Match',
  args: idArg,
  flags: updateFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      const replacement = flags.metadata === undefined ? undefined : await readJsonObject(io, flags.metadata, '--metadata');
      const fields = await fieldsOf(flags, io);
      if (replacement === undefined && Object.keys(fields).length === 0 && flags.unset.length === 0) {
        throw new LateUsageError('nothing to change: give the fields to change, --unset FIELD or --metadata FILE');
      }
      const read = await api.call(`read client ${quoted(id)}`, 'GET', `/clients/${segment(id)}`);
      const etag = flags['if-match'] ?? read.etag;
      if (etag === undefined) throw new CommandError(`cannot update client ${quoted(id)}: the server sent no ETag`);
      // --metadata replaces the representation; `disabled` (and a self-signed jwks) stay when omitted (server).
      const current = { ...(replacement ?? asClient(read.body, `read client ${quoted(id)}`)) };
      for (const field of flags.unset) {
        if (!(field in current)) throw new LateUsageError(`--unset ${field}: client ${quoted(id)} has no field "${field}"`);
        delete current[field];
      }
      const answer = await unlessChanged(
        api.call(`update client ${quoted(id)}`, 'PUT', `/clients/${segment(id)}`, { json: withFields(current, fields), ifMatch: etag }),
        `client ${quoted(id)}`,
      );
      const client = asClient(answer.body, `update client ${quoted(id)}`);
      if (flags.json) return printJson(io, client);
      io.stdout(`updated client ${quoted(id)}\n${describeClient(client, answer.etag)}`);
    }),
};

const deleteFlags = {
  'if-match': { type: 'string', help: 'delete only if the client is still at this ETag' },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const remove: Command<typeof deleteFlags, 'client_id'> = {
  summary: 'delete a client with its certificates, grants and refresh tokens: DELETE /admin/v1/clients/{client_id}',
  args: idArg,
  flags: deleteFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      await unlessChanged(
        api.call(`delete client ${quoted(id)}`, 'DELETE', `/clients/${segment(id)}`, flags['if-match'] === undefined ? {} : { ifMatch: flags['if-match'] }),
        `client ${quoted(id)}`,
      );
      if (flags.json) return printJson(io, { client_id: id, deleted: true });
      io.stdout(`deleted client ${quoted(id)}\n`);
    }),
};

const revokeFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const revoke: Command<typeof revokeFlags, 'client_id'> = {
  summary: 'revoke every grant and refresh token of a client, and its access tokens issued so far: POST /admin/v1/clients/{client_id}/revoke',
  args: idArg,
  flags: revokeFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      const what = `revoke client ${quoted(id)}`;
      const { body } = await api.call(what, 'POST', `/clients/${segment(id)}/revoke`);
      const result = asClient(body, what);
      if (flags.json) return printJson(io, result);
      io.stdout(
        `revoked client ${quoted(id)}: ${show(result.revoked_grants)} grant(s), ${show(result.revoked_refresh_tokens)} refresh token(s); ` +
          `its access tokens issued before ${show(result.tokens_issued_before)} are no longer accepted at introspection or /admin/v1\n`,
      );
    }),
};

export const clientCommands: CommandGroup = { create, list, show: showCommand, update, delete: remove, revoke };
