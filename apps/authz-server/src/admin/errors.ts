// The management API's one error class (STYLE.md item 9): a stable `code`, the HTTP `status`,
// and `expose` (koa's convention: may the description be shown to the caller). The error
// middleware (error-handler.ts) turns it into `{ "error": code, "error_description": ... }`.

/** Every code /admin/v1 answers with, besides the verifier's invalid_token / insufficient_scope. */
export type AdminErrorCode =
  | 'invalid_request'
  | 'invalid_client_metadata'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'server_error';

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** Extra response headers (Allow on 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: AdminErrorCode,
    description: string,
    options: { expose?: boolean; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AdminError';
    this.status = status;
    this.code = code;
    this.expose = options.expose ?? status < 500;
    this.headers = options.headers ?? {};
  }
}

/** 400 invalid_request "<field>: <problem>": the request itself is malformed. */
export function invalidRequest(field: string, problem: string): AdminError {
  return new AdminError(400, 'invalid_request', `${field}: ${problem}`);
}

/** 400 invalid_client_metadata "<field>: <problem>" (RFC 7591 §3.2.2). */
export function invalidMetadata(field: string, problem: string): AdminError {
  return new AdminError(400, 'invalid_client_metadata', `${field}: ${problem}`);
}

export function notFound(description: string): AdminError {
  return new AdminError(404, 'not_found', description);
}

export function conflict(description: string): AdminError {
  return new AdminError(409, 'conflict', description);
}
