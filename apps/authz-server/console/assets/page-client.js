// @ts-check
// One client (#/clients/<id>) and "New client" (#/clients/new): the registration with its
// matchers, resources and scopes (edited with If-Match: a 412 says someone else changed it
// first), its certificates (add by PEM upload or paste, retire, revoke), enrollment codes (the
// code shown once), the client's recent refusals with their reasons, and "Revoke all tokens"
// behind a confirm step.
import { h, field, replace, table, uid } from './dom.js';
import { api, ApiError, listAll } from './api.js';
import { isObject } from './auth.js';
import { clientForm } from './client-form.js';
import { certificateHeader, certificateOf, certificateRow } from './page-certificates.js';
import { matcherText } from './page-clients.js';
import { timelineDomain } from './chart.js';
import {
  announce, clearFieldErrors, clientHash, confirmStep, dateTime, errorBox, fileText, itemsOf, link, messageOf, showError, showFieldError, str, text,
} from './ui.js';

export const CHANGED_FIRST = 'Someone else changed this client since you opened it — reload to see their change.';

/** @param {string} clientId */
const clientPath = (clientId) => `/clients/${encodeURIComponent(clientId)}`;

/** @returns {Promise<import('./client-form.js').ResourceServer[]>} */
async function resourceServers() {
  const { items } = await listAll('/resource-servers');
  return items.filter(isObject).map((rs) => ({
    identifier: str(rs, 'identifier'),
    name: str(rs, 'name'),
    scopes: Array.isArray(rs.scopes) ? rs.scopes.filter((x) => typeof x === 'string') : [],
  }));
}

/** @param {import('./app.js').View} view */
export async function renderNewClient(view) {
  const servers = await resourceServers();
  if (!view.current()) return;
  const { form, collect } = clientForm(servers, undefined);
  const error = errorBox();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    showError(error);
    const button = /** @type {HTMLButtonElement | null} */ (form.querySelector('button[type=submit]'));
    if (button) button.disabled = true;
    api('POST', '/clients', { json: collect() }).then(({ body }) => {
      const id = isObject(body) ? str(body, 'client_id') : '';
      announce(`Client ${id} created.`);
      location.hash = clientHash(id);
    }, (/** @type {unknown} */ err) => {
      if (!showFieldError(form, err)) showError(error, err);
    }).finally(() => { if (button) button.disabled = false; });
  });
  replace(view.main,
    h('p', { class: 'crumbs' }, link('#/clients', 'Clients'), ' / New client'),
    h('h1', {}, 'New client'),
    h('p', {}, 'Register a partner. After it is created, add its certificate or give it an enrollment code on its page.'),
    error,
    form);
}

/**
 * @param {string} term
 * @param {Node | string} value
 */
const row = (term, value) => [h('dt', {}, term), h('dd', {}, value)];

/** @param {import('./app.js').View} view */
export async function renderClient(view) {
  const clientId = view.params[0] ?? '';
  const [{ body, headers }, servers] = await Promise.all([api('GET', clientPath(clientId)), resourceServers()]);
  if (!view.current()) return;
  const client = isObject(body) ? body : {};
  const etag = headers.get('ETag') ?? '';
  const error = errorBox();
  const name = str(client, 'client_name');

  // ---- Registration: summary, Edit (PUT with If-Match) ----
  const registration = h('div', {});
  const resources = isObject(client.resources) ? client.resources : {};
  const summary = () => h('div', {},
    h('dl', { class: 'facts' },
      row('Client ID', h('code', {}, clientId)),
      row('Authentication', str(client, 'token_endpoint_auth_method')),
      row('Subject matcher', matcherText(client) || '—'),
      row('Certificate pinning', client.certificate_pinning === true ? 'on: only registered certificates' : 'off'),
      row('Grant types', Array.isArray(client.grant_types) ? client.grant_types.join(', ') : '—'),
      row('Redirect URIs', Array.isArray(client.redirect_uris) && client.redirect_uris.length ? client.redirect_uris.join(', ') : '—'),
      row('Token binding', [
        client.tls_client_certificate_bound_access_tokens !== false ? 'certificate-bound' : 'not certificate-bound',
        client.dpop_bound_access_tokens === true ? 'DPoP required' : '',
      ].filter(Boolean).join(', ')),
      row('Contacts', Array.isArray(client.contacts) && client.contacts.length ? client.contacts.join(', ') : '—'),
      row('State', client.disabled === true ? h('span', { class: 'badge bad' }, 'disabled') : h('span', { class: 'badge ok' }, 'enabled'))),
    h('h3', {}, 'Resources and scopes'),
    Object.keys(resources).length === 0
      ? h('p', { class: 'empty' }, 'This client holds no resource server.')
      : table('Resource servers this client holds, and its scopes on each', ['Resource server', 'Scopes'],
          Object.entries(resources).map(([identifier, scopes]) => h('tr', {},
            h('th', { scope: 'row', class: 'wrap' }, identifier, identifier === str(client, 'default_resource') ? h('span', { class: 'badge' }, 'default') : null),
            h('td', {}, Array.isArray(scopes) && scopes.length ? scopes.join(' ') : 'the audience only, no scopes')))),
    h('div', { class: 'actions' }, h('button', { type: 'button', 'data-testid': 'client-edit', onclick: edit }, 'Edit registration')));

  function edit() {
    const { form, collect } = clientForm(servers, client);
    const formError = error;
    const cancel = h('button', { type: 'button', onclick: () => { showError(error); replace(registration, summary()); } }, 'Cancel');
    form.querySelector('.actions')?.append(cancel);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      showError(formError);
      api('PUT', clientPath(clientId), { json: collect(), headers: { 'If-Match': etag } }).then(() => {
        announce('Changes saved.');
        void renderClient(view);
      }, (/** @type {unknown} */ err) => {
        if (err instanceof ApiError && err.status === 412) {
          replace(formError, CHANGED_FIRST, ' ', h('button', { type: 'button', onclick: () => void renderClient(view) }, 'Reload'));
          formError.hidden = false;
          announce(CHANGED_FIRST);
          formError.scrollIntoView({ block: 'nearest' });
        } else if (!showFieldError(form, err)) {
          showError(formError, err);
        }
      });
    });
    replace(registration, form);
    /** @type {HTMLElement | null} */ (form.querySelector('input:not([readonly]), select'))?.focus();
  }
  replace(registration, summary());

  // ---- Certificates ----
  const certificates = h('div', {});
  const certError = errorBox('certificate-error');
  const pemFile = h('input', { type: 'file', id: uid('certificate-file'), name: 'certificate_file', accept: '.pem,.crt,.cer,application/x-pem-file', 'data-testid': 'certificate-file' });
  const pemText = h('textarea', { id: uid('pem'), name: 'pem', rows: 4, spellcheck: 'false', 'data-testid': 'certificate-pem', placeholder: '-----BEGIN CERTIFICATE-----' });
  const addForm = h('form', { class: 'add-certificate', novalidate: true },
    h('h3', {}, 'Add a certificate'),
    field('PEM file', pemFile),
    field('or paste the PEM', pemText),
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'certificate-add' }, 'Add certificate')));
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(addForm);
    showError(certError);
    void (async () => {
      const pem = (await fileText(pemFile)) ?? pemText.value;
      if (!pem.trim()) {
        showFieldError(addForm, new ApiError(400, 'invalid_request', 'pem: choose a PEM file or paste the certificate'));
        return;
      }
      const { body: added } = await api('POST', `${clientPath(clientId)}/certificates`, { json: { pem } });
      pemFile.value = '';
      pemText.value = '';
      announce(`Certificate ${isObject(added) ? str(added, 'x5t#S256') : ''} added.`);
      await loadCertificates();
    })().catch((/** @type {unknown} */ err) => {
      if (!showFieldError(addForm, err)) showError(certError, err);
    });
  });

  async function loadCertificates() {
    /** @type {ReturnType<typeof certificateOf>[]} */
    let items;
    let now = Date.now();
    try {
      const { body: list } = await api('GET', '/certificates', { query: { client_id: clientId } });
      items = itemsOf(list).map(certificateOf);
      if (isObject(list) && typeof list.now === 'string' && Number.isFinite(Date.parse(list.now))) now = Date.parse(list.now);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404 && err.error === 'not_found' && !err.error_description.includes(clientId))) throw err;
      // A server without GET /certificates: the client's registered certificates.
      const { body: list } = await api('GET', `${clientPath(clientId)}/certificates`);
      items = itemsOf(list).map((item) => ({ ...certificateOf(item), sources: ['registered'] }));
    }
    if (!view.current()) return;
    items.sort((a, b) => Date.parse(a.not_after) - Date.parse(b.not_after));
    const domain = timelineDomain(items, now);
    const rows = items.map((c) => {
      const actionsCell = h('div', { class: 'row-actions' });
      const registered = c.sources.includes('registered');
      const issued = c.sources.includes('issued');
      const buttons = () => [
        registered && c.state !== 'retired'
          ? h('button', { type: 'button', 'data-testid': 'certificate-retire', onclick: () => void retire(c.x5t, actionsCell) }, 'Retire')
          : null,
        issued && c.state !== 'revoked'
          ? h('button', { type: 'button', class: 'danger', 'data-testid': 'certificate-revoke', onclick: () => revokeStep(c.x5t, actionsCell, buttons) }, 'Revoke')
          : null,
      ];
      replace(actionsCell, buttons());
      return certificateRow(c, domain, now, false, [actionsCell]);
    });
    replace(certificates,
      items.length === 0
        ? h('p', { class: 'empty' }, 'No certificates yet.')
        : h('div', { class: 'table-scroll' }, h('table', { 'data-testid': 'certificate-timeline', class: 'certificates' },
            h('caption', {}, `Certificates of ${clientId}`),
            h('thead', {}, certificateHeader(domain, now, false, true)),
            h('tbody', {}, rows))));
  }

  /**
   * @param {string} x5t
   * @param {HTMLElement} cell
   */
  async function retire(x5t, cell) {
    showError(certError);
    for (const b of cell.querySelectorAll('button')) b.disabled = true;
    try {
      await api('DELETE', `${clientPath(clientId)}/certificates/${encodeURIComponent(x5t)}`);
      announce(`Certificate ${x5t} retired: it no longer counts for this client.`);
      await loadCertificates();
    } catch (err) {
      showError(certError, err);
      for (const b of cell.querySelectorAll('button')) b.disabled = false;
    }
  }

  /**
   * @param {string} x5t
   * @param {HTMLElement} cell
   * @param {() => (Node | null)[]} buttons
   */
  function revokeStep(x5t, cell, buttons) {
    const reason = h('select', { id: uid('reason'), name: 'reason' },
      ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'].map((r) => h('option', { value: r }, r)));
    const box = h('div', {});
    confirmStep(box, `Revoke certificate ${x5t.slice(0, 12)}…? It goes on certbound's CRL and its tokens stop working.`, 'Yes, revoke it', async () => {
      try {
        await api('POST', `${clientPath(clientId)}/certificates/${encodeURIComponent(x5t)}/revoke`, { json: { reason: reason.value } });
        announce(`Certificate ${x5t} revoked (${reason.value}).`);
        await loadCertificates();
      } catch (err) {
        showError(certError, err);
        replace(cell, buttons());
      }
    }, () => replace(cell, buttons()));
    replace(cell, h('div', { class: 'field' }, h('label', { for: reason.id }, 'Reason (RFC 5280)'), reason), box);
  }

  // ---- Enrollment codes ----
  const codes = h('div', {});
  const codeError = errorBox('enrollment-error');
  const shownCode = h('div', { class: 'code-once', hidden: true, 'aria-live': 'polite' });
  const createCode = h('button', { type: 'button', 'data-testid': 'enrollment-create' }, 'Create an enrollment code');
  createCode.addEventListener('click', () => {
    showError(codeError);
    createCode.disabled = true;
    api('POST', `${clientPath(clientId)}/enrollment-codes`, { json: {} }).then(async ({ body: created }) => {
      const code = isObject(created) ? str(created, 'code') : '';
      replace(shownCode,
        h('p', {}, 'Give this code to the partner now: it is shown only once and works once, until ', dateTime(isObject(created) ? created.expires_at : ''), '.'),
        h('p', {}, h('code', { class: 'secret', 'data-testid': 'enrollment-code' }, code)),
        h('button', { type: 'button', onclick: () => void navigator.clipboard?.writeText(code).then(() => announce('Code copied.')) }, 'Copy'));
      shownCode.hidden = false;
      announce('Enrollment code created: it is shown once.');
      await loadCodes();
    }).catch((/** @type {unknown} */ err) => showError(codeError, err)).finally(() => { createCode.disabled = false; });
  });

  async function loadCodes() {
    try {
      const { body: list } = await api('GET', `${clientPath(clientId)}/enrollment-codes`);
      if (!view.current()) return;
      const items = itemsOf(list);
      replace(codes, items.length === 0
        ? h('p', { class: 'empty' }, 'No enrollment codes.')
        : table('Enrollment codes (the codes themselves are never shown again)', ['Id', 'State', 'Created', 'Expires', 'Used', 'Failed attempts'],
            items.map((c) => h('tr', { 'data-testid': 'enrollment-row', 'data-state': str(c, 'state') },
              h('th', { scope: 'row' }, h('code', {}, str(c, 'id'))),
              h('td', {}, h('span', { class: `badge state-${str(c, 'state')}` }, str(c, 'state'))),
              h('td', {}, dateTime(c.created_at)),
              h('td', {}, dateTime(c.expires_at)),
              h('td', {}, dateTime(c.used_at)),
              h('td', { class: 'num' }, text(c.failures))))));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.error_description.startsWith('enrollment is off')) {
        createCode.hidden = true;
        replace(codes, h('p', { class: 'empty' }, `Enrollment (EST) is off on this server: ${err.error_description}`));
        return;
      }
      throw err;
    }
  }

  // ---- Recent refusals ----
  const refusals = h('div', {});
  async function loadRefusals() {
    const { body: list } = await api('GET', '/refusals', { query: { client_id: clientId } });
    if (!view.current()) return;
    const items = itemsOf(list);
    const byReason = isObject(list) && isObject(list.by_reason) ? Object.entries(list.by_reason) : [];
    replace(refusals,
      byReason.length ? h('p', {}, 'By reason: ', byReason.map(([reason, n]) => `${reason} ${text(n)}`).join(', ')) : null,
      items.length === 0
        ? h('p', { class: 'empty' }, 'No refusals in the last hour.')
        : table(`Recent refusals of ${clientId}`, ['When', 'Error', 'Reason', 'Description', 'Listener'],
            items.map((r) => h('tr', { 'data-testid': 'refusal-row', 'data-reason': str(r, 'reason') },
              h('td', { class: 'nowrap' }, dateTime(r.at)),
              h('td', {}, str(r, 'error')),
              h('th', { scope: 'row' }, str(r, 'reason')),
              h('td', { class: 'wrap' }, str(r, 'description')),
              h('td', {}, str(r, 'listener'))))));
  }

  // ---- Revoke all tokens, delete ----
  const danger = h('div', { class: 'actions' });
  const dangerButtons = () => {
    replace(danger,
      h('button', { type: 'button', class: 'danger', 'data-testid': 'revoke-all', onclick: revokeAll }, 'Revoke all tokens'),
      h('button', { type: 'button', class: 'danger', 'data-testid': 'client-delete', onclick: deleteClient }, 'Delete client'));
  };
  function revokeAll() {
    confirmStep(danger, `Revoke every grant and refresh token of ${clientId}? Access tokens issued before now are refused too; the client must ask for new ones.`,
      'Yes, revoke all tokens', async () => {
        try {
          const { body: result } = await api('POST', `${clientPath(clientId)}/revoke`);
          const r = isObject(result) ? result : {};
          announce(`Revoked ${text(r.revoked_grants)} grants and ${text(r.revoked_refresh_tokens)} refresh tokens of ${clientId}.`);
          replace(danger, h('p', { class: 'ok', 'data-testid': 'revoke-result' },
            `Revoked ${text(r.revoked_grants)} grants and ${text(r.revoked_refresh_tokens)} refresh tokens; tokens issued before ${dateTime(r.tokens_issued_before)} are refused.`));
          setTimeout(dangerButtons, 8000);
        } catch (err) {
          showError(error, err);
          dangerButtons();
        }
      }, dangerButtons);
  }
  function deleteClient() {
    confirmStep(danger, `Delete ${clientId}? Its registration, certificates and tokens are removed; this cannot be undone.`, 'Yes, delete the client', async () => {
      try {
        await api('DELETE', clientPath(clientId), { headers: { 'If-Match': etag } });
        announce(`Client ${clientId} deleted.`);
        location.hash = '#/clients';
      } catch (err) {
        showError(error, err instanceof ApiError && err.status === 412 ? new Error(CHANGED_FIRST) : err);
        dangerButtons();
      }
    }, dangerButtons);
  }
  dangerButtons();

  replace(view.main,
    h('p', { class: 'crumbs' }, link('#/clients', 'Clients'), ` / ${clientId}`),
    h('h1', {}, name || clientId, client.disabled === true ? h('span', { class: 'badge bad' }, 'disabled') : null),
    error,
    h('section', { 'aria-labelledby': 'reg-title' }, h('h2', { id: 'reg-title' }, 'Registration'), registration),
    h('section', { 'aria-labelledby': 'cert-title' }, h('h2', { id: 'cert-title' }, 'Certificates'), certError, certificates, addForm),
    h('section', { 'aria-labelledby': 'codes-title' }, h('h2', { id: 'codes-title' }, 'Enrollment codes'),
      h('p', {}, 'A one-time code lets the partner get its first certificate over EST (RFC 7030) with ', h('code', {}, 'certbound enroll'), '.'),
      codeError, h('div', { class: 'actions' }, createCode), shownCode, codes),
    h('section', { 'aria-labelledby': 'refusals-title' }, h('h2', { id: 'refusals-title' }, 'Recent refusals'), refusals),
    h('section', { 'aria-labelledby': 'danger-title', class: 'danger-zone' }, h('h2', { id: 'danger-title' }, 'Tokens and removal'), danger));

  // The sections load side by side; one failing says so in its own place.
  await Promise.all([
    loadCertificates().catch((/** @type {unknown} */ err) => showError(certError, err)),
    loadCodes().catch((/** @type {unknown} */ err) => showError(codeError, err)),
    loadRefusals().catch((/** @type {unknown} */ err) => replace(refusals, h('p', { class: 'error', role: 'alert' }, messageOf(err)))),
  ]);
}
