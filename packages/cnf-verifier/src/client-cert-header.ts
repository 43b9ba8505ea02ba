/**
 * Parses the certificate headers that TLS-terminating proxies send: RFC 9440 `Client-Cert` /
 * `Client-Cert-Chain`, Envoy `x-forwarded-client-cert`, nginx `$ssl_client_escaped_cert`.
 * Every malformed value becomes an InvalidRequestError, never a raw exception.
 */
import { X509Certificate } from 'node:crypto';
import { InvalidRequestError } from './errors.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const OWS = /^[ \t]+|[ \t]+$/g;

function certificate(der: Buffer, header: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new InvalidRequestError(`${header} does not hold a DER X.509 certificate`, { cause });
  }
}

// RFC 8941 §3.3.5 sf-binary: ":" base64 ":".
function byteSequence(value: string, header: string): Buffer {
  const match = /^:([A-Za-z0-9+/=]*):$/.exec(value.replace(OWS, ''));
  if (!match?.[1] || !BASE64.test(match[1])) {
    throw new InvalidRequestError(`${header} is not a structured-field byte sequence`);
  }
  return Buffer.from(match[1], 'base64');
}

/** RFC 9440 §2.2: `Client-Cert` is an sf-binary holding the DER leaf. */
export function parseClientCert(value: string): X509Certificate {
  return certificate(byteSequence(value, 'Client-Cert'), 'Client-Cert');
}

/** RFC 9440 §2.3: `Client-Cert-Chain` is an sf-list of sf-binary, leaf excluded. */
export function parseClientCertChain(value: string): X509Certificate[] {
  if (value.replace(OWS, '') === '') return [];
  return value.split(',').map((member) => certificate(byteSequence(member, 'Client-Cert-Chain'), 'Client-Cert-Chain'));
}

/** Certificates of a PEM text, in order. */
function parsePem(pem: string, header: string): X509Certificate[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g)];
  const outside = pem.replace(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g, '').trim();
  if (blocks.length === 0 || outside !== '') throw new InvalidRequestError(`${header} is not a PEM certificate`);
  return blocks.map((block) => {
    const body = (block[1] ?? '').replace(/\s+/g, '');
    if (!body || !BASE64.test(body)) throw new InvalidRequestError(`${header} holds invalid PEM base64`);
    return certificate(Buffer.from(body, 'base64'), header);
  });
}

function urlDecode(value: string, header: string): string {
  try {
    return decodeURIComponent(value);
  } catch (cause) {
    throw new InvalidRequestError(`${header} is not valid URL encoding`, { cause });
  }
}

/** nginx `$ssl_client_escaped_cert`: the URL-encoded PEM of the leaf. */
export function parseEscapedPem(value: string, header: string): X509Certificate {
  const certs = parsePem(urlDecode(value.trim(), header), header);
  if (certs.length !== 1) throw new InvalidRequestError(`${header} must hold exactly one certificate`);
  return certs[0];
}

/**
 * Splits `text` on `separator` outside quoted-strings (backslash escapes honoured). Throws on an
 * unterminated quote.
 */
function splitQuoted(text: string, separator: string, header: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') {
      current += c + (text[++i] ?? '');
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (!quoted && c === separator) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (quoted) throw new InvalidRequestError(`${header} has an unterminated quoted string`);
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/**
 * Envoy `x-forwarded-client-cert`: comma-separated elements of `;`-separated `key=value` pairs.
 * Exactly one element is accepted: the proxy that terminated TLS with the client must replace
 * the header (`forward_client_cert_details: SANITIZE_SET`). A second element means some hop
 * appended to or forwarded what the client sent (`APPEND_FORWARD`), and then which element is
 * the client's own cannot be told from the header. Returns undefined when the element carries
 * no `Cert`.
 */
export function parseXfcc(value: string): { leaf: X509Certificate; chain: X509Certificate[] } | undefined {
  const header = 'x-forwarded-client-cert';
  const elements = splitQuoted(value, ',', header);
  if (elements.length !== 1) {
    throw new InvalidRequestError(`${header} must hold exactly one element, not ${elements.length}: the proxy must set it (SANITIZE_SET), not append to it`);
  }
  const pairs = new Map<string, string>();
  for (const pair of splitQuoted(elements[0], ';', header)) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidRequestError(`${header} has a malformed key=value pair`);
    pairs.set(pair.slice(0, eq).trim().toLowerCase(), unquote(pair.slice(eq + 1)));
  }
  const cert = pairs.get('cert');
  if (!cert) return undefined;
  const leaf = parseEscapedPem(cert, `${header} Cert`);
  const chainPem = pairs.get('chain');
  // Envoy's `Chain` is the whole presented chain, leaf first; keep the intermediates only.
  const chain = chainPem ? parsePem(urlDecode(chainPem, `${header} Chain`), `${header} Chain`) : [];
  return { leaf, chain: chain.filter((c) => !c.raw.equals(leaf.raw)) };
}
