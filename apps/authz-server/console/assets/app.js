// @ts-check
// The console's entry: reads /console/config.json, finishes a sign-in at /console/callback, shows
// the sign-in screen when signed out, and otherwise routes the hash (#/, #/certificates,
// #/clients, #/clients/new, #/clients/<id>, #/resource-servers, #/audit, #/check) to one page
// module each, with the idle timer and the sign-out button around them.
//
// Stable hooks for the browser test (data-testid, unless said otherwise):
//   signin                      the "Sign in" button of the sign-in screen
//   signin-error                why the last sign-in or session ended (sign-in screen)
//   signin-switch               "Use another account" after a refused sign-in (ends that certbound session)
//   signout                     the "Sign out" button in the header
//   nav-overview, nav-certificates, nav-clients, nav-resource-servers, nav-audit, nav-check
//                               the nav links (the current one has aria-current="page")
//   page-error                  the page's error message (role alert; one per page); a section's own:
//                               certificate-error, enrollment-error (client page)
//   field-error-<field>         an API validation error next to its field (<field> is the JSON member)
//   overview-counts, refusal-chart (SVG), refusal-table (its numbers), responder-row (data-healthy)
//   certificate-timeline        the table of certificates and their validity bars (Certificates page, client page)
//   certificate-row             a certificate row, with data-x5t (x5t#S256), data-not-after (ISO 8601)
//                               and data-state (active, retired, revoked, expired)
//   certificate-filter-client, certificate-filter-state, certificate-sort
//   client-table, client-row (data-client-id), client-search, client-new ("New client" link)
//   client-form                 new and edit; fields named as the API's JSON members: client_id,
//                               client_name, token_endpoint_auth_method, tls_client_auth_subject_dn
//                               (and the SAN matchers, chosen with matcher-kind), certificate_pinning,
//                               jwks, grant_types, redirect_uris, resources (checkbox per resource
//                               server, value = identifier) and resource_scopes (data-resource),
//                               default_resource, contacts, issued_cert_ttl, disabled, ...
//   client-save                 the form's submit button;  client-edit  "Edit registration"
//   certificate-file            the PEM file input;  certificate-pem  the PEM textarea
//   certificate-add             the button adding the certificate
//   certificate-retire          a certificate row's "Retire" button
//   certificate-revoke          a certificate row's "Revoke" button (certificates certbound issued)
//   enrollment-create, enrollment-code (the code, shown once), enrollment-row (data-state)
//   refusal-row                 a recent refusal of the client (data-reason)
//   revoke-all, revoke-result   "Revoke all tokens" and what it revoked;  client-delete  "Delete client"
//   confirm-yes, confirm-cancel the buttons of a confirm step
//   resource-server-row (data-identifier), resource-server-form, resource-server-save,
//   resource-server-edit, resource-server-delete
//   audit-filter (the form), audit-table, audit-row (data-action, data-target), audit-more
//   check-pem, check-file, check-client, check-submit, check-result (data-ok), check-failure,
//   check-step (data-check, data-ok: true, false or null), check-certificate
import { h, replace } from './dom.js';
import { beginSignIn, completeSignIn, isObject, loadConfig, readTokens, signedInAs, signOut, SignInError, takeNotice, watchIdle } from './auth.js';
import { api, configureApi } from './api.js';
import { announce, clearStaleStatus, messageOf, rememberMe, str } from './ui.js';
import { renderOverview } from './page-overview.js';
import { renderCertificates } from './page-certificates.js';
import { renderClients } from './page-clients.js';
import { renderClient, renderNewClient } from './page-client.js';
import { renderResourceServers } from './page-resource-servers.js';
import { renderAudit } from './page-audit.js';
import { renderCheck } from './page-check.js';

/** @typedef {import('./auth.js').ConsoleConfig} ConsoleConfig */

/**
 * What a page gets: where to draw, the route's parameters, and whether it is still the page on
 * screen (an answer arriving after the person moved on is dropped).
 * @typedef {object} View
 * @property {HTMLElement} main
 * @property {string[]} params
 * @property {() => boolean} current
 * @property {ConsoleConfig} config
 */

/** @typedef {{ page: string, title: string, render: (view: View) => Promise<void> }} Route */

/**
 * @param {string} hash
 * @returns {{ route: Route, params: string[] }}
 */
function routeOf(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [first, second] = parts;
  if (first === 'certificates') return { route: { page: 'certificates', title: 'Certificates', render: renderCertificates }, params: [] };
  if (first === 'clients' && second === 'new') return { route: { page: 'clients', title: 'New client', render: renderNewClient }, params: [] };
  if (first === 'clients' && second !== undefined) return { route: { page: 'clients', title: `Client ${second}`, render: renderClient }, params: [second] };
  if (first === 'clients') return { route: { page: 'clients', title: 'Clients', render: renderClients }, params: [] };
  if (first === 'resource-servers') return { route: { page: 'resource-servers', title: 'Resource servers', render: renderResourceServers }, params: [] };
  if (first === 'audit') return { route: { page: 'audit', title: 'Audit log', render: renderAudit }, params: [] };
  if (first === 'check') return { route: { page: 'check', title: 'Check a certificate', render: renderCheck }, params: [] };
  return { route: { page: 'overview', title: 'Overview', render: renderOverview }, params: [] };
}

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const menu = /** @type {HTMLButtonElement} */ (document.getElementById('menu'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));

let generation = 0;

/**
 * @param {ConsoleConfig} config
 * @param {boolean} [moved]  the person followed a link: focus goes to the new page (screen readers start there)
 */
async function show(config, moved = false) {
  generation += 1;
  const mine = generation;
  const { route, params } = routeOf(location.hash);
  for (const a of nav.querySelectorAll('a[data-page]')) {
    if (a.getAttribute('data-page') === route.page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  closeMenu();
  clearStaleStatus();
  document.title = `${route.title} · certbound console`;
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    await route.render({ main, params, current: () => mine === generation, config });
  } catch (err) {
    if (mine === generation) replace(main, h('h1', {}, route.title), h('p', { class: 'error', role: 'alert', 'data-testid': 'page-error' }, messageOf(err)));
  }
  if (mine !== generation) return;
  if (moved) {
    scrollTo(0, 0);
    main.focus({ preventScroll: true });
  } else if (document.activeElement === document.body) {
    main.focus({ preventScroll: true });
  }
}

function closeMenu() {
  menu.setAttribute('aria-expanded', 'false');
  nav.classList.remove('open');
}

/**
 * The sign-in screen: one button, and why the person is here (a refused sign-in, an ended session).
 * @param {ConsoleConfig | undefined} config
 * @param {string} [notice]
 */
function showSignIn(config, notice) {
  nav.hidden = true;
  menu.hidden = true;
  who.hidden = true;
  document.title = 'Sign in · certbound console';
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'signin-error', hidden: !notice }, notice ?? '');
  const button = h('button', { type: 'button', class: 'primary', 'data-testid': 'signin', disabled: !config }, 'Sign in');
  button.addEventListener('click', () => {
    if (!config) return;
    button.disabled = true;
    beginSignIn(config, { fresh: notice !== undefined }).catch((/** @type {unknown} */ err) => {
      button.disabled = false;
      error.textContent = messageOf(err);
      error.hidden = false;
    });
  });
  // After a refused sign-in certbound may still hold that person's session: ending it lets another account sign in.
  const other = notice && config
    ? h('button', { type: 'button', 'data-testid': 'signin-switch', onclick: () => void signOut(config) }, 'Use another account')
    : null;
  replace(main, h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'certbound console'),
    h('p', {}, 'See every client certificate\'s life at a glance, and onboard, rotate and retire partners. Sign in with your certbound account; only accounts with the admin role get in.'),
    error,
    h('div', { class: 'actions' }, button, other)));
}

async function start() {
  /** @type {ConsoleConfig} */
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    showSignIn(undefined, `The console cannot start: ${messageOf(err)}`);
    return;
  }
  let notice = takeNotice();
  if (location.pathname === '/console/callback') {
    try {
      await completeSignIn(config, location.search);
    } catch (err) {
      notice = err instanceof SignInError ? err.message : `Sign-in failed: ${messageOf(err)}`;
    }
    history.replaceState(null, '', '/console/#/');
  }
  if (!readTokens()) {
    showSignIn(config, notice);
    return;
  }

  let stopIdle = () => {};
  configureApi(config, (reason) => {
    stopIdle();
    showSignIn(config, reason);
  });
  const person = document.getElementById('person');
  if (person) person.textContent = signedInAs() ? `Signed in as ${signedInAs()}` : '';
  nav.hidden = false;
  menu.hidden = false;
  who.hidden = false;
  const signout = /** @type {HTMLButtonElement} */ (document.getElementById('signout'));
  signout.addEventListener('click', () => {
    signout.disabled = true;
    stopIdle();
    announce('Signing out…');
    void signOut(config);
  });
  menu.addEventListener('click', () => {
    const open = menu.getAttribute('aria-expanded') !== 'true';
    menu.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
  });
  const minutes = Math.round(config.idle_timeout_seconds / 60);
  stopIdle = watchIdle(config.idle_timeout_seconds, () => {
    void signOut(config, `You were signed out after ${minutes >= 1 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${config.idle_timeout_seconds} seconds`} without activity.`);
  });
  // Who is signed in, by name (the ID token carries only the account's sub).
  try {
    const { body } = await api('GET', '/me');
    const me = isObject(body) ? body : {};
    const label = str(me, 'name') || str(me, 'username') || str(me, 'sub');
    if (person && label) person.textContent = `Signed in as ${label}`;
    if (str(me, 'sub')) rememberMe(str(me, 'sub'), str(me, 'username') || label);
  } catch {
    // The header keeps what the ID token says; a session that ended shows the sign-in screen.
  }
  if (!readTokens()) return;
  addEventListener('hashchange', () => void show(config, true));
  await show(config);
}

void start();
