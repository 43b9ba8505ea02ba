// @ts-check
// The console's two pictures, drawn as SVG with createElementNS (no chart library, no HTML
// parsing): a horizontal bar chart with a text table beside it for screen readers and text
// browsers, and the certificate validity bars of the timeline (one scale for all rows, today
// marked by a vertical line).
import { h, s, table } from './dom.js';

const DAY = 86_400_000;

/**
 * Bars for counts by label (e.g. refusals by reason), with the same numbers as a table. `width`
 * is the room on screen in CSS pixels, so that the labels keep their size on a phone.
 * @param {string} title
 * @param {[string, number][]} entries
 * @param {{ chartTestId: string, tableTestId: string }} ids
 * @param {number} [width]
 */
export function barChart(title, entries, ids, width = 620) {
  const rows = [...entries].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const labelWidth = Math.round(Math.min(230, width * 0.42));
  const barSpace = width - labelWidth - 60;
  const rowHeight = 28;
  const height = rows.length * rowHeight + 8;
  const titleId = `${ids.chartTestId}-title`;
  const svg = s('svg', {
    viewBox: `0 0 ${labelWidth + barSpace + 60} ${height}`, class: 'chart', role: 'img', 'aria-labelledby': titleId, 'data-testid': ids.chartTestId,
    preserveAspectRatio: 'xMinYMin meet',
  },
  s('title', { id: titleId }, `${title}: ${rows.map(([label, n]) => `${label} ${n}`).join(', ')}`),
  rows.map(([label, n], i) => {
    const y = 4 + i * rowHeight;
    const width = Math.max(2, (n / max) * barSpace);
    return s('g', { class: 'bar' },
      s('text', { x: labelWidth - 8, y: y + 17, 'text-anchor': 'end', class: 'label' }, label.length > labelWidth / 7.5 ? `${label.slice(0, Math.floor(labelWidth / 7.5) - 1)}…` : label),
      s('rect', { x: labelWidth, y: y + 3, width, height: rowHeight - 8, rx: 3 }),
      s('text', { x: labelWidth + width + 6, y: y + 17, class: 'value' }, String(n)));
  }));
  const fallback = table(title, ['Reason', 'Count'], rows.map(([label, n]) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, String(n)))),
    { 'data-testid': ids.tableTestId, class: 'compact' });
  return h('figure', { class: 'bar-chart' }, svg, h('details', {}, h('summary', {}, 'The numbers as a table'), fallback));
}

/**
 * The time window of a timeline: from the earliest not_before to the latest not_after, kept to
 * at most 2 years back and 3 years ahead of today (a 20-year CA certificate would flatten the rest).
 * @param {{ not_before: string, not_after: string }[]} certificates
 * @param {number} now
 * @returns {{ start: number, end: number }}
 */
export function timelineDomain(certificates, now) {
  const starts = certificates.map((c) => Date.parse(c.not_before)).filter(Number.isFinite);
  const ends = certificates.map((c) => Date.parse(c.not_after)).filter(Number.isFinite);
  let start = Math.max(Math.min(now - 30 * DAY, ...starts), now - 730 * DAY);
  let end = Math.min(Math.max(now + 30 * DAY, ...ends), now + 1095 * DAY);
  const pad = (end - start) * 0.02;
  start -= pad;
  end += pad;
  return { start, end };
}

const WIDTH = 400;
const HEIGHT = 22;

/**
 * @param {number} t
 * @param {{ start: number, end: number }} domain
 */
function xOf(t, domain) {
  return Math.min(WIDTH, Math.max(0, ((t - domain.start) / (domain.end - domain.start)) * WIDTH));
}

/**
 * One certificate's validity as a bar on the shared scale, with today's line.
 * @param {{ not_before: string, not_after: string, state: string }} cert
 * @param {{ start: number, end: number }} domain
 * @param {number} now
 */
export function validityBar(cert, domain, now) {
  const from = Date.parse(cert.not_before);
  const to = Date.parse(cert.not_after);
  // A certificate only seen at authentication may have no recorded start: its bar starts at the left edge.
  const known = Number.isFinite(from);
  const x1 = known ? xOf(from, domain) : 0;
  const x2 = xOf(to, domain);
  const left = Math.round((to - now) / DAY);
  const soon = cert.state === 'active' && to > now && to - now <= 30 * DAY;
  const cls = `validity state-${cert.state}${soon ? ' soon' : ''}${known ? '' : ' start-unknown'}`;
  const label = `Valid ${known ? `from ${cert.not_before.slice(0, 10)} ` : ''}until ${cert.not_after.slice(0, 10)}: `
    + `${left >= 0 ? `${left} days left` : `expired ${-left} days ago`} (${cert.state})`;
  const today = xOf(now, domain);
  return s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: 'timeline-bar', role: 'img', 'aria-label': label },
    s('title', {}, label),
    s('rect', { x: x1, y: 5, width: Math.max(2, x2 - x1), height: HEIGHT - 10, rx: 3, class: cls }),
    s('line', { x1: today, x2: today, y1: 0, y2: HEIGHT, class: 'today' }));
}

/**
 * The axis above the bars: a tick every 1, 2, 3, 6, 12, 24 or 60 months — the first step that
 * leaves room for its label — and "today".
 * @param {{ start: number, end: number }} domain
 * @param {number} now
 */
export function timelineAxis(domain, now) {
  const monthWidth = (WIDTH * 30.44 * DAY) / (domain.end - domain.start);
  const step = [1, 2, 3, 6, 12, 24, 60].find((months) => months * monthWidth >= 60) ?? 120;
  const first = new Date(domain.start);
  let month = first.getUTCFullYear() * 12 + first.getUTCMonth() + 1;
  month += (step - (month % step)) % step;
  const ticks = [];
  for (let tick = Date.UTC(Math.floor(month / 12), month % 12, 1); tick < domain.end; month += step, tick = Date.UTC(Math.floor(month / 12), month % 12, 1)) {
    const x = xOf(tick, domain);
    const label = step >= 12 || month % 12 === 0 ? String(Math.floor(month / 12)) : new Date(tick).toISOString().slice(0, 7);
    ticks.push(s('g', {},
      s('line', { x1: x, x2: x, y1: 14, y2: 22, class: 'tick' }),
      x < WIDTH - 30 ? s('text', { x: x + 2, y: 11, class: 'tick-label' }, label) : null));
  }
  const today = xOf(now, domain);
  return s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: 'timeline-axis', 'aria-hidden': 'true' },
    ticks,
    s('line', { x1: today, x2: today, y1: 0, y2: HEIGHT, class: 'today' }));
}
