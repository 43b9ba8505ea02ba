// A minimal DER reader and writer (ITU-T X.690 §8, §10): just enough to read names, validity and
// extensions out of certificates that OpenSSL (node:crypto) has already parsed, and to encode
// the Name we issue. Reading raw TLVs, rather than a library's rendering, keeps exact bytes for
// RFC 4514 §2.4 `#hex` values and for IP addresses in subjectAltName.

export interface Tlv {
  /** the identifier octet: class, constructed bit and tag number (tags < 31 only) */
  readonly tag: number;
  /** the content octets */
  readonly value: Uint8Array;
  /** the whole encoding, identifier through content */
  readonly der: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

/** Reads one TLV at `offset`; throws on anything that is not definite-length DER. */
export function readTlv(bytes: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > bytes.length) throw new Error('DER: truncated');
  const tag = bytes[offset]!;
  // X.690 §8.1.2.4: high tag numbers never occur in the structures we read.
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: high tag number');
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // X.690 §10.1: DER forbids the indefinite form (0x80); 4 octets is ample for a certificate.
    if (octets === 0 || octets > 4) throw new Error('DER: unsupported length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[start + i]!;
    start += octets;
  }
  const end = start + length;
  if (end > bytes.length) throw new Error('DER: length exceeds input');
  return { tag, value: bytes.subarray(start, end), der: bytes.subarray(offset, end) };
}

/** The TLVs inside a constructed value, in order. */
export function children(parent: Tlv | Uint8Array): Tlv[] {
  const bytes = parent instanceof Uint8Array ? parent : parent.value;
  const out: Tlv[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const tlv = readTlv(bytes, offset);
    out.push(tlv);
    offset += tlv.der.length;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`DER: expected ${what}`);
  return tlv;
}

/** X.690 §8.19: dotted-decimal text of an OBJECT IDENTIFIER's content octets. */
export function decodeOid(value: Uint8Array): string {
  const arcs: bigint[] = [];
  let arc = 0n;
  for (const byte of value) {
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  if (arcs.length === 0 || (value.length > 0 && (value[value.length - 1]! & 0x80))) {
    throw new Error('DER: bad OBJECT IDENTIFIER');
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

export function encodeOid(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9]\d*))+$/.test(oid)) throw new Error(`not an OID: ${oid}`);
  const arcs = oid.split('.').map(BigInt);
  const out: number[] = [];
  const [a, b, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  for (const arc of [a * 40n + b, ...rest]) {
    const septets: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) septets.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...septets);
  }
  return Uint8Array.from(out);
}

export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const length =
    n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(value, 1 + length.length);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** X.690 §11.6: the elements of a DER SET OF are sorted by their encodings. */
export function encodeSetOf(elements: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(TAG.SET, concat([...elements].sort(compareBytes)));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
