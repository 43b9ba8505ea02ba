// @ts-check
// The client form, for "New client" (POST /admin/v1/clients) and a client's "Edit" (PUT with
// If-Match): its fields are named as the API's JSON members, so the API's refusal
// "<field>: <problem>" (admin/client-metadata.ts) lands next to the field it names.
import { h, field, uid } from './dom.js';
import { isObject } from './auth.js';
import { MATCHERS } from './page-clients.js';
import { str } from './ui.js';

const AUTH_METHODS = [
  ['tls_client_auth', 'tls_client_auth: a certificate from a configured client CA (RFC 8705 §2.1)'],
  ['self_signed_tls_client_auth', 'self_signed_tls_client_auth: its own self-signed certificates (RFC 8705 §2.2)'],
  ['private_key_jwt', 'private_key_jwt: signed assertions (RFC 7523)'],
];
const MATCHER_LABELS = {
  tls_client_auth_subject_dn: 'Subject DN (RFC 4514), e.g. CN=partner-a,O=Partner A',
  tls_client_auth_san_dns: 'SAN DNS name',
  tls_client_auth_san_uri: 'SAN URI',
  tls_client_auth_san_ip: 'SAN IP address',
  tls_client_auth_san_email: 'SAN email address',
};
const GRANT_TYPES = [
  ['client_credentials', 'client_credentials'],
  ['authorization_code', 'authorization_code (with response type code)'],
  ['refresh_token', 'refresh_token'],
];

/**
 * @typedef {object} ResourceServer
 * @property {string} identifier
 * @property {string} name
 * @property {string[]} scopes
 */

/**
 * A group of checkboxes with its legend and error place.
 * @param {string} name  the JSON member
 * @param {string} legend
 * @param {Node[]} content
 * @param {string} [hint]
 */
function group(name, legend, content, hint) {
  const errorId = uid(`${name}-error`);
  return h('fieldset', { class: 'field group', 'data-field': name, 'aria-describedby': errorId },
    h('legend', {}, legend),
    hint ? h('p', { class: 'hint' }, hint) : null,
    content,
    h('p', { class: 'field-error', id: errorId, 'data-testid': `field-error-${name}`, hidden: true }));
}

/**
 * @param {string} name
 * @param {string} label
 * @param {boolean} checked
 * @param {string} [value]
 * @param {Record<string, string>} [attrs]
 */
function checkbox(name, label, checked, value, attrs = {}) {
  const id = uid(name);
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name, value: value ?? 'true', checked, ...attrs }),
    h('label', { for: id }, label));
}

/**
 * @param {HTMLFormElement} form
 * @param {string} name
 */
function control(form, name) {
  const el = form.elements.namedItem(name);
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement ? el : undefined;
}

/** @param {string} value */
const lines = (value) => value.split(/[\n,]/).map((v) => v.trim()).filter(Boolean);

/**
 * Builds the form. `existing` is the client as GET /clients/:id shows it (edit), or undefined (new).
 * @param {ResourceServer[]} resourceServers
 * @param {Record<string, unknown> | undefined} existing
 * @returns {{ form: HTMLFormElement, collect: () => Record<string, unknown> }}
 */
export function clientForm(resourceServers, existing) {
  const c = existing ?? {};
  const method = str(c, 'token_endpoint_auth_method') || 'tls_client_auth';
  const matcherNow = MATCHERS.find((m) => typeof c[m] === 'string') ?? 'tls_client_auth_subject_dn';
  const held = isObject(c.resources) ? c.resources : {};
  const grantTypes = Array.isArray(c.grant_types) ? c.grant_types : ['client_credentials'];

  const clientId = h('input', { id: uid('client_id'), name: 'client_id', value: str(c, 'client_id'), readonly: existing !== undefined, autocomplete: 'off', spellcheck: 'false' });
  // A method the form does not offer (certbound-console's "none") is still shown as it is, never silently replaced.
  const methods = AUTH_METHODS.some(([value]) => value === method) ? AUTH_METHODS : [...AUTH_METHODS, [method, method]];
  const methodSelect = h('select', { id: uid('method'), name: 'token_endpoint_auth_method' },
    methods.map(([value, label]) => h('option', { value, selected: value === method }, label)));
  const matcherKind = h('select', { id: uid('matcher'), 'data-testid': 'matcher-kind' },
    MATCHERS.map((m) => h('option', { value: m, selected: m === matcherNow }, m)));
  const matcherFields = MATCHERS.map((m) => {
    const wrapper = field(/** @type {Record<string, string>} */ (MATCHER_LABELS)[m] ?? m,
      h('input', { id: uid(m), name: m, value: str(c, m), autocomplete: 'off', spellcheck: 'false' }));
    wrapper.hidden = m !== matcherNow;
    return wrapper;
  });
  const tlsOnly = h('div', { class: 'tls-only' },
    h('div', { class: 'field' }, h('label', { for: matcherKind.id }, 'Subject matcher (RFC 8705 §2.1.2: exactly one)'), matcherKind),
    matcherFields,
    h('div', { class: 'field', 'data-field': 'certificate_pinning' },
      checkbox('certificate_pinning', 'Accept only the certificates registered for this client (certificate pinning)', c.certificate_pinning === true),
      h('p', { class: 'field-error', 'data-testid': 'field-error-certificate_pinning', hidden: true })));
  const jwksText = h('textarea', { id: uid('jwks'), name: 'jwks', rows: 5, spellcheck: 'false' }, isObject(c.jwks) ? JSON.stringify(c.jwks, null, 2) : '');
  const jwksField = field('Public keys (JWK Set JSON)', jwksText, 'The keys its assertions are signed with: {"keys": [...]}');

  const syncMethod = () => {
    tlsOnly.hidden = methodSelect.value !== 'tls_client_auth';
    jwksField.hidden = methodSelect.value !== 'private_key_jwt';
  };
  methodSelect.addEventListener('change', syncMethod);
  matcherKind.addEventListener('change', () => {
    matcherFields.forEach((wrapper, i) => { wrapper.hidden = MATCHERS[i] !== matcherKind.value; });
  });
  syncMethod();

  const resourceGroups = resourceServers.map((rs) => {
    const scopes = Array.isArray(held[rs.identifier]) ? /** @type {unknown[]} */ (held[rs.identifier]) : undefined;
    return h('div', { class: 'resource' },
      checkbox('resources', `${rs.name ? `${rs.name} — ` : ''}${rs.identifier}`, scopes !== undefined, rs.identifier),
      rs.scopes.length === 0
        ? h('p', { class: 'hint' }, 'No scopes: the audience only.')
        : h('div', { class: 'scopes' }, rs.scopes.map((scope) =>
            checkbox('resource_scopes', scope, scopes?.includes(scope) ?? false, scope, { 'data-resource': rs.identifier }))));
  });
  const defaultResource = h('select', { id: uid('default_resource'), name: 'default_resource' },
    h('option', { value: '' }, 'None'),
    resourceServers.map((rs) => h('option', { value: rs.identifier, selected: rs.identifier === str(c, 'default_resource') }, rs.identifier)));
  const ttl = h('input', { id: uid('issued_cert_ttl'), name: 'issued_cert_ttl', type: 'number', inputmode: 'numeric', min: 300, value: typeof c.issued_cert_ttl === 'number' ? c.issued_cert_ttl : '' });

  const form = h('form', { class: 'client-form', 'data-testid': 'client-form', novalidate: true },
    field('Client ID', clientId, existing ? 'A client_id cannot change.' : 'Optional: certbound generates one when left empty. Visible ASCII, no spaces.'),
    field('Name', h('input', { id: uid('client_name'), name: 'client_name', value: str(c, 'client_name'), autocomplete: 'off' })),
    field('Authentication method', methodSelect),
    tlsOnly,
    jwksField,
    group('grant_types', 'Grant types', GRANT_TYPES.map(([value, label]) => checkbox('grant_types', label, grantTypes.includes(value), value))),
    field('Redirect URIs (one per line)', h('textarea', { id: uid('redirect_uris'), name: 'redirect_uris', rows: 2, spellcheck: 'false' },
      Array.isArray(c.redirect_uris) ? c.redirect_uris.join('\n') : ''), 'Only for the authorization_code grant.'),
    group('resources', 'Resources and scopes', resourceGroups.length ? resourceGroups : [h('p', { class: 'hint' }, 'No resource servers are registered yet.')],
      'The resource servers (RFC 8707) the client may get tokens for, and its scopes on each.'),
    field('Default resource', defaultResource),
    group('tls_client_certificate_bound_access_tokens', 'Token binding', [
      checkbox('tls_client_certificate_bound_access_tokens', 'Bind access tokens to the client certificate (RFC 8705 §3)', c.tls_client_certificate_bound_access_tokens !== false),
      checkbox('dpop_bound_access_tokens', 'Require DPoP-bound access tokens (RFC 9449)', c.dpop_bound_access_tokens === true),
      checkbox('introspection_allowed', 'May call the introspection endpoint', c.introspection_allowed === true),
    ]),
    field('Contacts (one per line)', h('textarea', { id: uid('contacts'), name: 'contacts', rows: 2 }, Array.isArray(c.contacts) ? c.contacts.join('\n') : '')),
    field('Lifetime of certificates issued by enrollment (seconds)', ttl, 'Empty: the server default. From 300 to 34300800 (397 days).'),
    group('revoke_previous_on_renewal', 'Renewal', [
      checkbox('revoke_previous_on_renewal', 'Revoke the previous certificate when a renewed one is issued', c.revoke_previous_on_renewal === true),
    ]),
    existing ? group('disabled', 'State', [checkbox('disabled', 'Disabled: the client gets no tokens (its tokens are revoked)', c.disabled === true)]) : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'client-save' }, existing ? 'Save changes' : 'Create client')));

  /** The request body: `existing` with the form's fields written over it (PUT replaces the whole client). */
  const collect = () => {
    /** @type {Record<string, unknown>} */
    const body = { ...c };
    /** @param {string} name */
    const value = (name) => control(form, name)?.value.trim() ?? '';
    /** @param {string} name */
    const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]`)].filter((el) => el instanceof HTMLInputElement && el.checked)
      .map((el) => /** @type {HTMLInputElement} */ (el));
    /**
     * @param {string} name
     * @param {unknown} v
     */
    const set = (name, v) => {
      if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) delete body[name];
      else body[name] = v;
    };

    set('client_id', value('client_id'));
    set('client_name', value('client_name'));
    const auth = methodSelect.value;
    body.token_endpoint_auth_method = auth;
    for (const m of MATCHERS) delete body[m];
    delete body.certificate_pinning;
    if (auth === 'tls_client_auth') {
      // Sent even when empty: the API then says "<matcher>: must not be empty" next to it.
      body[matcherKind.value] = value(matcherKind.value);
      body.certificate_pinning = checked('certificate_pinning').length > 0;
    }
    if (auth === 'private_key_jwt') {
      const raw = value('jwks');
      try {
        set('jwks', raw ? /** @type {unknown} */ (JSON.parse(raw)) : undefined);
      } catch {
        set('jwks', raw); // the API names it: "jwks: must be a JWK Set"
      }
    } else if (auth === 'tls_client_auth') {
      delete body.jwks;
    }
    const grants = checked('grant_types').map((el) => el.value);
    body.grant_types = grants;
    body.response_types = grants.includes('authorization_code') ? ['code'] : [];
    set('redirect_uris', lines(value('redirect_uris')));
    /** @type {Record<string, string[]>} */
    const resources = {};
    for (const el of checked('resources')) resources[el.value] = [];
    for (const el of checked('resource_scopes')) {
      const rs = el.getAttribute('data-resource') ?? '';
      (resources[rs] ??= []).push(el.value);
    }
    body.resources = resources;
    delete body.scope;
    set('default_resource', value('default_resource'));
    body.tls_client_certificate_bound_access_tokens = checked('tls_client_certificate_bound_access_tokens').length > 0;
    body.dpop_bound_access_tokens = checked('dpop_bound_access_tokens').length > 0;
    body.introspection_allowed = checked('introspection_allowed').length > 0;
    set('contacts', lines(value('contacts')));
    const ttlText = value('issued_cert_ttl');
    set('issued_cert_ttl', ttlText === '' ? undefined : Number.isFinite(Number(ttlText)) ? Number(ttlText) : ttlText);
    body.revoke_previous_on_renewal = checked('revoke_previous_on_renewal').length > 0;
    if (existing) body.disabled = checked('disabled').length > 0;
    return body;
  };
  return { form, collect };
}
