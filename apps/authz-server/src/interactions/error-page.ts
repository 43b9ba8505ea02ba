// oidc-provider's renderError: the answer to a browser whose authorization request cannot be
// sent back to the client (unknown client, bad redirect_uri, expired PAR request_uri, ...).
// A person gets a page naming the error; anything that does not ask for HTML gets the JSON.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { PAGE_HEADERS } from './html.ts';
import { problemPage } from './pages.ts';

export async function renderErrorPage(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): Promise<void> {
  if (ctx.accepts('json', 'html') === 'html') {
    ctx.set(PAGE_HEADERS);
    ctx.body = problemPage('Cannot continue', `${out.error}${out.error_description ? `: ${out.error_description}` : ''}`);
    return;
  }
  ctx.type = 'json';
  ctx.body = out;
}
