-- The admin console (issue 15): people sign in to it, so accounts gain roles, and a change made
-- through it is audited under the person who made it as well as the console client.
-- Append-only: never edit this file once applied (see db/README.md).
alter table accounts add column roles text[] not null default '{}';  -- 'admin': may manage certbound through the console
alter table audit_log add column actor_sub text;                      -- the person (token sub) for console changes; null for clients
create index audit_log_actor_sub_idx on audit_log (actor_sub, id) where actor_sub is not null;
