import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { DnSyntaxError, dnMatches, formatDn, parseDn, subjectDnMatches, subjectDnOf } from '../../src/mtls/subject-dn.ts';
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
    assert.equal(parseDn('CN=\\,\\+\\"\\\\\\<\\>\\;\\=\\#\\ ')[0]![0]!.value, ',+"\\<>;=# ');
    assert.equal(parseDn('CN=Jos\\C3\\A9')[0]![0]!.value, 'José');
  });

  it('decodes a #hex BER value of a string type to its text', () => {
    assert.equal(parseDn('CN=#0c03616263')[0]![0]!.value, 'abc'); // UTF8String "abc"
    assert.equal(parseDn('CN=#1e0400610062')[0]![0]!.value, 'ab'); // BMPString "ab"
  });

  it('keeps a #hex value of another type as its encoding', () => {
    assert.deepEqual(parseDn('1.2.3.4=#040102')[0]![0]!.value, Uint8Array.from([4, 1, 2]));
  });

  it('reads "+" as a multi-valued RDN', () => {
    assert.equal(parseDn('CN=a+UID=b,O=c')[0]!.length, 2);
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
