// RFC 4514 string representation of distinguished names: parse (§3) and format (§2).
// Parsing also accepts spaces around `,` `+` `=` ("CN=a, O=b", the RFC 2253/1779 habit that
// RFC 4514 §3 allows implementations to recognise) and is strict wherever a lenient reading could
// change the name: unescaped `"` `;` `<` `>`, bad escapes and invalid UTF-8 all throw.
import { attributeName, attributeOid } from './attribute-types.ts';
import { decodeDer } from './asn1.ts';
import { decodeStringValue, type AttributeTypeAndValue, type Rdn } from './names.ts';

export class DnSyntaxError extends Error {
  constructor(input: string, problem: string, position: number) {
    super(`invalid distinguished name "${input}": ${problem} at position ${position}`);
    this.name = 'DnSyntaxError';
  }
}

// RFC 4514 §3: characters that must arrive escaped inside a value (besides `,` and `+`, which end it).
const FORBIDDEN_UNESCAPED = new Set(['"', ';', '<', '>', '\0']);
const ESCAPABLE = new Set(['\\', '"', '+', ',', ';', '<', '>', ' ', '#', '=']);

/** Parses an RFC 4514 string into RDNs, in the string's order (most specific first). Throws DnSyntaxError. */
export function parseDn(input: string): Rdn[] {
  let i = 0;
  const fail = (problem: string): never => {
    throw new DnSyntaxError(input, problem, i);
  };
  const skipSpaces = () => {
    while (input[i] === ' ') i++;
  };

  // sticky regexes match at `i` without copying the rest of the input
  const typePattern = /[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+/y;
  const hexPattern = /#((?:[0-9A-Fa-f]{2})+)/y;
  const hexPairPattern = /[0-9A-Fa-f]{2}/y;

  const readType = (): string => {
    typePattern.lastIndex = i;
    const match = typePattern.exec(input);
    if (!match) return fail('expected an attribute type');
    const oid = attributeOid(match[0]);
    if (!oid) return fail(`unknown attribute type "${match[0]}"`);
    i += match[0].length;
    return oid;
  };

  // RFC 4514 §2.4 / §3 hexstring: `#` then the BER encoding of the value.
  const readHexValue = (): string | Uint8Array => {
    hexPattern.lastIndex = i;
    const match = hexPattern.exec(input);
    if (!match) return fail('expected hex pairs after "#"');
    i += match[0].length;
    const ber = Uint8Array.from(Buffer.from(match[1], 'hex'));
    let value;
    try {
      value = decodeDer(ber, '"#" value');
    } catch {
      return fail('"#" value is not a BER encoding');
    }
    return decodeStringValue(value) ?? ber;
  };

  const readStringValue = (): string => {
    const bytes: number[] = [];
    let significant = 0; // bytes up to the last escaped or non-space character
    while (i < input.length && input[i] !== ',' && input[i] !== '+') {
      const ch = input[i];
      if (ch === '\\') {
        const next = input[i + 1];
        hexPairPattern.lastIndex = i + 1;
        if (hexPairPattern.test(input)) {
          bytes.push(parseInt(input.slice(i + 1, i + 3), 16)); // hexpair: one UTF-8 octet
          i += 3;
        } else if (next !== undefined && ESCAPABLE.has(next)) {
          bytes.push(next.charCodeAt(0));
          i += 2;
        } else {
          fail('invalid escape');
        }
        significant = bytes.length;
        continue;
      }
      if (FORBIDDEN_UNESCAPED.has(ch)) fail(`unescaped "${ch === '\0' ? '\\0' : ch}"`);
      const codePoint = input.codePointAt(i)!;
      bytes.push(...new TextEncoder().encode(String.fromCodePoint(codePoint)));
      if (ch !== ' ') significant = bytes.length;
      i += codePoint > 0xffff ? 2 : 1;
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes.slice(0, significant)));
    } catch {
      return fail('escaped bytes are not valid UTF-8');
    }
  };

  const rdns: Rdn[] = [];
  skipSpaces();
  if (i === input.length) return rdns; // RFC 4514 §3: the empty string is the empty DN
  for (;;) {
    const rdn: AttributeTypeAndValue[] = [];
    for (;;) {
      skipSpaces();
      const oid = readType();
      skipSpaces();
      if (input[i] !== '=') fail('expected "="');
      i++;
      skipSpaces();
      const value = input[i] === '#' ? readHexValue() : readStringValue();
      skipSpaces();
      rdn.push({ oid, value });
      if (input[i] !== '+') break;
      i++;
    }
    rdns.push(rdn);
    if (i === input.length) return rdns;
    if (input[i] !== ',') fail('expected "," or "+"');
    i++;
  }
}

/** RFC 4514 §2: RDNs (RFC 4514 order) -> string. */
export function formatDn(rdns: readonly Rdn[]): string {
  return rdns.map((rdn) => rdn.map((ava) => `${attributeName(ava.oid)}=${formatValue(ava.value)}`).join('+')).join(',');
}

function formatValue(value: string | Uint8Array): string {
  if (typeof value !== 'string') return `#${Buffer.from(value).toString('hex')}`;
  // RFC 4514 §2.4: escape the specials anywhere, a leading space or '#', a trailing space, and NUL.
  const chars = [...value];
  return chars
    .map((c, index) => {
      if (c === '\0') return '\\00';
      if ('\\"+,;<>'.includes(c)) return `\\${c}`;
      if (index === 0 && (c === ' ' || c === '#')) return `\\${c}`;
      if (index === chars.length - 1 && c === ' ') return '\\ ';
      return c;
    })
    .join('');
}
