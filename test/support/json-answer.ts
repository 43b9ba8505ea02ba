// The JSON bodies of certbound's and the demo API's answers as the tests read them, so a test reads `res.json.items[0]` or
// `res.json.first_failure.code` without `any`. The members are those the servers write; a test that reads one an answer lacks gets
// undefined at run time and fails the assertion that reads it. Anything else is `unknown` until the test narrows it.
import type { CertificateSummary, DiagnosisFailure, DiagnosisStep } from '../../apps/authz-server/src/mtls/diagnosis.ts';

export interface JsonObject {
  readonly [member: string]: unknown;
}

export interface JsonAnswer extends JsonObject {
  // OAuth (RFC 6749 §5.1, §5.2), PAR (RFC 9126), discovery (RFC 8414, RFC 8705 §5)
  readonly error: string;
  readonly error_description: string;
  readonly access_token: string;
  readonly token_type: string;
  readonly refresh_token: string;
  readonly scope: string;
  readonly expires_in: number;
  readonly request_uri: string;
  readonly mtls_endpoint_aliases: Readonly<Record<string, string>>;
  // /admin/v1 clients, EST enrollment codes
  readonly client_id: string;
  readonly code: string;
  readonly expires_at: string;
  // /admin/v1 pages and clients
  readonly items: readonly JsonObject[];
  readonly next_cursor: string | null;
  readonly jwks: { readonly keys: readonly JsonObject[] };
  // the demo API
  readonly settlement: JsonObject;
  readonly caller: JsonObject;
  // /mtls/check (mtls/diagnosis.ts); a test reads first_failure and certificate after checking they are there
  readonly steps: readonly DiagnosisStep[];
  readonly certificate: CertificateSummary;
  readonly first_failure: DiagnosisFailure;
}

/** One structured (pino) log line of a server the tests started. */
export interface LogLine extends JsonObject {
  readonly level: number;
  readonly msg: string;
  readonly event?: string;
  /** pino's err serializer: the error's type, message, stack, code and cause chain */
  readonly err?: { readonly type: string; readonly message: string; readonly stack: string; readonly code?: string; readonly cause?: JsonObject };
  // Fields of certain events, declared as those events write them (a test reads them after selecting the event).
  readonly status: number;
  readonly reason: string;
  readonly changed: readonly string[];
  readonly certificate: { readonly subject: string; readonly issuer: string; readonly serial: string; readonly not_after: string };
}
