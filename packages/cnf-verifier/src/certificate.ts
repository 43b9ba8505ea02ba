/**
 * Which certificate did this request present: the TLS peer certificate, or — only when the
 * immediate peer is a configured trusted proxy — the one in the proxy header of the ONE configured
 * format (RFC 9440 `Client-Cert`, Envoy `x-forwarded-client-cert` or nginx
 * `$ssl_client_escaped_cert`).
 */
import type { X509Certificate } from 'node:crypto';
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

/** The header formats a trusted proxy may be configured with, in the order they are documented. */
export const PROXY_HEADER_FORMATS: readonly ProxyHeaderFormat[] = Object.freeze(['client-cert', 'xfcc', 'nginx']);

export interface CertificateSourceOptions {
  /**
   * Peers (IP addresses or CIDRs, IPv4 and IPv6) whose certificate headers are believed.
   * Default: none, so proxy headers are never read. A trusted proxy must strip these headers
   * from what its clients send.
   */
  trustedProxies?: readonly string[];
  /**
   * The ONE header format a trusted proxy passes the client certificate in: `client-cert`
   * (RFC 9440 `Client-Cert` + `Client-Cert-Chain`), `xfcc` (Envoy `x-forwarded-client-cert`,
   * exactly one element) or `nginx` (`$ssl_client_escaped_cert` in `nginxHeader`). Required when
   * `trustedProxies` is non-empty: a proxy strips the header it sets, not the other formats, so
   * believing all of them let anyone name any certificate. From a trusted proxy, a request that
   * carries a header of another format is refused (`invalid_request` naming the header).
   */
  proxyHeader?: ProxyHeaderFormat;
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

// Computed once per TLS connection: the peer certificate cannot change on an established socket.
const socketCache = new WeakMap<object, PresentedCertificate | null>();

/** Whether `socket` is a TLS socket (duck-typed: the raw socket of a request behind any framework). */
export function isTlsSocket(socket: unknown): socket is TLSSocket {
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

/** The headers of each format, the certificate's own header first. */
function familyHeaders(nginxName: string): Record<ProxyHeaderFormat, readonly string[]> {
  return { 'client-cert': ['client-cert', 'client-cert-chain'], xfcc: ['x-forwarded-client-cert'], nginx: [nginxName] };
}

/**
 * The certificate a trusted proxy passed in the configured format. A header of another format
 * means the proxy forwarded what its client sent (it clears only the header it sets), so the
 * request is refused rather than read: DESIGN.md "one configured format".
 */
function fromHeaders(
  headers: IncomingHttpHeaders,
  format: ProxyHeaderFormat,
  families: Record<ProxyHeaderFormat, readonly string[]>,
): PresentedCertificate | undefined {
  const expected = families[format][0];
  for (const other of PROXY_HEADER_FORMATS) {
    if (other === format) continue;
    const name = families[other].find((n) => headers[n] !== undefined);
    if (name !== undefined) {
      throw new InvalidRequestError(`client certificate header ${name} is not accepted: the proxy passes the certificate in ${expected}`);
    }
  }
  const value = header(headers, expected)?.trim();
  if (!value) return undefined;
  let leaf: X509Certificate;
  let chain: X509Certificate[] = [];
  if (format === 'client-cert') {
    leaf = parseClientCert(value);
    const chainHeader = header(headers, 'client-cert-chain');
    if (chainHeader !== undefined) chain = parseClientCertChain(chainHeader);
  } else if (format === 'xfcc') {
    const parsed = parseXfcc(value);
    if (!parsed) return undefined;
    ({ leaf, chain } = parsed);
  } else {
    leaf = parseEscapedPem(value, expected);
  }
  return { leaf, chain: chain.filter((c) => !isSelfSigned(c)), source: format, thumbprint: x5tS256(leaf.raw) };
}

export function createCertificateSource(options: CertificateSourceOptions = {}): CertificateSource {
  const trustedProxies = options.trustedProxies ?? [];
  const isTrusted = createProxyMatcher(trustedProxies);
  const format = options.proxyHeader;
  const choices = PROXY_HEADER_FORMATS.map((f) => `'${f}'`).join(', ');
  if (format !== undefined && !PROXY_HEADER_FORMATS.includes(format)) {
    throw new TypeError(`proxyHeader: ${JSON.stringify(format)} is not one of ${choices}`);
  }
  if (trustedProxies.length > 0 && format === undefined) {
    throw new TypeError(`proxyHeader: required with trustedProxies, one of ${choices} (the one format the proxy sets)`);
  }
  const nginxHeader = options.nginxHeader ?? 'x-ssl-client-cert';
  if (typeof nginxHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(nginxHeader)) {
    throw new TypeError(`nginxHeader: ${JSON.stringify(nginxHeader)} is not a header name`);
  }
  const nginxName = nginxHeader.toLowerCase();
  if (['client-cert', 'client-cert-chain', 'x-forwarded-client-cert'].includes(nginxName)) {
    throw new TypeError(`nginxHeader: ${JSON.stringify(nginxHeader)} is the header of another format`);
  }
  const families = familyHeaders(nginxName);
  const proxyHeaderNames = Object.values(families).flat();
  let ignored = 0;
  const counted = new WeakSet<object>();

  return {
    fromRequest(req) {
      if (format !== undefined && isTrusted(req.socket?.remoteAddress)) {
        // Behind a trusted proxy the socket certificate (if any) is the proxy's own: never use it.
        return fromHeaders(req.headers, format, families);
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
