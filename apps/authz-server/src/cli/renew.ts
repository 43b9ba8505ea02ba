// `certbound renew`: replaces a client certificate that expires within a window (default 8 h) with
// a new one for a NEW key, asked for over mutual TLS with the current certificate (EST
// simplereenroll, RFC 7030 §4.2.2). Meant for cron or a systemd timer: "nothing to do" exits 0,
// so it can run every hour. The files change atomically: new files are written and fsynced
// beside the old ones, the old pair is kept as FILE.previous, then the key and the certificate
// are renamed into place. Tokens bound to the old certificate keep working until they expire.
import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command, FlagSpec } from './command.ts';
import { CommandError, EXIT } from './admin/errors.ts';
import { printable } from './admin/output.ts';
import { checkHttpsUrl, DEFAULT_URL } from './admin/settings.ts';
import { summary } from './enroll.ts';
import {
  chainFor, checkKeyType, est, keyTypeOf, KEY_TYPES, newRequest, readPair, readText, resolveIn, serverOf, spkiOf, stage, syncDirectory, type KeyType,
} from './est-client.ts';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** '8h', '90m', '1d12h' → milliseconds; undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  if (!/^(\d{1,6}[smhd])+$/.test(value)) return undefined;
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(n) * UNITS[unit];
  return ms;
}

const flags = {
  cert: { type: 'string', required: true, help: 'the client certificate, PEM (the leaf, then the issuing CA, as `certbound enroll` writes it)' },
  key: { type: 'string', required: true, help: 'its private key, PEM' },
  'renew-before': {
    type: 'string',
    help: 'renew when the certificate expires within this time: 30m, 8h, 1d12h (default 8h)',
    check: (value) => (parseDuration(value) === undefined ? 'must be a duration such as 30m, 8h or 1d12h' : undefined),
  },
  'key-type': { type: 'string', help: `the new key: ${KEY_TYPES.join(', ')} (default: the type of the current key)`, check: checkKeyType },
  url: { type: 'string', help: `the mutual-TLS listener (default $CERTBOUND_URL, else ${DEFAULT_URL}, 8444 unless set)`, check: checkHttpsUrl },
  ca: { type: 'string', help: "CA that verifies the server's certificate (default $CERTBOUND_CA, else $DATA_DIR/pki/ca.pem)" },
} as const satisfies Record<string, FlagSpec>;

export const renewCommand: Command<typeof flags> = {
  summary: 'renew a client certificate near its expiry with a new key (EST simplereenroll); for cron or a systemd timer: exit 0 when nothing to do',
  flags,
  async run(values, io) {
    try {
      const files = { cert: resolveIn(io, values.cert), key: resolveIn(io, values.key) };
      const [certPem, keyPem] = [await readText(files.cert, 'the certificate', '--cert'), await readText(files.key, 'the key', '--key')];
      const { leaf, key } = readPair(certPem, keyPem, files);
      const window = parseDuration(values['renew-before'] ?? '8h')!;
      const notAfter = leaf.validToDate;
      const now = Date.now();
      if (notAfter.getTime() <= now) {
        throw new CommandError(`${files.cert} expired at ${notAfter.toISOString()}: re-enrollment needs a valid certificate; ask an admin for an enrollment code and run "certbound enroll"`);
      }
      if (notAfter.getTime() - now > window) {
        const from = new Date(notAfter.getTime() - window).toISOString();
        io.stdout(`nothing to do: ${files.cert} is valid until ${notAfter.toISOString()}, renewal starts at ${from} (--renew-before ${values['renew-before'] ?? '8h'})\n`);
        return EXIT.ok;
      }
      const type = (values['key-type'] ?? keyTypeOf(key) ?? 'ec-p256') as KeyType;
      const server = await serverOf(values, io);
      const identity = { cert: certPem, key: keyPem };
      const label = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] ?? 'certbound client';
      const request = await newRequest(type, label);
      const issued = await est(server, { operation: 'simplereenroll', csrBase64: request.csrBase64, identity });
      const cacerts = await est(server, { operation: 'cacerts', identity });
      const chainPem = await chainFor('simplereenroll', issued, request.spki, cacerts);
      if (Buffer.compare(request.spki, spkiOf(key)) === 0) throw new CommandError('simplereenroll: the new key equals the old one');

      await replace(files, { certPem, keyPem }, { certPem: chainPem, keyPem: request.keyPem });
      io.stdout(`${summary('renewed', `(was valid until ${notAfter.toISOString()})`, chainPem, files)}  previous     ${files.cert}.previous, ${files.key}.previous\n`);
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      io.stderr(`certbound: ${printable(error.message)}\n`);
      return error.exitCode;
    }
  },
};

/**
 * Every new file is written and fsynced before any rename; the old pair goes to FILE.previous
 * first (a rollback by hand, and what a process that has not reloaded yet still holds), then the
 * key and the certificate are renamed over the current names, then the directories are fsynced.
 */
async function replace(files: { cert: string; key: string }, old: { certPem: string; keyPem: string }, next: { certPem: string; keyPem: string }): Promise<void> {
  const certMode = await stat(files.cert).then((s) => s.mode & 0o777, () => 0o644);
  const staged = [];
  try {
    staged.push(await stage(`${files.key}.previous`, old.keyPem, 0o600));
    staged.push(await stage(`${files.cert}.previous`, old.certPem, certMode));
    staged.push(await stage(files.key, next.keyPem, 0o600));
    staged.push(await stage(files.cert, next.certPem, certMode));
  } catch (error) {
    await Promise.all(staged.map((s) => s.discard()));
    throw new CommandError(`cannot write beside ${files.cert}: ${(error as Error).message}; nothing was replaced`, EXIT.failed, { cause: error });
  }
  try {
    for (const s of staged) await s.commit();
  } catch (error) {
    await Promise.all(staged.map((s) => s.discard()));
    throw new CommandError(`replacing ${files.cert} failed midway: ${(error as Error).message}; the previous pair is in ${files.cert}.previous and ${files.key}.previous`, EXIT.failed, { cause: error });
  }
  await chmod(files.key, 0o600);
  for (const dir of new Set([dirname(files.key), dirname(files.cert)])) await syncDirectory(dir);
}
