// Client metadata as oidc-provider should see it, derived from the RFC 7591 metadata stored for
// the client:
// - RFC 8705 §3 certificate-bound access tokens are on for every client that authenticates
//   with a certificate unless its registration says otherwise;
// - `scope` keeps only the static scopes oidc-provider was configured with (openid,
//   offline_access). A client holds resource-server scopes per resource server in `resources`
//   (oidc/resource-indicators.ts); a resource-server scope left in a stored `scope` (written by an
//   instance older than db/migrations/0004) grants nothing and is dropped, so the client loads.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { CERTIFICATE_AUTH_METHODS } from './vocabulary.ts';

export type AdapterFactory = (model: string) => Adapter;


export function applyClientDefaults(stored: AdapterPayload, staticScopes: ReadonlySet<string>): AdapterPayload {
  const metadata = { ...stored } as Record<string, unknown>;
  const method = metadata.token_endpoint_auth_method ?? 'tls_client_auth';
  if (CERTIFICATE_AUTH_METHODS.has(String(method)) && metadata.tls_client_certificate_bound_access_tokens === undefined) {
    metadata.tls_client_certificate_bound_access_tokens = true;
  }
  if (typeof metadata.scope === 'string') {
    const scopes = metadata.scope.split(' ').filter(Boolean);
    const statics = scopes.filter((s) => staticScopes.has(s));
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
