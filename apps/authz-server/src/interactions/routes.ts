// The login and consent interaction (oidc-provider "User flows"): Koa middleware answering
//   GET  /interaction/:uid          the page for the pending prompt (login or consent)
//   POST /interaction/:uid/login    username + password -> AccountSource.authenticate (throttled:
//                                   429 or 503 with Retry-After and the reason on the page)
//   POST /interaction/:uid/consent  grants what the prompt lists as missing
//   POST /interaction/:uid/abort    access_denied back to the client
// on the public listener only. oidc-provider keeps the interaction session in its store and
// its id in a SameSite cookie; every form is also CSRF-guarded (csrf.ts). The answer to a
// finished step is a 303 back to oidc-provider's resume endpoint.
import type { Next } from 'koa';
import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import type { Logger } from '../log.ts';
import type { AccountSource } from '../accounts/account-source.ts';
import { LoginDeferredError, LoginThrottledError } from '../accounts/login-errors.ts';
import { listenerOf } from '../http/listeners.ts';
import { createCsrfGuard } from './csrf.ts';
import { FormError, readForm } from './form-body.ts';
import { PAGE_HEADERS } from './html.ts';
import { consentPage, loginPage, problemPage } from './pages.ts';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Time to sign in and consent once the authorization request arrived. */
export const INTERACTION_TTL = 10 * 60;
/** A sign-in at this server lasts a working day (the cookie itself ends with the browser). */
export const SESSION_TTL = 8 * 60 * 60;

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|consent|abort))?$/;

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountSource;
  issuer: string;
  /** certbound's cookie key; the CSRF key is derived from it. */
  cookieKey: string;
  logger: Logger;
}

function respond(ctx: KoaContextWithOIDC, status: number, body: string): void {
  ctx.status = status;
  ctx.set(PAGE_HEADERS);
  ctx.body = body;
}

function redirect(ctx: KoaContextWithOIDC, to: string): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(to);
}

/** "1 minute", "2 hours": the wait in words, rounded up. */
export function waitInWords(seconds: number): string {
  const [amount, unit] = seconds < 90 ? [seconds, 'second'] : seconds < 90 * 60 ? [Math.ceil(seconds / 60), 'minute'] : [Math.ceil(seconds / 3600), 'hour'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

function deferredMessage(err: LoginDeferredError): string {
  if (err instanceof LoginThrottledError) {
    return `Too many failed sign-in attempts. Sign-in is paused: try again in ${waitInWords(err.retryAfterSeconds)}.`;
  }
  return `The server is busy and could not check your password. Try again in ${waitInWords(err.retryAfterSeconds)}.`;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function createInteractionRoutes(deps: InteractionDeps) {
  const { provider, accounts } = deps;
  const csrf = createCsrfGuard(deps.cookieKey, deps.issuer);

  async function clientName(interaction: Interaction): Promise<string> {
    const clientId = text(interaction.params.client_id ?? '');
    const client = await provider.Client.find(clientId);
    const name = client?.clientName;
    return typeof name === 'string' && name ? name : clientId;
  }

  async function show(ctx: KoaContextWithOIDC, interaction: Interaction): Promise<void> {
    const { uid, prompt } = interaction;
    if (prompt.name === 'login') {
      respond(ctx, 200, loginPage({ uid, csrf: csrf.token(uid), clientName: await clientName(interaction) }));
      return;
    }
    if (prompt.name === 'consent') {
      const details = prompt.details as { missingOIDCScope?: unknown; missingResourceScopes?: Record<string, unknown> };
      const accountId = interaction.session?.accountId ?? '';
      const account = await accounts.findAccount(accountId);
      const oidcScopes = strings(details.missingOIDCScope);
      respond(ctx, 200, consentPage({
        uid,
        csrf: csrf.token(uid),
        clientName: await clientName(interaction),
        accountName: text(account?.claims.name ?? account?.claims.preferred_username ?? accountId),
        oidcScopes: oidcScopes.filter((s) => s !== 'offline_access'),
        resourceScopes: Object.entries(details.missingResourceScopes ?? {}).map(([resource, scopes]) => ({ resource, scopes: strings(scopes) })),
        offline: oidcScopes.includes('offline_access') || (await provider.Client.find(String(interaction.params.client_id)))?.grantTypeAllowed('refresh_token') === true,
      }));
      return;
    }
    respond(ctx, 400, problemPage('Cannot continue', `The authorization server asked for "${prompt.name}", which this server cannot handle.`));
  }

  async function login(ctx: KoaContextWithOIDC, interaction: Interaction, form: Map<string, string>): Promise<void> {
    const username = (form.get('username') ?? '').trim();
    const password = form.get('password') ?? '';
    const address = ctx.req.socket.remoteAddress ?? 'unknown';
    let accountId: string | undefined;
    try {
      accountId = username && password ? await accounts.authenticate(username, password, { address }) : undefined;
    } catch (err) {
      if (!(err instanceof LoginDeferredError)) throw err;
      // One line per deferred attempt; never the username (the page may not reveal it either).
      deps.logger.warn({
        event: err.code, interaction: interaction.uid, client_id: interaction.params.client_id, address,
        ...(err instanceof LoginThrottledError ? { rule: err.rule } : {}), retry_after: err.retryAfterSeconds,
      }, `deferred: ${err.message}`);
      ctx.set('Retry-After', String(err.retryAfterSeconds));
      respond(ctx, err.status, loginPage({
        uid: interaction.uid, csrf: csrf.token(interaction.uid), clientName: await clientName(interaction),
        username: username.slice(0, 64), error: deferredMessage(err),
      }));
      return;
    }
    if (!accountId) {
      deps.logger.warn({ event: 'login_refused', interaction: interaction.uid, client_id: interaction.params.client_id }, 'refused: wrong username or password');
      respond(ctx, 401, loginPage({
        uid: interaction.uid, csrf: csrf.token(interaction.uid), clientName: await clientName(interaction),
        username: username.slice(0, 64), error: 'Wrong username or password.',
      }));
      return;
    }
    deps.logger.info({ event: 'login', interaction: interaction.uid, client_id: interaction.params.client_id, account: accountId }, 'signed in');
    // remember: false -> a browser-session cookie: closing the browser signs the person out.
    redirect(ctx, await provider.interactionResult(ctx.req, ctx.res, { login: { accountId, amr: ['pwd'], remember: false } }, { mergeWithLastSubmission: false }));
  }

  async function consent(ctx: KoaContextWithOIDC, interaction: Interaction): Promise<void> {
    const accountId = interaction.session?.accountId;
    const clientId = text(interaction.params.client_id ?? '');
    if (!accountId) throw new errors.SessionNotFound('no signed-in account for this consent');
    const details = interaction.prompt.details as { missingOIDCScope?: unknown; missingOIDCClaims?: unknown; missingResourceScopes?: Record<string, unknown> };
    const grant = (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined)
      ?? new provider.Grant({ accountId, clientId });
    const oidcScopes = strings(details.missingOIDCScope);
    if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
    const claims = strings(details.missingOIDCClaims);
    if (claims.length) grant.addOIDCClaims(claims);
    for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, strings(scopes).join(' '));
    }
    const grantId = await grant.save();
    deps.logger.info({ event: 'consent', interaction: interaction.uid, client_id: clientId, account: accountId, grant: grantId }, 'consent given');
    redirect(ctx, await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true }));
  }

  async function abort(ctx: KoaContextWithOIDC, interaction: Interaction): Promise<void> {
    deps.logger.info({ event: 'interaction_aborted', interaction: interaction.uid, client_id: interaction.params.client_id }, 'the person declined');
    redirect(ctx, await provider.interactionResult(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'the resource owner declined the request',
    }, { mergeWithLastSubmission: false }));
  }

  return async function interactions(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    const match = ROUTE.exec(ctx.path);
    if (!match || listenerOf(ctx.req) !== 'public') {
      await next();
      return;
    }
    const [, uid, action] = match;
    const allowed = action === undefined ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(ctx.method)) {
      ctx.set('Allow', allowed.join(', '));
      respond(ctx, 405, problemPage('Method not allowed', `${ctx.method} is not allowed here.`));
      return;
    }
    try {
      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      // The cookie names the interaction; the URL must name the same one.
      if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction cookie and URL disagree');
      if (action === undefined) return await show(ctx, interaction);

      const form = await readForm(ctx.req);
      const refusal = csrf.refusal(ctx.req, interaction.uid, form.get('csrf'));
      if (refusal) {
        deps.logger.warn({ event: 'interaction_refused', interaction: interaction.uid, reason: refusal }, `refused: ${refusal}`);
        respond(ctx, 403, problemPage('Request refused', 'This form was not submitted from this sign-in page.'));
        return;
      }
      if (action === 'abort') return await abort(ctx, interaction);
      if (action !== interaction.prompt.name) {
        respond(ctx, 400, problemPage('Cannot continue', 'This step is not the one the sign-in is waiting for.'));
        return;
      }
      if (action === 'login') return await login(ctx, interaction, form);
      return await consent(ctx, interaction);
    } catch (err) {
      if (err instanceof FormError) {
        respond(ctx, err.status, problemPage('Bad request', err.message));
        return;
      }
      if (err instanceof errors.SessionNotFound) {
        respond(ctx, 400, problemPage('Sign-in expired', 'This sign-in page has expired or was opened in another browser.'));
        return;
      }
      throw err;
    }
  };
}

/** A parameter or claim shown as text (oidc-provider types them unknown): a string as it is, anything else as JSON. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
