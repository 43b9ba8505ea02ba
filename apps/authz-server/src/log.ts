// One structured logger for the process: JSON lines on stdout (pino). Secrets never reach it:
// the redact list removes credentials that could ride along on a request.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'certbound-authz' },
    redact: {
      paths: ['authorization', 'dpop', 'client_assertion', 'client_secret', 'token', 'access_token', 'refresh_token'],
      censor: '[redacted]',
    },
  }, destination);
}
