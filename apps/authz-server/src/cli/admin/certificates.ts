// `certbound certs ...`: a client's certificates through /admin/v1 — add one ahead of a rotation,
// list them, retire the old one, and find those about to expire. A private key is never sent:
// a PEM holding one is refused here, before anything goes on the wire.
import type { Command, CommandGroup, FlagSpec } from '../command.ts';
import { answerObject, segment } from './api.ts';
import { runAdmin } from './run.ts';
import { CommandError } from './errors.ts';
import { readInput } from './input.ts';
import { printJson, quoted, show, summary, table, timeLeft } from './output.ts';
import { connectionFlags } from './settings.ts';

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const CERTIFICATE = '-----BEGIN CERTIFICATE-----';

type Certificate = Record<string, unknown>;

const asCertificate = (body: unknown, what: string): Certificate => answerObject(body, what, 'a certificate');

function sansOf(sans: unknown): string {
  if (sans === null || typeof sans !== 'object') return '-';
  const parts = Object.entries(sans as Record<string, unknown>).flatMap(([kind, values]) =>
    Array.isArray(values) ? values.map((v) => `${kind.toUpperCase()}:${show(v)}`) : [],
  );
  return parts.length ? parts.join(', ') : '-';
}

function describeCertificate(cert: Certificate): string {
  return summary([
    ['client_id', cert.client_id],
    ['x5t#S256', cert['x5t#S256']],
    ['status', cert.status],
    ['subject', cert.subject],
    ['sans', sansOf(cert.sans)],
    ['issuer', cert.issuer],
    ['serial', cert.serial],
    ['not_before', cert.not_before],
    ['not_after', cert.not_after],
    ['added', cert.created_at],
    ['retired', cert.retired_at],
  ]);
}

const clientArg = { name: 'client_id', help: 'the client' } as const;

const addFlags = {
  pem: { type: 'string', required: true, help: 'FILE (or - for stdin): the certificate in PEM, optionally followed by its intermediates' },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const add: Command<typeof addFlags, 'client_id'> = {
  summary: 'add a certificate to a client (rotations overlap): POST /admin/v1/clients/{client_id}/certificates',
  args: [clientArg],
  flags: addFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      const { text, name } = await readInput(io, flags.pem, '--pem');
      if (PRIVATE_KEY.test(text)) throw new CommandError(`--pem: ${name} holds a private key; pass the certificate only (nothing was sent)`);
      if (!text.includes(CERTIFICATE)) throw new CommandError(`--pem: ${name} holds no PEM certificate (expected ${CERTIFICATE})`);
      const what = `add a certificate to client ${quoted(id)}`;
      const { body } = await api.call(what, 'POST', `/clients/${segment(id)}/certificates`, {
        text: { body: text, contentType: 'application/pem-certificate-chain' },
      });
      const cert = asCertificate(body, what);
      if (flags.json) return printJson(io, cert);
      io.stdout(`added certificate ${show(cert['x5t#S256'])} to client ${quoted(id)}\n${describeCertificate(cert)}`);
    }),
};

const listFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const list: Command<typeof listFlags, 'client_id'> = {
  summary: "a client's certificates, active and retired: GET /admin/v1/clients/{client_id}/certificates",
  args: [clientArg],
  flags: listFlags,
  run: (flags, io, { client_id: id }) =>
    runAdmin(io, flags, async (api) => {
      const what = `list the certificates of client ${quoted(id)}`;
      const items = (await api.listAll(what, `/clients/${segment(id)}/certificates`)).map((c) => asCertificate(c, what));
      if (flags.json) return printJson(io, { items, next_cursor: null });
      if (items.length === 0) return io.stdout(`client ${quoted(id)} has no certificates\n`);
      io.stdout(table(
        ['X5T#S256', 'STATUS', 'NOT_AFTER', 'SUBJECT'],
        items.map((c) => [show(c['x5t#S256']), show(c.status), show(c.not_after), show(c.subject)]),
      ));
    }),
};

const retireFlags = { ...connectionFlags } as const satisfies Record<string, FlagSpec>;

const retire: Command<typeof retireFlags, 'client_id' | 'x5t'> = {
  summary: 'retire a certificate: kept for the record, no longer accepted: DELETE /admin/v1/clients/{client_id}/certificates/{x5t}',
  args: [clientArg, { name: 'x5t', help: 'its x5t#S256 (from "certs list"); put -- before one that starts with "-"' }],
  flags: retireFlags,
  run: (flags, io, { client_id: id, x5t }) =>
    runAdmin(io, flags, async (api) => {
      const what = `retire certificate ${x5t} of client ${quoted(id)}`;
      const { body } = await api.call(what, 'DELETE', `/clients/${segment(id)}/certificates/${segment(x5t)}`);
      const cert = asCertificate(body, what);
      if (flags.json) return printJson(io, cert);
      io.stdout(`retired certificate ${show(cert['x5t#S256'])} of client ${quoted(id)}\n`);
    }),
};

const expiringFlags = {
  within: { type: 'string', help: 'how far ahead: days (30d, the default) or hours (12h)', check: (v) => (/^\d{1,5}[dh]$/.test(v) ? undefined : 'must be a number of days or hours, e.g. 30d or 12h') },
  ...connectionFlags,
} as const satisfies Record<string, FlagSpec>;

const expiring: Command<typeof expiringFlags> = {
  summary: 'active certificates of every client that expire soon (or have), soonest first: GET /admin/v1/certificates/expiring',
  flags: expiringFlags,
  run: (flags, io) =>
    runAdmin(io, flags, async (api) => {
      const within = flags.within ?? '30d';
      const what = 'list expiring certificates';
      const items = (await api.listAll(what, '/certificates/expiring', { within })).map((c) => asCertificate(c, what));
      if (flags.json) return printJson(io, { items, next_cursor: null });
      if (items.length === 0) return io.stdout(`no active certificate expires within ${within}\n`);
      io.stdout(table(
        ['CLIENT_ID', 'X5T#S256', 'NOT_AFTER', 'LEFT', 'SUBJECT'],
        items.map((c) => [show(c.client_id), show(c['x5t#S256']), show(c.not_after), timeLeft(c.not_after), show(c.subject)]),
      ));
    }),
};

export const certificateCommands: CommandGroup = { add, list, retire, expiring };
