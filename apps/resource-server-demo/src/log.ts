// The demo's logger: one JSON line per event on stdout (pino), as the authorization server logs.
// An error's `cause` chain is kept as structured fields of the same line (errWithCause), so an
// UpstreamError says why the JWKS or replay store could not be used.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createDemoLogger(destination?: pino.DestinationStream): Logger {
  return pino({
    base: { service: 'resource-server-demo' },
    serializers: { err: pino.stdSerializers.errWithCause },
    // The verifier never puts a token in an error; a header would be the only way one got here.
    redact: { paths: ['authorization', 'dpop'], censor: '[redacted]' },
  }, destination);
}
