// `node apps/authz-server/src/enrollment/seal-key.ts < issuing-ca-key.pem > issuing-ca-key.sealed`:
// seals the issuing CA's private key under KEY_ENCRYPTION_KEY (AES-256-GCM, pki/issuing.ts), so
// ISSUING_CA_KEY_FILE can hold it encrypted at rest. Reads the PEM on stdin, never a file name,
// so the key does not land in shell history; checks that it is a private key first.
import { createPrivateKey } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { resolveKeyEncryptionKey } from '../keys/kek.ts';
import { sealIssuingKey } from '../pki/issuing.ts';

export async function sealFromStdin(env: NodeJS.ProcessEnv, input: NodeJS.ReadableStream): Promise<string> {
  if (env.KEY_ENCRYPTION_KEY === undefined) throw new Error('KEY_ENCRYPTION_KEY must be set: the sealed key opens only with it');
  const pem = await text(input);
  createPrivateKey(pem); // throws on anything but a private key
  return sealIssuingKey(await resolveKeyEncryptionKey({ value: env.KEY_ENCRYPTION_KEY, dataDir: '.' }), pem);
}

if (import.meta.main) {
  try {
    process.stdout.write(await sealFromStdin(process.env, process.stdin));
  } catch (err) {
    process.stderr.write(`seal-key: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
