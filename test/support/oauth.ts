// Shared assertions for OAuth answers (STYLE.md item 13): status, error code and description.
import assert from 'node:assert/strict';
import type { HttpsAnswer } from './https.ts';

export function expectOAuthError(res: HttpsAnswer, status: number, code: string, description?: RegExp | string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.error, code, `expected error ${code}, got ${res.text}`);
  if (description instanceof RegExp) assert.match(String(res.json?.error_description), description);
  else if (description !== undefined) assert.equal(res.json?.error_description, description);
}

export function decodeJwt(token: string): { header: any; payload: any } {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
  };
}
