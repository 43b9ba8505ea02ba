// Server-rendered HTML for the interaction pages. `html` is a tagged template that escapes every
// interpolated value unless it is itself `html` output, so a page cannot forget to escape; the
// one stylesheet is inline and allowed by its hash, and nothing else may load or run.
import { createHash } from 'node:crypto';

export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }

  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

/** What a page may interpolate: text and numbers (escaped), `html` output, lists of them; nothing, null and false render empty. */
export type Renderable = SafeHtml | string | number | boolean | null | undefined | readonly Renderable[];

function render(value: Renderable): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === undefined || value === null || value === false) return '';
  if (typeof value === 'object') return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): SafeHtml {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return new SafeHtml(out);
}

const STYLE = [
  'body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}',
  'main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}',
  'h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem}',
  'input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}',
  'button{margin:1.2rem .5rem 0 0;padding:.5rem 1.2rem;font:inherit;cursor:pointer}',
  '.error{color:#a40000}.muted{color:#5b6473;font-size:.9rem}code{word-break:break-all}ul{padding-left:1.2rem}',
].join('');
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Response headers for every interaction page: no caching, no framing, nothing but our style. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'`,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: under no-referrer a browser posts the form with `Origin: null`,
  // which the CSRF guard (csrf.ts) refuses; same-origin sends the real Origin to this server only.
  'Referrer-Policy': 'same-origin',
});

export function page(title: string, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · certbound</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}
