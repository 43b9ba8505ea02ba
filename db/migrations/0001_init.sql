-- certbound initial schema. Append-only: never edit this file once applied (see db/README.md).

-- Every oidc-provider model kept in PostgreSQL (Grant, RefreshToken, ...), one generic table:
-- the payload is opaque to us, the columns are what we query and expire by.
create table oidc_models (
  model text not null,
  id text not null,
  payload jsonb not null,
  expires_at timestamptz,   -- null: the model never expires (a Grant without exp)
  consumed_at timestamptz,  -- set by consume(); find() reports it as payload.consumed
  primary key (model, id)
);

-- Session lookup by its fixed uid (findByUid).
create index oidc_models_uid_idx on oidc_models (model, (payload->>'uid'))
  where payload->>'uid' is not null;
-- Device flow lookup by user code (findByUserCode).
create index oidc_models_user_code_idx on oidc_models (model, (payload->>'userCode'))
  where payload->>'userCode' is not null;
-- revokeByGrantId: only token models carry a grantId.
create index oidc_models_grant_id_idx on oidc_models ((payload->>'grantId'))
  where payload->>'grantId' is not null;
-- Cleanup of expired rows.
create index oidc_models_expires_at_idx on oidc_models (expires_at)
  where expires_at is not null;

-- Registered OAuth clients. metadata is the oidc-provider client metadata (RFC 7591 names),
-- client_id included; version increases on every change for optimistic concurrency.
create table clients (
  client_id text primary key,
  metadata jsonb not null,
  disabled boolean not null default false,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- RFC 8707 resource indicators: the APIs tokens can be issued for.
create table resource_servers (
  identifier text primary key,
  name text,
  scopes text[] not null default '{}',
  token_format text not null default 'jwt' check (token_format in ('jwt', 'opaque')),
  access_token_ttl integer check (access_token_ttl is null or access_token_ttl > 0), -- seconds; null = server default
  sender_constraint_required boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Certificates a client may authenticate with (RFC 8705 self-signed client auth and pinning).
create table client_certificates (
  client_id text not null references clients (client_id) on delete cascade,
  x5t_s256 text not null,           -- base64url SHA-256 of the DER certificate
  pem text not null,
  subject text,
  issuer text,
  sans jsonb not null default '[]',
  serial text,
  not_before timestamptz,
  not_after timestamptz,
  status text not null default 'active',
  created_at timestamptz not null default now(),
  retired_at timestamptz,
  primary key (client_id, x5t_s256)
);
create index client_certificates_x5t_s256_idx on client_certificates (x5t_s256);
create index client_certificates_not_after_idx on client_certificates (not_after);

-- Token signing keys. The private JWK is AES-256-GCM encrypted under KEY_ENCRYPTION_KEY with
-- the kid as additional data; only the public JWK is stored in clear.
create table signing_keys (
  kid text primary key,
  alg text not null,
  public_jwk jsonb not null,
  private_jwk_ciphertext bytea not null,
  iv bytea not null,
  tag bytea not null,
  status text not null default 'active' check (status in ('active', 'retired')),
  created_at timestamptz not null default now()
);
