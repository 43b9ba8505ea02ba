-- The management API (/admin/v1): its audit log, certificate status, resource-server versions.
-- Append-only: never edit this file once applied (see db/README.md).

-- Every change made through /admin/v1 (and by the first-start bootstrap), written in the same
-- transaction as the change itself. before/after hold only the fields that changed, never a
-- secret, a private key or a PEM. target is the API path of what changed, relative to /admin/v1:
-- 'clients/<id>', 'clients/<id>/certificates/<x5t#S256>', 'resource-servers/<identifier>'.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  request_id text not null,
  actor_client_id text not null,     -- the admin client, or 'certbound' for the bootstrap
  actor_x5t_s256 text,               -- the certificate the admin presented
  action text not null,              -- 'client.create', 'client.certificate.retire', ...
  target text not null,
  before jsonb,
  after jsonb
);
create index audit_log_target_idx on audit_log (target, id);
create index audit_log_actor_idx on audit_log (actor_client_id, id);
create index audit_log_at_idx on audit_log (at);

-- Append-only. REVOKE UPDATE, DELETE cannot bind the table's owner (the role certbound runs as),
-- so a trigger refuses them for everyone; TRUNCATE too.
create function audit_log_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_log_no_update_delete before update or delete on audit_log
  for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();

-- A client's certificates are active (accepted) or retired (kept for the record).
alter table client_certificates add constraint client_certificates_status_check
  check (status in ('active', 'retired'));

-- Optimistic concurrency for resource servers, as clients have it: ETag = version. The trigger
-- counts every update, whoever writes it.
alter table resource_servers add column version integer not null default 1;
create function resource_servers_bump_version() returns trigger language plpgsql as $$
begin
  new.version := old.version + 1;
  return new;
end
$$;
create trigger resource_servers_version before update on resource_servers
  for each row execute function resource_servers_bump_version();

-- POST /admin/v1/clients/:id/revoke finds a client's grants and refresh tokens.
create index oidc_models_client_id_idx on oidc_models (model, (payload->>'clientId'))
  where model in ('Grant', 'RefreshToken');
