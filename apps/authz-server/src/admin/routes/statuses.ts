// Status groups shared by route declarations (router.ts): each route lists every status it answers.

/** verifier refusals: invalid_token, insufficient_scope */
export const AUTH = [401, 403] as const;
/** request bodies: malformed/invalid, too large, wrong content type */
export const BODY = [400, 413, 415] as const;

export function statuses(...groups: ReadonlyArray<number | readonly number[]>): number[] {
  return [...new Set(groups.flat())].sort((a, b) => a - b);
}
