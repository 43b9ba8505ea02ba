import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { issueCertificate } from '../../../../test/support/pki.ts';

describe('RFC 8705 §3.1 x5t#S256', () => {
  it('is the base64url SHA-256 of the DER certificate, as openssl computes it', async () => {
    const { cert, certPem } = await issueCertificate({ subject: 'CN=thumbprint' });
    const der = execFileSync('openssl', ['x509', '-outform', 'DER'], { input: certPem });
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
    assert.equal(x5tS256(cert), digest.toString('base64url'));
    assert.match(x5tS256(cert), /^[A-Za-z0-9_-]{43}$/);
  });
});
