import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DnSyntaxError, dnMatches, dnPreparationProblem, formatDn, parseDn, subjectDnMatches, subjectDnOf } from '../../src/mtls/subject-dn.ts';
import { issueCertificate } from '../../../../test/support/pki.ts';

const selfSigned = async (subject: string) => (await issueCertificate({ subject })).cert;

describe('RFC 4514 string representation', () => {
  it('keeps the RDNs in the order written, most specific first', () => {
    assert.deepEqual(parseDn('CN=a,O=b'), [[{ oid: '2.5.4.3', value: 'a' }], [{ oid: '2.5.4.10', value: 'b' }]]);
  });

  it('reads attribute types by short name in any case and by dotted OID', () => {
    assert.deepEqual(parseDn('cn=a,Dc=example,2.5.4.11=unit,emailAddress=x@y,uid=u'), [
      [{ oid: '2.5.4.3', value: 'a' }],
      [{ oid: '0.9.2342.19200300.100.1.25', value: 'example' }],
      [{ oid: '2.5.4.11', value: 'unit' }],
      [{ oid: '1.2.840.113549.1.9.1', value: 'x@y' }],
      [{ oid: '0.9.2342.19200300.100.1.1', value: 'u' }],
    ]);
  });

  it('decodes every escape of §2.4 and UTF-8 hex pairs', () => {
    assert.equal(parseDn('CN=\\,\\+\\"\\\\\\<\\>\\;\\=\\#\\ ')[0][0].value, ',+"\\<>;=# ');
    assert.equal(parseDn('CN=Jos\\C3\\A9')[0][0].value, 'José');
  });

  it('decodes a #hex BER value of a string type to its text', () => {
    assert.equal(parseDn('CN=#0c03616263')[0][0].value, 'abc'); // UTF8String "abc"
    assert.equal(parseDn('CN=#1e0400610062')[0][0].value, 'ab'); // BMPString "ab"
  });

  it('keeps a #hex value of another type as its encoding', () => {
    assert.deepEqual(parseDn('1.2.3.4=#040102')[0][0].value, Uint8Array.from([4, 1, 2]));
  });

  it('reads "+" as a multi-valued RDN', () => {
    assert.equal(parseDn('CN=a+UID=b,O=c')[0].length, 2);
  });

  it('treats spaces around separators as insignificant', () => {
    assert.deepEqual(parseDn(' CN = a , O = b '), parseDn('CN=a,O=b'));
  });

  it('parses the empty string as the empty DN', () => {
    assert.deepEqual(parseDn(''), []);
  });

  for (const [input, problem] of [
    ['CN', 'expected "=" at position 2'],
    ['CN=a;O=b', 'unescaped ";" at position 4'],
    ['CN=a<b', 'unescaped "<" at position 4'],
    ['FOO=x', 'unknown attribute type "FOO" at position 0'],
    ['CN=a\\', 'invalid escape at position 4'],
    ['CN=\\zz', 'invalid escape at position 3'],
    ['CN=\\C3', 'escaped bytes are not valid UTF-8 at position 6'],
    ['CN=#zz', 'expected hex pairs after "#" at position 3'],
    ['CN=#0c0561', '"#" value is not a BER encoding at position 10'],
    ['CN=a,', 'expected an attribute type at position 5'],
    [',CN=a', 'expected an attribute type at position 0'],
  ] as const) {
    it(`refuses ${JSON.stringify(input)} with a clear error`, () => {
      assert.throws(() => parseDn(input), (error: Error) => {
        assert.ok(error instanceof DnSyntaxError);
        assert.equal(error.message, `invalid distinguished name "${input}": ${problem}`);
        return true;
      });
    });
  }

  it('formats with §2.4 escaping and round-trips', () => {
    const tricky = 'CN=\\ lead\\, and \\+ trail\\ ,O=\\#hash\\<\\>\\;\\"\\\\';
    assert.equal(formatDn(parseDn(tricky)), tricky);
    assert.equal(formatDn(parseDn('cn=a, o=b')), 'CN=a,O=b');
  });
});

describe('subjectDnOf', () => {
  it('renders the certificate subject in RFC 4514 order from the DER', async () => {
    const cert = await selfSigned('CN=demo-client,OU=payments,O=certbound dev,C=DE');
    assert.equal(subjectDnOf(cert), 'CN=demo-client,OU=payments,O=certbound dev,C=DE');
    // node's own text is in ASN.1 order, which is why we do not use it
    assert.equal(cert.subject.split('\n')[0], 'C=DE');
  });

  it('renders multi-valued RDNs and escapes', async () => {
    const cert = await selfSigned('CN=Smith\\, John+UID=jsmith,O=Acme\\+Co');
    assert.match(subjectDnOf(cert), /^(CN=Smith\\, John\+UID=jsmith|UID=jsmith\+CN=Smith\\, John),O=Acme\\\+Co$/);
  });
});

describe('RFC 8705 §2.1.2 subject DN matching (RFC 4517 distinguishedNameMatch)', () => {
  let cert: X509Certificate;
  before(async () => {
    cert = await selfSigned('CN=demo-client,O=certbound dev,C=DE');
  });

  const cases: Array<[string, string, boolean]> = [
    ['accepts the DN exactly as the certificate renders it', 'CN=demo-client,O=certbound dev,C=DE', true],
    ['accepts attribute types in another case', 'cn=demo-client,o=certbound dev,c=DE', true],
    ['accepts attribute types given as OIDs', '2.5.4.3=demo-client,2.5.4.10=certbound dev,2.5.4.6=DE', true],
    ['accepts values in another case', 'CN=DEMO-Client,O=Certbound Dev,C=de', true],
    ['accepts spaces after the separators', 'CN=demo-client, O=certbound dev, C=DE', true],
    ['accepts insignificant spaces inside values', 'CN=  demo-client ,O=certbound   dev,C=DE', true],
    ['accepts a value spelled with hex escapes', 'CN=demo\\2Dclient,O=certbound\\20dev,C=DE', true],
    ['accepts a value given as #hex BER', 'CN=#0c0b64656d6f2d636c69656e74,O=certbound dev,C=DE', true],
    ['refuses a DN that differs by one RDN', 'CN=demo-client,O=certbound dev,C=DE,DC=extra', false],
    ['refuses a DN with one RDN less', 'CN=demo-client,O=certbound dev', false],
    ['refuses the same RDNs in swapped order', 'O=certbound dev,CN=demo-client,C=DE', false],
    ['refuses a different value', 'CN=demo-client2,O=certbound dev,C=DE', false],
    ['refuses a different attribute type with the same value', 'OU=demo-client,O=certbound dev,C=DE', false],
    ['refuses (never throws on) a malformed expected DN', 'CN=demo-client;O=certbound dev', false],
  ];
  for (const [title, expected, result] of cases) {
    it(title, () => assert.equal(subjectDnMatches(cert, expected), result));
  }

  it('compares multi-valued RDNs as sets', async () => {
    const multi = await selfSigned('CN=a+UID=b,O=c');
    assert.equal(subjectDnMatches(multi, 'UID=b+CN=a,O=c'), true);
    assert.equal(subjectDnMatches(multi, 'cn=A + uid=B, o=C'), true);
    assert.equal(subjectDnMatches(multi, 'CN=a,UID=b,O=c'), false); // two RDNs, not one
    assert.equal(subjectDnMatches(multi, 'CN=a+UID=b+OU=x,O=c'), false);
  });

  it('matches values that need escaping', async () => {
    const escaped = await selfSigned('CN=Smith\\, John,O=Acme\\+Co,L=Jos\\C3\\A9');
    assert.equal(subjectDnMatches(escaped, 'cn=smith\\2C john, o=ACME\\+co, l=josé'), true);
    assert.equal(subjectDnMatches(escaped, 'CN=Smith,CN=John,O=Acme\\+Co,L=José'), false);
  });

  it('matches values however the certificate encodes the string', () => {
    // PrintableString, UTF8String, BMPString "DE" are the same value
    assert.equal(dnMatches('C=#13024445', 'C=de'), true);
    assert.equal(dnMatches('C=#0c024445', 'C=#1e0400440045'), true);
  });

  it('compares non-string values by their exact encoding', () => {
    assert.equal(dnMatches('1.2.3.4=#040102', '1.2.3.4=#040102'), true);
    assert.equal(dnMatches('1.2.3.4=#040102', '1.2.3.4=#040103'), false);
  });

  it('never matches garbage in place of a certificate', () => {
    assert.equal(subjectDnMatches({} as X509Certificate, 'CN=a'), false);
  });
});

describe('RFC 4518 string preparation inside distinguishedNameMatch', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['refuses a dotless ı (U+0131) for i', 'CN=adm\u0131n-partner,O=Example', 'CN=admin-partner,O=Example', false],
    ['refuses a dotless ı against the capital I', 'CN=adm\u0131n', 'CN=ADMIN', false],
    ['accepts ß for SS', 'O=Stra\u00DFe GmbH', 'O=STRASSE GMBH', true],
    ['accepts ẞ (U+1E9E) for ss', 'O=STRA\u1E9EE', 'O=strasse', true],
    ['refuses İ (U+0130) for plain i', 'L=\u0130stanbul', 'L=istanbul', false],
    ['accepts İ for i + COMBINING DOT ABOVE', 'L=\u0130stanbul', 'L=i\u0307stanbul', true],
    ['accepts the KELVIN SIGN for k', 'CN=\u212Aey', 'CN=key', true],
    ['accepts fullwidth letters (NFKC)', 'CN=\uFF21\uFF22\uFF23', 'cn=abc', true],
    ['ignores a soft hyphen', 'CN=ad\u00ADmin', 'CN=admin', true],
    ['reads NO-BREAK SPACE and IDEOGRAPHIC SPACE as SPACE', 'O=certbound\u00A0dev,OU=a\u3000b', 'O=certbound dev,OU=a b', true],
    ['reads an escaped TAB as SPACE', 'O=certbound\\09dev', 'O=certbound dev', true],
    ['still tells values apart by a significant space', 'O=certbound dev', 'O=certbounddev', false],
  ];
  for (const [title, a, b, result] of cases) {
    it(`${title}: ${a} vs ${b}`, () => {
      assert.equal(dnMatches(a, b), result);
      assert.equal(dnMatches(b, a), result);
    });
  }

  it('never matches a DN holding an RFC 4518 §2.4 prohibited character, not even itself', () => {
    for (const dn of ['CN=admin\uE000,O=Example', 'CN=\uFFFD', 'O=Example,CN=x\u{F0000}', 'CN=a+UID=\uFDD0', 'CN=\\EE\\80\\80']) {
      assert.equal(dnMatches(dn, dn), false, dn);
    }
  });

  it('names the attribute and the character that cannot be prepared', () => {
    assert.equal(dnPreparationProblem(parseDn('CN=ok,O=Exa\uE000mple')), 'O value: prohibited character U+E000');
    assert.equal(dnPreparationProblem(parseDn('CN=ok,O=Example')), undefined);
    assert.equal(dnPreparationProblem(parseDn('1.2.3.4=#040102')), undefined, 'a non-string value is compared by its encoding');
  });

  it('does not match a certificate holding a prohibited character with the same registered DN', async () => {
    const cert = await selfSigned('CN=admin\uE000,O=Example');
    assert.equal(subjectDnOf(cert), 'CN=admin\uE000,O=Example');
    assert.equal(subjectDnMatches(cert, 'CN=admin\uE000,O=Example'), false);
    assert.equal(subjectDnMatches(cert, 'CN=admin,O=Example'), false);
  });

  it('never matches an empty or blank registered DN, not even a certificate with an empty subject', async () => {
    const sanOnly = (await issueCertificate({ subject: '', sanDns: ['partner.example.com'] })).cert;
    assert.equal(subjectDnOf(sanOnly), '');
    for (const registered of ['', ' ', '   ']) assert.equal(subjectDnMatches(sanOnly, registered), false, JSON.stringify(registered));
    const named = await selfSigned('CN=a');
    assert.equal(subjectDnMatches(named, ''), false);
  });
});

// RFC 4514 strings built from parts (so most parse), then mutated (so many do not).
const attributeType = fc.constantFrom('CN', 'cn', 'O', 'OU', 'C', 'L', 'ST', 'DC', 'UID', 'emailAddress', '2.5.4.3', '1.2.3.4', 'FOO');
const valueChar = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom(' ', '\\', '\\,', '\\+', '\\20', '\\C3\\A9', '\\C3', '#', '"', ';', '=', '+', ',', '\u00AD', '\u0131', 'ß', 'İ', '\u212A', '\uFF21', '\u0301', '\uE000', '\uFFFD'),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
);
const ava = fc.tuple(attributeType, fc.constantFrom('=', ' = ', '='), fc.oneof(fc.string({ unit: valueChar, maxLength: 12 }), fc.constantFrom('#0c03616263', '#040102', '#zz')))
  .map(([type, eq, value]) => `${type}${eq}${value}`);
const rdn = fc.array(ava, { minLength: 1, maxLength: 3 }).map((avas) => avas.join('+'));
const dnString = fc.array(rdn, { maxLength: 5 }).map((rdns) => rdns.join(','));
const mutatedDn = fc.tuple(dnString, fc.nat(), fc.nat({ max: 3 }), fc.string({ unit: valueChar, maxLength: 3 }))
  .map(([dn, at, cut, insert]) => dn.slice(0, at % (dn.length + 1)) + insert + dn.slice(at % (dn.length + 1) + cut));
const anyDn = fc.oneof(dnString, mutatedDn, fc.string({ unit: 'binary', maxLength: 40 }));

describe('distinguishedNameMatch on random and mutated RFC 4514 strings (property tests)', () => {
  let cert: X509Certificate;
  before(async () => {
    cert = await selfSigned('CN=demo-client,O=certbound dev,C=DE');
  });

  it('subjectDnMatches never throws', () => {
    fc.assert(fc.property(anyDn, (expected) => {
      assert.equal(typeof subjectDnMatches(cert, expected), 'boolean');
    }), { numRuns: 3000 });
  });

  it('dnMatches answers, or refuses malformed input with DnSyntaxError and nothing else', () => {
    fc.assert(fc.property(anyDn, anyDn, (a, b) => {
      try {
        assert.equal(typeof dnMatches(a, b), 'boolean');
      } catch (err) {
        assert.ok(err instanceof DnSyntaxError, String(err));
      }
    }), { numRuns: 3000 });
  });

  it('a DN matches itself exactly when every value can be prepared', () => {
    fc.assert(fc.property(dnString, (dn) => {
      let rdns;
      try {
        rdns = parseDn(dn);
      } catch {
        return;
      }
      assert.equal(dnMatches(dn, dn), dnPreparationProblem(rdns) === undefined);
    }), { numRuns: 2000 });
  });

  it('a certificate matches its own subject exactly when every value can be prepared', async () => {
    // Built as RDNs and written with formatDn, so every one parses and is issued as a certificate.
    const stringValue = fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), valueChar), maxLength: 12 });
    const subjectRdns = fc.array(fc.array(fc.record({ oid: fc.constantFrom('2.5.4.3', '2.5.4.10', '2.5.4.11', '0.9.2342.19200300.100.1.25'), value: stringValue }), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 3 });
    let issued = 0;
    await fc.assert(fc.asyncProperty(subjectRdns, async (rdns) => {
      const cert = await selfSigned(formatDn(rdns));
      issued++;
      const subject = subjectDnOf(cert);
      assert.equal(subjectDnMatches(cert, subject), dnPreparationProblem(parseDn(subject)) === undefined, subject);
    }), { numRuns: 40, endOnFailure: true }); // no shrinking: each step issues a certificate
    assert.equal(issued, 40);
  });
});
