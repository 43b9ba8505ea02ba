// test/security/ helpers for resource-indicator attacks (RFC 8707): a token request with any
// `resource` / `scope`, and an /admin/v1 call, each with the log lines it caused, so a test can
// assert the exact refusal and its one structured log line (security-server.ts's expectRefusal
// for the token endpoint; expectAdminRefusal here for the admin API's `admin_refusal` line).
import assert from 'node:assert/strict';
import { describeAnswer, timedRequest, type Attempt, type SecurityServer, type TimedAnswer, type TlsClientIdentity } from './security-server.ts';
import type { LogLine } from './json-answer.ts';
import type { JwtClaims } from './oauth.ts';

async function settle(server: SecurityServer, mark: number, res: TimedAnswer, event: string): Promise<LogLine[]> {
  if (res.status !== 0 && (res.status < 200 || res.status >= 300)) {
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && !server.logs().slice(mark).some((l) => l.event === event)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server.logs().slice(mark);
}

/** client_credentials at the mutual-TLS token endpoint with these extra parameters. */
export async function attemptToken(
  server: SecurityServer,
  clientId: string,
  identity: TlsClientIdentity,
  params: { resource?: string; scope?: string } = {},
): Promise<Attempt> {
  const mark = server.logs().length;
  const form: Record<string, string> = { grant_type: 'client_credentials', client_id: clientId };
  if (params.resource !== undefined) form.resource = params.resource;
  if (params.scope !== undefined) form.scope = params.scope;
  const res = await timedRequest(`${server.mtlsUrl}/token`, { ca: server.ca, identity, form });
  return { res, logs: await settle(server, mark, res, 'oauth_refusal'), exitStatus: server.exitStatus() };
}

/** An /admin/v1 call as the bootstrapped admin, with the log lines it caused. */
export async function attemptAdmin(server: SecurityServer, method: string, path: string, json?: unknown): Promise<Attempt> {
  const mark = server.logs().length;
  const res = await server.admin(method, path, json);
  return { res, logs: await settle(server, mark, res, 'admin_refusal'), exitStatus: server.exitStatus() };
}

/** The admin API's refusal: exact status, error and description, and one `admin_refusal` line saying the same. */
export function expectAdminRefusal({ res, logs, exitStatus }: Attempt, status: number, error: string, description: string | RegExp): void {
  if (exitStatus) assert.fail(`the server process died (${exitStatus}): ${describeAnswer(res)}`);
  assert.equal(res.status, status, `expected ${status} ${error}, got ${describeAnswer(res)}`);
  assert.equal(res.json?.error, error, res.text);
  if (typeof description === 'string') assert.equal(res.json?.error_description, description);
  else assert.match(String(res.json?.error_description), description);
  const refusals = logs.filter((l) => l.event === 'admin_refusal');
  assert.equal(refusals.length, 1, `expected one admin_refusal log line, got ${JSON.stringify(refusals)}`);
  assert.equal(refusals[0].reason, res.json.error_description);
  assert.deepEqual(logs.filter((l) => typeof l.level === 'number' && l.level >= 50), [], 'no error line');
}

/** The JWT's payload, read without verifying (the server under test signed it). */
export function claimsOf(res: TimedAnswer): JwtClaims {
  assert.equal(res.status, 200, describeAnswer(res));
  return JSON.parse(Buffer.from(String(res.json.access_token).split('.')[1], 'base64url').toString('utf8')) as JwtClaims;
}
