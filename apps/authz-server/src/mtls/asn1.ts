// The one entry from bytes to ASN.1 for everything certbound reads out of a certificate, a CRL or
// an RFC 4514 `#hex` value: asn1js (the BER decoder under @peculiar/asn1-schema and
// @peculiar/x509) does the decoding, and this file only refuses what BER allows but DER
// (ITU-T X.690 §10–11, required by RFC 5280 §4.1) does not. A lenient reading is how two
// parsers come to see two different certificates in the same bytes, so anything not DER is
// refused with a message naming the part and the rule.
import * as asn1js from 'asn1js';

export class Asn1Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Asn1Error';
  }
}

// asn1js reports these encodings as warnings and decodes them anyway; DER forbids each (X.690
// §8.19.2 minimal subidentifiers, §11.1 one-octet BOOLEAN, §8.8.2 empty NULL). Its other
// warnings ("too big integer", "zero buffer length") describe valid DER — and its "needlessly
// long encoded length" looks at the LAST length octet (it would refuse 30 82 02 00), so length
// minimality is checked below instead.
const NOT_DER = /needlessly long format of sid|boolean value encoded in more|non-zero length of value block for null|no endofcontent/i;

/** Nesting deeper than this is refused: real certificates stay below 15 levels. */
const MAX_DEPTH = 32;
/** Elements in one value: a certificate has a few hundred. */
const MAX_NODES = 10_000;

// X.690 §8.23 / §10.2: universal types that DER encodes only in the primitive form.
const PRIMITIVE_ONLY = new Set([1, 2, 3, 4, 5, 6, 10, 12, 18, 19, 20, 22, 23, 24, 26, 28, 30]);

/**
 * Decodes exactly one DER element filling `bytes`; throws Asn1Error naming `what` otherwise.
 * Never hangs: asn1js reads each byte once, and depth is bounded here.
 */
export function decodeDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  if (bytes.length === 0) throw new Asn1Error(`${what} is empty`);
  let decoded: ReturnType<typeof asn1js.fromBER>;
  try {
    // parseEmbedded off: asn1js would otherwise try to decode the content of every OCTET and BIT
    // STRING (keys, signatures, extension values) as BER — wasted work, done again where needed.
    decoded = asn1js.fromBER(bytes, { parseEmbedded: false, maxDepth: MAX_DEPTH + 1, maxNodes: MAX_NODES });
  } catch (error) {
    // a RangeError from a pathological nesting depth, say
    throw new Asn1Error(`${what} could not be decoded (${(error as Error).message})`);
  }
  if (decoded.offset === -1 || decoded.result.error) {
    throw new Asn1Error(`${what} is not valid DER (${decoded.result.error || 'decoding failed'})`);
  }
  if (decoded.offset !== bytes.length) throw new Asn1Error(`${what} is not DER: ${bytes.length - decoded.offset} bytes follow the value`);
  const problem = derProblem(decoded.result, 0);
  if (problem) throw new Asn1Error(`${what} is not DER: ${problem}`);
  return decoded.result;
}

function derProblem(block: asn1js.AsnType, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
  const { idBlock, lenBlock, valueBlock } = block as asn1js.BaseBlock;
  const warning = [...idBlock.warnings, ...lenBlock.warnings, ...valueBlock.warnings].find((w) => NOT_DER.test(w));
  if (warning) return warning.toLowerCase();
  // X.690 §10.1: definite length only; §10.1 also requires the minimal number of length octets.
  if (lenBlock.isIndefiniteForm) return 'indefinite length (BER)';
  if (lenBlock.longFormUsed && lenBlock.length < 0x80) return 'long-form length for a short value';
  if (lenBlock.longFormUsed && lenBlock.blockLength - 1 !== octetsFor(lenBlock.length)) return 'length encoded in more octets than needed';
  const universal = idBlock.tagClass === 1;
  if (universal && idBlock.isConstructed && PRIMITIVE_ONLY.has(idBlock.tagNumber)) return `constructed encoding of universal type ${idBlock.tagNumber}`;
  const content = valueHexOf(block);
  if (universal && idBlock.tagNumber === 1) {
    // X.690 §11.1: a DER BOOLEAN is one octet, 0x00 for FALSE and 0xFF for TRUE.
    if (content?.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) return 'BOOLEAN is not a single 0x00 or 0xFF octet';
  }
  if (universal && (idBlock.tagNumber === 2 || idBlock.tagNumber === 10) && content) {
    // X.690 §8.3.2: an INTEGER's first nine bits are never all zero or all one.
    if (content.length === 0) return 'empty INTEGER';
    if (content.length > 1 && ((content[0] === 0x00 && content[1] < 0x80) || (content[0] === 0xff && content[1] >= 0x80))) return 'INTEGER not minimally encoded';
  }
  if (universal && idBlock.tagNumber === 3 && content && !idBlock.isConstructed) {
    // X.690 §11.2: no unused bits in an empty string, and the unused bits are zero.
    const unused = (valueBlock as unknown as { unusedBits: number }).unusedBits;
    if (content.length === 0 && unused !== 0) return 'BIT STRING with an invalid unused-bits count';
    if (unused > 0 && (content[content.length - 1] & ((1 << unused) - 1)) !== 0) return 'BIT STRING with non-zero unused bits';
  }
  if (idBlock.isConstructed) {
    for (const child of childrenOf(block)) {
      const problem = derProblem(child, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

function octetsFor(length: number): number {
  let octets = 1;
  while (length >= 256 ** octets) octets++;
  return octets;
}

/** The elements inside a constructed value ([] for a primitive one). */
export function childrenOf(block: asn1js.AsnType): asn1js.AsnType[] {
  const value = (block as asn1js.BaseBlock).valueBlock as unknown as { value?: unknown };
  return Array.isArray(value.value) ? (value.value as asn1js.AsnType[]) : [];
}

/** The content octets of a primitive value. */
export function valueHexOf(block: asn1js.AsnType): Uint8Array | undefined {
  const view = (block as asn1js.BaseBlock).valueBlock as { valueHexView?: Uint8Array };
  return view.valueHexView instanceof Uint8Array ? view.valueHexView : undefined;
}

/** The whole encoding of an element as it arrived (identifier through content). */
export function encodingOf(block: asn1js.AsnType): Uint8Array {
  return (block as asn1js.BaseBlock).valueBeforeDecodeView;
}

/** [class, number] of the element's tag: class 1 universal, 3 context-specific (X.690 §8.1.2.2). */
export function tagOf(block: asn1js.AsnType): { tagClass: number; tagNumber: number; constructed: boolean } {
  const { tagClass, tagNumber, isConstructed } = (block as asn1js.BaseBlock).idBlock;
  return { tagClass, tagNumber, constructed: isConstructed };
}
