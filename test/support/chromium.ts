// A real browser for the console's tests: Debian's chromium (or CHROMIUM_PATH) driven headless by
// playwright-core over CDP, with no browser download. The test server's certificate is trusted by
// its public key alone (--ignore-certificate-errors-spki-list): TLS verification stays on for every
// other certificate, so a wrong certificate still fails the page. Without a browser the tests skip
// with a message on a developer's machine and fail under CI=true (.ci/run installs chromium).
//
//   const skip = browserSkip();                  // test('…', { skip }, async () => { … })
//   const browser = await launchChromium({ trust: [serverCertPem] });
//   const page = await newConsolePage(browser);  // 1280×800, every console message and page error kept
//   await page.page.goto(`${publicUrl}/console/`); await signIn(page.page, { username, password });
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

/** The browser binary: CHROMIUM_PATH when set, else the first of Debian's and other usual places that exists. */
export const CHROMIUM: string | undefined = process.env.CHROMIUM_PATH
  ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].find((p) => existsSync(p));

/** Under CI a missing browser is a failure, never a skip. */
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * The `skip` option of a browser test: a message when no browser is installed and CI is not set,
 * false otherwise (under CI without a browser the test runs and launchChromium fails it).
 */
export function browserSkip(): string | false {
  if (CHROMIUM && existsSync(CHROMIUM)) return false;
  if (IN_CI) return false;
  return `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: apt-get install chromium (.ci/run does) or set CHROMIUM_PATH`;
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of a certificate: the form --ignore-certificate-errors-spki-list takes. */
export function spkiSha256(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Headless Chromium that accepts exactly the given server certificates' keys besides the system's trust. */
export async function launchChromium(options: { trust: string[] }): Promise<Browser> {
  if (!CHROMIUM || !existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} and CI is set: .ci/run installs Debian's chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--ignore-certificate-errors-spki-list=${options.trust.map(spkiSha256).join(',')}`,
      // Containers give /dev/shm 64 MB; Chromium's renderer crashes on bigger pages without this.
      '--disable-dev-shm-usage',
      // CI runs as root, where Chromium refuses to start with its sandbox.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ],
  });
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** every console message the page printed so far (type and text) */
  messages: { type: string; text: string }[];
  /** uncaught exceptions in the page */
  errors: Error[];
  /** dialogs (alert, confirm, prompt) the page opened */
  dialogs: string[];
  /** whether the next dialogs are accepted (a confirm() the test expects) or dismissed (the default) */
  acceptDialogs: boolean;
}

/** A fresh context (its own storage) and page at 1280×800 that records what the page says. */
export async function newConsolePage(browser: Browser): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC' });
  // Every wait is bounded (liveness, not speed): a console that never shows a hook fails in 20 s, not Playwright's 30 s per step.
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const recorded: ConsolePage = { context, page, messages: [], errors: [], dialogs: [], acceptDialogs: false };
  page.on('console', (m: ConsoleMessage) => recorded.messages.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => recorded.errors.push(e));
  page.on('dialog', (d) => {
    recorded.dialogs.push(`${d.type()}: ${d.message()}`);
    void (recorded.acceptDialogs ? d.accept() : d.dismiss()).catch(() => undefined);
  });
  return recorded;
}

/** Console messages that report a Content-Security-Policy violation. */
export function cspViolations(page: ConsolePage): string[] {
  return page.messages.filter((m) => /Content Security Policy|Content-Security-Policy/i.test(m.text)).map((m) => m.text);
}

/**
 * From the console's sign-in screen through certbound's own login page (labels Username and
 * Password, the button "Sign in"), as a person does it; returns once the browser is back at the
 * console (signed in, or on the sign-in screen with the reason it was refused).
 */
export async function signIn(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.getByTestId('signin').click();
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console\//);
}
