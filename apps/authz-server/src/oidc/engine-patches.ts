// Every place certbound reaches into oidc-provider beyond its documented configuration, in one
// file, written against one oidc-provider version (ENGINE_VERSION) and refused at start against
// any other: an upgrade must re-read each patch below against the new engine before it ships.
// - ReplayDetection.unique: atomic across instances (RFC 9449 §11.1), and a replayed DPoP proof
//   refused in certbound's words (oidc/dpop.ts decides what a replay of a proof means);
// - OIDCContext.prototype.clientJwtAuthExpectedAudience: both published URLs of an endpoint are
//   accepted as a client assertion's `aud` (RFC 7523 §3, RFC 8705 §5: certbound publishes two
//   token endpoints, and oidc-provider derives the accepted URLs from the request's Host; FAPI
//   2.0 clients still need `aud` = issuer, and each assertion's jti is still single-use);
// - OIDCContext.prototype.params: at introspection and revocation a JWT `token` reaches the
//   engine as a reference that certbound's adapter answers (oidc/structured-tokens.ts);
// - errors.InvalidGrant/InvalidClientAuth.prototype.error_detail: the description of the engine's
//   own refusal is decided as the error is made (oidc/errors.ts describeEngineRefusal), so the
//   engine's error handler writes certbound's answer and nothing rewrites it afterwards;
// - the order of Koa's middleware array: `provider.use` inserts before the engine's router, so a
//   middleware that must run before certbound's own (the admin API) is spliced in front of them.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import { errors, Provider, type KoaContextWithOIDC, type UnknownObject } from 'oidc-provider';
import type { KvStore } from '../storage/kv/kv.ts';
import { kvKeys } from '../storage/kv/oidc-queries.ts';

/** The oidc-provider release every patch in this file was written and tested against. */
export const ENGINE_VERSION = '9.13.3';

/** The version of the oidc-provider that `import 'oidc-provider'` loads (its package.json). */
export function installedEngineVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('oidc-provider')), 'utf8'));
  const version = pkg !== null && typeof pkg === 'object' && 'version' in pkg ? pkg.version : undefined;
  if (typeof version !== 'string') throw new Error('oidc-provider\'s package.json names no version');
  return version;
}

/** Throws, naming both versions and what to do, unless `installed` is ENGINE_VERSION. */
export function assertEngineVersion(installed: string): void {
  if (installed === ENGINE_VERSION) return;
  throw new Error(
    `oidc-provider ${installed} is installed, but certbound's engine patches (apps/authz-server/src/oidc/engine-patches.ts) were written against ` +
    `oidc-provider ${ENGINE_VERSION}: install ${ENGINE_VERSION} (npm ci), or re-check every patch in that file against ${installed} and set ENGINE_VERSION`,
  );
}

export interface EnginePatches {
  /** The short-lived store where every instance records the `jti`s it has seen. */
  kv: KvStore;
  /** Extra `aud` values a client assertion may name (both published URLs of each endpoint). */
  assertionAudiences: readonly string[];
  /** Called when a `jti` was seen before, with the request: may throw the refusal to answer. */
  onReplay: (ctx: KoaContextWithOIDC | undefined, jti: string) => void;
  /** The `token` parameter oidc-provider should see at introspection and revocation (oidc/structured-tokens.ts refer). */
  tokenParameter: (ctx: KoaContextWithOIDC, token: string) => string;
  /** The description an engine refusal of these classes answers with, given its `error_detail`. */
  describeRefusal: (ctx: KoaContextWithOIDC | undefined, err: errors.OIDCProviderError, detail: string) => string | undefined;
  /** The first of certbound's middleware on oidc-provider's routes: mountBeforeEngine inserts before it. */
  stackStart: object;
  /** Only for the test of the version check; the installed package's version otherwise. */
  installedVersion?: string;
}

type OidcContext = InstanceType<Provider['OIDCContext']>;

/** oidc-provider's routes that take a token to look up (RFC 7662, RFC 7009). */
const TOKEN_ROUTES: ReadonlySet<string> = new Set(['introspection', 'revocation']);

/** The error classes whose error_detail accessor is installed (once per process). */
const DESCRIBED = new Set<object>();
/** The describer of the last provider patched: every provider of a process describes alike. */
let describeRefusal: EnginePatches['describeRefusal'] = () => undefined;

/** The first certbound middleware of the oidc-provider routes' stack, per provider. */
const STACK_START = new WeakMap<Provider, object>();

/** Checks the engine version, then installs every patch. Call once, right after `new Provider`. */
export function installEnginePatches(provider: Provider, patches: EnginePatches): void {
  assertEngineVersion(patches.installedVersion ?? installedEngineVersion());

  // oidc-provider 9.13 lib/models/replay_detection.js: unique() is find-then-save, so two
  // instances receiving the same proof (or client assertion) at once could both find nothing.
  // One atomic SET NX under the key the adapter would use: the first instance to see a jti wins.
  provider.ReplayDetection.unique = async function unique(iss: string, jti: string, exp: number): Promise<boolean> {
    const id = createHash('sha256').update(`${iss}${jti}`).digest('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = { jti: id, iss, kind: 'ReplayDetection', iat: now, exp };
    const first = await patches.kv.setIfAbsent(kvKeys.entry('ReplayDetection', id), JSON.stringify(payload), Math.max(1, exp - now) * 1000);
    if (!first) patches.onReplay(Provider.ctx, jti);
    return first;
  };

  // oidc-provider 9.13 lib/helpers/oidc_context.js: the set of accepted assertion audiences is
  // built from the request's Host; certbound adds the URLs it publishes.
  const context = provider.OIDCContext.prototype;
  const engineAudiences: unknown = Reflect.get(context, 'clientJwtAuthExpectedAudience');
  if (typeof engineAudiences !== 'function') throw new Error('oidc-provider has no OIDCContext.prototype.clientJwtAuthExpectedAudience to extend');
  context.clientJwtAuthExpectedAudience = function clientJwtAuthExpectedAudience(this: OidcContext): Set<string> {
    const accepted: unknown = Reflect.apply(engineAudiences, this, []);
    if (!(accepted instanceof Set)) throw new Error('oidc-provider\'s clientJwtAuthExpectedAudience returned no Set');
    const audiences = new Set<string>([...accepted].filter((a): a is string => typeof a === 'string'));
    for (const audience of patches.assertionAudiences) audiences.add(audience);
    return audiences;
  };

  // oidc-provider 9.13 lib/shared/reject_structured_tokens.js refuses any JWT at introspection and
  // revocation before looking the token up (lib/helpers/token_find.js, through the adapter);
  // lib/shared/assemble_params.js assigns the request's parameters once, before client
  // authentication. Assigned through this accessor, a JWT `token` becomes certbound's reference.
  const assigned = new WeakMap<object, UnknownObject>();
  Object.defineProperty(context, 'params', {
    configurable: true,
    get(this: object): UnknownObject | undefined {
      return assigned.get(this);
    },
    set(this: OidcContext, params: UnknownObject) {
      const ctx = Provider.ctx;
      const token = params['token'];
      if (ctx && TOKEN_ROUTES.has(this.route) && typeof token === 'string') params['token'] = patches.tokenParameter(ctx, token);
      assigned.set(this, params);
    },
  });

  // oidc-provider 9.13 lib/helpers/errors.js: InvalidGrant and InvalidClientAuth answer a fixed
  // description ('grant request is invalid', 'client authentication failed') and keep the reason in
  // error_detail, which both constructors assign last (`Object.assign(this, { error_detail })`,
  // after the class field set the fixed description). Assigned through this accessor, the
  // description is certbound's before the error reaches the engine's error handler (err_out.js).
  // Once per process: the classes are the module's, shared by every Provider.
  if (!DESCRIBED.has(errors.InvalidGrant)) {
    for (const klass of [errors.InvalidGrant, errors.InvalidClientAuth]) {
      DESCRIBED.add(klass);
      const details = new WeakMap<object, string>();
      Object.defineProperty(klass.prototype, 'error_detail', {
        configurable: true,
        get(this: object): string | undefined {
          return details.get(this);
        },
        set(this: errors.OIDCProviderError, detail: string | undefined) {
          if (detail === undefined) return;
          details.set(this, detail);
          const description = describeRefusal(Provider.ctx, this, detail);
          if (description !== undefined) this.error_description = description;
        },
      });
    }
  }
  describeRefusal = patches.describeRefusal;

  STACK_START.set(provider, patches.stackStart);
}

/**
 * Mounts `middleware` after the Host check and before certbound's middleware on oidc-provider's
 * routes (certificate verdicts, refusal reporting, structured tokens, interactions), so a request
 * it answers (/admin) never passes through them. oidc-provider 9.13's `use` (lib/provider.js)
 * inserts each middleware just before its own router, which would put this one after them.
 */
export function mountBeforeEngine(provider: Provider, middleware: Middleware): void {
  const start = STACK_START.get(provider);
  const at = start ? provider.middleware.findIndex((m) => m === start) : -1;
  if (at < 0) throw new Error('mountBeforeEngine: the provider was not built by createProvider (no engine patches installed)');
  provider.middleware.splice(at, 0, middleware);
}
