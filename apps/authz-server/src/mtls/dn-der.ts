// X.501 Name <-> RDN sequence (RFC 5280 §4.1.2.4). A Name is SEQUENCE OF RelativeDistinguishedName,
// each a SET OF AttributeTypeAndValue. Rdn arrays in certbound are always in RFC 4514 order —
// the LAST element of the ASN.1 sequence first (RFC 4514 §2.1) — so the conversion happens here.
import { attributeEncoding } from './attribute-types.ts';
import { TAG, children, concat, decodeOid, encodeOid, encodeSetOf, encodeTlv, expectTag, readTlv, type Tlv } from './der.ts';

export interface AttributeTypeAndValue {
  /** dotted OID of the attribute type */
  readonly oid: string;
  /** string-typed values decoded to text; any other value kept as its BER encoding (RFC 4514 §2.4 `#hex`) */
  readonly value: string | Uint8Array;
}
/** One RDN: one or more AVAs, a set (RFC 4514 §2.2 `+`). */
export type Rdn = readonly AttributeTypeAndValue[];

/** Name DER -> RDNs in RFC 4514 order. */
export function decodeName(der: Uint8Array): Rdn[] {
  const rdns = children(expectTag(readTlv(der), TAG.SEQUENCE, 'Name')).map((set) =>
    children(expectTag(set, TAG.SET, 'RelativeDistinguishedName')).map((ava): AttributeTypeAndValue => {
      const [type, value] = children(expectTag(ava, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      if (!value) throw new Error('DER: AttributeTypeAndValue without value');
      return { oid: decodeOid(expectTag(type, TAG.OID, 'AttributeType').value), value: decodeStringValue(value) ?? Uint8Array.from(value.der) };
    }),
  );
  return rdns.reverse();
}

/** RDNs in RFC 4514 order -> Name DER. */
export function encodeName(rdns: readonly Rdn[]): Uint8Array {
  const sets = [...rdns].reverse().map((rdn) =>
    encodeSetOf(rdn.map((ava) => encodeTlv(TAG.SEQUENCE, concat([encodeTlv(TAG.OID, encodeOid(ava.oid)), encodeValue(ava)])))),
  );
  return encodeTlv(TAG.SEQUENCE, concat(sets));
}

const STRING_DECODERS: Record<number, (bytes: Uint8Array) => string> = {
  [TAG.UTF8_STRING]: (b) => new TextDecoder('utf-8', { fatal: true }).decode(b),
  0x12: latin1, // NumericString
  [TAG.PRINTABLE_STRING]: latin1,
  0x14: latin1, // TeletexString: read as Latin-1, as OpenSSL does
  [TAG.IA5_STRING]: latin1,
  0x1a: latin1, // VisibleString
  0x1c: (b) => utf32be(b), // UniversalString
  0x1e: (b) => new TextDecoder('utf-16be', { fatal: true }).decode(b), // BMPString
};

/** The text of a string-typed value, or undefined for any other type (or undecodable bytes). */
export function decodeStringValue(tlv: Tlv): string | undefined {
  const decode = STRING_DECODERS[tlv.tag];
  if (!decode) return undefined;
  try {
    return decode(tlv.value);
  } catch {
    return undefined;
  }
}

function encodeValue(ava: AttributeTypeAndValue): Uint8Array {
  if (typeof ava.value !== 'string') return ava.value;
  const bytes = new TextEncoder().encode(ava.value);
  const encoding = attributeEncoding(ava.oid);
  // RFC 5280 §4.1.2.6: DirectoryString as UTF8String, except countryName/serialNumber
  // (PrintableString) and domainComponent/emailAddress (IA5String); fall back to UTF8String
  // when the text does not fit the narrower type.
  if (encoding === 'printable' && /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(ava.value)) return encodeTlv(TAG.PRINTABLE_STRING, bytes);
  if (encoding === 'ia5' && /^[\x00-\x7f]*$/.test(ava.value)) return encodeTlv(TAG.IA5_STRING, bytes);
  return encodeTlv(TAG.UTF8_STRING, bytes);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

function utf32be(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('bad UniversalString');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    out += String.fromCodePoint(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
  }
  return out;
}
