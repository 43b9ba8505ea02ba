// @ts-check
// Audit log (#/audit): who changed what, newest first, from GET /admin/v1/audit, filtered by
// actor, target and time; a person (actor.sub, console changes) and a client (actor.client_id)
// are told apart; "Load more" follows the cursor.
import { h, field, replace, uid } from './dom.js';
import { api } from './api.js';
import { isObject } from './auth.js';
import { announce, clientHash, dateTime, errorBox, itemsOf, link, personLabel, showError, str } from './ui.js';

/**
 * The actor as shown: the person for changes made in the console, else the client (and its certificate).
 * @param {unknown} actor
 */
function actorCell(actor) {
  const a = isObject(actor) ? actor : {};
  const sub = str(a, 'sub');
  if (sub) {
    const name = personLabel(sub);
    return h('td', {}, h('span', { class: 'badge person' }, 'person'), ' ', sub, name !== sub ? h('span', { class: 'relative' }, name) : null);
  }
  const clientId = str(a, 'client_id');
  const x5t = str(a, 'x5t#S256');
  return h('td', {}, h('span', { class: 'badge' }, 'client'), ' ', clientId || '—', x5t ? h('span', { class: 'relative' }, `certificate ${x5t.slice(0, 12)}…`) : null);
}

/**
 * The target, as a link when it is a client or one of its certificates.
 * @param {string} target
 */
function targetCell(target) {
  const client = /^clients\/([^/]+)/.exec(target);
  return h('td', { class: 'wrap' }, client ? link(clientHash(client[1] ?? ''), target) : target);
}

/**
 * What changed: the fields, with the before/after values in a disclosure.
 * @param {Record<string, unknown>} entry
 */
function changeCell(entry) {
  const before = isObject(entry.before) ? entry.before : null;
  const after = isObject(entry.after) ? entry.after : null;
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  if (fields.length === 0) return h('td', {}, '—');
  return h('td', { class: 'changes' },
    h('details', {},
      h('summary', {}, fields.slice(0, 4).join(', ') + (fields.length > 4 ? ` and ${fields.length - 4} more` : '')),
      h('div', { class: 'diff' },
        h('div', {}, h('h3', {}, 'Before'), h('pre', {}, before ? JSON.stringify(before, null, 2) : '(none)')),
        h('div', {}, h('h3', {}, 'After'), h('pre', {}, after ? JSON.stringify(after, null, 2) : '(none)')))));
}

/** @param {string} value  a datetime-local value, read as local time */
function isoOf(value) {
  if (!value) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? value : at.toISOString();
}

/** @param {import('./app.js').View} view */
export async function renderAudit(view) {
  const actor = h('input', { id: uid('actor'), name: 'actor', autocomplete: 'off', spellcheck: 'false' });
  const target = h('input', { id: uid('target'), name: 'target', autocomplete: 'off', spellcheck: 'false', placeholder: 'clients/partner-a' });
  const since = h('input', { id: uid('since'), name: 'since', type: 'datetime-local' });
  const until = h('input', { id: uid('until'), name: 'until', type: 'datetime-local' });
  const error = errorBox();
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', 'data-testid': 'audit-more', hidden: true }, 'Load more');
  const count = h('p', { class: 'count' });
  const filters = h('form', { class: 'filters', 'data-testid': 'audit-filter', role: 'search' },
    field('Actor (client_id, certificate x5t#S256 or person)', actor),
    field('Target (and what lies under it)', target),
    field('Since', since),
    field('Until', until),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Filter'), h('button', { type: 'reset' }, 'Clear')));

  /** @type {string | undefined} */
  let cursor;
  let shown = 0;

  /** @param {boolean} append */
  async function load(append) {
    showError(error);
    const query = {
      actor: actor.value.trim(), target: target.value.trim(), since: isoOf(since.value), until: isoOf(until.value), limit: '50', cursor: append ? cursor : undefined,
    };
    const { body } = await api('GET', '/audit', { query });
    if (!view.current()) return;
    const items = itemsOf(body);
    cursor = isObject(body) && typeof body.next_cursor === 'string' ? body.next_cursor : undefined;
    const rows = items.map((entry) => h('tr', { 'data-testid': 'audit-row', 'data-action': str(entry, 'action'), 'data-target': str(entry, 'target') },
      h('td', { class: 'nowrap' }, h('time', { datetime: str(entry, 'at') }, dateTime(entry.at))),
      actorCell(entry.actor),
      h('th', { scope: 'row' }, str(entry, 'action')),
      targetCell(str(entry, 'target')),
      changeCell(entry)));
    if (append) tbody.append(...rows);
    else replace(tbody, rows);
    shown = (append ? shown : 0) + items.length;
    count.textContent = `${shown} entr${shown === 1 ? 'y' : 'ies'}, newest first${cursor ? '; more below' : ''}.`;
    more.hidden = cursor === undefined;
  }

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    load(false).then(() => announce(count.textContent ?? ''), (/** @type {unknown} */ err) => showError(error, err));
  });
  filters.addEventListener('reset', () => setTimeout(() => void load(false).catch((/** @type {unknown} */ err) => showError(error, err)), 0));
  more.addEventListener('click', () => void load(true).catch((/** @type {unknown} */ err) => showError(error, err)));

  await load(false);
  if (!view.current()) return;
  replace(view.main,
    h('h1', {}, 'Audit log'),
    filters,
    error,
    count,
    h('div', { class: 'table-scroll' },
      h('table', { 'data-testid': 'audit-table' },
        h('caption', {}, 'Changes made through the admin API and the console'),
        h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Target', 'Changes'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)),
    h('div', { class: 'actions' }, more));
}
