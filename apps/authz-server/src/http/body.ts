// The one reader of request bodies: at most `limit` bytes, through raw-body (the reader Express's
// and Koa's body parsers use), which refuses a declared Content-Length over the limit before
// reading, stops at the first byte past it, and refuses a body shorter or longer than declared
// or cut off. Each caller keeps its own limit and content-type rules (admin/body.ts,
// interactions/form-body.ts) and turns BodyReadError into its own answer.
import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';

export type BodyReadProblem = 'too_large' | 'length_mismatch' | 'aborted';

/** A body that could not be read in full; the rest of it is left unread (answer with Connection: close). */
export class BodyReadError extends Error {
  readonly status: 400 | 413;
  readonly problem: BodyReadProblem;
  readonly limit: number;
  constructor(problem: BodyReadProblem, limit: number) {
    super(problem === 'too_large' ? `larger than ${limit} bytes` : problem === 'aborted' ? 'the request was cut off' : 'shorter or longer than its Content-Length');
    this.name = 'BodyReadError';
    this.problem = problem;
    this.status = problem === 'too_large' ? 413 : 400;
    this.limit = limit;
  }
}

const PROBLEMS: Readonly<Record<string, BodyReadProblem>> = {
  'entity.too.large': 'too_large',
  'request.size.invalid': 'length_mismatch',
  'request.aborted': 'aborted',
};

/** The whole body of `req` as bytes, or BodyReadError; any other failure (a programming error) is rethrown. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await getRawBody(req, { limit, length: req.headers['content-length'] ?? null });
  } catch (err) {
    const problem = PROBLEMS[String((err as { type?: unknown }).type)];
    if (problem) throw new BodyReadError(problem, limit);
    throw err;
  }
}
