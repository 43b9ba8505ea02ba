-- Scopes belong to resource servers: a client's flat `scope` becomes `resources`, an object
-- mapping each resource server the client holds to the scopes of it the client holds
-- (apps/authz-server/src/oidc/resource-indicators.ts). Append-only: never edit this file once
-- applied (see db/README.md).
--
-- No grant is lost. Before, a scope in `scope` was granted on any resource server defining it, so
-- each scope goes to EVERY resource server that defines it (a name two resource servers share is
-- now held on both: visible, and removable per resource server). The default_resource is held,
-- with no scopes when none of the client's scopes are its. openid and offline_access stay in
-- `scope`; a scope no resource server defines granted nothing and is dropped. What goes is only
-- what the change closes: a token for a resource the client holds nothing of, and the
-- audience-less token. The admin resource is moved like any other; the token endpoint refuses it
-- to clients not in ADMIN_CLIENT_IDS, and the server names those clients in a warning at start.
--
-- Each moved client gets version + 1 (its ETag changes) and one audit row, actor `certbound`,
-- request `migration-0004`. Clients already holding `resources` are left alone.
with legacy as (
  select c.client_id, c.metadata,
         case when jsonb_typeof(c.metadata->'scope') = 'string'
              then regexp_split_to_array(btrim(c.metadata->>'scope'), '\s+') else '{}'::text[] end as scopes
  from clients c
  where not (c.metadata ? 'resources')
),
tokens as (
  select l.client_id, t.scope, t.ord
  from legacy l, unnest(l.scopes) with ordinality as t(scope, ord)
  where t.scope <> ''
),
granted as (
  select t.client_id, rs.identifier, jsonb_agg(t.scope order by t.ord) as scopes
  from tokens t join resource_servers rs on t.scope = any(rs.scopes)
  where t.scope not in ('openid', 'offline_access')
  group by t.client_id, rs.identifier
),
defaults as (
  select l.client_id, l.metadata->>'default_resource' as identifier, '[]'::jsonb as scopes
  from legacy l
  where jsonb_typeof(l.metadata->'default_resource') = 'string'
    and not exists (select 1 from granted g where g.client_id = l.client_id and g.identifier = l.metadata->>'default_resource')
),
held as (
  select h.client_id, jsonb_object_agg(h.identifier, h.scopes) as resources
  from (select client_id, identifier, scopes from granted union all select client_id, identifier, scopes from defaults) h
  group by h.client_id
),
statics as (
  select client_id, string_agg(scope, ' ' order by ord) as scope
  from tokens where scope in ('openid', 'offline_access')
  group by client_id
),
moved as (
  update clients c
     set metadata = (c.metadata - 'scope' - 'resource_scopes')
                    || jsonb_build_object('resources', coalesce(h.resources, '{}'::jsonb))
                    || case when s.scope is null then '{}'::jsonb else jsonb_build_object('scope', s.scope) end,
         version = c.version + 1,
         updated_at = now()
    from legacy l
    left join held h on h.client_id = l.client_id
    left join statics s on s.client_id = l.client_id
   where c.client_id = l.client_id
  returning c.client_id, l.metadata as before_metadata, c.metadata as after_metadata
)
insert into audit_log (request_id, actor_client_id, action, target, before, after)
select 'migration-0004', 'certbound', 'client.update', 'clients/' || m.client_id,
       jsonb_build_object('scope', coalesce(m.before_metadata->'scope', 'null'::jsonb), 'resources', null),
       jsonb_build_object('scope', coalesce(m.after_metadata->'scope', 'null'::jsonb), 'resources', m.after_metadata->'resources')
from moved m;
