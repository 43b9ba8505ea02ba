// TLS settings shared by both listeners: Mozilla "intermediate" (TLS 1.2 minimum, 1.3 preferred,
// forward-secret AEAD suites only for 1.2; TLS 1.3 suites are OpenSSL's defaults, all AEAD).
import type { SecureContextOptions, TlsOptions } from 'node:tls';

export const MOZILLA_INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface ServerTlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle of the client CAs (validated by mtls/, never by OpenSSL). */
  clientCa: string;
}

function base(material: ServerTlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.2',
    ciphers: MOZILLA_INTERMEDIATE_CIPHERS,
    // Mozilla intermediate: let the client pick among equally strong suites.
    honorCipherOrder: false,
  };
}

export function publicTlsOptions(material: ServerTlsMaterial): TlsOptions {
  // A fixed session id context per listener (Node's default hashes process.argv, which differs
  // between instances) lets every worker and instance resume the others' sessions, and never a
  // public-listener session on the mutual-TLS listener.
  return { ...base(material), requestCert: false, sessionIdContext: 'certbound-public' };
}

export function mutualTlsOptions(material: ServerTlsMaterial): TlsOptions {
  return {
    ...base(material),
    // RFC 8705 §2: ask for a certificate but never drop the handshake over it. A self-signed client
    // (§2.2) or one from an unknown CA must reach the application, which answers with an OAuth
    // error the client can read; trust is decided in mtls/path-validation.ts, not by OpenSSL.
    requestCert: true,
    rejectUnauthorized: false,
    sessionIdContext: 'certbound-mtls',
    // No `ca` here, on purpose: given one, OpenSSL verifies the chain itself and Node then
    // links only the leaf from getPeerX509Certificate(), losing the intermediates the client
    // presented, which path validation needs. Without it the CertificateRequest carries no CA
    // hint, so every client sends its certificate and hears why it was refused, if it was.
  };
}
