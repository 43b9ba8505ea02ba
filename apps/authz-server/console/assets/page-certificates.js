// @ts-check
// Certificates (#/certificates): every client certificate certbound knows (registered, issued by
// enrollment, or last seen at authentication) from GET /admin/v1/certificates, on one timeline of
// validity with today marked; sorted by expiry (either way), filtered by client and state.
import { h, replace, uid } from './dom.js';
import { api } from './api.js';
import { isObject } from './auth.js';
import { timelineAxis, timelineDomain, validityBar } from './chart.js';
import { clientHash, dateTime, isoDate, itemsOf, link, relative, str } from './ui.js';

/**
 * @typedef {object} Certificate
 * @property {string} client_id
 * @property {string} x5t
 * @property {string} subject
 * @property {string} issuer
 * @property {string} not_before
 * @property {string} not_after
 * @property {string[]} sources
 * @property {string} state
 * @property {string} last_seen_at
 */

/**
 * @param {Record<string, unknown>} item
 * @returns {Certificate}
 */
export function certificateOf(item) {
  return {
    client_id: str(item, 'client_id'),
    x5t: str(item, 'x5t#S256'),
    subject: str(item, 'subject'),
    issuer: str(item, 'issuer'),
    not_before: str(item, 'not_before'),
    not_after: str(item, 'not_after'),
    sources: Array.isArray(item.sources) ? item.sources.filter((x) => typeof x === 'string') : [],
    state: str(item, 'state') || str(item, 'status') || 'active',
    last_seen_at: str(item, 'last_seen_at'),
  };
}

/**
 * A certificate's row: data-x5t and data-not-after are the browser test's hooks.
 * @param {Certificate} c
 * @param {{ start: number, end: number }} domain
 * @param {number} now
 * @param {boolean} showClient
 * @param {Node[]} [actions]
 */
export function certificateRow(c, domain, now, showClient, actions) {
  return h('tr', { 'data-testid': 'certificate-row', 'data-x5t': c.x5t, 'data-not-after': c.not_after, 'data-state': c.state },
    showClient ? h('td', {}, link(clientHash(c.client_id), c.client_id)) : null,
    h('th', { scope: 'row', class: 'wrap subject' }, c.subject || '—', c.issuer ? h('span', { class: 'issuer' }, `issued by ${c.issuer}`) : null),
    h('td', { class: 'x5t' }, h('code', { title: c.x5t }, c.x5t)),
    h('td', { class: 'nowrap' }, h('time', { datetime: c.not_after }, isoDate(c.not_after)), h('span', { class: 'relative' }, relative(c.not_after, now))),
    h('td', {}, h('span', { class: `badge state-${c.state}` }, c.state)),
    h('td', {}, c.sources.join(', ') || '—', c.last_seen_at ? h('span', { class: 'relative' }, `seen ${dateTime(c.last_seen_at)}`) : null),
    h('td', { class: 'timeline-cell' }, validityBar(c, domain, now)),
    actions ? h('td', { class: 'action-cell' }, actions) : null);
}

/**
 * The header row of a certificate table.
 * @param {{ start: number, end: number }} domain
 * @param {number} now
 * @param {boolean} showClient
 * @param {boolean} withActions
 */
export function certificateHeader(domain, now, showClient, withActions) {
  return h('tr', {},
    showClient ? h('th', { scope: 'col' }, 'Client') : null,
    h('th', { scope: 'col' }, 'Subject'),
    h('th', { scope: 'col' }, 'x5t#S256'),
    h('th', { scope: 'col' }, 'Expires'),
    h('th', { scope: 'col' }, 'State'),
    h('th', { scope: 'col' }, 'Sources'),
    h('th', { scope: 'col', class: 'timeline-cell' }, h('span', { class: 'visually-hidden' }, 'Validity (today marked)'), timelineAxis(domain, now)),
    withActions ? h('th', { scope: 'col' }, 'Actions') : null);
}

/** @param {import('./app.js').View} view */
export async function renderCertificates(view) {
  const { body } = await api('GET', '/certificates');
  if (!view.current()) return;
  const now = isObject(body) && typeof body.now === 'string' && Number.isFinite(Date.parse(body.now)) ? Date.parse(body.now) : Date.now();
  const all = itemsOf(body).map(certificateOf);
  const domain = timelineDomain(all, now);
  const clients = [...new Set(all.map((c) => c.client_id))].sort();
  const states = [...new Set(all.map((c) => c.state))].sort();

  const clientSelect = h('select', { id: uid('cert-client'), name: 'client_id', 'data-testid': 'certificate-filter-client' },
    h('option', { value: '' }, 'All clients'), clients.map((id) => h('option', { value: id }, id)));
  const stateSelect = h('select', { id: uid('cert-state'), name: 'state', 'data-testid': 'certificate-filter-state' },
    h('option', { value: '' }, 'Every state'), states.map((state) => h('option', { value: state }, state)));
  let ascending = true;
  const sortButton = h('button', { type: 'button', 'data-testid': 'certificate-sort', 'aria-pressed': 'false' }, 'Latest expiry first');
  const tbody = h('tbody', {});
  const count = h('p', { class: 'count' });
  const truncated = isObject(body) && body.truncated === true;

  const draw = () => {
    const shown = all
      .filter((c) => !clientSelect.value || c.client_id === clientSelect.value)
      .filter((c) => !stateSelect.value || c.state === stateSelect.value)
      .sort((a, b) => (ascending ? 1 : -1) * (Date.parse(a.not_after) - Date.parse(b.not_after)) || a.client_id.localeCompare(b.client_id));
    replace(tbody, shown.map((c) => certificateRow(c, domain, now, true)));
    count.textContent = `${shown.length} of ${all.length} certificate${all.length === 1 ? '' : 's'}, sorted by expiry, ${ascending ? 'soonest' : 'latest'} first.`
      + (truncated ? " Only the soonest-expiring certificates are listed (the API's limit); a client's page lists all of its own." : '');
  };
  clientSelect.addEventListener('change', draw);
  stateSelect.addEventListener('change', draw);
  sortButton.addEventListener('click', () => {
    ascending = !ascending;
    sortButton.textContent = ascending ? 'Latest expiry first' : 'Soonest expiry first';
    sortButton.setAttribute('aria-pressed', String(!ascending));
    draw();
  });
  draw();

  replace(view.main,
    h('h1', {}, 'Certificates'),
    h('p', {}, 'Every client certificate: registered, issued by enrollment, or last seen at authentication. The bars show each validity window on one scale; the red line is today.'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field inline' }, h('label', { for: clientSelect.id }, 'Client'), clientSelect),
      h('div', { class: 'field inline' }, h('label', { for: stateSelect.id }, 'State'), stateSelect),
      sortButton),
    count,
    all.length === 0
      ? h('p', { class: 'empty' }, 'No client certificates yet. Add one on a client\'s page.')
      : h('div', { class: 'table-scroll' },
          h('table', { 'data-testid': 'certificate-timeline', class: 'certificates' },
            h('caption', {}, 'Client certificates and their validity'),
            h('thead', {}, certificateHeader(domain, now, true, false)),
            tbody)));
}
