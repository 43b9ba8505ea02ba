// @ts-check
// Clients (#/clients): every registered client (GET /admin/v1/clients, all pages), a search box
// over client_id, name and subject matcher, and the way to "New client".
import { h, replace, uid } from './dom.js';
import { listAll } from './api.js';
import { isObject } from './auth.js';
import { clientHash, link, str } from './ui.js';

export const MATCHERS = ['tls_client_auth_subject_dn', 'tls_client_auth_san_dns', 'tls_client_auth_san_uri', 'tls_client_auth_san_ip', 'tls_client_auth_san_email'];

/**
 * "subject DN: CN=a" — the client's RFC 8705 subject matcher as text.
 * @param {Record<string, unknown>} client
 */
export function matcherText(client) {
  const matcher = MATCHERS.find((m) => typeof client[m] === 'string');
  if (!matcher) return '';
  const kind = matcher === 'tls_client_auth_subject_dn' ? 'subject DN' : `SAN ${matcher.slice('tls_client_auth_san_'.length).toUpperCase()}`;
  return `${kind}: ${str(client, matcher)}`;
}

/** @param {import('./app.js').View} view */
export async function renderClients(view) {
  const { items, complete } = await listAll('/clients');
  if (!view.current()) return;
  const clients = items.filter(isObject).map((c) => /** @type {Record<string, unknown>} */ (c));
  const search = h('input', { type: 'search', id: uid('client-search'), name: 'q', 'data-testid': 'client-search', autocomplete: 'off', placeholder: 'client_id, name or subject' });
  const tbody = h('tbody', {});
  const count = h('p', { class: 'count', 'aria-live': 'polite' });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = clients.filter((c) => !q || [str(c, 'client_id'), str(c, 'client_name'), matcherText(c)].some((v) => v.toLowerCase().includes(q)));
    replace(tbody, shown.map((c) => {
      const id = str(c, 'client_id');
      return h('tr', { 'data-testid': 'client-row', 'data-client-id': id },
        h('th', { scope: 'row' }, link(clientHash(id), id)),
        h('td', {}, str(c, 'client_name') || '—'),
        h('td', {}, str(c, 'token_endpoint_auth_method')),
        h('td', { class: 'wrap' }, matcherText(c) || '—'),
        h('td', {}, Object.keys(isObject(c.resources) ? c.resources : {}).join(', ') || '—'),
        h('td', {}, c.disabled === true ? h('span', { class: 'badge bad' }, 'disabled') : h('span', { class: 'badge ok' }, 'enabled')));
    }));
    count.textContent = `${shown.length} of ${clients.length} client${clients.length === 1 ? '' : 's'}${complete ? '' : ' (only the first 5,000 are listed)'}.`;
  };
  search.addEventListener('input', draw);
  draw();
  replace(view.main,
    h('div', { class: 'title-row' }, h('h1', {}, 'Clients'), h('a', { href: '#/clients/new', class: 'button primary', 'data-testid': 'client-new' }, 'New client')),
    h('div', { class: 'toolbar' }, h('div', { class: 'field inline grow' }, h('label', { for: search.id }, 'Search'), search)),
    count,
    h('div', { class: 'table-scroll' },
      h('table', { 'data-testid': 'client-table' },
        h('caption', {}, 'Registered clients'),
        h('thead', {}, h('tr', {}, ['Client ID', 'Name', 'Authentication', 'Subject matcher', 'Resources', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)));
}
