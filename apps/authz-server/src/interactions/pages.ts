// The three pages a person sees during an authorization request: sign in, consent, and "this
// request cannot continue". Every value is escaped by the `html` template.
import { html, page } from './html.ts';

export interface LoginPage {
  uid: string;
  csrf: string;
  clientName: string;
  username?: string | undefined;
  error?: string | undefined;
}

export interface ConsentPage {
  uid: string;
  csrf: string;
  clientName: string;
  accountName: string;
  /** OpenID Connect scopes asked for (openid, offline_access), if any. */
  oidcScopes: string[];
  /** Per API (resource indicator): the scopes asked for. */
  resourceScopes: Array<{ resource: string; scopes: string[] }>;
  offline: boolean;
}

function cancelForm(uid: string, csrf: string) {
  return html`<form method="post" action="/interaction/${uid}/abort">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Cancel</button>
</form>`;
}

export function loginPage(p: LoginPage): string {
  return page('Sign in', html`<h1>Sign in to continue to ${p.clientName}</h1>
${p.error ? html`<p class="error" role="alert">${p.error}</p>` : ''}
<form method="post" action="/interaction/${p.uid}/login" autocomplete="on">
<input type="hidden" name="csrf" value="${p.csrf}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${p.username ?? ''}" autocomplete="username" autocapitalize="none" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
${cancelForm(p.uid, p.csrf)}`);
}

export function consentPage(p: ConsentPage): string {
  return page('Allow access', html`<h1>${p.clientName} asks for access</h1>
<p>Signed in as <strong>${p.accountName}</strong>.</p>
${p.resourceScopes.map(({ resource, scopes }) => html`<p>To <code>${resource}</code>:</p>
<ul>${scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>`)}
${p.oidcScopes.length ? html`<p>Identity: ${p.oidcScopes.map((s, i) => html`${i ? ', ' : ''}<code>${s}</code>`)}</p>` : ''}
${p.offline ? html`<p class="muted">It may keep this access after you close the browser (refresh tokens), until you revoke it.</p>` : ''}
<form method="post" action="/interaction/${p.uid}/consent">
<input type="hidden" name="csrf" value="${p.csrf}">
<button type="submit">Allow</button>
</form>
${cancelForm(p.uid, p.csrf)}`);
}

export function problemPage(title: string, message: string): string {
  return page(title, html`<h1>${title}</h1>
<p>${message}</p>
<p class="muted">Go back to the application and start again.</p>`);
}
