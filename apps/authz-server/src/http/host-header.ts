// The Host header, checked once for every request on both listeners, before anything reads it.
// oidc-provider builds URLs from it (discovery, DPoP htu: `new URL(path, ctx.href)`), and a Host
// that is not a URI authority made that throw: a 500 from input. Node's own check (an absent Host
// on HTTP/1.1) is turned off in listeners.ts so that this one answers, as an OAuth error.
import { isIP } from 'node:net';
import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log.ts';
import { answerRefusal, HostHeaderRefused, logRefusal } from '../oidc/errors.ts';

// RFC 9110 §7.2: Host = uri-host [ ":" port ]; RFC 3986 §3.2.2 host = IP-literal / IPv4address /
// reg-name, §3.2.3 port = *DIGIT.
const AUTHORITY = /^(?:\[([^\]]*)\]|([A-Za-z0-9._~!$&'()*+,;=%-]+))(?::([^:]*))?$/;
const SHOWN = 100;

/** Why `values` (every Host field of the request) is not one usable host[:port], or undefined. */
export function hostProblem(values: readonly string[]): string | undefined {
  if (values.length === 0) return 'Host header is missing (RFC 9112 §3.2 requires it in HTTP/1.1)';
  if (values.length > 1) return `Host header is repeated ${values.length} times (RFC 9112 §3.2 allows one)`;
  const host = values[0];
  const shown = JSON.stringify(host.length > SHOWN ? `${host.slice(0, SHOWN)}…` : host);
  if (host === '') return 'Host header is empty';
  const match = AUTHORITY.exec(host);
  if (!match) return `Host header ${shown} is not a host[:port] (RFC 9110 §7.2)`;
  const [, literal, , port] = match;
  if (literal !== undefined && isIP(literal) !== 6) return `Host header ${shown} is not a host[:port]: [${literal}] is not an IPv6 address`;
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535)) {
    return `Host header ${shown} has a port that is not a number from 0 to 65535`;
  }
  // The last word belongs to the parser that would otherwise throw later (percent-encoding, IDNA).
  if (!URL.canParse(`https://${host}/`)) return `Host header ${shown} is not a host[:port] (RFC 9110 §7.2)`;
  return undefined;
}

/** Every Host field as received: Node keeps only the first of a repeated Host in req.headers. */
function hostFields(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'host') values.push(rawHeaders[i + 1]);
  }
  return values;
}

/** Koa middleware, first on the app: a bad Host is answered 400 invalid_request and logged once (oidc/errors.ts). */
export function createHostHeaderCheck(logger: Logger) {
  return async function hostHeader(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    const problem = hostProblem(hostFields(ctx.req.rawHeaders));
    if (problem === undefined) {
      await next();
      return;
    }
    const refusal = new HostHeaderRefused(problem);
    await answerRefusal(ctx, refusal);
    logRefusal(logger, ctx, refusal);
  };
}
