// @ts-check
// Builds DOM nodes from data without ever parsing HTML: h() and s() only call createElement(NS),
// setAttribute and textContent, so a client name or certificate subject such as
// `<img src=x onerror=alert(1)>` is shown as the text it is (stored XSS is inert by construction).
// No innerHTML, outerHTML, insertAdjacentHTML or document.write anywhere in the console (lint enforces it).

const SVG_NS = 'http://www.w3.org/2000/svg';

/** @typedef {string | number | boolean | null | undefined} AttrValue */
/** @typedef {Record<string, AttrValue | ((event: Event) => void)>} Attrs */
/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Leaf[] | (Leaf | Leaf[])[]} Child */

/**
 * Sets attributes and listeners: `on<event>` keys become addEventListener calls (never an inline
 * handler attribute, which the CSP would block anyway); `true` sets a boolean attribute, `false`,
 * null and undefined leave it out.
 * @param {Element} el
 * @param {Attrs | undefined} attrs
 */
function apply(el, attrs) {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      if (!name.startsWith('on')) throw new TypeError(`attribute ${name}: a function is only allowed for on<event>`);
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      if (/^on/i.test(name)) throw new TypeError(`attribute ${name}: inline handlers are not allowed`);
      el.setAttribute(name, String(value));
    }
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, /** @type {Child[]} */ (child));
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * An HTML element: h('a', { href: '#/' }, 'Overview').
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/**
 * An SVG element, for the charts.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  apply(el, attrs);
  append(el, children);
  return el;
}

/**
 * Replaces the children of `el`.
 * @param {Element} el
 * @param {...Child} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * A table with column headers (`<th scope="col">`) inside a horizontally scrolling wrapper.
 * @param {string} caption
 * @param {string[]} headers
 * @param {Node[]} rows  `<tr>` elements
 * @param {Attrs} [attrs]
 */
export function table(caption, headers, rows, attrs) {
  return h('div', { class: 'table-scroll' },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
      h('tbody', {}, rows)));
}

/**
 * A labelled form field: the label, the control and the place its API error goes
 * (`field-error-<name>`, referenced by aria-describedby).
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control  must have an id and a name
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  const name = control.getAttribute('name') ?? control.id;
  const errorId = `${control.id}-error`;
  const hintId = hint ? `${control.id}-hint` : undefined;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return h('div', { class: 'field', 'data-field': name },
    h('label', { for: control.id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('p', { class: 'field-error', id: errorId, 'data-testid': `field-error-${name}`, hidden: true }));
}

/** A short unique id for label/control pairs. */
let counter = 0;
export function uid(prefix = 'f') {
  counter += 1;
  return `${prefix}-${counter}`;
}
