// X.501 Name <-> RDN sequence (RFC 5280 §4.1.2.4). A Name is SEQUENCE OF RelativeDistinguishedName,
// each a SET OF AttributeTypeAndValue. Rdn arrays in certbound are always in RFC 4514 order —
// the LAST element of the ASN.1 sequence first (RFC 4514 §2.1) — so the conversion happens here.
// Decoding reads asn1js elements (mtls/asn1.ts), keeping the exact encoding of non-string values
// for RFC 4514 §2.4 `#hex`.
import * as asn1js from 'asn1js';
import { attributeEncoding } from './attribute-types.ts';
import { Asn1Error, childrenOf, decodeDer, encodingOf, tagOf, valueHexOf } from './asn1.ts';

export interface AttributeTypeAndValue {
  /** dotted OID of the attribute type */
  readonly oid: string;
  /** string-typed values decoded to text; any other value kept as its BER encoding (RFC 4514 §2.4 `#hex`) */
  readonly value: string | Uint8Array;
}
/** One RDN: one or more AVAs, a set (RFC 4514 §2.2 `+`). */
export type Rdn = readonly AttributeTypeAndValue[];

/** Name DER -> RDNs in RFC 4514 order. Throws Asn1Error. */
export function decodeName(der: Uint8Array, what = 'Name'): Rdn[] {
  return decodeNameElement(decodeDer(der, what), what);
}

/** A decoded Name element -> RDNs in RFC 4514 order. Throws Asn1Error. */
export function decodeNameElement(name: asn1js.AsnType, what = 'Name'): Rdn[] {
  if (!(name instanceof asn1js.Sequence)) throw new Asn1Error(`${what} is not a SEQUENCE`);
  const rdns = childrenOf(name).map((set) => {
    if (!(set instanceof asn1js.Set) || childrenOf(set).length === 0) throw new Asn1Error(`${what} holds an RDN that is not a non-empty SET`);
    return childrenOf(set).map((ava): AttributeTypeAndValue => {
      const [type, value, extra] = childrenOf(ava);
      if (!(ava instanceof asn1js.Sequence) || !(type instanceof asn1js.ObjectIdentifier) || !value || extra) {
        throw new Asn1Error(`${what} holds a malformed AttributeTypeAndValue`);
      }
      return { oid: type.valueBlock.toString(), value: decodeStringValue(value) ?? Uint8Array.from(encodingOf(value)) };
    });
  });
  return rdns.reverse();
}

const STRING_DECODERS: Record<number, (bytes: Uint8Array) => string> = {
  12: (b) => new TextDecoder('utf-8', { fatal: true }).decode(b), // UTF8String
  18: latin1, // NumericString
  19: latin1, // PrintableString
  20: latin1, // TeletexString: read as Latin-1, as OpenSSL does
  22: latin1, // IA5String
  26: latin1, // VisibleString
  28: utf32be, // UniversalString
  30: (b) => new TextDecoder('utf-16be', { fatal: true }).decode(b), // BMPString
};

/** The text of a universal string-typed value, or undefined for any other type (or undecodable bytes). */
export function decodeStringValue(element: asn1js.AsnType): string | undefined {
  const { tagClass, tagNumber, constructed } = tagOf(element);
  const decode = tagClass === 1 && !constructed ? STRING_DECODERS[tagNumber] : undefined;
  const bytes = valueHexOf(element);
  if (!decode || !bytes) return undefined;
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}

/** RDNs in RFC 4514 order -> Name DER. */
export function encodeName(rdns: readonly Rdn[]): Uint8Array {
  const sets = [...rdns].reverse().map((rdn) => {
    const avas = rdn.map((ava) => new Uint8Array(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ava.oid }), encodeValue(ava)] }).toBER()));
    // X.690 §11.6: the elements of a DER SET OF are sorted by their encodings.
    return new asn1js.Set({ value: avas.sort(compareBytes).map((der) => asn1js.fromBER(der).result) });
  });
  return new Uint8Array(new asn1js.Sequence({ value: sets }).toBER());
}

function encodeValue(ava: AttributeTypeAndValue): asn1js.AsnType {
  if (typeof ava.value !== 'string') return decodeDer(ava.value, 'attribute value');
  const encoding = attributeEncoding(ava.oid);
  // RFC 5280 §4.1.2.6: DirectoryString as UTF8String, except countryName/serialNumber
  // (PrintableString) and domainComponent/emailAddress (IA5String); fall back to UTF8String
  // when the text does not fit the narrower type.
  if (encoding === 'printable' && /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(ava.value)) return new asn1js.PrintableString({ value: ava.value });
  // eslint-disable-next-line no-control-regex -- IA5String is exactly U+0000-007F, controls included
  if (encoding === 'ia5' && /^[\x00-\x7f]*$/.test(ava.value)) return new asn1js.IA5String({ value: ava.value });
  return new asn1js.Utf8String({ value: ava.value });
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

function utf32be(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('bad UniversalString');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    out += String.fromCodePoint(((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0);
  }
  return out;
}
