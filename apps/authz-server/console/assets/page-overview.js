// @ts-check
// Overview (#/): the counts an operator looks at first (clients, certificates, expiring within 7
// and 30 days), refusals of the last hour by reason as a bar chart, and the health of the
// revocation responders — all from GET /admin/v1/status.
import { h, replace, table } from './dom.js';
import { api } from './api.js';
import { isObject } from './auth.js';
import { barChart } from './chart.js';
import { dateTime, link, text } from './ui.js';

/** @param {unknown} v */
const num = (v) => (typeof v === 'number' ? v : 0);

/**
 * @param {string} label
 * @param {number} value
 * @param {string} [href]
 * @param {string} [tone]
 */
function stat(label, value, href, tone) {
  const number = h('span', { class: 'stat-value' }, String(value));
  return h('li', { class: `stat${tone ? ` ${tone}` : ''}` }, href ? h('a', { href }, number, h('span', { class: 'stat-label' }, label)) : [number, h('span', { class: 'stat-label' }, label)]);
}

/** @param {import('./app.js').View} view */
export async function renderOverview(view) {
  const { body } = await api('GET', '/status');
  if (!view.current()) return;
  const status = isObject(body) ? body : {};
  const expiring = isObject(status.expiring) ? status.expiring : {};
  const refusals = isObject(status.refusals_last_hour) ? status.refusals_last_hour : {};
  const byReason = isObject(refusals.by_reason) ? refusals.by_reason : {};
  const revocation = isObject(status.revocation) ? status.revocation : {};
  const responders = Array.isArray(revocation.responders) ? revocation.responders.filter(isObject) : [];
  const in7 = num(expiring['7']);
  const in30 = num(expiring['30']);

  /** @type {[string, number][]} */
  const reasons = Object.entries(byReason).map(([reason, n]) => [reason, num(n)]);
  const chart = reasons.length === 0
    ? h('p', { class: 'empty' }, 'No refusals in the last hour.')
    : barChart('Refusals in the last hour by reason', reasons, { chartTestId: 'refusal-chart', tableTestId: 'refusal-table' },
        Math.max(280, Math.min(620, view.main.clientWidth - 60)));

  const responderRows = responders.map((r) => {
    const healthy = r.healthy === true;
    return h('tr', { 'data-testid': 'responder-row', 'data-healthy': String(healthy) },
      h('td', {}, text(r.source).toUpperCase()),
      h('th', { scope: 'row', class: 'wrap' }, text(r.url)),
      h('td', {}, h('span', { class: `badge ${healthy ? 'ok' : 'bad'}` }, healthy ? 'healthy' : 'failing')),
      h('td', {}, dateTime(r.last_success_at)),
      h('td', {}, dateTime(r.last_failure_at)),
      h('td', { class: 'wrap' }, text(r.last_error)));
  });

  replace(view.main,
    h('h1', {}, 'Overview'),
    h('ul', { class: 'stats', 'data-testid': 'overview-counts', 'aria-label': 'Counts' },
      stat('clients', num(status.clients), '#/clients'),
      stat('certificates', num(status.certificates), '#/certificates'),
      stat('expire within 7 days', in7, '#/certificates', in7 > 0 ? 'alert' : undefined),
      stat('expire within 30 days', in30, '#/certificates', in30 > 0 ? 'warn' : undefined),
      stat('refusals in the last hour', num(refusals.total), undefined, num(refusals.total) > 0 ? 'warn' : undefined)),
    h('section', { 'aria-labelledby': 'refusals-title' },
      h('h2', { id: 'refusals-title' }, 'Refusals in the last hour, by reason'),
      chart),
    h('section', { 'aria-labelledby': 'revocation-title' },
      h('h2', { id: 'revocation-title' }, 'Revocation responders'),
      h('p', {}, `Revocation checking: ${text(revocation.mode)}.`),
      responders.length === 0
        ? h('p', { class: 'empty' }, 'No OCSP responder or CRL has been asked yet.')
        : table('OCSP responders and CRL distribution points', ['Source', 'URL', 'Health', 'Last success', 'Last failure', 'Last error'], responderRows)),
    h('p', {}, 'Something failing? ', link('#/check', 'Check a certificate'), ' walks the same steps as the token endpoint.'));
}
