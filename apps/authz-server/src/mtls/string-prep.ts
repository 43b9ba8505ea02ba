// RFC 4518 string preparation for caseIgnoreMatch (and so distinguishedNameMatch, RFC 4517
// §4.2.15) attribute values: the six steps of RFC 4518 §2, in order. RFC 5280 §7.1 prescribes
// the same preparation for comparing names in certificates. A value that fails a step (§2.4)
// makes the assertion Undefined (RFC 4518 §2): the caller must treat it as "never equal".
import { caseFold } from 'unicode-case-folding';

export type PreparedValue = { ok: true; value: string } | { ok: false; problem: string };

// RFC 4518 §2.2, mapped to nothing: SOFT HYPHEN, MONGOLIAN TODO SOFT HYPHEN, COMBINING GRAPHEME
// JOINER, VARIATION SELECTORs (the RFC's "FF00-FE0F" is a typo for FE00-FE0F), OBJECT REPLACEMENT
// CHARACTER, ZERO WIDTH SPACE, and its "complete list" of other control (Cc) and control-function
// (Cf) code points: U+0000-0008, 000E-001F, 007F-0084, 0086-009F, 06DD, 070F, 180E, 200C-200F,
// 202A-202E, 2060-2063, 206A-206F, FEFF, FFF9-FFFB, 1D173-1D17A, E0001, E0020-E007F.
const MAPPED_TO_NOTHING =
  // eslint-disable-next-line no-control-regex, no-misleading-character-class -- RFC 4518's table lists controls and combining marks one by one
  /[\u00AD\u1806\u034F\u180B-\u180D\uFE00-\uFE0F\uFFFC\u200B\u0000-\u0008\u000E-\u001F\u007F-\u0084\u0086-\u009F\u06DD\u070F\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFB\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}]/gu;

// RFC 4518 §2.2, mapped to SPACE: TAB, LF, VT, FF, CR, NEL, and its "complete list" of Separator
// (Zs, Zl, Zp) code points: U+0020, 00A0, 1680, 2000-200A, 2028-2029, 202F, 205F, 3000.
// eslint-disable-next-line no-control-regex -- TAB, LF, VT, FF and CR are in RFC 4518's table
const MAPPED_TO_SPACE = /[\u0009-\u000D\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/gu;

// RFC 4518 §2.4, prohibited (RFC 3454 tables): unassigned code points (A.1; approximated by the
// running engine's Unicode version rather than the RFC's Unicode 3.2, so a newer character is
// accepted once Node knows it), characters that change display properties or are deprecated
// (C.8), private use (C.3), non-characters (C.4), surrogates (C.5; a lone one can arrive in a
// certificate's UniversalString), and REPLACEMENT CHARACTER (U+FFFD, the mark of a lossy decode).
// C.8's U+200E-200F, 202A-202E, 206A-206F were already mapped to nothing by §2.2, and NFKC turns
// U+0340-0341 into U+0300-0301; they are listed so this line reads as the RFC does.
// eslint-disable-next-line no-misleading-character-class -- U+0340 and U+0341 are members on their own, not marks on U+FFFD
const PROHIBITED = /[\p{Cn}\p{Co}\p{Cs}\p{Noncharacter_Code_Point}\uFFFD\u0340\u0341\u200E\u200F\u202A-\u202E\u206A-\u206F]/u;

// RFC 4518 §2.6.1: "a space is defined to be the SPACE (U+0020) code point followed by no
// combining marks" (a SPACE before a combining mark carries that mark and is significant).
const INSIGNIFICANT_SPACES = /(?: (?!\p{M}))+/gu;

// Folding and NFKC are repeated until neither changes the string (see prepareCaseIgnore); a
// handful of rounds settles every string we have seen; more means something is amiss.
const MAX_ROUNDS = 4;

/**
 * RFC 4518 §2 string preparation of an attribute value for caseIgnoreMatch:
 *
 * 1. §2.1 Transcode — the caller has already decoded the ASN.1 string type to a JS string.
 * 2. §2.2 Map — the code points above to nothing or to SPACE, then full Unicode case folding
 *    (CaseFolding.txt status C+F: ß -> ss, İ -> i̇, and dotless ı stays ı).
 * 3. §2.3 Normalize — NFKC.
 * 4. §2.4 Prohibit — any prohibited code point fails the preparation.
 * 5. §2.5 Check bidi — RFC 4518 performs no bidi check ("Bidirectional characters are ignored").
 * 6. §2.6.1 Insignificant space handling for attribute values.
 *
 * Steps 2-3 run until they settle: RFC 4518 §2.2 folds with RFC 3454 table B.2, which is
 * CaseFolding.txt closed under NFKC (RFC 3454 §6 FC_NFKC_Closure; e.g. ℂ U+2102 -> "c" and
 * ㎒ U+3392 -> "mhz"). Folding again after NFKC reaches the same closure (as Unicode §3.13 D146
 * compatibility caseless matching does) without a second table, and keeps preparation idempotent.
 *
 * The RFC's §2.6.1 output is SPACE + core + SPACE, where the core has inner runs of spaces as
 * exactly two and is empty for an all-space value ("exactly two SPACEs"). We return the core:
 * two values compare equal exactly when their RFC outputs do, and preparing the core again gives
 * the core back (the RFC form does not have that property when the core starts with a combining
 * mark, since its leading SPACE would then carry the mark).
 */
export function prepareCaseIgnore(value: string): PreparedValue {
  let prepared = value;
  for (let round = 0; ; round++) {
    const next = caseFold(prepared.replace(MAPPED_TO_NOTHING, '').replace(MAPPED_TO_SPACE, ' ')).normalize('NFKC');
    if (next === prepared) break;
    if (round === MAX_ROUNDS) return { ok: false, problem: 'does not settle under case folding and NFKC' };
    prepared = next;
  }
  const prohibited = PROHIBITED.exec(prepared);
  if (prohibited) return { ok: false, problem: `prohibited character ${codePointName(prohibited[0])}` };
  // split() leaves '' before a leading and after a trailing run; inner runs become exactly two.
  return { ok: true, value: prepared.split(INSIGNIFICANT_SPACES).filter((part) => part !== '').join('  ') };
}

function codePointName(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
