-- End-user accounts for the login page (apps/authz-server/src/accounts/local-accounts.ts): the
-- dev user seeded on first start, and any account an operator adds. A deployment whose people
-- live elsewhere plugs in its own AccountSource and leaves this table empty.
-- Append-only: never edit this file once applied (see db/README.md).
create table accounts (
  account_id text primary key,           -- the token `sub`; never reused
  username text not null,                -- as entered at creation; matched case-insensitively
  password_hash text not null,           -- scrypt$N$r$p$salt$hash (accounts/passwords.ts)
  claims jsonb not null default '{}',    -- OpenID Connect claims: name, email, ...
  disabled boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index accounts_username_idx on accounts (lower(username));
