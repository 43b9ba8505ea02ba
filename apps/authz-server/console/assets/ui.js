// @ts-check
// What every page shares: the status line (an aria-live region), the page error, API validation
// errors placed next to the field they name, confirm steps, and the date formats (ISO dates,
// UTC times, "in 5 days").
import { h, replace } from './dom.js';
import { ApiError, SignedOut } from './api.js';
import { isObject } from './auth.js';

/**
 * Says something in the status region (read out by screen readers, polite).
 * @param {string} message
 */
export function announce(message) {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = '';
  announcedAt = Date.now();
  // A new text node after a tick so that the same message twice is read twice.
  setTimeout(() => { status.textContent = message; }, 30);
}

let announcedAt = 0;

/** On moving to another page: forgets the status line, unless it was just said (e.g. "Client created" before showing it). */
export function clearStaleStatus() {
  const status = document.getElementById('status');
  if (status && Date.now() - announcedAt > 2000) status.textContent = '';
}

/** @param {unknown} err */
export function messageOf(err) {
  if (err instanceof ApiError) {
    const what = err.error_description ? `${err.error_description}` : err.error;
    if (err.status === 503) return `${what}${err.retryAfter ? ` (retry in ${err.retryAfter} s)` : ''}`;
    if (err.status === 0) return what;
    return `${what} (HTTP ${err.status} ${err.error})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * An error box (role alert), hidden when empty: the page's own is `page-error`, a section's has its own test id.
 * @param {string} [testId]
 */
export function errorBox(testId = 'page-error') {
  return h('p', { class: 'error', role: 'alert', 'data-testid': testId, hidden: true });
}

/**
 * Shows `err` in `box`, or hides the box when err is undefined. A SignedOut is not shown here:
 * the sign-in screen says it.
 * @param {HTMLElement} box
 * @param {unknown} [err]
 */
export function showError(box, err) {
  if (err === undefined || err instanceof SignedOut) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = messageOf(err);
  box.hidden = false;
}

/**
 * The field an API refusal names: "redirect_uris[0]: must be ..." → "redirect_uris",
 * "resources[\"https://x\"][1]: ..." → "resources", "jwks.keys[0].kty: ..." → "jwks".
 * @param {string} description
 * @returns {{ field: string, path: string, problem: string } | undefined}
 */
export function fieldOf(description) {
  const match = /^([A-Za-z_][A-Za-z0-9_#]*)((?:\[[^\]]*\]|\.[A-Za-z0-9_]+)*): (.+)$/s.exec(description);
  if (!match) return undefined;
  return { field: match[1], path: match[1] + match[2], problem: match[3] };
}

/**
 * Clears the field errors of a form.
 * @param {HTMLFormElement} form
 */
export function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) {
    p.textContent = '';
    /** @type {HTMLElement} */ (p).hidden = true;
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/**
 * Puts an API validation error next to the field it names (and focuses that field); returns
 * false when the form has no such field, so the caller shows it as a page error.
 * @param {HTMLFormElement} form
 * @param {unknown} err
 */
export function showFieldError(form, err) {
  if (!(err instanceof ApiError) || err.status !== 400 && err.status !== 409) return false;
  const named = fieldOf(err.error_description);
  if (!named) return false;
  const box = form.querySelector(`[data-testid="field-error-${CSS.escape(named.field)}"]`);
  if (!(box instanceof HTMLElement)) return false;
  box.textContent = named.path === named.field ? named.problem : `${named.path}: ${named.problem}`;
  box.hidden = false;
  const wrapper = box.closest('[data-field]');
  const control = wrapper?.querySelector('input:not([type=hidden]):not([hidden]), select, textarea:not([hidden])');
  if (control instanceof HTMLElement) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
  announce(`${named.field}: ${named.problem}`);
  return true;
}

/**
 * A confirm step in the page (no window.confirm): the question, a destructive button and Cancel.
 * @param {HTMLElement} where  the element the confirm panel replaces the contents of
 * @param {string} question
 * @param {string} yesLabel
 * @param {() => Promise<void>} onYes
 * @param {() => void} onCancel
 */
export function confirmStep(where, question, yesLabel, onYes, onCancel) {
  const yes = h('button', { type: 'button', class: 'danger', 'data-testid': 'confirm-yes' }, yesLabel);
  const no = h('button', { type: 'button', 'data-testid': 'confirm-cancel', onclick: onCancel }, 'Cancel');
  yes.addEventListener('click', () => {
    yes.disabled = true;
    no.disabled = true;
    onYes().finally(() => { yes.disabled = false; no.disabled = false; });
  });
  replace(where, h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm' }, h('p', {}, question), h('div', { class: 'actions' }, yes, no)));
  yes.focus();
}

// ---- The signed-in person ----

/** @type {{ sub: string, label: string } | undefined} */
let me;

/**
 * Remembers who is signed in (GET /admin/v1/me), so their own changes read "alice (you)".
 * @param {string} sub
 * @param {string} label
 */
export function rememberMe(sub, label) {
  me = { sub, label };
}

/**
 * A person as the audit log shows them: their name when it is the signed-in person, else their sub.
 * @param {string} sub
 */
export function personLabel(sub) {
  return me && me.sub === sub ? `${me.label} (you)` : sub;
}

// ---- Dates ----

/** @param {unknown} value  ISO date-time */
export function isoDate(value) {
  return typeof value === 'string' ? value.slice(0, 10) : '—';
}

/** @param {unknown} value  ISO date-time → "2026-11-30 14:05 UTC" */
export function dateTime(value) {
  if (typeof value !== 'string') return '—';
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? value : `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * "in 5 days", "3 days ago", "in 4 hours".
 * @param {string} value
 * @param {number} [now]
 */
export function relative(value, now = Date.now()) {
  const ms = new Date(value).getTime() - now;
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const [n, unit] = abs >= 86_400_000 ? [Math.round(abs / 86_400_000), 'day'] : abs >= 3_600_000 ? [Math.round(abs / 3_600_000), 'hour'] : [Math.max(1, Math.round(abs / 60_000)), 'minute'];
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * A value of unknown JSON as short text for a table cell.
 * @param {unknown} value
 */
export function text(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Reads `body.items` of a list answer as objects.
 * @param {unknown} body
 * @returns {Record<string, unknown>[]}
 */
export function itemsOf(body) {
  if (!isObject(body) || !Array.isArray(body.items)) return [];
  return body.items.filter(isObject);
}

/**
 * A string member or ''.
 * @param {Record<string, unknown>} o
 * @param {string} name
 */
export function str(o, name) {
  const v = o[name];
  return typeof v === 'string' ? v : '';
}

/**
 * A link inside the console.
 * @param {string} hash  e.g. '#/clients/abc'
 * @param {string} label
 * @param {Record<string, string>} [attrs]
 */
export function link(hash, label, attrs = {}) {
  return h('a', { href: hash, ...attrs }, label);
}

/** The hash of a client's detail page. */
/** @param {string} clientId */
export function clientHash(clientId) {
  return `#/clients/${encodeURIComponent(clientId)}`;
}

/**
 * Reads a PEM from a file input (its first file), or undefined when none is chosen.
 * @param {HTMLInputElement} input
 */
export async function fileText(input) {
  const file = input.files?.[0];
  if (!file) return undefined;
  if (file.size > 256 * 1024) throw new Error(`${file.name} is larger than 256 KB: not a certificate`);
  return file.text();
}
