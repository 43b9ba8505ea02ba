// The parts of a certificate that path validation and subject matching read, taken from the
// DER (RFC 5280 §4.1) of a node:crypto X509Certificate. OpenSSL has already parsed the
// certificate when node built the object, so this only walks a structure known to be sound.
// Parsed once per X509Certificate object.
import type { X509Certificate } from 'node:crypto';
import { TAG, children, decodeOid, expectTag, readTlv, type Tlv } from './der.ts';

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** RFC 5280 §4.2.1.3 bit positions, counted from the most significant bit of the first octet. */
export const KEY_USAGE_BITS = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

export interface RawExtension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface GeneralNames {
  readonly dns: string[];
  /** iPAddress octets: 4 for IPv4, 16 for IPv6 (RFC 5280 §4.2.1.6) */
  readonly ip: Uint8Array[];
  readonly uri: string[];
  readonly email: string[];
}

export interface CertificateFields {
  /** DER of the issuer Name */
  readonly issuer: Uint8Array;
  /** DER of the subject Name */
  readonly subject: Uint8Array;
  readonly extensions: ReadonlyMap<string, RawExtension>;
  /** absent extension = undefined */
  readonly basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  readonly subjectAltName: GeneralNames;
}

const cache = new WeakMap<X509Certificate, CertificateFields>();

/** Throws on a structure RFC 5280 forbids (e.g. a repeated extension); callers map that to `malformed`. */
export function fieldsOf(cert: X509Certificate): CertificateFields {
  let fields = cache.get(cert);
  if (!fields) {
    fields = parseFields(new Uint8Array(cert.raw));
    cache.set(cert, fields);
  }
  return fields;
}

function parseFields(der: Uint8Array): CertificateFields {
  const certificate = expectTag(readTlv(der), TAG.SEQUENCE, 'Certificate');
  const tbs = children(expectTag(children(certificate)[0], TAG.SEQUENCE, 'TBSCertificate'));
  // RFC 5280 §4.1: version is [0] EXPLICIT and absent for v1 certificates.
  const base = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = expectTag(tbs[base + 2], TAG.SEQUENCE, 'issuer Name').der;
  const subject = expectTag(tbs[base + 4], TAG.SEQUENCE, 'subject Name').der;
  const extensions = new Map<string, RawExtension>();
  const wrapper = tbs.slice(base + 6).find((t) => t.tag === 0xa3);
  if (wrapper) {
    for (const ext of children(expectTag(children(wrapper)[0], TAG.SEQUENCE, 'Extensions'))) {
      const [id, second, third] = children(ext);
      const oid = decodeOid(expectTag(id, TAG.OID, 'extnID').value);
      const critical = second?.tag === TAG.BOOLEAN ? second.value[0] !== 0 : false;
      const value = expectTag(second?.tag === TAG.BOOLEAN ? third : second, TAG.OCTET_STRING, 'extnValue').value;
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (extensions.has(oid)) throw new Error(`extension ${oid} appears twice`);
      extensions.set(oid, { critical, value });
    }
  }
  const value = (oid: string) => extensions.get(oid)?.value;
  return {
    issuer,
    subject,
    extensions,
    basicConstraints: decodeOptional(value(OID.basicConstraints), decodeBasicConstraints),
    keyUsage: decodeOptional(value(OID.keyUsage), decodeKeyUsage),
    extKeyUsage: decodeOptional(value(OID.extKeyUsage), (v) =>
      children(expectTag(readTlv(v), TAG.SEQUENCE, 'ExtKeyUsageSyntax')).map((t) => decodeOid(expectTag(t, TAG.OID, 'KeyPurposeId').value)),
    ),
    subjectKeyId: decodeOptional(value(OID.subjectKeyIdentifier), (v) => hex(expectTag(readTlv(v), TAG.OCTET_STRING, 'KeyIdentifier'))),
    authorityKeyId: decodeOptional(value(OID.authorityKeyIdentifier), (v) => {
      // RFC 5280 §4.2.1.1: keyIdentifier is [0] IMPLICIT, the first and optional field.
      const first = children(expectTag(readTlv(v), TAG.SEQUENCE, 'AuthorityKeyIdentifier'))[0];
      return first?.tag === 0x80 ? hex(first) : undefined;
    }),
    subjectAltName: decodeGeneralNames(value(OID.subjectAltName)),
  };
}

function decodeOptional<T>(value: Uint8Array | undefined, decode: (v: Uint8Array) => T): T | undefined {
  return value === undefined ? undefined : decode(value);
}

function decodeBasicConstraints(v: Uint8Array): { ca: boolean; pathLength: number | undefined } {
  const items = children(expectTag(readTlv(v), TAG.SEQUENCE, 'BasicConstraints'));
  let i = 0;
  const ca = items[i]?.tag === TAG.BOOLEAN ? items[i++]!.value[0] !== 0 : false;
  const len = items[i];
  if (len === undefined) return { ca, pathLength: undefined };
  const bytes = expectTag(len, TAG.INTEGER, 'pathLenConstraint').value;
  if (bytes.length === 0 || bytes.length > 4 || bytes[0]! & 0x80) throw new Error('bad pathLenConstraint');
  return { ca, pathLength: bytes.reduce((n, b) => n * 256 + b, 0) };
}

function decodeKeyUsage(v: Uint8Array): Set<KeyUsageName> {
  const bits = expectTag(readTlv(v), TAG.BIT_STRING, 'KeyUsage').value.subarray(1); // skip unused-bits octet
  const usages = new Set<KeyUsageName>();
  for (const [name, bit] of Object.entries(KEY_USAGE_BITS) as [KeyUsageName, number][]) {
    if (((bits[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) usages.add(name);
  }
  return usages;
}

function decodeGeneralNames(v: Uint8Array | undefined): GeneralNames {
  const names: GeneralNames = { dns: [], ip: [], uri: [], email: [] };
  if (v === undefined) return names;
  // RFC 5280 §4.2.1.6: rfc822Name [1], dNSName [2], uniformResourceIdentifier [6] are IA5String,
  // iPAddress [7] is an OCTET STRING; all IMPLICIT. Other forms (otherName, directoryName) are skipped.
  for (const name of children(expectTag(readTlv(v), TAG.SEQUENCE, 'GeneralNames'))) {
    const text = () => Buffer.from(name.value).toString('latin1');
    if (name.tag === 0x81) names.email.push(text());
    else if (name.tag === 0x82) names.dns.push(text());
    else if (name.tag === 0x86) names.uri.push(text());
    else if (name.tag === 0x87) names.ip.push(Uint8Array.from(name.value));
  }
  return names;
}

function hex(tlv: Tlv): string {
  return Buffer.from(tlv.value).toString('hex');
}
