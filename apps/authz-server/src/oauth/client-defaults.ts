// Client metadata as oidc-provider should see it, derived from the RFC 7591 metadata stored for
// the client:
// - RFC 8705 §3 certificate-bound access tokens are on for every client that authenticates
//   with a certificate unless its registration says otherwise;
// - `scope` is split: oidc-provider accepts only the static scopes it was configured with
//   (openid, offline_access), while resource-server scopes are registered at run time. Those
//   move to `resource_scopes`, which resource-servers.ts enforces per audience.
import type { Adapter, AdapterPayload } from 'oidc-provider';

export type AdapterFactory = (model: string) => Adapter;

/** The RFC 8705 §2 client authentication methods: the client proves itself with a certificate. */
export const CERTIFICATE_METHODS: ReadonlySet<string> = new Set(['tls_client_auth', 'self_signed_tls_client_auth']);

export function applyClientDefaults(stored: AdapterPayload, staticScopes: ReadonlySet<string>): AdapterPayload {
  const metadata = { ...stored } as Record<string, unknown>;
  const method = metadata.token_endpoint_auth_method ?? 'tls_client_auth';
  if (CERTIFICATE_METHODS.has(String(method)) && metadata.tls_client_certificate_bound_access_tokens === undefined) {
    metadata.tls_client_certificate_bound_access_tokens = true;
  }
  if (typeof metadata.scope === 'string') {
    const scopes = metadata.scope.split(' ').filter(Boolean);
    const statics = scopes.filter((s) => staticScopes.has(s));
    metadata.resource_scopes = scopes.filter((s) => !staticScopes.has(s)).join(' ');
    if (statics.length) metadata.scope = statics.join(' ');
    else delete metadata.scope;
  }
  return metadata as AdapterPayload;
}

export function withClientDefaults(factory: AdapterFactory, staticScopes: ReadonlySet<string>): AdapterFactory {
  return function adapterFor(model) {
    const adapter = factory(model);
    if (model !== 'Client') return adapter;
    return new Proxy(adapter, {
      get(target, property, receiver) {
        if (property !== 'find') return Reflect.get(target, property, receiver);
        return async (id: string) => {
          const metadata = await target.find(id);
          return metadata ? applyClientDefaults(metadata, staticScopes) : undefined;
        };
      },
    });
  };
}
