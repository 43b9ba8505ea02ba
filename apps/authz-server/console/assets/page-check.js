// @ts-check
// Check a certificate (#/check): paste or upload a PEM, optionally name the client, and see the
// token endpoint's checks step by step (POST /admin/v1/certificates/check: the same steps as
// GET /mtls/check and `certbound doctor`), each passed, failed or not checked, with its detail
// and, for the first failure, what to do about it.
import { h, field, replace, uid } from './dom.js';
import { api, ApiError } from './api.js';
import { isObject } from './auth.js';
import { announce, clearFieldErrors, dateTime, errorBox, fileText, showError, showFieldError, str } from './ui.js';

const STEP_NAMES = {
  presented: 'Certificate presented',
  chain: 'Chains to a configured client CA',
  dates: 'Within its validity dates',
  key_usage: 'Key and key usage',
  revocation: 'Not revoked',
  client_match: 'Matches the client',
};

/** @param {unknown} summary */
function certificateFacts(summary) {
  if (!isObject(summary)) return null;
  const san = isObject(summary.san) ? Object.entries(summary.san).flatMap(([kind, values]) => (Array.isArray(values) ? values.map((v) => `${kind.toUpperCase()}: ${String(v)}`) : [])) : [];
  /** @type {[string, string][]} */
  const facts = [
    ['Subject', str(summary, 'subject')],
    ['Issuer', str(summary, 'issuer')],
    ['Serial', str(summary, 'serial')],
    ['Valid from', dateTime(summary.not_before)],
    ['Valid until', dateTime(summary.not_after)],
    ['x5t#S256', str(summary, 'x5t#S256')],
    ['Subject alternative names', san.join(', ') || '—'],
  ];
  return h('dl', { class: 'facts', 'data-testid': 'check-certificate' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', { class: 'wrap' }, value)]));
}

/** @param {unknown} result */
function resultView(result) {
  const r = isObject(result) ? result : {};
  const steps = Array.isArray(r.steps) ? r.steps.filter(isObject) : [];
  const failure = isObject(r.first_failure) ? r.first_failure : null;
  return h('section', { 'aria-labelledby': 'result-title', class: 'check-result', 'data-testid': 'check-result', 'data-ok': String(r.ok === true) },
    h('h2', { id: 'result-title' }, r.ok === true ? 'Every check passed' : 'The token endpoint would refuse this certificate'),
    failure ? h('p', { class: 'error', 'data-testid': 'check-failure' }, `${str(failure, 'detail')} — ${str(failure, 'fix')} (${str(failure, 'code')})`) : null,
    h('ol', { class: 'steps' }, steps.map((step) => {
      const ok = step.ok === true ? 'ok' : step.ok === false ? 'failed' : 'not checked';
      const name = str(step, 'check');
      return h('li', { class: `step ${ok.replace(' ', '-')}`, 'data-testid': 'check-step', 'data-check': name, 'data-ok': String(step.ok) },
        h('span', { class: 'mark', 'aria-hidden': 'true' }, step.ok === true ? '✓' : step.ok === false ? '✗' : '–'),
        h('span', { class: 'step-name' }, /** @type {Record<string, string>} */ (STEP_NAMES)[name] ?? name),
        h('span', { class: `badge ${step.ok === true ? 'ok' : step.ok === false ? 'bad' : ''}` }, ok),
        h('p', { class: 'detail' }, str(step, 'detail')));
    })),
    certificateFacts(r.certificate));
}

/** @param {import('./app.js').View} view */
export async function renderCheck(view) {
  const pem = h('textarea', { id: uid('pem'), name: 'pem', rows: 8, spellcheck: 'false', 'data-testid': 'check-pem', placeholder: '-----BEGIN CERTIFICATE-----' });
  const file = h('input', { type: 'file', id: uid('check-file'), name: 'pem_file', accept: '.pem,.crt,.cer,application/x-pem-file', 'data-testid': 'check-file' });
  const client = h('input', { id: uid('client'), name: 'client_id', 'data-testid': 'check-client', autocomplete: 'off', spellcheck: 'false' });
  const error = errorBox();
  const result = h('div', {});
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'check-submit' }, 'Check');
  const form = h('form', { class: 'check-form', novalidate: true },
    field('Certificate (PEM: the leaf first, then any intermediates)', pem),
    field('or upload a PEM file', file),
    field('Client ID (optional: also check that it matches this client)', client),
    h('div', { class: 'actions' }, submit));
  file.addEventListener('change', () => {
    fileText(file).then((content) => { if (content !== undefined) pem.value = content; }, (/** @type {unknown} */ err) => showError(error, err));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    showError(error);
    if (!pem.value.trim()) {
      showFieldError(form, new ApiError(400, 'invalid_request', 'pem: paste a certificate or choose a PEM file'));
      return;
    }
    submit.disabled = true;
    /** @type {Record<string, string>} */
    const body = { pem: pem.value };
    if (client.value.trim()) body.client_id = client.value.trim();
    api('POST', '/certificates/check', { json: body }).then(({ body: answer }) => {
      replace(result, resultView(answer));
      announce(isObject(answer) && answer.ok === true ? 'Every check passed.' : 'A check failed: see the steps.');
    }, (/** @type {unknown} */ err) => {
      if (!showFieldError(form, err)) showError(error, err);
    }).finally(() => { submit.disabled = false; });
  });
  if (!view.current()) return;
  replace(view.main,
    h('h1', {}, 'Check a certificate'),
    h('p', {}, 'Walks the checks the token endpoint makes — presented, chain, dates, key usage, revocation, client match — and says for each whether it passed and why. The same steps as /mtls/check and certbound doctor.'),
    error,
    form,
    result);
}
