// Why an admin command failed, and the exit code a script sees for it (documented in
// `certbound --help`, cli/main.ts EXIT_CODES_HELP). The dispatcher maps anything else to 1.

export const EXIT = {
  ok: 0,
  /** the server refused, or a network, TLS or file problem */
  failed: 1,
  usage: 2,
  /** 404: the client, certificate or resource server does not exist */
  notFound: 3,
  /** 409, 412, 428: already exists, still in use, changed since it was read */
  conflict: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure whose message goes to stderr as is ("certbound: <message>"). */
export class CommandError extends Error {
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = EXIT.failed, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
    this.exitCode = exitCode;
  }
}

/** Found out after parsing (a flag combination, a field to --unset that is not there): exit 2. */
export class LateUsageError extends CommandError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'LateUsageError';
  }
}

/** An error answer of the token endpoint or /admin/v1: `{ "error", "error_description" }`. */
export class ApiRefusal extends CommandError {
  readonly status: number;
  /** the OAuth / admin API error code, when the body had one */
  readonly error: string | undefined;
  readonly description: string | undefined;

  constructor(what: string, status: number, error: string | undefined, description: string | undefined, exitCode: ExitCode = exitCodeOf(status)) {
    super(`${what}: ${status} ${error ?? '(no error code in the answer)'}${description === undefined ? '' : `: ${description}`}`, exitCode);
    this.name = 'ApiRefusal';
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/** The refusal in an error answer's body; RFC 6749 §5.2 and /admin/v1 share the shape. */
export function refusal(what: string, status: number, body: string, exitCode?: ExitCode): ApiRefusal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const { error, error_description: description } = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  return new ApiRefusal(what, status, typeof error === 'string' ? error : undefined, typeof description === 'string' ? description : undefined, exitCode);
}

function exitCodeOf(status: number): ExitCode {
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 412 || status === 428) return EXIT.conflict;
  return EXIT.failed;
}

/** 412 on a write: another admin changed it between our GET and PUT (or since the --if-match ETag). */
function changedSinceRead(error: unknown, what: string): unknown {
  if (!(error instanceof ApiRefusal) || error.status !== 412) return error;
  const detail = `412 ${error.error ?? 'precondition_failed'}${error.description === undefined ? '' : `: ${error.description}`}`;
  return new CommandError(`${what} was changed by someone else since it was read; run again (${detail})`, EXIT.conflict, { cause: error });
}

/** A write with If-Match: its 412 reported as changedSinceRead. */
export async function unlessChanged<T>(write: Promise<T>, what: string): Promise<T> {
  try {
    return await write;
  } catch (error) {
    throw changedSinceRead(error, what);
  }
}
