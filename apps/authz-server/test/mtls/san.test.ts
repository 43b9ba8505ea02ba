import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { sanMatches, sansOf } from '../../src/mtls/san.ts';
import { issueCertificate } from '../../../../test/support/pki.ts';

describe('RFC 8705 §2.1.2 subject alternative name matching', () => {
  let cert: X509Certificate;
  let bare: X509Certificate;
  before(async () => {
    cert = (
      await issueCertificate({
        subject: 'CN=ledger',
        sanDns: ['Ledger.Example.com', '*.payments.example.com'],
        sanIp: ['192.0.2.10', '2001:db8::1', '::ffff:198.51.100.7'],
        sanUri: ['spiffe://example.org/ns/payments/sa/ledger', 'https://partner.example/clients/Ledger'],
        sanEmail: ['Ops.Team@Example.COM'],
      })
    ).cert;
    bare = (await issueCertificate({ subject: 'CN=no-sans' })).cert;
  });

  it('lists the SANs by kind, IPs in canonical text', () => {
    assert.deepEqual(sansOf(cert), {
      dns: ['Ledger.Example.com', '*.payments.example.com'],
      ip: ['192.0.2.10', '2001:db8::1', '198.51.100.7'],
      uri: ['spiffe://example.org/ns/payments/sa/ledger', 'https://partner.example/clients/Ledger'],
      email: ['Ops.Team@Example.COM'],
    });
    assert.deepEqual(sansOf(bare), { dns: [], ip: [], uri: [], email: [] });
  });

  describe('tls_client_auth_san_dns', () => {
    it('matches case-insensitively', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_dns', 'ledger.example.COM'), true));
    it('matches a wildcard SAN only as the literal registered wildcard', () => {
      assert.equal(sanMatches(cert, 'tls_client_auth_san_dns', '*.payments.example.com'), true);
      assert.equal(sanMatches(cert, 'tls_client_auth_san_dns', 'api.payments.example.com'), false);
    });
    it('refuses a different name', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_dns', 'example.com'), false));
  });

  describe('tls_client_auth_san_ip', () => {
    it('matches IPv4', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '192.0.2.10'), true));
    it('compares IPv6 as addresses, not spellings', () => {
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '2001:0DB8:0:0:0:0:0:1'), true);
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '2001:db8::2'), false);
    });
    it('treats an IPv4-mapped IPv6 address as the IPv4 address', () => {
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '198.51.100.7'), true);
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '::ffff:192.0.2.10'), true);
    });
    it('never matches something that is not an address', () => {
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', '192.0.2.10/32'), false);
      assert.equal(sanMatches(cert, 'tls_client_auth_san_ip', 'localhost'), false);
    });
    it('equates ::1 and 0:0:0:0:0:0:0:1', async () => {
      const loopback = (await issueCertificate({ subject: 'CN=lo', sanIp: ['0:0:0:0:0:0:0:1'] })).cert;
      assert.equal(sanMatches(loopback, 'tls_client_auth_san_ip', '::1'), true);
    });
  });

  describe('tls_client_auth_san_uri', () => {
    it('matches a SPIFFE ID exactly', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_uri', 'spiffe://example.org/ns/payments/sa/ledger'), true));
    it('refuses a URI that differs in case or by a trailing slash', () => {
      assert.equal(sanMatches(cert, 'tls_client_auth_san_uri', 'https://partner.example/clients/ledger'), false);
      assert.equal(sanMatches(cert, 'tls_client_auth_san_uri', 'spiffe://example.org/ns/payments/sa/ledger/'), false);
    });
    it('refuses a prefix', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_uri', 'spiffe://example.org/ns/payments'), false));
  });

  describe('tls_client_auth_san_email', () => {
    it('matches with the domain in any case', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_email', 'Ops.Team@example.com'), true));
    it('refuses a local part in another case', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_email', 'ops.team@Example.COM'), false));
    it('refuses a malformed address', () => assert.equal(sanMatches(cert, 'tls_client_auth_san_email', 'Ops.Team'), false));
  });

  it('never matches a value of one kind against SANs of another', () => {
    assert.equal(sanMatches(cert, 'tls_client_auth_san_uri', 'Ledger.Example.com'), false);
    assert.equal(sanMatches(cert, 'tls_client_auth_san_dns', '192.0.2.10'), false);
  });

  it('never matches when the certificate has no SAN extension, or is garbage', () => {
    assert.equal(sanMatches(bare, 'tls_client_auth_san_dns', 'no-sans'), false);
    assert.equal(sanMatches({} as X509Certificate, 'tls_client_auth_san_dns', 'x'), false);
  });
});
