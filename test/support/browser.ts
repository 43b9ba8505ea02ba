// A headless "browser" for the login and consent pages: a cookie jar that honours Path and
// expiry, manual redirects, the Origin header a browser sends with a form, and a form reader.
import { tlsFetch, type FetchFn } from './tls-fetch.ts';

interface Cookie { name: string; value: string; path: string; expires: number }

export interface HtmlForm {
  action: string;
  method: string;
  fields: Record<string, string>;
}

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

function decodeEntities(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' })[e]!);
}

/** Every <form> of a page, with its hidden and prefilled fields. */
export function formsOf(html: string): HtmlForm[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attrs, inner]) => {
    const attr = (name: string, from: string) => decodeEntities(new RegExp(`${name}="([^"]*)"`).exec(from)?.[1] ?? '');
    const fields: Record<string, string> = {};
    for (const [input] of inner.matchAll(/<input\b[^>]*>/g)) {
      const name = attr('name', input);
      if (name) fields[name] = attr('value', input);
    }
    return { action: attr('action', attrs), method: (attr('method', attrs) || 'get').toLowerCase(), fields };
  });
}

export class HeadlessBrowser {
  readonly #fetch: FetchFn;
  readonly #cookies = new Map<string, Cookie>();
  /** Extra headers on every request (tests of what a hostile page could send). */
  headers: Record<string, string> = {};

  constructor(ca: string) {
    this.#fetch = tlsFetch({ ca });
  }

  #cookieHeader(url: URL): string | undefined {
    const now = Date.now();
    const sent = [...this.#cookies.values()]
      .filter((c) => c.expires > now && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`);
    return sent.length ? sent.join('; ') : undefined;
  }

  #store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const cookie: Cookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), path: url.pathname.replace(/\/[^/]*$/, '') || '/', expires: Infinity };
      for (const attribute of attributes) {
        const [k, v = ''] = attribute.split('=');
        if (k.toLowerCase() === 'path') cookie.path = v;
        if (k.toLowerCase() === 'expires') cookie.expires = Date.parse(v);
        if (k.toLowerCase() === 'max-age') cookie.expires = Date.now() + Number(v) * 1000;
      }
      this.#cookies.set(`${cookie.name};${cookie.path}`, cookie);
    }
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url);
    const headers = new Headers({ accept: 'text/html', ...this.headers });
    const cookie = this.#cookieHeader(target);
    if (cookie) headers.set('cookie', cookie);
    let body: URLSearchParams | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form);
      if (!('origin' in this.headers)) headers.set('origin', target.origin);
    }
    const res = await this.#fetch(target, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.#store(target, res.headers);
    return { url: target.href, status: res.status, headers: res.headers, text: await res.text() };
  }

  /** Follows redirects on this server; stops at (and returns) a redirect to any other origin. */
  async navigate(url: string, init: { form?: Record<string, string> } = {}, stopAt?: (location: URL) => boolean): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.status >= 300 && page.status < 400 && hops < 10; hops++) {
      const location = new URL(page.headers.get('location')!, page.url);
      if (stopAt?.(location)) return page;
      page = await this.request(location.href);
    }
    return page;
  }

  /** Submits the form whose action matches, with `fields` on top of its own. */
  async submit(page: Page, action: RegExp, fields: Record<string, string> = {}, stopAt?: (location: URL) => boolean): Promise<Page> {
    const form = formsOf(page.text).find((f) => action.test(f.action));
    if (!form) throw new Error(`no form matching ${action} on ${page.url}:\n${page.text.slice(0, 2000)}`);
    return this.navigate(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } }, stopAt);
  }
}
