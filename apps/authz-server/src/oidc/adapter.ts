// The adapter oidc-provider reads its models through: storage's (storage/adapter-factory.ts),
// plus what certbound does when the engine reads two of them. A Client gets its defaults
// (oidc/client-metadata.ts) and, when client authentication reads it, certbound's refusals of
// an unknown client or a wrong method (oidc/client-authentication.ts); a RefreshToken read by
// the refresh_token grant gets its binding checked (oidc/refresh-tokens.ts). Both run before the
// engine's own checks of the same facts, so the refusal is certbound's, in its words.
import { Provider, type Adapter, type AdapterFactory, type AdapterPayload } from 'oidc-provider';
import { applyClientDefaults } from './client-metadata.ts';
import { refuseClientAuthentication } from './client-authentication.ts';
import { refuseRefreshTokenBinding } from './refresh-tokens.ts';

/** `adapter` with `find` answered by `then(id, what the adapter found)`. */
function afterFind(adapter: Adapter, then: (id: string, found: AdapterPayload | undefined) => AdapterPayload | undefined): Adapter {
  return new Proxy(adapter, {
    get(target, property, receiver) {
      if (property !== 'find') return Reflect.get(target, property, receiver);
      return async (id: string) => then(id, (await target.find(id)) ?? undefined);
    },
  });
}

export function certboundAdapter(factory: AdapterFactory, deps: { staticScopes: ReadonlySet<string>; mtlsTokenEndpoint: string }): AdapterFactory {
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
      return afterFind(adapter, (_id, found) => {
        if (found) refuseRefreshTokenBinding(Provider.ctx, found, deps.mtlsTokenEndpoint);
        return found;
      });
    }
    return adapter;
  };
}
