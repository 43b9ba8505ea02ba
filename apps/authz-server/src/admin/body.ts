// Request bodies for /admin/v1: a declared content type, at most 64 KiB, UTF-8, and for JSON an
// object whose strings PostgreSQL can store. Every refusal is a 4xx naming the problem; the body
// is never echoed (it may hold a private key pasted by mistake).
import { invalidRequest, AdminError } from './errors.ts';
import type { AdminContext } from './context.ts';
import { BodyReadError, readBody } from '../http/body.ts';

/** Bodies larger than this are refused with 413: client metadata and a PEM chain fit easily. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export const JSON_TYPE = 'application/json';
export const PEM_TYPES = ['application/x-pem-file', 'application/pem-certificate-chain'] as const;

function tooLarge(): AdminError {
  return new AdminError(413, 'payload_too_large', `body: larger than ${BODY_LIMIT_BYTES} bytes`);
}

/** The body as text, after the content-type and size checks; `accepted` are media types. */
export async function readText(ctx: AdminContext, accepted: readonly string[]): Promise<{ type: string; text: string }> {
  const type = ctx.request.type; // media type without parameters, lower-cased
  if (!accepted.includes(type)) {
    throw new AdminError(415, 'unsupported_media_type', `content-type: ${type ? `"${type.slice(0, 100)}" is` : 'missing; it is'} not accepted here; send ${accepted.join(' or ')}`);
  }
  const charset = ctx.request.charset;
  if (charset && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
    throw new AdminError(415, 'unsupported_media_type', `content-type: charset "${charset.slice(0, 40)}" is not accepted; send UTF-8`);
  }
  let body: Buffer;
  try {
    body = await readBody(ctx.req, BODY_LIMIT_BYTES);
  } catch (err) {
    if (!(err instanceof BodyReadError)) throw err;
    ctx.set('Connection', 'close'); // the rest of the body is not read
    throw err.problem === 'too_large' ? tooLarge() : invalidRequest('body', err.message);
  }
  try {
    return { type, text: new TextDecoder('utf-8', { fatal: true }).decode(body) };
  } catch {
    throw invalidRequest('body', 'is not valid UTF-8');
  }
}

/** Deeper than any metadata certbound accepts; bounds the work on hostile input. */
const MAX_DEPTH = 16;

/** Every string in `value` can be stored by PostgreSQL: well-formed Unicode without NUL. */
function checkStrings(value: unknown, path: string, depth = 0): void {
  if (depth > MAX_DEPTH) throw invalidRequest('body', `nested deeper than ${MAX_DEPTH} levels`);
  if (typeof value === 'string') {
    if (!value.isWellFormed() || value.includes('\0')) throw invalidRequest(path, 'must be well-formed Unicode without NUL characters');
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkStrings(item, `${path}[${i}]`, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      checkStrings(key, path === 'body' ? 'field name' : `${path} field name`);
      checkStrings(item, path === 'body' ? key : `${path}.${key}`, depth + 1);
    }
  }
}

/** Parses a JSON object body. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8's message can quote the input; only the position is repeated.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw invalidRequest('body', `malformed JSON${position === undefined ? '' : ` at position ${position}`}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidRequest('body', 'must be a JSON object');
  checkStrings(value, 'body');
  return value as Record<string, unknown>;
}

export async function readJsonObject(ctx: AdminContext): Promise<Record<string, unknown>> {
  return parseJsonObject((await readText(ctx, [JSON_TYPE])).text);
}

/** Refuses the first field not in `allowed`, naming it. */
export function refuseUnknownFields(body: Record<string, unknown>, allowed: ReadonlySet<string>, code: 'invalid_request' | 'invalid_client_metadata' = 'invalid_request'): void {
  const unknown = Object.keys(body).find((key) => !allowed.has(key));
  if (unknown !== undefined) {
    throw new AdminError(400, code, unknown === '' ? '"" (a field with an empty name): unknown field' : `${unknown.slice(0, 100)}: unknown field`);
  }
}
