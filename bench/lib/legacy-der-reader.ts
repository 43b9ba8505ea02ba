// THE BENCH'S BASELINE ONLY — never imported by the server. This is the hand-written DER reader
// that certbound replaced in issue 9 (apps/authz-server/src/mtls/der.ts and
// certificate-fields.ts as of commit 2f63502), cut down to what its fieldsOf needed. certbound
// now decodes certificates with asn1js/@peculiar/asn1-x509 and a strict DER check
// (mtls/parsing.ts); bench/lib/parser.ts times the two against each other. Do not fix or extend
// this file: it must stay what was replaced, or the comparison means nothing.
import type { X509Certificate } from 'node:crypto';

interface Tlv {
  /** the identifier octet: class, constructed bit and tag number (tags < 31 only) */
  readonly tag: number;
  /** the content octets */
  readonly value: Uint8Array;
  /** the whole encoding, identifier through content */
  readonly der: Uint8Array;
}

const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** Reads one TLV at `offset`; throws on anything that is not definite-length DER. */
function readTlv(bytes: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > bytes.length) throw new Error('DER: truncated');
  const tag = bytes[offset];
  // X.690 §8.1.2.4: high tag numbers never occur in the structures we read.
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: high tag number');
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // X.690 §10.1: DER forbids the indefinite form (0x80); 4 octets is ample for a certificate.
    if (octets === 0 || octets > 4) throw new Error('DER: unsupported length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[start + i];
    start += octets;
  }
  const end = start + length;
  if (end > bytes.length) throw new Error('DER: length exceeds input');
  return { tag, value: bytes.subarray(start, end), der: bytes.subarray(offset, end) };
}

/** The TLVs inside a constructed value, in order. */
function children(parent: Tlv | Uint8Array): Tlv[] {
  const bytes = parent instanceof Uint8Array ? parent : parent.value;
  const out: Tlv[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const tlv = readTlv(bytes, offset);
    out.push(tlv);
    offset += tlv.der.length;
  }
  return out;
}

function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`DER: expected ${what}`);
  return tlv;
}

/** X.690 §8.19: dotted-decimal text of an OBJECT IDENTIFIER's content octets. */
function decodeOid(value: Uint8Array): string {
  const arcs: bigint[] = [];
  let arc = 0n;
  for (const byte of value) {
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  if (arcs.length === 0 || (value.length > 0 && (value[value.length - 1] & 0x80))) {
    throw new Error('DER: bad OBJECT IDENTIFIER');
  }
  const first = arcs[0];
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/** RFC 5280 §4.2.1.3 bit positions, counted from the most significant bit of the first octet. */
const KEY_USAGE_BITS = {
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
type KeyUsageName = keyof typeof KEY_USAGE_BITS;

interface RawExtension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

interface GeneralNames {
  readonly dns: string[];
  readonly ip: Uint8Array[];
  readonly uri: string[];
  readonly email: string[];
}

export interface LegacyCertificateFields {
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly extensions: ReadonlyMap<string, RawExtension>;
  readonly basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  readonly subjectAltName: GeneralNames;
}

const cache = new WeakMap<X509Certificate, LegacyCertificateFields>();

/** The old fieldsOf: parsed once per X509Certificate object (a new connection brings a new object). */
export function legacyFieldsOf(cert: X509Certificate): LegacyCertificateFields {
  let fields = cache.get(cert);
  if (!fields) {
    fields = parseFields(new Uint8Array(cert.raw));
    cache.set(cert, fields);
  }
  return fields;
}

function parseFields(der: Uint8Array): LegacyCertificateFields {
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
  const ca = items[i]?.tag === TAG.BOOLEAN ? items[i++].value[0] !== 0 : false;
  const len = items[i];
  if (len === undefined) return { ca, pathLength: undefined };
  const bytes = expectTag(len, TAG.INTEGER, 'pathLenConstraint').value;
  if (bytes.length === 0 || bytes.length > 4 || bytes[0] & 0x80) throw new Error('bad pathLenConstraint');
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
