/** Builds `WWW-Authenticate` values per RFC 6750 §3 and RFC 9449 §7.1. */

export type AuthScheme = 'Bearer' | 'DPoP';

/** What the verifier knows about the request and its own configuration when it answers. */
export interface ChallengeContext {
  /** The scheme the request used; a token error is reported on that challenge. */
  scheme?: AuthScheme;
  /** DPoP algorithms accepted; when present a `DPoP` challenge is offered (RFC 9449 §7.1). */
  dpopAlgs?: readonly string[];
  /** Optional `realm` auth-param (RFC 6750 §3). */
  realm?: string;
}

export interface ChallengeError {
  readonly code: string;
  readonly description: string;
  readonly scope?: string | undefined;
  /** RFC 6750 §3.1: a request with no credentials gets a challenge without an error code. */
  readonly credentialsMissing?: boolean;
}

// RFC 9110 §11.2 quoted-string: backslash-escape DQUOTE and backslash.
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

// RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
export function sanitizeDescription(value: string): string {
  return value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

function errorScheme(error: ChallengeError, ctx: ChallengeContext): AuthScheme {
  // RFC 9449 §7.1 and §9: proof and nonce errors always belong to the DPoP challenge.
  if (error.code === 'invalid_dpop_proof' || error.code === 'use_dpop_nonce') return 'DPoP';
  return ctx.scheme ?? 'Bearer';
}

/** One `WWW-Authenticate` value holding a Bearer and, when DPoP is on, a DPoP challenge. */
export function renderWwwAuthenticate(error: ChallengeError, ctx: ChallengeContext = {}): string {
  const withError = error.credentialsMissing ? undefined : errorScheme(error, ctx);
  const schemes: AuthScheme[] = ['Bearer'];
  if (ctx.dpopAlgs !== undefined || withError === 'DPoP') schemes.push('DPoP');
  // The challenge carrying the error goes first so simple parsers see it.
  if (withError === 'DPoP') schemes.reverse();
  return schemes
    .map((scheme) => {
      const params: string[] = [];
      if (ctx.realm !== undefined) params.push(`realm=${quote(ctx.realm)}`);
      if (scheme === withError) {
        params.push(`error=${quote(error.code)}`);
        params.push(`error_description=${quote(sanitizeDescription(error.description))}`);
        if (error.scope) params.push(`scope=${quote(error.scope)}`);
      }
      if (scheme === 'DPoP' && ctx.dpopAlgs?.length) params.push(`algs=${quote(ctx.dpopAlgs.join(' '))}`);
      return params.length ? `${scheme} ${params.join(', ')}` : scheme;
    })
    .join(', ');
}
