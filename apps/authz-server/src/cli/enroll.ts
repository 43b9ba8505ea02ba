// `certbound enroll`: a partner's first certificate from certbound's EST endpoint (RFC 7030
// simpleenroll), with the one-time enrollment code an admin created for its client. The key is
// made here and never leaves this machine; the files written are DIR/<client_id>-key.pem (0600)
// and DIR/<client_id>.pem (the issued certificate, then the issuing CA: the chain a client sends).
import { X509Certificate } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command, FlagSpec } from './command.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { CommandError, EXIT } from './admin/errors.ts';
import { printable } from './admin/output.ts';
import { checkHttpsUrl, DEFAULT_URL } from './admin/settings.ts';
import { chainFor, checkKeyType, est, KEY_TYPES, newRequest, resolveIn, serverOf, stage, syncDirectory, type KeyType } from './est-client.ts';

const checkClientId = (value: string): string | undefined => {
  const control = [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (value === '' || value === '.' || value === '..' || control || /[/\\:]/.test(value)) return 'must be a client_id usable as a file name (no "/", "\\", ":" or control characters)';
  return undefined;
};

const flags = {
  'client-id': { type: 'string', required: true, help: 'the client to enroll (the admin created the code for it)', check: checkClientId },
  code: { type: 'string', required: true, help: 'the one-time enrollment code from POST /admin/v1/clients/{client_id}/enrollment-codes ("-": read it from stdin)' },
  out: { type: 'string', required: true, help: 'directory for <client_id>-key.pem (mode 0600) and <client_id>.pem (certificate, then the issuing CA)' },
  'key-type': { type: 'string', help: `the key to make here: ${KEY_TYPES.join(', ')} (default ec-p256)`, check: checkKeyType },
  url: { type: 'string', help: `the mutual-TLS listener (default $CERTBOUND_URL, else ${DEFAULT_URL}, 8444 unless set)`, check: checkHttpsUrl },
  ca: { type: 'string', help: "CA that verifies the server's certificate (default $CERTBOUND_CA, else $DATA_DIR/pki/ca.pem)" },
} as const satisfies Record<string, FlagSpec>;

export const enrollCommand: Command<typeof flags> = {
  summary: 'get a client certificate with a one-time enrollment code (EST simpleenroll); the key is made here and never sent',
  flags,
  async run(values, io) {
    try {
      const clientId = values['client-id'];
      const out = resolveIn(io, values.out);
      const files = { key: join(out, `${clientId}-key.pem`), cert: join(out, `${clientId}.pem`) };
      // Before the code is spent: an enrollment that could not write its files would waste it.
      for (const file of [files.cert, files.key]) {
        if (await exists(file)) throw new CommandError(`${file} already exists: "certbound renew" renews a certificate; remove both files to enroll again`, EXIT.conflict);
      }
      const code = values.code === '-' ? await readStdin(io.stdin ?? process.stdin) : values.code;
      if (code === '') throw new CommandError('the enrollment code is empty', EXIT.usage);
      const server = await serverOf(values, io);
      await mkdir(out, { recursive: true, mode: 0o700 });

      const request = await newRequest((values['key-type'] ?? 'ec-p256') as KeyType, clientId);
      const issued = await est(server, { operation: 'simpleenroll', csrBase64: request.csrBase64, basic: { user: clientId, password: code } });
      const cacerts = await est(server, { operation: 'cacerts' });
      const chainPem = await chainFor('simpleenroll', issued, request.spki, cacerts);

      const key = await stage(files.key, request.keyPem, 0o600);
      const cert = await stage(files.cert, chainPem, 0o644).catch(async (error) => { await key.discard(); throw error; });
      await key.commit();
      await cert.commit();
      await syncDirectory(out);
      io.stdout(summary('enrolled', clientId, chainPem, files));
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      io.stderr(`certbound: ${printable(error.message)}\n`);
      return error.exitCode;
    }
  },
};

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return false;
    throw new CommandError(`cannot check ${file}: ${(error as Error).message}`);
  }
}

async function readStdin(stdin: AsyncIterable<string | Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.length > 4096) throw new CommandError('the enrollment code on stdin is longer than 4096 characters', EXIT.usage);
  }
  return text.trim();
}

/** What was written, in lines a person and a script can read. */
export function summary(verb: string, label: string, chainPem: string, files: { cert: string; key: string }): string {
  const leaf = new X509Certificate(chainPem);
  const x5t = x5tS256(leaf);
  return [
    `${verb} ${label}`,
    `  certificate  ${files.cert}`,
    `  key          ${files.key}`,
    `  subject      ${printable(leaf.subject.replace(/\n/g, ', '))}`,
    `  valid until  ${leaf.validToDate.toISOString()}`,
    `  x5t#S256     ${x5t}`,
    '',
  ].join('\n');
}
