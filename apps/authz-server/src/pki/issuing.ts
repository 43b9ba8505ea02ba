// The issuing CA of enrollment (RFC 7030): loads it (its key as PEM, or sealed under the
// key-encryption key), signs client certificates for a public key whose CSR was verified,
// signs its CRL, and encodes the certs-only PKCS#7 that EST answers carry.
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { encodeName } from '../mtls/names.ts';
import { parseDn } from '../mtls/dn-string.ts';
import { x509 } from '../mtls/x509.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { open, seal } from '../keys/seal.ts';
import { loadIssued, type IssuedCertificate } from './issue.ts';
import { signingAlgorithm } from './key-algorithms.ts';

/** A PEM block of this label holds a PKCS#8 key sealed with AES-256-GCM under KEY_ENCRYPTION_KEY. */
export const SEALED_KEY_LABEL = 'CERTBOUND SEALED PRIVATE KEY';
const SEALED_AAD = 'certbound issuing-ca-key v1';

export interface IssuingCa {
  readonly issued: IssuedCertificate;
  readonly cert: X509Certificate;
  /** x5t#S256 of the CA certificate: issued_certificates.issuer_x5t_s256 */
  readonly x5t: string;
  /** the certificates above it, up to the root, as given in ISSUING_CA_CERT_FILE after the CA itself */
  readonly chain: readonly X509Certificate[];
}

export class IssuingCaError extends Error {
  override name = 'IssuingCaError';
}

/** Reads ISSUING_CA_KEY_FILE's text: a PKCS#8/PKCS#1/SEC1 PEM key, or a sealed one (needs the KEK). */
export function openIssuingKey(text: string, kek: Buffer | undefined): string {
  const sealed = new RegExp(`-----BEGIN ${SEALED_KEY_LABEL}-----([\\s\\S]*?)-----END ${SEALED_KEY_LABEL}-----`).exec(text);
  if (!sealed) return text;
  if (kek === undefined) throw new IssuingCaError('the key is sealed but no key-encryption key is available');
  const bytes = Buffer.from(sealed[1].replace(/\s+/g, ''), 'base64');
  if (bytes.length < 12 + 16 + 1) throw new IssuingCaError('the sealed key is truncated');
  try {
    return open(kek, { iv: bytes.subarray(0, 12), tag: bytes.subarray(12, 28), ciphertext: bytes.subarray(28) }, SEALED_AAD).toString('utf8');
  } catch {
    throw new IssuingCaError('the sealed key does not open with KEY_ENCRYPTION_KEY (another key sealed it, or the file is damaged)');
  }
}

/** The sealed form of a PEM private key: what ISSUING_CA_KEY_FILE may hold instead of the PEM. */
export function sealIssuingKey(kek: Buffer, keyPem: string): string {
  const box = seal(kek, Buffer.from(keyPem, 'utf8'), SEALED_AAD);
  const body = Buffer.concat([box.iv, box.tag, box.ciphertext]).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN ${SEALED_KEY_LABEL}-----\n${body}\n-----END ${SEALED_KEY_LABEL}-----\n`;
}

/** Loads the issuing CA from its files; throws IssuingCaError naming what is wrong. */
export async function loadIssuingCa(files: { cert: string; key: string }, kek: Buffer | undefined): Promise<IssuingCa> {
  const certText = await readFile(files.cert, 'utf8');
  const blocks = [...certText.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]);
  if (blocks.length === 0) throw new IssuingCaError(`${files.cert}: no PEM certificate`);
  const keyPem = openIssuingKey(await readFile(files.key, 'utf8'), kek);
  let issued: IssuedCertificate;
  try {
    issued = await loadIssued(blocks[0], keyPem);
  } catch (error) {
    throw new IssuingCaError(`${files.cert} / ${files.key}: ${(error as Error).message}`, { cause: error });
  }
  if (!issued.cert.ca) throw new IssuingCaError(`${files.cert}: not a CA certificate (basicConstraints cA is not set)`);
  if (issued.cert.checkIssued(issued.cert)) throw new IssuingCaError(`${files.cert}: a self-signed root; enrollment issues from an intermediate, never from the root`);
  return { issued, cert: issued.cert, x5t: x5tS256(issued.cert), chain: blocks.slice(1).map((pem) => new X509Certificate(pem)) };
}

/** Where the issued certificate names the CA's CRL and certificates (RFC 5280 §4.2.1.13, §4.2.2.1). */
export interface PublicationUrls {
  crl: string;
  caIssuers: string;
}

export interface IssueForClient {
  /** the verified CSR's public key */
  publicKey: x509.PublicKey;
  /** RFC 4514, most specific RDN first */
  subject: string;
  san?: { type: 'dns' | 'ip' | 'url' | 'email'; value: string };
  notBefore: Date;
  notAfter: Date;
}

/** Signs a client certificate: EKU clientAuth, keyUsage digitalSignature (critical), CA:false, AKI/SKI, CDP, AIA. */
export async function issueClientCertificate(ca: IssuingCa, urls: PublicationUrls, request: IssueForClient): Promise<X509Certificate> {
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01; // positive (RFC 5280 §4.1.2.2), and 16 bytes long
  const caCert = new x509.X509Certificate(ca.cert.raw);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
    new x509.CRLDistributionPointsExtension([urls.crl]),
    new x509.AuthorityInfoAccessExtension({ caIssuers: urls.caIssuers }),
  ];
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (caKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(caKeyId));
  if (request.san) extensions.push(new x509.SubjectAlternativeNameExtension([request.san]));
  const created = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: new x509.Name(encodeName(parseDn(request.subject))),
    issuer: caCert.subjectName,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: request.publicKey,
    signingKey: ca.issued.privateKey,
    signingAlgorithm: signingAlgorithm(ca.issued.keyAlgorithm),
    extensions,
  });
  return new X509Certificate(Buffer.from(created.rawData));
}

/** RFC 5280 §5.3.1 CRLReason names and codes (7 is unused). */
export const CRL_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0, keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4,
  cessationOfOperation: 5, certificateHold: 6, removeFromCRL: 8, privilegeWithdrawn: 9, aACompromise: 10,
};

export interface CrlEntry {
  /** hex */
  serial: string;
  revokedAt: Date;
  reason: string;
}

/** The CA's CRL (DER): cRLNumber = thisUpdate in epoch seconds (monotonic across instances), AKI. */
export async function signCrl(ca: IssuingCa, entries: readonly CrlEntry[], thisUpdate: Date, nextUpdate: Date): Promise<Buffer> {
  const caCert = new x509.X509Certificate(ca.cert.raw);
  const extensions: x509.Extension[] = [new x509.Extension('2.5.29.20', false, derInteger(Math.floor(thisUpdate.getTime() / 1000)))];
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (caKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(caKeyId));
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: ca.issued.privateKey,
    signingAlgorithm: signingAlgorithm(ca.issued.keyAlgorithm),
    extensions,
    entries: entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revokedAt,
      // RFC 5280 §5.3.1: unspecified SHOULD be left out
      ...(e.reason === 'unspecified' ? {} : { reason: CRL_REASONS[e.reason] }),
    })),
  });
  return Buffer.from(crl.rawData);
}

/** RFC 7030 §4.1.3 / RFC 5652 certs-only SignedData (no signers) holding `certs`, DER. */
export function certsOnly(certs: readonly X509Certificate[]): Buffer {
  const list = new x509.X509Certificates(certs.map((c) => new x509.X509Certificate(c.raw)));
  return Buffer.from(list.export('raw'));
}

function derInteger(value: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return Uint8Array.from([0x02, bytes.length, ...bytes]);
}
