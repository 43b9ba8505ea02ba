// RFC 7662 introspection and RFC 7009 revocation of the JWT access tokens certbound issues,
// answered by oidc-provider itself. The engine refuses any JWT at both endpoints
// (unsupported_token_type) before looking it up, so certbound hands it a reference in the JWT's
// place (oidc/engine-patches.ts, as the engine reads its parameters); the engine then
// authenticates the caller, looks the reference up through the adapter (oidc/adapter.ts), and
// answers with its own policy and format. Here: the reference, the token it stands for (the JWT
// verified: signature, issuer, typ at+jwt, certbound's algorithms; not on the revocation list),
// who may introspect or revoke it, and what revoking it does (its jti goes on the revocation
// list). A token issued before its client was revoked through /admin/v1 is inactive, opaque or not.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { errors, type AccessToken, type AdapterPayload, type Client, type ClientCredentials, type KoaContextWithOIDC, type RefreshToken } from 'oidc-provider';
import type { Logger } from '../log.ts';
import type { RevocationList } from '../storage/kv/revocation-list.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';
import { voidedByClientRevocation } from './client-revocation.ts';

// The revocation list (jti) and per-client revocation marks live in the short-lived store.
export type { RevocationList, ClientRevocations };

/** What a reference starts with: never the start of an oidc-provider token value (base64url). */
const REFERENCE = 'jwt~';

interface AccessTokenClaims extends JWTPayload {
  jti: string;
  client_id: string;
  scope?: string;
  cnf?: Record<string, string>;
}

/** The JWT this request presented at introspection or revocation, and the reference the engine saw instead. */
export interface PresentedStructuredToken {
  reference: string;
  token: string;
  /** Set once the JWT verified (oidc/adapter.ts asked for it). */
  claims?: AccessTokenClaims;
}

/** 400 invalid_request (RFC 7009 §2.1): a client may revoke only the tokens issued to it. */
export class TokenRevocationRefused extends errors.InvalidRequest {
  readonly check = 'token_client';
}

type IntrospectedToken = AccessToken | ClientCredentials | RefreshToken;

export function createStructuredTokens(deps: {
  issuer: string;
  publicJwks: JSONWebKeySet;
  algorithms: string[];
  revocations: RevocationList;
  clientRevocations?: ClientRevocations;
  /** Enrollment (enrollment/revocations.ts): is this certificate, one certbound issued, revoked? Its tokens are inactive. */
  certificateRevoked?(x5t: string): Promise<boolean>;
  logger: Logger;
}) {
  const keys = createLocalJWKSet(deps.publicJwks);

  async function verified(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: deps.issuer, typ: 'at+jwt', algorithms: deps.algorithms });
      const { jti, client_id: clientId, scope, cnf } = payload;
      if (typeof jti !== 'string' || typeof clientId !== 'string') return undefined;
      const binding = cnf !== null && typeof cnf === 'object' && !Array.isArray(cnf)
        ? Object.fromEntries(Object.entries(cnf).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
        : undefined;
      return { ...payload, jti, client_id: clientId, ...(typeof scope === 'string' ? { scope } : {}), ...(binding ? { cnf: binding } : {}) };
    } catch {
      return undefined;
    }
  }

  /** Issued (iat) no later than its client's revocation through /admin/v1. */
  async function voided(clientId: string | undefined, iat: unknown): Promise<boolean> {
    if (!deps.clientRevocations || clientId === undefined) return false;
    return voidedByClientRevocation(deps.clientRevocations, clientId, iat);
  }

  return {
    /**
     * oidc-provider reads the `token` parameter of introspection or revocation: a JWT is handed
     * over as a reference (kept on ctx.state for the adapter), anything else as it is.
     */
    refer: (ctx: KoaContextWithOIDC, token: string): string => {
      try {
        decodeProtectedHeader(token);
      } catch {
        return token; // not a JWT: one of oidc-provider's own opaque tokens, or nothing
      }
      const reference = `${REFERENCE}${randomUUID()}`;
      ctx.state.structuredToken = { reference, token };
      return reference;
    },

    /** Whether `id` is a reference (never looked up in storage). */
    isReference: (id: string): boolean => {
      return id.startsWith(REFERENCE);
    },

    /** The AccessToken payload a reference stands for, or undefined: forged, foreign, revoked, expired. */
    find: async (ctx: KoaContextWithOIDC | undefined, id: string): Promise<AdapterPayload | undefined> => {
      const presented = ctx?.state.structuredToken;
      if (presented?.reference !== id) return undefined;
      const claims = await verified(presented.token);
      if (!claims || await deps.revocations.isRevoked(claims.jti)) return undefined;
      presented.claims = claims;
      return {
        jti: claims.jti,
        kind: 'AccessToken',
        clientId: claims.client_id,
        ...(claims.iat !== undefined ? { iat: claims.iat } : {}),
        ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
        ...(claims.aud !== undefined ? { aud: claims.aud } : {}),
        ...(claims.scope !== undefined ? { scope: claims.scope } : {}),
        // RFC 8705 §3.2 / RFC 9449 §6.2: the binding, which oidc-provider answers as cnf and token_type.
        ...(claims.cnf?.['x5t#S256'] !== undefined ? { 'x5t#S256': claims.cnf['x5t#S256'] } : {}),
        ...(claims.cnf?.['jkt'] !== undefined ? { jkt: claims.cnf['jkt'] } : {}),
        // Answered as they are (oidc-provider spreads `extra` into the introspection answer).
        extra: { ...(claims.sub !== undefined ? { sub: claims.sub } : {}), ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}) },
      };
    },

    /** oidc-provider destroys a revoked token by its jti: for the JWT of this request, the jti goes on the revocation list. */
    destroy: async (ctx: KoaContextWithOIDC | undefined, jti: string): Promise<boolean> => {
      const claims = ctx?.state.structuredToken?.claims;
      if (claims?.jti !== jti) return false;
      await deps.revocations.revoke(jti, claims.exp ?? Math.floor(Date.now() / 1000) + 1);
      deps.logger.info({ event: 'token_revoked', client_id: claims.client_id, jti }, 'access token revoked');
      return true;
    },

    /** RFC 7662 §2.2: a token the caller may not see is simply inactive, never an error. */
    introspectionAllowed: async (_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken): Promise<boolean> => {
      if (token.clientId !== client.clientId && client.introspection_allowed !== true) return false;
      const boundTo = (token as { 'x5t#S256'?: unknown })['x5t#S256'];
      if (typeof boundTo === 'string' && deps.certificateRevoked && await deps.certificateRevoked(boundTo)) return false;
      return !await voided(token.clientId, token.iat);
    },

    /** RFC 7009 §2.1: only the client the token was issued to may revoke it; a public client is ignored (oidc-provider's rule). */
    revocationAllowed: async (_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken): Promise<boolean> => {
      if (token.clientId === client.clientId) return true;
      if (client.clientAuthMethod === 'none') return false;
      throw new TokenRevocationRefused('the token was not issued to this client');
    },
  };
}

export type StructuredTokens = ReturnType<typeof createStructuredTokens>;
