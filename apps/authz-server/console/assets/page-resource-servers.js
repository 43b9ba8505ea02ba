// @ts-check
// Resource servers (#/resource-servers): the APIs tokens are minted for (RFC 8707 resource
// indicators) with their scopes, token format, lifetime and sender-constraint rule; create one,
// and edit one with If-Match (a 412 says someone else changed it first).
import { h, field, replace, table, uid } from './dom.js';
import { api, ApiError, listAll } from './api.js';
import { isObject } from './auth.js';
import { announce, clearFieldErrors, confirmStep, errorBox, showError, showFieldError, str, text } from './ui.js';

/** @param {string} identifier */
const rsPath = (identifier) => `/resource-servers/${encodeURIComponent(identifier)}`;

/**
 * The create / edit form; its fields are the API's JSON members.
 * @param {Record<string, unknown> | undefined} existing
 */
function resourceServerForm(existing) {
  const rs = existing ?? {};
  const format = str(rs, 'token_format') || 'jwt';
  const box = h('input', { type: 'checkbox', id: uid('sc'), name: 'sender_constraint_required', checked: rs.sender_constraint_required !== false });
  const form = h('form', { class: 'rs-form', 'data-testid': 'resource-server-form', novalidate: true },
    field('Identifier (absolute URI, RFC 8707)', h('input', { id: uid('identifier'), name: 'identifier', value: str(rs, 'identifier'), readonly: existing !== undefined, spellcheck: 'false', placeholder: 'https://api.example.com' })),
    field('Name', h('input', { id: uid('name'), name: 'name', value: str(rs, 'name') })),
    field('Scopes (separated by spaces)', h('input', { id: uid('scopes'), name: 'scopes', value: Array.isArray(rs.scopes) ? rs.scopes.join(' ') : '', spellcheck: 'false' })),
    field('Token format', h('select', { id: uid('token_format'), name: 'token_format' },
      h('option', { value: 'jwt', selected: format === 'jwt' }, 'jwt (RFC 9068)'),
      h('option', { value: 'opaque', selected: format === 'opaque' }, 'opaque (introspection)'))),
    field('Access token lifetime (seconds)', h('input', { id: uid('ttl'), name: 'access_token_ttl', type: 'number', inputmode: 'numeric', min: 1, max: 86400,
      value: typeof rs.access_token_ttl === 'number' ? rs.access_token_ttl : '' }), 'Empty: the server default.'),
    h('div', { class: 'field', 'data-field': 'sender_constraint_required' },
      h('div', { class: 'check' }, box, h('label', { for: box.id }, 'Tokens must be sender-constrained (certificate or DPoP)')),
      h('p', { class: 'field-error', 'data-testid': 'field-error-sender_constraint_required', hidden: true })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'resource-server-save' }, existing ? 'Save changes' : 'Create resource server')));

  /** @param {string} name */
  const value = (name) => {
    const el = form.elements.namedItem(name);
    return el instanceof HTMLInputElement || el instanceof HTMLSelectElement ? el.value.trim() : '';
  };
  const collect = () => {
    const ttl = value('access_token_ttl');
    /** @type {Record<string, unknown>} */
    const body = {
      identifier: value('identifier'),
      name: value('name') || null,
      scopes: value('scopes').split(/\s+/).filter(Boolean),
      token_format: value('token_format'),
      access_token_ttl: ttl === '' ? null : Number.isFinite(Number(ttl)) ? Number(ttl) : ttl,
      sender_constraint_required: box.checked,
    };
    if (body.identifier === '') delete body.identifier;
    return body;
  };
  return { form, collect };
}

/** @param {import('./app.js').View} view */
export async function renderResourceServers(view) {
  const { items } = await listAll('/resource-servers');
  if (!view.current()) return;
  const servers = items.filter(isObject);
  const error = errorBox();
  const editor = h('div', {});

  const create = resourceServerForm(undefined);
  create.form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(create.form);
    showError(error);
    api('POST', '/resource-servers', { json: create.collect() }).then(() => {
      announce('Resource server created.');
      void renderResourceServers(view);
    }, (/** @type {unknown} */ err) => {
      if (!showFieldError(create.form, err)) showError(error, err);
    });
  });

  /** @param {string} identifier */
  async function edit(identifier) {
    showError(error);
    const { body, headers } = await api('GET', rsPath(identifier));
    const etag = headers.get('ETag') ?? '';
    const current = isObject(body) ? body : {};
    const { form, collect } = resourceServerForm(current);
    const actions = form.querySelector('.actions');
    const removeBox = h('div', {});
    const removeButton = () => h('button', { type: 'button', class: 'danger', 'data-testid': 'resource-server-delete', onclick: remove }, 'Delete');
    function remove() {
      confirmStep(removeBox, `Delete ${identifier}? Clients holding it lose it; tokens for it are no longer minted.`, 'Yes, delete it', async () => {
        try {
          await api('DELETE', rsPath(identifier), { headers: { 'If-Match': etag } });
          announce(`Resource server ${identifier} deleted.`);
          await renderResourceServers(view);
        } catch (err) {
          showError(error, err instanceof ApiError && err.status === 412 ? new Error(changedFirst) : err);
          replace(removeBox, removeButton());
        }
      }, () => replace(removeBox, removeButton()));
    }
    replace(removeBox, removeButton());
    actions?.append(h('button', { type: 'button', onclick: () => replace(editor) }, 'Cancel'), removeBox);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      showError(error);
      api('PUT', rsPath(identifier), { json: collect(), headers: { 'If-Match': etag } }).then(() => {
        announce(`Resource server ${identifier} saved.`);
        void renderResourceServers(view);
      }, (/** @type {unknown} */ err) => {
        if (err instanceof ApiError && err.status === 412) showError(error, new Error(changedFirst));
        else if (!showFieldError(form, err)) showError(error, err);
      });
    });
    replace(editor, h('section', { 'aria-labelledby': 'edit-title', class: 'editor' }, h('h2', { id: 'edit-title' }, `Edit ${identifier}`), form));
    /** @type {HTMLElement | null} */ (form.querySelector('input[name="name"]'))?.focus();
  }

  const rows = servers.map((rs) => {
    const identifier = str(rs, 'identifier');
    const editButton = h('button', { type: 'button', 'data-testid': 'resource-server-edit' }, 'Edit');
    editButton.addEventListener('click', () => void edit(identifier).catch((/** @type {unknown} */ err) => showError(error, err)));
    return h('tr', { 'data-testid': 'resource-server-row', 'data-identifier': identifier },
      h('th', { scope: 'row', class: 'wrap' }, identifier),
      h('td', {}, str(rs, 'name') || '—'),
      h('td', { class: 'wrap' }, Array.isArray(rs.scopes) && rs.scopes.length ? rs.scopes.join(' ') : '—'),
      h('td', {}, str(rs, 'token_format')),
      h('td', { class: 'num' }, rs.access_token_ttl === null ? 'default' : text(rs.access_token_ttl)),
      h('td', {}, rs.sender_constraint_required === false ? 'no' : 'yes'),
      h('td', {}, editButton));
  });

  replace(view.main,
    h('h1', {}, 'Resource servers'),
    h('p', {}, 'The APIs certbound mints tokens for. Scopes belong to a resource server; a client holds scopes on each one it may call.'),
    error,
    servers.length === 0
      ? h('p', { class: 'empty' }, 'No resource servers yet.')
      : table('Registered resource servers', ['Identifier', 'Name', 'Scopes', 'Token format', 'Token lifetime (s)', 'Sender-constrained', 'Actions'], rows),
    editor,
    h('section', { 'aria-labelledby': 'new-rs-title' }, h('h2', { id: 'new-rs-title' }, 'New resource server'), create.form));
}

const changedFirst = 'Someone else changed this resource server since you opened it — reload to see their change.';
