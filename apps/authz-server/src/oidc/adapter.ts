// The adapter oidc-provider reads its models through: storage's (storage/adapter-factory.ts),
// plus what certbound does when the engine reads some of them. A Client gets its defaults
// (oidc/client-metadata.ts) and, when client authentication reads it, certbound's refusals of
// an unknown client or a wrong method (oidc/client-authentication.ts); a RefreshToken read by
// the refresh_token grant gets its binding checked (oidc/refresh-tokens.ts). Both run before the
// engine's own checks of the same facts, so the refusal is certbound's, in its words. A token
// looked up by introspection or revocation may be the reference of a JWT access token: the
// AccessToken store answers it, and destroying it revokes the JWT (oidc/structured-tokens.ts).
import { Provider, type Adapter, type AdapterFactory, type AdapterPayload } from 'oidc-provider';
import { applyClientDefaults } from './client-metadata.ts';
import { refuseClientAuthentication } from './client-authentication.ts';
import { refuseRefreshTokenBinding } from './refresh-tokens.ts';
import type { StructuredTokens } from './structured-tokens.ts';

/** `adapter`'s own member: methods bound to it (storage's adapters keep #private fields, which a Proxy receiver cannot read). */
function member(adapter: Adapter, property: string | symbol): unknown {
  const value: unknown = Reflect.get(adapter, property, adapter);
  return typeof value === 'function' ? value.bind(adapter) : value;
}

/** `adapter` with `find` answered by `then(id, what the adapter found)`. */
function afterFind(adapter: Adapter, then: (id: string, found: AdapterPayload | undefined) => AdapterPayload | undefined): Adapter {
  return new Proxy(adapter, {
    get(target, property) {
      if (property !== 'find') return member(target, property);
      return async (id: string) => then(id, (await target.find(id)) ?? undefined);
    },
  });
}

/** `adapter` where a JWT's reference is answered by `structured` (AccessToken) or not found (the other token models). */
function withReferences(adapter: Adapter, structured: StructuredTokens, accessTokens: boolean): Adapter {
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'find') {
        return async (id: string) => {
          if (!structured.isReference(id)) return target.find(id);
          return accessTokens ? structured.find(Provider.ctx, id) : undefined;
        };
      }
      if (property === 'destroy' && accessTokens) {
        return async (id: string) => {
          if (!await structured.destroy(Provider.ctx, id)) await target.destroy(id);
        };
      }
      return member(target, property);
    },
  });
}

export function certboundAdapter(factory: AdapterFactory, deps: {
  staticScopes: ReadonlySet<string>;
  mtlsTokenEndpoint: string;
  /** Without it (unit tests of the client checks), no token is a reference. */
  structured?: StructuredTokens;
}): AdapterFactory {
  return function adapterFor(model) {
    const adapter = factory(model);
    if (model === 'Client') {
      return afterFind(adapter, (id, found) => {
        const metadata = found ? applyClientDefaults(found, deps.staticScopes) : undefined;
        refuseClientAuthentication(Provider.ctx, id, metadata);
        return metadata;
      });
    }
    if (model === 'RefreshToken') {
      const checked = afterFind(adapter, (_id, found) => {
        if (found) refuseRefreshTokenBinding(Provider.ctx, found, deps.mtlsTokenEndpoint);
        return found;
      });
      return deps.structured ? withReferences(checked, deps.structured, false) : checked;
    }
    if (deps.structured && (model === 'AccessToken' || model === 'ClientCredentials')) {
      return withReferences(adapter, deps.structured, model === 'AccessToken');
    }
    return adapter;
  };
}
