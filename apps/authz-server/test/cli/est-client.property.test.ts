// The CLI's reader of EST answers (cli/est-client.ts certsOnly): whatever a server, or something
// between it and us, sends back as a certs-only body — random text, random bytes in base64, a
// real answer mutated or cut short — it returns certificates or refuses with a CommandError
// naming the operation; it never throws anything else and never hangs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CommandError } from '../../src/cli/admin/errors.ts';
import { certsOnly } from '../../src/cli/est-client.ts';
import { x509 } from '../../src/mtls/x509.ts';
import { issueCertificate } from '../../src/pki/issue.ts';

function readsOrRefuses(text: string): void {
  try {
    const certs = certsOnly('simpleenroll', text);
    assert.ok(certs.length > 0);
  } catch (error) {
    assert.ok(error instanceof CommandError, `not a CommandError: ${(error as Error)?.stack ?? String(error)}`);
    assert.match(error.message, /^simpleenroll: /);
  }
}

describe('certsOnly (EST answer reader)', async () => {
  const root = await issueCertificate({ subject: 'CN=property root', ca: true, days: 1 });
  const leaf = await issueCertificate({ subject: 'CN=property leaf', issuer: root, days: 1 });
  const real = Buffer.from(new x509.X509Certificates([leaf, root].map((c) => new x509.X509Certificate(c.cert.raw))).export('raw'));

  it('reads a real answer, with or without line breaks', () => {
    assert.deepEqual(certsOnly('x', real.toString('base64')).map((c) => c.subject), ['CN=property leaf', 'CN=property root']);
    assert.equal(certsOnly('x', `${real.toString('base64').replace(/(.{64})/g, '$1\r\n')}\r\n`).length, 2);
  });

  it('names what is wrong: empty, not base64, not PKCS#7', () => {
    assert.throws(() => certsOnly('cacerts', ''), /^CommandError: cacerts: the answer is not base64$/);
    assert.throws(() => certsOnly('cacerts', '<html>502 Bad Gateway</html>'), /cacerts: the answer is not base64/);
    assert.throws(() => certsOnly('cacerts', Buffer.from('hello').toString('base64')), /cacerts: the answer is not a PKCS#7 certs-only message/);
  });

  it('random text and random bytes: a certificate list or a CommandError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), readsOrRefuses), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => readsOrRefuses(Buffer.from(bytes).toString('base64'))), { numRuns: 500 });
  });

  it('a real answer with bytes flipped, cut short or spliced: a certificate list or a CommandError', () => {
    const mutated = fc.oneof(
      fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
        const copy = Buffer.from(real);
        for (const [at, xor] of flips) copy[at] ^= xor;
        return copy;
      }),
      fc.nat(real.length - 1).map((n) => real.subarray(0, n)),
      fc.tuple(fc.nat(real.length - 1), fc.uint8Array({ minLength: 1, maxLength: 40 }))
        .map(([at, junk]) => Buffer.concat([real.subarray(0, at), junk, real.subarray(at)])),
    );
    fc.assert(fc.property(mutated, (bytes) => readsOrRefuses(bytes.toString('base64'))), { numRuns: 1000 });
  });
});
