// RFC 4518 string preparation for caseIgnoreMatch values, step by step, then as properties of
// random Unicode input (the DN values it prepares come from certificates off the network).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { prepareCaseIgnore } from '../../src/mtls/string-prep.ts';

/** The prepared value of a value that must prepare. */
function prepared(value: string): string {
  const result = prepareCaseIgnore(value);
  assert.ok(result.ok, `${JSON.stringify(value)} did not prepare: ${result.ok ? '' : result.problem}`);
  return result.value;
}

/** caseIgnoreMatch of two values that both prepare. */
function same(a: string, b: string): boolean {
  return prepared(a) === prepared(b);
}

/** RFC 4518 §2.6.1's own output for attribute values: the prepared core between two SPACEs. */
function rfcForm(value: string): string {
  return ` ${prepared(value)} `;
}

describe('RFC 4518 §2.2 map', () => {
  it('maps SOFT HYPHEN, MONGOLIAN TODO SOFT HYPHEN, CGJ, variation selectors and OBJECT REPLACEMENT CHARACTER to nothing', () => {
    for (const ignored of ['\u00AD', '\u1806', '\u034F', '\u180B', '\u180D', '\uFE00', '\uFE0F', '\uFFFC']) {
      assert.equal(prepared(`ad${ignored}min`), 'admin', `U+${ignored.codePointAt(0)!.toString(16)}`);
    }
  });

  it('maps ZERO WIDTH SPACE and the listed control and format code points to nothing', () => {
    for (const ignored of ['\u200B', '\u0000', '\u0008', '\u001F', '\u007F', '\u0084', '\u0086', '\u009F', '\u06DD', '\u070F', '\u180E', '\u200C', '\u200D', '\u200E', '\u200F', '\u202A', '\u202E', '\u2060', '\u2063', '\u206A', '\u206F', '\uFEFF', '\uFFF9', '\uFFFB', '\u{1D173}', '\u{1D17A}', '\u{E0001}', '\u{E0020}', '\u{E007F}']) {
      assert.equal(prepared(`ad${ignored}min`), 'admin', `U+${ignored.codePointAt(0)!.toString(16)}`);
    }
  });

  it('ignores a soft hyphen: "ad\\u00ADmin" = "admin"', () => {
    assert.equal(same('ad\u00ADmin', 'admin'), true);
  });

  it('maps TAB, LF, VT, FF, CR and NEL to SPACE', () => {
    for (const space of ['\t', '\n', '\u000B', '\f', '\r', '\u0085']) {
      assert.equal(same(`certbound${space}dev`, 'certbound dev'), true, `U+${space.codePointAt(0)!.toString(16)}`);
    }
  });

  it('maps NO-BREAK SPACE, IDEOGRAPHIC SPACE and every other listed separator to SPACE', () => {
    for (const space of ['\u00A0', '\u1680', '\u2000', '\u2005', '\u200A', '\u2028', '\u2029', '\u202F', '\u205F', '\u3000']) {
      assert.equal(same(`certbound${space}dev`, 'certbound dev'), true, `U+${space.codePointAt(0)!.toString(16)}`);
    }
  });

  describe('case folding (full Unicode case folding, CaseFolding.txt C+F, as RFC 3454 table B.2)', () => {
    it('does not fold dotless ı (U+0131) to i: "admın" ≠ "admin"', () => {
      assert.equal(prepared('adm\u0131n'), 'adm\u0131n');
      assert.equal(same('adm\u0131n', 'admin'), false);
      assert.equal(same('adm\u0131n', 'ADMIN'), false);
    });

    it('folds ASCII capitals: "ADMIN" = "admin"', () => {
      assert.equal(same('ADMIN', 'admin'), true);
    });

    it('folds ß and ẞ (U+1E9E) to ss: "STRASSE" = "straße" = "STRAẞE"', () => {
      assert.equal(prepared('stra\u00DFe'), 'strasse');
      assert.equal(same('STRASSE', 'stra\u00DFe'), true);
      assert.equal(same('STRA\u1E9EE', 'strasse'), true);
    });

    it('folds İ (U+0130) to i + COMBINING DOT ABOVE, not to i', () => {
      assert.equal(prepared('\u0130'), 'i\u0307');
      assert.equal(same('\u0130stanbul', 'istanbul'), false);
      assert.equal(same('\u0130stanbul', 'i\u0307stanbul'), true);
    });

    it('folds the KELVIN SIGN (U+212A) to k', () => {
      assert.equal(same('\u212Aey', 'key'), true);
    });

    it('folds final sigma and capital sigma to σ', () => {
      assert.equal(same('ΟΔΟΣ', 'οδος'), true);
    });

    it('folds Cherokee small letters to their capitals, as CaseFolding.txt does', () => {
      assert.equal(same('\uAB70\uAB71', '\u13A0\u13A1'), true);
      assert.equal(same('\u13F8', '\u13F0'), true);
    });

    it('folds what NFKC makes a capital, as B.2 does: ℂ = c, ㎒ = mhz', () => {
      assert.equal(same('\u2102', 'c'), true);
      assert.equal(same('\u3392', 'MHz'), true);
    });
  });
});

describe('RFC 4518 §2.3 normalize (NFKC)', () => {
  it('takes fullwidth letters to ASCII: "ＡＢＣ" = "abc"', () => {
    assert.equal(prepared('\uFF21\uFF22\uFF23'), 'abc');
  });

  it('composes: é precomposed = e + COMBINING ACUTE ACCENT', () => {
    assert.equal(same('Jos\u00E9', 'Jose\u0301'), true);
  });

  it('expands compatibility ligatures: "ﬁnance" = "finance"', () => {
    assert.equal(same('\uFB01nance', 'finance'), true);
  });
});

describe('RFC 4518 §2.4 prohibit', () => {
  for (const [what, char, name] of [
    ['a private-use character', '\uE000', 'U+E000'],
    ['a supplementary private-use character', '\u{F0000}', 'U+F0000'],
    ['REPLACEMENT CHARACTER', '\uFFFD', 'U+FFFD'],
    ['an unassigned code point', '\u0378', 'U+0378'],
    ['a non-character', '\uFDD0', 'U+FDD0'],
    ['a non-character at the end of a plane', '\u{10FFFF}', 'U+10FFFF'],
    ['a lone surrogate', '\uD800', 'U+D800'],
  ] as const) {
    it(`refuses a value with ${what} (${name})`, () => {
      assert.deepEqual(prepareCaseIgnore(`admin${char}`), { ok: false, problem: `prohibited character ${name}` });
    });
  }

  it('checks after mapping: a mapped-away control character is not a refusal', () => {
    assert.deepEqual(prepareCaseIgnore('a\u0000b'), { ok: true, value: 'ab' });
  });
});

describe('RFC 4518 §2.5 check bidi', () => {
  it('performs none: right-to-left text prepares as it is', () => {
    assert.equal(prepared('\u05E9\u05DC\u05D5\u05DD abc'), '\u05E9\u05DC\u05D5\u05DD  abc');
  });
});

describe('RFC 4518 §2.6.1 insignificant space handling (attribute values)', () => {
  it('gives an empty or all-space value exactly two SPACEs', () => {
    assert.equal(rfcForm(''), '  ');
    assert.equal(rfcForm('     '), '  ');
    assert.equal(rfcForm('\u00A0\t\u3000'), '  ');
    assert.equal(same('', '   '), true);
  });

  it('starts and ends any other value with exactly one SPACE and makes inner runs exactly two', () => {
    assert.equal(rfcForm('   certbound    dev  '), ' certbound  dev ');
    assert.equal(rfcForm('certbound dev'), ' certbound  dev ');
  });

  it('compares values equal whatever the length of their space runs', () => {
    assert.equal(same(' certbound dev', 'certbound     dev   '), true);
    assert.equal(same('certbound dev', 'certbounddev'), false);
  });

  it('treats a SPACE followed by a combining mark as significant', () => {
    assert.equal(prepared(' \u0301'), ' \u0301');
    assert.equal(same(' \u0301', ''), false);
    assert.equal(same('a \u0301', 'a'), false);
  });

  it('distinguishes a value from the empty value', () => {
    assert.equal(same('a', ''), false);
  });
});

// Code points that are ordinary, those each step of §2 singles out, and lone surrogates.
const interesting = fc.constantFrom(
  ' ', '\t', '\u00A0', '\u3000', '\u00AD', '\u200B', '\uFEFF', '\u0301', '\u0307', '\u0345', 'ß', '\u1E9E', 'İ', 'ı', 'I', 'i', '\u212A',
  'ς', 'Σ', '\uAB70', '\u13F8', '\uFB01', '\uFDFA', '\u2102', '\u3392', '\uFF21', '\uE000', '\uFFFD', '\u0378', '\uFDD0', '\u0340', '\u1100', '\u1161',
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const unicodeUnit = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), weight: 2 },
  { arbitrary: interesting, weight: 4 },
  { arbitrary: loneSurrogate, weight: 1 },
);
const unicodeString = fc.string({ unit: unicodeUnit, maxLength: 64 });

describe('string preparation of random Unicode (property tests)', () => {
  it('never throws, and settles on a value or a named problem', () => {
    fc.assert(fc.property(unicodeString, (value) => {
      const result = prepareCaseIgnore(value);
      if (!result.ok) assert.match(result.problem, /^prohibited character U\+[0-9A-F]{4,6}$/);
    }), { numRuns: 2000 });
  });

  it('is idempotent: preparing a prepared value gives it back', () => {
    fc.assert(fc.property(unicodeString, (value) => {
      const result = prepareCaseIgnore(value);
      if (result.ok) assert.deepEqual(prepareCaseIgnore(result.value), result);
    }), { numRuns: 2000 });
  });

  it('agrees with itself under the mappings it applies: case, width and space variants prepare alike', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 32 }), (value) => {
      const variant = value.toUpperCase().replace(/ /g, '\u3000\u00A0').replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      assert.equal(prepared(variant), prepared(value));
    }), { numRuns: 500 });
  });

  // "Never hangs", not a speed: the bounds are far above a normal run (~1 ms) and far below a hang.
  it('finishes within a time bound, even on long values that expand', () => {
    fc.assert(fc.property(fc.string({ unit: unicodeUnit, minLength: 1000, maxLength: 4000 }), (value) => {
      const started = performance.now();
      prepareCaseIgnore(value);
      assert.ok(performance.now() - started < 2_000, `took ${performance.now() - started} ms for ${value.length} UTF-16 units`);
    }), { numRuns: 100 });
    // NFKC takes U+FDFA to 18 characters: 64 Ki of them (larger than any certificate subject).
    const started = performance.now();
    assert.equal(prepareCaseIgnore('\uFDFA'.repeat(65_536)).ok, true);
    assert.ok(performance.now() - started < 5_000, `took ${performance.now() - started} ms`);
  });
});
