// The admin's access token: client_credentials at the mutual-TLS token endpoint, authenticated
// by the admin certificate (RFC 8705 §2, tls_client_auth) and bound to it (§3), so every later
// call must present the same certificate. One token per CLI run, kept in memory only.
import { CommandError, EXIT, refusal } from './errors.ts';
import { exchange } from './https.ts';
import type { Settings } from './settings.ts';

export const ADMIN_SCOPE = 'admin';

export async function fetchAdminToken(settings: Settings): Promise<string> {
  const url = new URL('token', settings.base);
  const answer = await exchange(settings.tls, {
    method: 'POST',
    origin: settings.base,
    path: url.pathname,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: settings.adminClientId, scope: ADMIN_SCOPE }).toString(),
  });
  const what = `the token endpoint ${url.href} refused client "${settings.adminClientId}" with certificate ${settings.tls.files.cert}`;
  // Always exit 1: a 404 here means a wrong --url, not that the command's subject is missing.
  if (answer.status !== 200) throw refusal(what, answer.status, answer.text, EXIT.failed);
  let token: unknown;
  try {
    token = (JSON.parse(answer.text) as { access_token?: unknown }).access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '') throw new CommandError(`the token endpoint ${url.href} answered 200 without an access_token`);
  return token;
}
