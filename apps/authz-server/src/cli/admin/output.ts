// What the admin commands print: the API's JSON as is (--json), or a table / a summary for
// people. Text that came from the server is made printable first: a client_name with terminal
// escape sequences must not rewrite the admin's screen.
import type { CliIo } from '../command.ts';

/** C0 and C1 control characters (and DEL) as \xNN / \uNNNN. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is this function's job
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** One value in a cell or a summary line. */
export function show(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'string') return printable(value);
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(show).join(', ');
  if (typeof value === 'object') return printable(JSON.stringify(value));
  const scalar = value as number | boolean; // what JSON leaves once strings, arrays, objects and null are out
  return String(scalar);
}

/** An id in a message, quoted as JSON: client "ledger". */
export const quoted = (id: string): string => JSON.stringify(id);

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** "label   value" lines, labels padded to the longest. */
export function summary(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([label]) => label.length)) + 2;
  return entries.map(([label, value]) => `${label.padEnd(width)}${show(value)}`).join('\n') + '\n';
}

/** "3d", "5h", "expired": how long until `iso`. */
export function timeLeft(iso: unknown, now = Date.now()): string {
  if (typeof iso !== 'string') return '-';
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '-';
  if (ms <= 0) return 'expired';
  const hours = Math.floor(ms / 3_600_000);
  return hours >= 48 ? `${Math.floor(hours / 24)}d` : `${hours}h`;
}
