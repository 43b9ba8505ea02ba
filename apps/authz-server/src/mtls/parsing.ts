// The parts of a certificate that path validation, subject matching and revocation read
// (RFC 5280 §4.1–4.2), decoded by asn1js and @peculiar/asn1-x509 (mtls/asn1.ts refuses anything
// that is not DER). A certificate that Node accepted can still carry an extension OpenSSL never
// looked at, so every extension certbound reads is decoded here, strictly, or the certificate is
// refused as unreadable: CertificateParseError, whose message names the part.
//
// Parsed once per certificate: per X509Certificate object, and in a bounded map keyed by the
// DER's SHA-256, so the same certificate on a new connection (a new object) is not parsed again.
import type { X509Certificate } from 'node:crypto';
import { x5tS256 } from './thumbprint.ts';
import * as asn1js from 'asn1js';
import { LRUCache } from 'lru-cache';
import { AsnParser } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectKeyIdentifier,
  id_ad_ocsp,
} from '@peculiar/asn1-x509';
import { Asn1Error, childrenOf, decodeDer, encodingOf, tagOf, valueHexOf } from './asn1.ts';
import { decodeNameElement, type Rdn } from './names.ts';

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
  emailAddress: '1.2.840.113549.1.9.1',
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

export class CertificateParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateParseError';
  }
}

export interface RawExtension {
  readonly critical: boolean;
  /** the extnValue content: the DER of the extension's own structure */
  readonly value: Uint8Array;
}

export interface GeneralNames {
  readonly dns: string[];
  /** iPAddress octets: 4 for IPv4, 16 for IPv6 (RFC 5280 §4.2.1.6) */
  readonly ip: Uint8Array[];
  readonly uri: string[];
  readonly email: string[];
  /** directoryName entries, each in RFC 4514 order */
  readonly directoryNames: Rdn[][];
  /** otherName, x400Address, ediPartyName, registeredID: present but not interpreted */
  readonly other: number;
}

/** One GeneralSubtree base of a nameConstraints extension (RFC 5280 §4.2.1.10). */
export type NameConstraint =
  | { readonly type: 'dns' | 'email' | 'uri'; readonly value: string }
  /** address and mask, 4+4 or 16+16 octets */
  | { readonly type: 'ip'; readonly address: Uint8Array; readonly mask: Uint8Array }
  | { readonly type: 'dn'; readonly rdns: Rdn[] }
  | { readonly type: 'unsupported'; readonly form: string };

export interface NameConstraints {
  readonly permitted: readonly NameConstraint[] | undefined;
  readonly excluded: readonly NameConstraint[];
}

export interface CertificateFields {
  /** DER of the issuer Name */
  readonly issuer: Uint8Array;
  /** DER of the subject Name */
  readonly subject: Uint8Array;
  readonly issuerRdns: readonly Rdn[];
  readonly subjectRdns: readonly Rdn[];
  readonly extensions: ReadonlyMap<string, RawExtension>;
  /** absent extension = undefined */
  readonly basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  readonly keyUsage: ReadonlySet<KeyUsageName> | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  readonly subjectAltName: GeneralNames;
  readonly nameConstraints: NameConstraints | undefined;
  /** http(s)/ldap URIs of the CRL distribution points' fullName (RFC 5280 §4.2.1.13) */
  readonly crlDistributionPoints: readonly string[];
  /** id-ad-ocsp URIs of authorityInfoAccess (RFC 5280 §4.2.2.1) */
  readonly ocspUrls: readonly string[];
}

const byObject = new WeakMap<X509Certificate, CertificateFields>();
const BY_DIGEST_MAX = 10_000;
const byDigest = new LRUCache<string, CertificateFields>({ max: BY_DIGEST_MAX });

/** Throws CertificateParseError, naming the part, for anything that is not a DER certificate certbound can read. */
export function fieldsOf(cert: X509Certificate): CertificateFields {
  let fields = byObject.get(cert);
  if (fields) return fields;
  const der = cert.raw;
  const digest = x5tS256(der);
  fields = byDigest.get(digest);
  if (!fields) {
    try {
      fields = parseFields(new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
    } catch (error) {
      if (error instanceof CertificateParseError) throw error;
      throw new CertificateParseError((error as Error)?.message ?? String(error), { cause: error });
    }
    byDigest.set(digest, fields);
  }
  byObject.set(cert, fields);
  return fields;
}

function parseFields(der: Uint8Array): CertificateFields {
  const certificate = decodeDer(der, 'certificate');
  const [tbs] = childrenOf(certificate);
  if (!(certificate instanceof asn1js.Sequence) || !(tbs instanceof asn1js.Sequence)) throw new CertificateParseError('certificate is not an X.509 Certificate SEQUENCE');
  const items = childrenOf(tbs);
  // RFC 5280 §4.1: version is [0] EXPLICIT and absent for v1 certificates.
  const base = tagOf(items[0]).tagClass === 3 && tagOf(items[0]).tagNumber === 0 ? 1 : 0;
  const issuerName = items[base + 2];
  const subjectName = items[base + 4];
  if (!issuerName || !subjectName) throw new CertificateParseError('certificate TBSCertificate is incomplete');
  const issuerRdns = decodeNameElement(issuerName, 'issuer Name');
  const subjectRdns = decodeNameElement(subjectName, 'subject Name');

  const extensions = new Map<string, RawExtension>();
  const wrapper = items.slice(base + 6).find((item) => tagOf(item).tagClass === 3 && tagOf(item).tagNumber === 3);
  if (wrapper) {
    const [list] = childrenOf(wrapper);
    if (!(list instanceof asn1js.Sequence)) throw new CertificateParseError('certificate extensions are not a SEQUENCE');
    for (const extension of childrenOf(list)) {
      const [id, second, third] = childrenOf(extension);
      if (!(id instanceof asn1js.ObjectIdentifier)) throw new CertificateParseError('certificate extension without an extnID');
      const oid = id.valueBlock.toString();
      const critical = second instanceof asn1js.Boolean ? second.valueBlock.value : false;
      const value = second instanceof asn1js.Boolean ? third : second;
      if (!(value instanceof asn1js.OctetString)) throw new CertificateParseError(`certificate extension ${extensionName(oid)} has no OCTET STRING value`);
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (extensions.has(oid)) throw new CertificateParseError(`certificate extension ${extensionName(oid)} appears twice`);
      extensions.set(oid, { critical, value: valueHexOf(value) ?? new Uint8Array(0) });
    }
  }

  const decode = <T>(oid: string, read: (element: asn1js.AsnType) => T): T | undefined => {
    const extension = extensions.get(oid);
    if (!extension) return undefined;
    const what = extensionName(oid);
    try {
      return read(decodeDer(extension.value, what));
    } catch (error) {
      if (error instanceof Asn1Error || error instanceof CertificateParseError) throw new CertificateParseError(error.message);
      throw new CertificateParseError(`${what} does not match its ASN.1 definition (${(error as Error).message})`);
    }
  };

  return {
    issuer: Uint8Array.from(encodingOf(issuerName)),
    subject: Uint8Array.from(encodingOf(subjectName)),
    issuerRdns,
    subjectRdns,
    extensions,
    basicConstraints: decode(OID.basicConstraints, (e) => {
      const value = AsnParser.fromASN(e, BasicConstraints);
      const pathLength = value.pathLenConstraint;
      if (pathLength !== undefined && (!Number.isSafeInteger(pathLength) || pathLength < 0)) throw new CertificateParseError('basicConstraints pathLenConstraint is not a small non-negative integer');
      return { ca: value.cA === true, pathLength };
    }),
    keyUsage: decode(OID.keyUsage, (e) => {
      const bits = AsnParser.fromASN(e, KeyUsage).toNumber();
      return new Set((Object.entries(KEY_USAGE_BITS) as [KeyUsageName, number][]).filter(([, bit]) => bits & (1 << bit)).map(([name]) => name));
    }),
    extKeyUsage: decode(OID.extKeyUsage, (e) => [...AsnParser.fromASN(e, ExtendedKeyUsage)]),
    subjectKeyId: decode(OID.subjectKeyIdentifier, (e) => Buffer.from(AsnParser.fromASN(e, SubjectKeyIdentifier).buffer).toString('hex')),
    authorityKeyId: decode(OID.authorityKeyIdentifier, (e) => {
      const keyId = AsnParser.fromASN(e, AuthorityKeyIdentifier).keyIdentifier;
      return keyId === undefined ? undefined : Buffer.from(keyId.buffer).toString('hex');
    }),
    subjectAltName: decode(OID.subjectAltName, (e) => generalNames(e, 'subjectAltName')) ?? emptyNames(),
    nameConstraints: decode(OID.nameConstraints, nameConstraints),
    crlDistributionPoints: decode(OID.crlDistributionPoints, (e) =>
      AsnParser.fromASN(e, CRLDistributionPoints).flatMap((point) =>
        (point.distributionPoint?.fullName ?? []).flatMap((name) => (name.uniformResourceIdentifier ? [name.uniformResourceIdentifier] : []))),
    ) ?? [],
    ocspUrls: decode(OID.authorityInfoAccess, (e) =>
      AsnParser.fromASN(e, AuthorityInfoAccessSyntax).flatMap((access) =>
        access.accessMethod === id_ad_ocsp && access.accessLocation.uniformResourceIdentifier ? [access.accessLocation.uniformResourceIdentifier] : [],
      ),
    ) ?? [],
  };
}

function emptyNames(): GeneralNames & { other: number } {
  return { dns: [], ip: [], uri: [], email: [], directoryNames: [], other: 0 };
}

// RFC 5280 §4.2.1.6 GeneralName, all IMPLICIT context tags except directoryName [4], which is
// EXPLICIT because Name is a CHOICE.
const GENERAL_NAME_FORMS = ['otherName', 'rfc822Name', 'dNSName', 'x400Address', 'directoryName', 'ediPartyName', 'uniformResourceIdentifier', 'iPAddress', 'registeredID'];

function generalNames(element: asn1js.AsnType, what: string): GeneralNames {
  if (!(element instanceof asn1js.Sequence)) throw new CertificateParseError(`${what} is not a SEQUENCE of GeneralName`);
  const names = emptyNames();
  for (const name of childrenOf(element)) {
    const form = generalName(name, what);
    if (form.type === 'dns') names.dns.push(form.value);
    else if (form.type === 'email') names.email.push(form.value);
    else if (form.type === 'uri') names.uri.push(form.value);
    else if (form.type === 'ip') names.ip.push(form.octets);
    else if (form.type === 'dn') names.directoryNames.push(form.rdns);
    else names.other++;
  }
  return names;
}

type GeneralName =
  | { type: 'dns' | 'email' | 'uri'; value: string }
  | { type: 'ip'; octets: Uint8Array }
  | { type: 'dn'; rdns: Rdn[] }
  | { type: 'other'; form: string };

function generalName(name: asn1js.AsnType, what: string): GeneralName {
  const { tagClass, tagNumber, constructed } = tagOf(name);
  const form = GENERAL_NAME_FORMS[tagNumber];
  if (tagClass !== 3 || form === undefined) throw new CertificateParseError(`${what} holds an element that is not a GeneralName`);
  if (tagNumber === 4) {
    const inner = childrenOf(name);
    if (!constructed || inner.length !== 1) throw new CertificateParseError(`${what} directoryName is malformed`);
    return { type: 'dn', rdns: decodeNameElement(inner[0], `${what} directoryName`) };
  }
  if (tagNumber === 1 || tagNumber === 2 || tagNumber === 6 || tagNumber === 7) {
    const bytes = valueHexOf(name);
    if (constructed || !bytes) throw new CertificateParseError(`${what} ${form} is not a primitive value`);
    if (tagNumber === 7) return { type: 'ip', octets: Uint8Array.from(bytes) };
    // IA5String (RFC 5280 §4.2.1.6): seven-bit characters only.
    if (bytes.some((b) => b > 0x7f)) throw new CertificateParseError(`${what} ${form} is not an IA5String`);
    const value = Buffer.from(bytes).toString('latin1');
    return { type: tagNumber === 1 ? 'email' : tagNumber === 2 ? 'dns' : 'uri', value };
  }
  return { type: 'other', form };
}

function nameConstraints(element: asn1js.AsnType): NameConstraints {
  if (!(element instanceof asn1js.Sequence)) throw new CertificateParseError('nameConstraints is not a SEQUENCE');
  let permitted: NameConstraint[] | undefined;
  let excluded: NameConstraint[] = [];
  for (const part of childrenOf(element)) {
    const { tagClass, tagNumber, constructed } = tagOf(part);
    if (tagClass !== 3 || tagNumber > 1 || !constructed) throw new CertificateParseError('nameConstraints holds an element that is neither permittedSubtrees nor excludedSubtrees');
    const subtrees = childrenOf(part).map(subtree);
    // RFC 5280 §4.2.1.10: "Conforming CAs MUST NOT issue certificates where name constraints is an empty sequence"
    if (subtrees.length === 0) throw new CertificateParseError('nameConstraints holds an empty GeneralSubtrees');
    if (tagNumber === 0) permitted = subtrees;
    else excluded = subtrees;
  }
  if (permitted === undefined && excluded.length === 0) throw new CertificateParseError('nameConstraints is empty');
  return { permitted, excluded };
}

function subtree(element: asn1js.AsnType): NameConstraint {
  const [base, ...bounds] = childrenOf(element);
  if (!(element instanceof asn1js.Sequence) || !base) throw new CertificateParseError('nameConstraints holds a malformed GeneralSubtree');
  // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent. A DER encoding omits a
  // minimum of 0 (DEFAULT), so any bound here is one certbound cannot honour.
  if (bounds.length > 0) return { type: 'unsupported', form: 'a GeneralSubtree with minimum/maximum' };
  const name = generalName(base, 'nameConstraints');
  if (name.type === 'ip') {
    if (name.octets.length !== 8 && name.octets.length !== 32) throw new CertificateParseError('nameConstraints iPAddress is neither 8 nor 32 octets (address and mask)');
    const half = name.octets.length / 2;
    return { type: 'ip', address: name.octets.subarray(0, half), mask: name.octets.subarray(half) };
  }
  if (name.type === 'other') return { type: 'unsupported', form: name.form };
  return name;
}

const EXTENSION_NAMES: Record<string, string> = {
  [OID.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [OID.keyUsage]: 'keyUsage',
  [OID.subjectAltName]: 'subjectAltName',
  [OID.basicConstraints]: 'basicConstraints',
  [OID.nameConstraints]: 'nameConstraints',
  [OID.crlDistributionPoints]: 'cRLDistributionPoints',
  [OID.certificatePolicies]: 'certificatePolicies',
  [OID.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [OID.extKeyUsage]: 'extendedKeyUsage',
  [OID.authorityInfoAccess]: 'authorityInfoAccess',
  '2.5.29.33': 'policyMappings',
  '2.5.29.36': 'policyConstraints',
  '2.5.29.54': 'inhibitAnyPolicy',
};

/** "extendedKeyUsage" for a known extension, else the dotted OID. */
export function extensionName(oid: string): string {
  return EXTENSION_NAMES[oid] ?? oid;
}
