// Issues X.509 certificates (RFC 5280 profile) for the dev PKI, the CLI and tests.
import { KeyObject, X509Certificate, type webcrypto } from 'node:crypto';
import { OID, type KeyUsageName } from '../mtls/parsing.ts';
import { encodeName } from '../mtls/names.ts';
import { parseIp } from '../mtls/ip-address.ts';
import { formatDn, parseDn, subjectDnOf } from '../mtls/subject-dn.ts';
import { x509 } from '../mtls/x509.ts';
import { generateKeyPair, importKeyPair, signingAlgorithm, type KeyAlgorithm } from './key-algorithms.ts';

export type { KeyAlgorithm } from './key-algorithms.ts';
export type { KeyUsageName } from '../mtls/parsing.ts';

export interface IssueOptions {
  /** RFC 4514 string, most specific RDN first: 'CN=demo-client,O=certbound dev' */
  subject: string;
  /** the signing CA; absent = self-signed */
  issuer?: IssuedCertificate;
  sanDns?: string[];
  sanIp?: string[];
  sanUri?: string[];
  sanEmail?: string[];
  /** default: 5 minutes ago, so a peer whose clock is slightly behind accepts it */
  notBefore?: Date;
  /** default: `days` after now (or after `notBefore` when that is given) */
  notAfter?: Date;
  /** default 365 */
  days?: number;
  /** basicConstraints cA (RFC 5280 §4.2.1.9); default false */
  ca?: boolean;
  /** pathLenConstraint; only meaningful with `ca` */
  pathLength?: number;
  /** default: CA -> keyCertSign, cRLSign, digitalSignature; leaf -> digitalSignature (+ keyEncipherment for RSA) */
  keyUsage?: KeyUsageName[];
  /** default: leaf -> ['clientAuth'], CA -> none; null = no extendedKeyUsage extension */
  extKeyUsage?: Array<'clientAuth' | 'serverAuth'> | null;
  /** default ES256 */
  keyAlgorithm?: KeyAlgorithm;
  /** reuse this PKCS#8 private key instead of generating one (its algorithm wins over keyAlgorithm) */
  keyPem?: string;
  /** tests: leave out basicConstraints entirely */
  omitBasicConstraints?: boolean;
  /** tests: leave out keyUsage entirely */
  omitKeyUsage?: boolean;
  /** tests: leave out subjectKeyIdentifier and authorityKeyIdentifier */
  omitKeyIdentifiers?: boolean;
  /** tests: further extensions, e.g. a critical one the validator must refuse */
  extraExtensions?: Array<{ oid: string; critical: boolean; value: Uint8Array }>;
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 */
  keyPem: string;
  cert: X509Certificate;
  privateKey: webcrypto.CryptoKey;
  /** RFC 4514, read back from the certificate */
  subject: string;
  keyAlgorithm: KeyAlgorithm;
}

const DAY_MS = 86_400_000;
const BACKDATE_MS = 5 * 60_000;

export async function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  const imported = opts.keyPem === undefined ? undefined : await importKeyPair(opts.keyPem);
  const alg = imported?.alg ?? opts.keyAlgorithm ?? 'ES256';
  const keys = imported?.keys ?? (await generateKeyPair(alg));
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date((opts.notBefore?.getTime() ?? now) + (opts.days ?? 365) * DAY_MS);
  // @peculiar/x509 would encode 'CN=a,O=b' as SEQUENCE [CN=a, O=b]; RFC 4514 §2.1 reads the
  // string last-RDN-first, so we build the DER ourselves: SEQUENCE [O=b, CN=a].
  const subjectRdns = parseDn(opts.subject);
  const subject = new x509.Name(encodeName(subjectRdns));
  // the issuer's Name exactly as encoded in its certificate (read leniently: tests issue below
  // deliberately malformed CAs)
  const issuer = opts.issuer ? new x509.X509Certificate(opts.issuer.cert.raw).subjectName : subject;
  const signingKey = opts.issuer?.privateKey ?? keys.privateKey;
  const issuerAlg = opts.issuer?.keyAlgorithm ?? alg;

  const created = await x509.X509CertificateGenerator.create({
    subject,
    issuer,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithm(issuerAlg),
    extensions: await extensionsFor(opts, alg, keys.publicKey),
  });
  const cert = new X509Certificate(Buffer.from(created.rawData));
  return {
    certPem: cert.toString(),
    keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    cert,
    privateKey: keys.privateKey,
    // from what was asked, not read back: tests issue deliberately unreadable extensions too
    subject: formatDn(subjectRdns),
    keyAlgorithm: alg,
  };
}

/** Reloads an issued certificate (e.g. the dev CA) from its PEM files; throws when the key does not belong to the certificate. */
export async function loadIssued(certPem: string, keyPem: string): Promise<IssuedCertificate> {
  const cert = new X509Certificate(certPem);
  const { alg, keys } = await importKeyPair(keyPem);
  if (!cert.checkPrivateKey(KeyObject.from(keys.privateKey))) {
    throw new Error(`private key does not match the certificate ${subjectDnOf(cert)}`);
  }
  return { certPem: cert.toString(), keyPem, cert, privateKey: keys.privateKey, subject: subjectDnOf(cert), keyAlgorithm: alg };
}

async function extensionsFor(opts: IssueOptions, alg: KeyAlgorithm, publicKey: webcrypto.CryptoKey): Promise<x509.Extension[]> {
  const ca = opts.ca ?? false;
  const extensions: x509.Extension[] = [];
  // RFC 5280 §4.2.1.9: MUST be critical in CA certificates; we mark it critical everywhere.
  if (!opts.omitBasicConstraints) extensions.push(new x509.BasicConstraintsExtension(ca, ca ? opts.pathLength : undefined, true));
  if (!opts.omitKeyUsage) {
    const usages = opts.keyUsage ?? defaultKeyUsage(ca, alg);
    const flags = usages.reduce((sum, name) => sum | x509.KeyUsageFlags[name], 0);
    extensions.push(new x509.KeyUsagesExtension(flags, true)); // §4.2.1.3: SHOULD be critical
  }
  const eku = opts.extKeyUsage === undefined ? (ca ? null : ['clientAuth' as const]) : opts.extKeyUsage;
  if (eku) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((name) => OID[name])));
  const names: x509.JsonGeneralName[] = [
    ...(opts.sanDns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.sanIp ?? []).map((value) => ({ type: 'ip' as const, value: ipForEncoder(value) })),
    ...(opts.sanUri ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(opts.sanEmail ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  // §4.2.1.2 / §4.2.1.1: SKI on every certificate, AKI = the issuer's SKI, so chain building can
  // pick the right CA among several with one name (e.g. across a CA key rollover).
  if (!opts.omitKeyIdentifiers) {
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
    const issuerKeyId = opts.issuer ? new x509.X509Certificate(opts.issuer.cert.raw).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId : undefined;
    if (issuerKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuerKeyId));
  }
  for (const extra of opts.extraExtensions ?? []) extensions.push(new x509.Extension(extra.oid, extra.critical, extra.value));
  return extensions;
}

/**
 * @peculiar/x509 mis-encodes IPv6 text with an embedded IPv4 tail ('::ffff:1.2.3.4'), so IPv6
 * addresses reach it as eight plain hex groups; the octets stay exactly those of the input.
 */
function ipForEncoder(text: string): string {
  const octets = parseIp(text);
  if (!octets) throw new Error(`sanIp: not an IP address: ${text}`);
  if (octets.length === 4) return octets.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((octets[i] << 8) | octets[i + 1]).toString(16));
  return groups.join(':');
}

function defaultKeyUsage(ca: boolean, alg: KeyAlgorithm): KeyUsageName[] {
  if (ca) return ['keyCertSign', 'cRLSign', 'digitalSignature'];
  // RFC 5480 §3 and RFC 8410 §5: EC and Ed25519 keys cannot encipher, so keyEncipherment only for RSA.
  return alg === 'RS256' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
}

/** An RFC 4514 subject with one CN, escaped as needed: subjectWithCn('a,b') === 'CN=a\\,b'. */
export function subjectWithCn(cn: string): string {
  return formatDn([[{ oid: '2.5.4.3', value: cn }]]);
}
