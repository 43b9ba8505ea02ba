// Reads an HTML form submission (application/x-www-form-urlencoded) with a size limit. Errors
// carry the HTTP status to answer with; nothing here can make a 500 out of bad input.
import type { IncomingMessage } from 'node:http';
import { BodyReadError, readBody } from '../http/body.ts';

export const FORM_LIMIT = 16 * 1024;

export class FormError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The submitted fields; a field sent twice is refused (no guessing which one was meant). */
export async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new FormError(415, 'the form must be sent as application/x-www-form-urlencoded');
  let body: Buffer;
  try {
    body = await readBody(req, FORM_LIMIT);
  } catch (err) {
    if (!(err instanceof BodyReadError)) throw err;
    throw new FormError(err.status, err.problem === 'too_large' ? 'the form is too large' : `the form could not be read: ${err.message}`);
  }
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (fields.has(name)) throw new FormError(400, `field "${name.slice(0, 32)}" was sent more than once`);
    fields.set(name, value);
  }
  return fields;
}
