-- Certificate enrollment and renewal (EST, RFC 7030; issue 13; apps/authz-server/src/enrollment/).
-- Append-only: never edit this file once applied (see db/README.md).
--
-- issued_certificates: every certificate certbound's issuing CA signed, so a re-enrollment can
-- find its client from the certificate it presents, an admin can revoke it, and the CRL lists
-- the revoked ones. The certificate is also registered in client_certificates (pinned clients
-- accept it at once); this table is the CA's own record.
create table issued_certificates (
  serial text primary key,          -- hex, upper case (node:crypto's X509Certificate.serialNumber)
  client_id text not null,
  x5t_s256 text not null unique,    -- RFC 8705 §3.1 base64url SHA-256 of the DER certificate
  issuer_x5t_s256 text not null,    -- the issuing CA certificate that signed it
  not_before timestamptz not null,
  not_after timestamptz not null,
  issued_by text not null check (issued_by in ('enroll', 'reenroll')),
  previous_x5t_s256 text,           -- re-enrollment: the certificate it renews
  revoked_at timestamptz,
  revocation_reason text,           -- RFC 5280 §5.3.1 CRLReason name
  created_at timestamptz not null default now()
);
create index issued_certificates_client_idx on issued_certificates (client_id, created_at);
create index issued_certificates_revoked_idx on issued_certificates (issuer_x5t_s256, not_after) where revoked_at is not null;

-- enrollment_codes: one-time codes an admin hands a partner for its first enrollment. Only the
-- SHA-256 of the code is stored (the code is 32 random bytes: no salt or slow hash needed).
-- failures counts wrong codes tried for the client; at ENROLLMENT_CODE_MAX_FAILURES its live
-- codes are invalidated.
create table enrollment_codes (
  code_hash text primary key,       -- base64url SHA-256 of the code
  client_id text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  failures integer not null default 0,
  invalidated_at timestamptz
);
create index enrollment_codes_client_idx on enrollment_codes (client_id, created_at);
