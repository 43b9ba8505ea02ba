// Module augmentation instead of casts: what certbound adds to the objects
// oidc-provider hands its callbacks (client metadata of its own, the request state its
// middleware leaves for them), typed once here so oidc/ needs no casts. Types only; no code.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ConnectionRecord } from '../mtls/connection-verdict.ts';
import type { EngineErrorEvent, OAuthError } from './errors.ts';
import type { HeldResources } from './resource-indicators.ts';
import type { PresentedStructuredToken } from './structured-tokens.ts';

declare module 'koa' {
  /** What certbound's middleware leaves on ctx.state for oidc-provider's callbacks and the reporter. */
  interface DefaultState {
    /** The presented client certificate and its chain verdict (oidc/client-certificate.ts). */
    clientCertificate?: ConnectionRecord;
    /** The refusal this request is answered with (oidc/errors.ts). */
    oauthError?: OAuthError;
    /** Its description, once final (the log line's `reason`). */
    oauthRefusalReason?: string;
    /** The oidc-provider event that reported it. */
    oauthRefusalEvent?: string;
    /** The JWT presented at introspection or revocation, and its reference (oidc/structured-tokens.ts). */
    structuredToken?: PresentedStructuredToken;
  }
}

declare module 'oidc-provider' {
  /** The `*.error` events the refusal reporter listens to, as one overload (the typings list each alone). */
  interface Provider {
    on(event: EngineErrorEvent, listener: (ctx: KoaContextWithOIDC, err: Error) => void): this;
  }

  /** certbound's extraClientMetadata (oidc/configuration.ts), validated by oidc/client-metadata.ts. */
  interface Client {
    default_resource?: string;
    introspection_allowed?: boolean;
    resources?: HeldResources;
    fapi_profile?: '2.0';
    certificate_pinning?: boolean;
    certificate_thumbprints?: string[];
  }
}
