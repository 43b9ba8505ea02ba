// The pages a person sees during an authorization request — sign in, consent, and "this request
// cannot continue" — and at sign-out (oidc-provider's rpInitiatedLogout: confirm, signed out),
// all under the same headers (no framing, no inline code but our hashed style, nothing loaded
// from elsewhere). Every value is escaped by the `html` template.
import { html, page, type SafeHtml } from './html.ts';

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

/**
 * oidc-provider's logoutSource: "sign out?" with its form (`form`: the engine's own markup, an
 * xsrf token in a hidden field, posting to /session/end/confirm), whose buttons submit it.
 */
export function logoutPage(host: string, form: SafeHtml): string {
  return page('Sign out', html`<h1>Sign out from ${host}?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

/** oidc-provider's postLogoutSuccessSource: shown when no post_logout_redirect_uri was given. */
export function signedOutPage(clientName: string | undefined): string {
  return page('Signed out', html`<h1>Signed out</h1>
<p>You are signed out${clientName ? html` of ${clientName}` : ''}.</p>`);
}
