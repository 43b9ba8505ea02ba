// Client-certificate revocation checking (CRL + OCSP) for chains that have already validated.
export { createRevocationChecker } from './checker.ts';
export { createRevocationHealth } from './health.ts';
export type { RevocationHealth, ResponderHealth, ResponderSource } from './health.ts';
export type { RevocationChecker, RevocationCheckerOptions } from './checker.ts';
export { describeRevocation, reasonName, REVOCATION_MODES } from './answer.ts';
export type { RevocationAnswer, RevocationMode, RevocationSource } from './answer.ts';
export type { HttpFetch, HttpRequest, HttpResult } from './fetch.ts';
