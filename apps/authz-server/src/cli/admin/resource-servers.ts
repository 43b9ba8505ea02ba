// `certbound resource-servers ...`: the RFC 8707 resource indicators tokens are issued for,
// through /admin/v1/resource-servers. `update` is GET (ETag) then PUT with If-Match, as for clients.
import type { CliIo, Command, CommandGroup, FlagSpec, FlagValues } from '../command.ts';
import { answerObject, segment } from './api.ts';
import { runAdmin } from './run.ts';
import { CommandError, LateUsageError, unlessChanged } from './errors.ts';
import { checkAbsoluteUri, checkTrueFalse, readJsonObject, words } from './input.ts';
import { printJson, quoted, show, summary, table } from './output.ts';
import { connectionFlags } from './settings.ts';

const fieldFlags = {
  name: { type: 'string', help: 'a name for people' },
  scope: { type: 'strings', help: 'a scope it accepts; space-separated or repeated (replaces the list on update)' },
  'token-format': { type: 'string', help: 'jwt (default) or opaque (introspected)', check: (v) => (v === 'jwt' || v === 'opaque' ? undefined : 'must be jwt or opaque') },
  'access-token-ttl': {
    type: 'string',
    help: 'access token lifetime in seconds, or "default" for ACCESS_TOKEN_TTL',
    check: (v) => (v === 'default' || /^[1-9]\d{0,5}$/.test(v) ? undefined : 'must be a number of seconds or "default"'),
  },
  'sender-constraint-required': { type: 'string', help: 'true (default): only certificate- or DPoP-bound tokens; false: bearer tokens too', check: checkTrueFalse },
  metadata: { type: 'string', help: 'FILE (or - for stdin) with the resource server as JSON; the other options apply on top' },
} as const satisfies Record<string, FlagSpec>;

function fieldsOf(flags: FlagValues<typeof fieldFlags>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (flags.name !== undefined) fields.name = flags.name;
  if (flags.scope.length > 0) fields.scopes = words(flags.scope);
  if (flags['token-format'] !== undefined) fields.token_format = flags['token-format'];
  if (flags['access-token-ttl'] !== undefined) fields.access_token_ttl = flags['access-token-ttl'] === 'default' ? null : Number(flags['access-token-ttl']);
  if (flags['sender-constraint-required'] !== undefined) fields.sender_constraint_required = flags['sender-constraint-required'] === 'true';
  return fields;
}

async function metadataOf(flags: { metadata?: string | undefined }, io: CliIo): Promise<Record<string, unknown> | undefined> {
  return flags.metadata === undefined ? undefined : readJsonObject(io, flags.metadata, '--metadata');
}

const asResourceServer = (body: unknown, what: string) => answerObject(body, what, 'a resource server');

function describe(rs: Record<string, unknown>, etag: string | undefined): string {
  return summary([
    ['identifier', rs.identifier],
    ['name', rs.name],
    ['scopes', rs.scopes],
    ['token_format', rs.token_format],
    ['access_token_ttl', rs.access_token_ttl ?? 'default (ACCESS_TOKEN_TTL)'],
    ['sender_constraint_required', rs.sender_constraint_required],
    ...(etag === undefined ? [] : [['etag', etag] as const]),
  ]);
}

const identifierArg = [{ name: 'identifier', help: 'the resource indicator, e.g. https://api.example.com' }] as const;

const createFlags = {
  identifier: { type: 'string', help: 'the resource indicator (RFC 8707): an absolute URI, the audience of its tokens', check: checkAbsoluteUri },
  ...fieldFlags,
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const create: Command<typeof createFlags> = {
  summary: 'register a resource server: POST /admin/v1/resource-servers',
  flags: createFlags,
  run: (flags, io) =>
    runAdmin(io, flags, async (api) => {
      const base = await metadataOf(flags, io);
      if (flags.identifier === undefined && base?.identifier === undefined) throw new LateUsageError('--identifier is required (or an "identifier" in --metadata)');
      const body = { ...base, ...fieldsOf(flags), ...(flags.identifier === undefined ? {} : { identifier: flags.identifier }) };
      const label = `resource server ${quoted(String(body.identifier))}`;
      const answer = await api.call(`register ${label}`, 'POST', '/resource-servers', { json: body });
      const rs = asResourceServer(answer.body, `register ${label}`);
      if (flags.json) return printJson(io, rs);
      io.stdout(`registered ${label}\n${describe(rs, answer.etag)}`);
    }),
};

const listFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const list: Command<typeof listFlags> = {
  summary: 'list every resource server: GET /admin/v1/resource-servers',
  flags: listFlags,
  run: (flags, io) =>
    runAdmin(io, flags, async (api) => {
      const what = 'list resource servers';
      const items = (await api.listAll(what, '/resource-servers')).map((rs) => asResourceServer(rs, what));
      if (flags.json) return printJson(io, { items, next_cursor: null });
      if (items.length === 0) return io.stdout('no resource servers registered\n');
      io.stdout(table(
        ['IDENTIFIER', 'FORMAT', 'TTL', 'BOUND', 'SCOPES'],
        items.map((rs) => [show(rs.identifier), show(rs.token_format), rs.access_token_ttl === null ? 'default' : show(rs.access_token_ttl), rs.sender_constraint_required === true ? 'required' : 'optional', show(rs.scopes)]),
      ));
    }),
};

const showFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const showCommand: Command<typeof showFlags, 'identifier'> = {
  summary: 'one resource server and its ETag: GET /admin/v1/resource-servers/{identifier}',
  args: identifierArg,
  flags: showFlags,
  run: (flags, io, { identifier }) =>
    runAdmin(io, flags, async (api) => {
      const what = `show resource server ${quoted(identifier)}`;
      const answer = await api.call(what, 'GET', `/resource-servers/${segment(identifier)}`);
      const rs = asResourceServer(answer.body, what);
      if (flags.json) return printJson(io, rs);
      io.stdout(describe(rs, answer.etag));
    }),
};

const updateFlags = {
  ...fieldFlags,
  'if-match': { type: 'string', help: 'write only if it is still at this ETag (from "resource-servers show")' },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const update: Command<typeof updateFlags, 'identifier'> = {
  summary: 'change a resource server: GET it, apply the options, PUT it back with If-Match',
  args: identifierArg,
  flags: updateFlags,
  run: (flags, io, { identifier }) =>
    runAdmin(io, flags, async (api) => {
      const replacement = await metadataOf(flags, io);
      const fields = fieldsOf(flags);
      if (replacement === undefined && Object.keys(fields).length === 0) throw new LateUsageError('nothing to change: give the fields to change or --metadata FILE');
      const label = `resource server ${quoted(identifier)}`;
      const read = await api.call(`read ${label}`, 'GET', `/resource-servers/${segment(identifier)}`);
      const etag = flags['if-match'] ?? read.etag;
      if (etag === undefined) throw new CommandError(`cannot update ${label}: the server sent no ETag`);
      const body = { ...(replacement ?? asResourceServer(read.body, `read ${label}`)), ...fields };
      const answer = await unlessChanged(api.call(`update ${label}`, 'PUT', `/resource-servers/${segment(identifier)}`, { json: body, ifMatch: etag }), label);
      const rs = asResourceServer(answer.body, `update ${label}`);
      if (flags.json) return printJson(io, rs);
      io.stdout(`updated ${label}\n${describe(rs, answer.etag)}`);
    }),
};

const deleteFlags = {
  'if-match': { type: 'string', help: 'delete only if it is still at this ETag' },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const remove: Command<typeof deleteFlags, 'identifier'> = {
  summary: 'delete a resource server (refused while a client names it as default_resource): DELETE /admin/v1/resource-servers/{identifier}',
  args: identifierArg,
  flags: deleteFlags,
  run: (flags, io, { identifier }) =>
    runAdmin(io, flags, async (api) => {
      const label = `resource server ${quoted(identifier)}`;
      await unlessChanged(api.call(`delete ${label}`, 'DELETE', `/resource-servers/${segment(identifier)}`, flags['if-match'] === undefined ? {} : { ifMatch: flags['if-match'] }), label);
      if (flags.json) return printJson(io, { identifier, deleted: true });
      io.stdout(`deleted ${label}\n`);
    }),
};

export const resourceServerCommands: CommandGroup = { create, list, show: showCommand, update, delete: remove };
