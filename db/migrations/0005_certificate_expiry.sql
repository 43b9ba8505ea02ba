-- Certificate expiry notices (issue 12 item 4, apps/authz-server/src/ops/expiry-notices.ts).
-- Append-only: never edit this file once applied (see db/README.md).
--
-- seen_certificates: the certificates clients actually authenticated with. A tls_client_auth
-- client need not register its certificate, yet its expiry must be noticed too: each instance
-- records a certificate when a token is issued to a client that authenticated with it (at most
-- one write per certificate per process per hour, so last_seen is that coarse).
create table seen_certificates (
  client_id text not null,
  x5t_s256 text not null,           -- RFC 8705 §3.1 base64url SHA-256 of the DER certificate
  subject text,
  issuer text,
  not_after timestamptz not null,
  first_seen timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  primary key (client_id, x5t_s256)
);
create index seen_certificates_not_after_idx on seen_certificates (not_after);

-- expiry_notices: one row per certificate per threshold, the claim that makes a notice exactly
-- once across all instances. An instance inserts it (ON CONFLICT DO NOTHING) before it logs and
-- sends: only the inserting instance logs the notice. With a webhook, delivered_at stays null
-- until the POST succeeded; lease_until is when another round (of any instance) may try again,
-- so a failed or interrupted delivery is retried, never lost, and never repeated once delivered.
-- client_id is '' for the server certificate and the trust anchors (kind says which).
-- threshold: days (EXPIRY_NOTICE_DAYS); 0 is the one notice that the certificate has expired.
create table expiry_notices (
  client_id text not null,
  x5t_s256 text not null,
  threshold integer not null check (threshold >= 0),
  kind text not null check (kind in ('client', 'server', 'trust_anchor')),
  not_after timestamptz not null,
  payload jsonb not null,           -- the JSON logged and POSTed, kept so a retry sends the same body
  claimed_at timestamptz not null,
  lease_until timestamptz not null,
  attempts integer not null default 0,
  delivered_at timestamptz,
  last_error text,
  primary key (client_id, x5t_s256, threshold)
);
create index expiry_notices_pending_idx on expiry_notices (lease_until) where delivered_at is null;
