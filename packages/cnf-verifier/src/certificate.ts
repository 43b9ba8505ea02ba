/**
 * Which certificate did this request present: the TLS peer certificate, or — only when the
 * immediate peer is a configured trusted proxy — the one in a proxy header (RFC 9440
 * `Client-Cert`, Envoy `x-forwarded-client-cert`, nginx `$ssl_client_escaped_cert`).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InvalidRequestError } from './errors.ts';
import { parseClientCert, parseClientCertChain, parseEscapedPem, parseXfcc } from './client-cert-header.ts';
import { x5tS256 } from './thumbprint.ts';
import { createProxyMatcher } from './trusted-proxies.ts';

export interface PresentedCertificate {
  /** The client's own certificate. */
  leaf: X509Certificate;
  /**
   * Intermediates the client presented, leaf-most first. The leaf and self-signed roots are left
   * out: Node's TLS layer may append a root from its own store, so a root here would not tell
   * whether the client sent it.
   */
  chain: X509Certificate[];
  /** Where it came from: the TLS handshake or a trusted proxy's header. */
  source: 'tls' | 'client-cert' | 'xfcc' | 'nginx';
  /** RFC 8705 §3.1 `x5t#S256` of the leaf: base64url(SHA-256(DER)). */
  thumbprint: string;
}

export type ProxyHeaderFormat = 'client-cert' | 'xfcc' | 'nginx';

export interface CertificateSourceOptions {
  /**
   * Peers (IP addresses or CIDRs, IPv4 and IPv6) whose certificate headers are believed.
   * Default: none, so proxy headers are never read. A trusted proxy must strip these headers
   * from what its clients send.
   */
  trustedProxies?: readonly string[];
  /** Header formats read from a trusted proxy. Default: all three. */
  proxyHeaders?: readonly ProxyHeaderFormat[];
  /** Header carrying nginx's `$ssl_client_escaped_cert`. Default `x-ssl-client-cert`. */
  nginxHeader?: string;
}

/** The part of a request this module reads. */
export type CertificateRequest = Pick<IncomingMessage, 'headers' | 'socket'>;

export interface CertificateSource {
  /** The certificate the request presented, or undefined. Throws InvalidRequestError on a malformed proxy header. */
  fromRequest(req: CertificateRequest): PresentedCertificate | undefined;
  /** How many requests carried a proxy certificate header from an untrusted peer (ignored). */
  readonly ignoredProxyHeaders: number;
}

const FORMATS: readonly ProxyHeaderFormat[] = ['client-cert', 'xfcc', 'nginx'];

// Computed once per TLS connection: the peer certificate cannot change on an established socket.
const socketCache = new WeakMap<object, PresentedCertificate | null>();

function isTlsSocket(socket: unknown): socket is TLSSocket {
  return typeof (socket as TLSSocket | null)?.getPeerX509Certificate === 'function';
}

/** The certificate of the TLS handshake, computed once per connection. */
function tlsCertificate(socket: unknown): PresentedCertificate | undefined {
  if (!isTlsSocket(socket)) return undefined;
  const cached = socketCache.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  // getPeerX509Certificate() only, never getPeerCertificate(): that one converts every
  // certificate of the chain to a legacy object, and Node 24.21 crashes the whole process
  // (SIGSEGV) doing so for an EC key on a curve without a NIST name (brainpool, secp256k1) — one
  // handshake from anyone would take the server down. The X509Certificate links the chain the
  // client sent through issuerCertificate; a resumed session holds the leaf only.
  const leaf = socket.getPeerX509Certificate();
  let result: PresentedCertificate | null = null;
  if (leaf) {
    const chain: X509Certificate[] = [];
    let current = leaf;
    // Follow issuerCertificate links; a self-signed root links to itself.
    while (chain.length < 16) {
      const issuer = current.issuerCertificate;
      if (!issuer || issuer === current || issuer.raw.equals(current.raw)) break;
      if (!isSelfSigned(issuer)) chain.push(issuer);
      current = issuer;
    }
    result = { leaf, chain, source: 'tls', thumbprint: x5tS256(leaf.raw) };
  }
  socketCache.set(socket, result);
  return result ?? undefined;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

function fromHeaders(
  headers: IncomingHttpHeaders,
  formats: readonly ProxyHeaderFormat[],
  nginxHeader: string,
): PresentedCertificate | undefined {
  const present = formats.filter((f) => header(headers, f === 'client-cert' ? 'client-cert' : f === 'xfcc' ? 'x-forwarded-client-cert' : nginxHeader)?.trim());
  if (present.length === 0) return undefined;
  if (present.length > 1) throw new InvalidRequestError(`conflicting client certificate headers: ${present.join(', ')}`);
  const source = present[0]!;
  let leaf: X509Certificate;
  let chain: X509Certificate[] = [];
  if (source === 'client-cert') {
    leaf = parseClientCert(header(headers, 'client-cert')!);
    const chainHeader = header(headers, 'client-cert-chain');
    if (chainHeader !== undefined) chain = parseClientCertChain(chainHeader);
  } else if (source === 'xfcc') {
    const parsed = parseXfcc(header(headers, 'x-forwarded-client-cert')!);
    if (!parsed) return undefined;
    ({ leaf, chain } = parsed);
  } else {
    leaf = parseEscapedPem(header(headers, nginxHeader)!, nginxHeader);
  }
  return { leaf, chain: chain.filter((c) => !isSelfSigned(c)), source, thumbprint: x5tS256(leaf.raw) };
}

export function createCertificateSource(options: CertificateSourceOptions = {}): CertificateSource {
  const isTrusted = createProxyMatcher(options.trustedProxies ?? []);
  const formats = options.proxyHeaders ?? FORMATS;
  if (!Array.isArray(formats) || formats.some((f) => !FORMATS.includes(f))) {
    throw new TypeError(`proxyHeaders: must be a list of ${FORMATS.map((f) => `'${f}'`).join(', ')}`);
  }
  const nginxHeader = options.nginxHeader ?? 'x-ssl-client-cert';
  if (typeof nginxHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(nginxHeader)) {
    throw new TypeError(`nginxHeader: ${JSON.stringify(nginxHeader)} is not a header name`);
  }
  const nginxName = nginxHeader.toLowerCase();
  const proxyHeaderNames = ['client-cert', 'client-cert-chain', 'x-forwarded-client-cert', nginxName];
  let ignored = 0;
  const counted = new WeakSet<object>();

  return {
    fromRequest(req) {
      if (isTrusted(req.socket?.remoteAddress)) {
        // Behind a trusted proxy the socket certificate (if any) is the proxy's own: never use it.
        return fromHeaders(req.headers, formats, nginxName);
      }
      if (!counted.has(req) && proxyHeaderNames.some((name) => req.headers[name] !== undefined)) {
        counted.add(req);
        ignored++;
      }
      return tlsCertificate(req.socket);
    },
    get ignoredProxyHeaders() {
      return ignored;
    },
  };
}
