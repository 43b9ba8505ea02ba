// `certbound renew`: replaces a client certificate that expires within a window (default 8 h) with
// a new one for a NEW key, asked for over mutual TLS with the current certificate (EST
// simplereenroll, RFC 7030 §4.2.2). Meant for cron or a systemd timer: "nothing to do" exits 0,
// so it can run every hour. The files change atomically: new files are written and fsynced
// beside the old ones, the old pair is kept as FILE.previous, then the key and the certificate
// are renamed into place; one run at a time (FILE.renew-lock). Tokens bound to the old
// certificate keep working until they expire.
import { X509Certificate } from 'node:crypto';
import { chmod, open, stat, unlink } from 'node:fs/promises';
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
      const unlock = await lock(files.cert);
      let chainPem: string;
      try {
        // Read again under the lock: another run may have renewed them since.
        if ((await readText(files.cert, 'the certificate', '--cert')) !== certPem || (await readText(files.key, 'the key', '--key')) !== keyPem) {
          io.stdout(`nothing to do: ${files.cert} was replaced while this run started (another renew)\n`);
          return EXIT.ok;
        }
        const identity = { cert: certPem, key: keyPem };
        const label = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] ?? 'certbound client';
        const request = await newRequest(type, label);
        const issued = await est(server, { operation: 'simplereenroll', csrBase64: request.csrBase64, identity });
        const cacerts = await est(server, { operation: 'cacerts', identity });
        chainPem = await chainFor('simplereenroll', issued, request.spki, cacerts);
        if (Buffer.compare(request.spki, spkiOf(key)) === 0) throw new CommandError('simplereenroll: the new key equals the old one');
        await replace(files, { certPem, keyPem }, { certPem: chainPem, keyPem: request.keyPem });
      } finally {
        await unlock();
      }
      io.stdout(`${summary('renewed', `(was valid until ${notAfter.toISOString()})`, chainPem, files)}  previous     ${files.cert}.previous, ${files.key}.previous\n`);
      const lifetime = new X509Certificate(chainPem).validToDate.getTime() - Date.now();
      if (lifetime <= window) {
        io.stderr(`certbound: note: the new certificate is valid for ${Math.round(lifetime / 60_000)} min, within --renew-before ${values['renew-before'] ?? '8h'}: every run will renew it\n`);
      }
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      io.stderr(`certbound: ${printable(error.message)}\n`);
      return error.exitCode;
    }
  },
};

/** A lock held while older than this is left over from a run that died: taken over. */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * FILE.renew-lock, created exclusively: two runs at once (cron overlapping a manual run) would
 * each rename a key and a certificate, and could leave one run's key beside the other's certificate.
 */
async function lock(certFile: string): Promise<() => Promise<void>> {
  const file = `${certFile}.renew-lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw new CommandError(`cannot create ${file}: ${(error as Error).message}`, EXIT.failed, { cause: error });
      const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (attempt > 0 || age < STALE_LOCK_MS) {
        throw new CommandError(`another renew of ${certFile} is running (${file} exists, ${Math.round(age / 1000)} s old; removed after ${STALE_LOCK_MS / 60_000} min)`);
      }
      await unlink(file).catch(() => undefined);
    }
  }
}

/**
 * Every new file is written and fsynced before any rename; the old pair goes to FILE.previous
 * first (a rollback by hand, and what a process that has not reloaded yet still holds), then the
 * key and the certificate are renamed over the current names, then the directories are fsynced.
 */
type Pair = { certPem: string; keyPem: string };

async function replace(files: { cert: string; key: string }, old: Pair, next: Pair): Promise<void> {
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
