/** Reads the credentials of a request: the Authorization header (RFC 6750 §2.1, RFC 9449 §7.1) and DPoP headers. */
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidRequestError, InvalidTokenError } from './errors.ts';
import type { AuthScheme } from './www-authenticate.ts';

export interface HeaderRequest {
  headers: IncomingHttpHeaders;
  /** Node keeps only the first Authorization header in `headers`; rawHeaders shows duplicates. */
  rawHeaders?: string[];
}

export interface Credentials {
  scheme: AuthScheme;
  token: string;
}

/** Every value of a header as received, duplicates included. */
export function headerValues(req: HeaderRequest, name: string): string[] {
  if (Array.isArray(req.rawHeaders)) {
    const values: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === name) values.push(req.rawHeaders[i + 1]);
    }
    return values;
  }
  const value = req.headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/;
// RFC 9110 §11.2 token68.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export function readCredentials(req: HeaderRequest): Credentials {
  const values = headerValues(req, 'authorization');
  if (values.length === 0) throw new InvalidTokenError('no access token presented', { credentialsMissing: true });
  if (values.length > 1) throw new InvalidRequestError('more than one Authorization header');
  const match = SCHEME.exec(values[0].trim());
  if (!match) throw new InvalidRequestError('Authorization header is malformed');
  const scheme = match[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') {
    // RFC 7235 §3.1: credentials in a scheme we do not accept get the challenges, no error code.
    throw new InvalidTokenError('Authorization scheme must be Bearer or DPoP', { credentialsMissing: true });
  }
  const token = match[2]?.trim() ?? '';
  if (!TOKEN68.test(token)) throw new InvalidRequestError(`Authorization ${scheme === 'dpop' ? 'DPoP' : 'Bearer'} credentials are malformed`);
  return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token };
}
