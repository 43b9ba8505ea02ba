// What the admin commands read besides flags: a JSON document (--metadata) or a PEM (--pem) from
// a file or, for "-", from standard input; and the checks flag values share.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CliIo } from '../command.ts';
import { CommandError } from './errors.ts';

/** No admin document comes near this (the API refuses more than 64 KiB). */
const MAX_INPUT_BYTES = 1024 * 1024;

export async function readInput(io: CliIo, source: string, flag: string): Promise<{ text: string; name: string }> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    const stdin: AsyncIterable<string | Buffer> = io.stdin ?? process.stdin;
    for await (const chunk of stdin) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > MAX_INPUT_BYTES) throw new CommandError(`${flag} -: standard input is larger than ${MAX_INPUT_BYTES} bytes`);
      chunks.push(buffer);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), name: 'standard input' };
  }
  const file = resolve(io.cwd, source);
  try {
    return { text: await readFile(file, 'utf8'), name: file };
  } catch (error) {
    throw new CommandError(`${flag} ${file}: cannot read it (${(error as { code?: string }).code ?? (error as Error).message})`, 1, { cause: error });
  }
}

export async function readJsonObject(io: CliIo, source: string, flag: string): Promise<Record<string, unknown>> {
  const { text, name } = await readInput(io, source, flag);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CommandError(`${flag}: ${name} is not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CommandError(`${flag}: ${name} must hold a JSON object`);
  return value as Record<string, unknown>;
}

export function checkTrueFalse(value: string): string | undefined {
  return value === 'true' || value === 'false' ? undefined : 'must be true or false';
}

export function checkAbsoluteUri(value: string): string | undefined {
  return URL.canParse(value) ? undefined : 'not an absolute URI';
}

/** Repeated flags whose values may also be space-separated lists: --scope "a b" --scope c. */
export function words(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(' ')).filter((v) => v !== '');
}
