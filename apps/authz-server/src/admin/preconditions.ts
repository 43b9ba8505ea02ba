// Optimistic concurrency (RFC 9110 §13.1.1): GET answers ETag "<version>"; a PUT must send it
// back in If-Match (428 without one), and answers 412 when the row has moved on since.
import { AdminError } from './errors.ts';
import type { AdminContext } from './context.ts';

export function etagOf(version: number): string {
  return `"${version}"`;
}

/** The version If-Match names; -1 (matches nothing) for a value that is not one of our ETags. */
function versionIn(header: string): number {
  const match = /^"(\d{1,9})"$/.exec(header.trim());
  return match ? Number(match[1]) : -1;
}

/** PUT: If-Match is required. */
export function requiredIfMatch(ctx: AdminContext): number {
  const header = ctx.get('If-Match');
  if (header === '') throw new AdminError(428, 'precondition_required', 'If-Match: required; send the ETag of your last GET so that concurrent changes are not overwritten');
  return versionIn(header);
}

/** DELETE: If-Match is honoured when sent. */
export function optionalIfMatch(ctx: AdminContext): number | undefined {
  const header = ctx.get('If-Match');
  return header === '' ? undefined : versionIn(header);
}

export function checkVersion(current: number, expected: number | undefined): void {
  if (expected !== undefined && expected !== current) {
    throw new AdminError(412, 'precondition_failed', `If-Match: the resource changed since that ETag; its ETag is now ${etagOf(current)}: GET it again and retry`);
  }
}

/** 412 for a compare-and-set update that found the row no longer at the expected version. */
export function changedSinceEtag(): AdminError {
  return new AdminError(412, 'precondition_failed', 'If-Match: the resource changed since that ETag: GET it again and retry');
}
