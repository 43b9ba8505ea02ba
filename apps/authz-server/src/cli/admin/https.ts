// One HTTPS exchange presenting the admin certificate: node:https with the server's CA pinned
// (`ca` replaces the system store) and hostname verification left on, always (DESIGN.md: no code
// path disables verification of an outgoing TLS peer). No agent: every request opens its own
// connection with the same certificate, and nothing keeps the process alive afterwards.
import { request } from 'node:https';
import { CommandError } from './errors.ts';

/** The TLS material of one CLI run: PEM text, read once. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
  /** where each came from, for messages */
  files: { cert: string; key: string; ca: string };
}

export interface Exchange {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** the server: scheme, host and port */
  origin: URL;
  /**
   * The request target as sent, percent-encoded, with its query. Not a URL: WHATWG URL parsing
   * would resolve a client_id ".." (or "%2E%2E") as a dot segment and call another route.
   */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** No admin answer comes near this; a larger one is not what we asked for. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 30_000;

export function exchange(tls: TlsMaterial, ex: Exchange): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', ...ex.headers };
    if (ex.body !== undefined) headers['content-length'] = String(Buffer.byteLength(ex.body));
    const options = { path: ex.path, method: ex.method, headers, cert: tls.cert, key: tls.key, ca: tls.ca, agent: false, timeout: TIMEOUT_MS };
    const req = request(ex.origin, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => reject(networkError(tls, ex.origin, error)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (error) => reject(networkError(tls, ex.origin, error)));
    req.end(ex.body);
  });
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** A failure before any HTTP answer, phrased with what to check. */
function networkError(tls: TlsMaterial, url: URL, error: Error & { code?: string }): CommandError {
  const where = url.origin;
  const code = error.code;
  let hint = '';
  if (code === 'ECONNREFUSED') hint = ' (is the server running? --url or CERTBOUND_URL names it)';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') hint = ' (check --url or CERTBOUND_URL)';
  else if (code !== undefined && TLS_VERIFY_CODES.has(code)) hint = ` (the server's certificate does not chain to --ca ${tls.files.ca})`;
  else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') hint = ` (the server's certificate is not for ${url.hostname})`;
  else if (code === 'CERT_HAS_EXPIRED') hint = " (the server's certificate has expired)";
  return new CommandError(`cannot reach ${where}: ${error.message}${hint}`, 1, { cause: error });
}
