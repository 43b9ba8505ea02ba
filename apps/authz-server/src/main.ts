// Process entry: config -> stores -> keys -> provider -> listeners; SIGTERM drains, SIGHUP reloads the TLS material.
import { createCertificateSource } from '@certbound/cnf-verifier';
import { loadConfig, ConfigError, type Config } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { openStores, type Stores } from './storage/index.ts';
import { recordStoreError } from './ops/metrics.ts';
import { TemporarilyUnavailable } from './oidc/errors.ts';
import { generatedKekFile, resolveKeyEncryptionKey } from './keys/kek.ts';
import { deriveKey } from './keys/derive.ts';
import { loadOrCreateSigningKeys } from './keys/signing-keys.ts';
import { ensureDevPki, type DevPki } from './dev/pki.ts';
import { createLiveTrustStore } from './mtls/trust-store.ts';
import { createVerdictCache } from './mtls/connection-verdict.ts';
import { consoleEndpoints, createProvider, mountBeforeEngine, mtlsEndpointAliases, publicJwks } from './oidc/configuration.ts';
import { createConsole } from './console/serve.ts';
import { CONSOLE_CLIENT_ID, consoleUrls, registerConsole } from './console/registration.ts';
import { hasAdminRole } from './accounts/account-source.ts';
import { SIGNING_ALGS, STATIC_SCOPES } from './oidc/vocabulary.ts';
import { dpopNonceSecret } from './oidc/dpop.ts';
import { createLocalAccountSource } from './accounts/local-accounts.ts';
import { createLoginThrottle } from './accounts/login-throttle.ts';
import { withLoginThrottle } from './accounts/throttled-account-source.ts';
import type { AccountSource } from './accounts/account-source.ts';
import { startListeners } from './http/listeners.ts';
import { announceReady, inWorker, runPrimary, withWorkerHeader, workerLogger } from './cluster.ts';
import { sessionTicketsFromKek, TICKET_WINDOW_SECONDS } from './http/session-tickets.ts';
import { rememberResumedChains } from './mtls/resumed-chains.ts';
import { createRevocationChecker, createRevocationHealth } from './mtls/revocation/index.ts';
import { createRecentRefusals } from './storage/kv/recent-refusals.ts';
import { bootstrapDevRegistrations, metricsUrl, quickStart } from './dev/registrations.ts';
import { bootstrapAdmin, createAdminApi, type Route as AdminRoute } from './admin/index.ts';
import type { AdminMatcher } from './admin/bootstrap.ts';
import { createClientRevocations } from './storage/kv/client-revocations.ts';
import { startObservability } from './ops/observability.ts';
import { applyClientDefaults } from './oidc/client-metadata.ts';
import { withPinnedCertificates } from './oidc/pinned-certificates.ts';
import { createCrlFileSource } from './mtls/revocation/crl-file.ts';
import { loadTlsMaterial, TlsMaterialError, watchTlsMaterial, type ReloadOutcome, type TlsFiles, type TlsMaterial, type TlsMaterialSource } from './ops/reload.ts';
import { createMtlsCheck } from './ops/mtls-check.ts';
import { setUpExpiryNotices } from './ops/expiry-setup.ts';
import { setUpEnrollment } from './enrollment/setup.ts';
import { createEstEndpoints } from './enrollment/est.ts';

export interface AuthzServer {
  readonly config: Config;
  readonly publicPort: number;
  readonly mtlsPort: number;
  readonly devPki: DevPki | undefined;
  readonly stores: Stores;
  /** The management API's route table (/admin/v1). */
  readonly adminRoutes: readonly AdminRoute[];
  /** The plain-HTTP metrics port (ops/metrics-listener.ts); undefined when METRICS_PORT=off or the cluster primary serves it. */
  readonly metricsPort: number | undefined;
  /** the TLS material in force and its reloads (ops/reload.ts: onReloaded for metrics and notices) */
  readonly tls: TlsMaterialSource;
  /** reads the TLS material again now (what SIGHUP does) */
  reloadTls(): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

/** The admin client's certificate: configured (production), else the dev PKI's admin.pem. */
function adminMatcher(config: Config, devPki: DevPki | undefined): AdminMatcher | undefined {
  if (config.adminSubjectDn !== undefined) return { tls_client_auth_subject_dn: config.adminSubjectDn };
  if (config.adminSanUri !== undefined) return { tls_client_auth_san_uri: config.adminSanUri };
  return devPki ? { tls_client_auth_subject_dn: devPki.adminSubjectDn } : undefined;
}

/** The TLS material's files: the configured ones, or the dev PKI's (reloaded the same way). */
function tlsFiles(config: Config, devPki: DevPki | undefined): TlsFiles {
  return devPki
    ? { cert: devPki.serverCertFile, key: devPki.serverKeyFile, clientCa: devPki.caFile, crl: config.clientCrlFile }
    : { cert: config.tlsCertFile!, key: config.tlsKeyFile!, clientCa: config.clientCaFile!, crl: config.clientCrlFile };
}

/** Cookie keys shared by every instance, derived from the key-encryption key. */
function cookieKeys(kek: Buffer): string[] {
  return [deriveKey(kek, 'cookie-keys-v1').toString('base64url')];
}

/** What an embedding deployment may plug in; everything has a built-in default. */
export interface AuthzServerExtensions {
  /** Where end-users live; default the local accounts table (accounts/local-accounts.ts). */
  accounts?: AccountSource;
}

export async function startAuthzServer(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
  extensions: AuthzServerExtensions = {},
): Promise<AuthzServer> {
  const devPki = config.devBootstrap ? await ensureDevPki(config.dataDir) : undefined;
  const files = tlsFiles(config, devPki);
  let tls: TlsMaterial;
  try {
    tls = await loadTlsMaterial(files);
  } catch (err) {
    if (err instanceof TlsMaterialError) throw new ConfigError(err.variable, err.message);
    throw err;
  }
  // Replaced in place by a reload: the verdicts and the admin API always read the CAs in force.
  const trustStore = createLiveTrustStore(tls.trustStore);

  const stores = await openStores({
    databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, dataDir: config.dataDir, schema: config.databaseSchema,
    redis: config.redis, redisTls: config.redisTls, databaseTls: config.databaseTls, redisWaitReplicas: config.redisWaitReplicas,
    // Store outages: one error answered 503 temporarily_unavailable, logged at most once a second per cause, counted.
    outageLogger: logger, countStoreError: recordStoreError, staleIfErrorMs: config.staleIfErrorSeconds * 1000,
    unavailableError: (store, reason, cause) => new TemporarilyUnavailable(store, reason, cause),
    logger,
    completeClient: withPinnedCertificates,
  });
  try {
    const kek = await resolveKeyEncryptionKey({ value: config.keyEncryptionKey, dataDir: config.dataDir });
    const { jwks } = await loadOrCreateSigningKeys(stores.sql, kek);
    if (devPki) {
      for (const what of await bootstrapDevRegistrations(stores.sql, devPki, { invalidateClient: (clientId) => stores.clientCache.invalidate(clientId) })) logger.info({ event: 'bootstrap' }, `registered ${what}`);
    }
    const admin = await bootstrapAdmin(stores.sql, adminMatcher(config, devPki), config.adminClientIds);
    for (const what of admin.created) logger.info({ event: 'bootstrap' }, `registered ${what}`);
    if (admin.missingAdmin) {
      logger.warn({ event: 'bootstrap' }, 'no admin client: set ADMIN_SUBJECT_DN or ADMIN_SAN_URI to register one on the next start; /admin/v1 accepts no one until then');
    }
    if (admin.strayAdminHolders.length > 0) {
      logger.warn({ event: 'bootstrap', clients: admin.strayAdminHolders }, `clients ${admin.strayAdminHolders.join(', ')} hold the admin API's resource but are not in ADMIN_CLIENT_IDS: it is refused to them; remove it from their resources or add them to ADMIN_CLIENT_IDS`);
    }
    const clientRevocations = createClientRevocations(stores.kv);
    // CLIENT_CRL_FILE: the source re-reads a changed file at its next lookup (within a second); the
    // reloader (ops/reload.ts) also hands it each new version and drops the verdicts that rested on the old one.
    const crlFile = config.clientCrlFile === undefined ? undefined : createCrlFileSource(config.clientCrlFile, { now: Date.now });
    // The console's overview: how the OCSP / CRL fetches went, and the refusals of the last day (fire-and-forget writes).
    const revocationHealth = createRevocationHealth();
    const recentRefusals = createRecentRefusals(stores.kv, { logger });
    const revocation = createRevocationChecker({
      mode: config.revocationCheck, kv: stores.kv, crlFile, timeoutMs: config.revocationTimeoutMs, logger, health: revocationHealth,
    });
    if (config.revocationCheck === 'off') logger.warn({ event: 'revocation_off' }, 'REVOCATION_CHECK=off: revoked client certificates are accepted');
    // Enrollment (EST): the issuing CA is trusted, and its leaves' revocation is answered from shared marks.
    const enrollment = await setUpEnrollment(config, {
      devPki, kek, sql: stores.sql, kv: stores.kv, logger, trustStore, revocation,
      invalidateClient: (clientId) => stores.clientCache.invalidate(clientId),
      revokeGrant: (grantId) => stores.adapterFactory('RefreshToken').revokeByGrantId(grantId),
    });
    const verdicts = createVerdictCache(trustStore, { revocation: enrollment.revocation, minRsaBits: config.clientCertMinRsaBits });

    // The extension point for a real account source (accounts/account-source.ts), behind the
    // login throttle whichever it is (accounts/login-throttle.ts, counters in Redis when shared).
    const accounts = withLoginThrottle(extensions.accounts ?? createLocalAccountSource(stores.sql), createLoginThrottle(stores.rateLimits));
    const isAdminPerson = (accountId: string) => hasAdminRole(accounts, accountId);
    const consoleChange = await registerConsole(stores.sql, config.issuer, config.consoleEnabled);
    if (consoleChange) logger.info({ event: 'bootstrap' }, `${consoleChange} client ${CONSOLE_CLIENT_ID} (the admin console)`);
    const certificateSource = createCertificateSource({ trustedProxies: [...config.trustedProxies], proxyHeader: config.trustedProxyHeader });
    const provider = createProvider({
      config,
      logger,
      adapterFactory: stores.adapterFactory,
      jwks,
      cookieKeys: cookieKeys(kek),
      certificateSource,
      // A resumed TLS session no longer carries the intermediates its client sent; a remembered
      // chain lives as long as two ticket windows, so every ticket still honoured is covered.
      verdicts: rememberResumedChains(verdicts, stores.kv, { ttlSeconds: 2 * TICKET_WINDOW_SECONDS }),
      findResourceServer: (id) => stores.resourceServers.find(id),
      revocations: stores.revocations,
      clientRevocations,
      certificateRevoked: enrollment.certificateRevoked,
      dpopNonceSecret: dpopNonceSecret(kek),
      kv: stores.kv,
      recentRefusals,
      accounts,
    });
    const expiryNotices = await setUpExpiryNotices(config, { sql: stores.sql, logger, kek, provider, serverCertPem: () => tls.cert, trustStore });
    // The management API answers everything under /admin before oidc-provider's routes.
    const adminApi = createAdminApi({
      issuer: config.issuer,
      trustedProxies: config.trustedProxies,
      trustedProxyHeader: config.trustedProxyHeader,
      defaultAccessTokenTtl: config.accessTokenTtl,
      logger,
      sql: stores.sql,
      publicJwks: publicJwks(jwks),
      trustStore,
      minRsaBits: config.clientCertMinRsaBits,
      revocations: stores.revocations,
      clientRevocations,
      revokeGrant: (grantId) => stores.adapterFactory('RefreshToken').revokeByGrantId(grantId),
      validateWithProvider: async (metadata) =>
        provider.Client.validate(applyClientDefaults(metadata, STATIC_SCOPES) as Parameters<typeof provider.Client.validate>[0]),
      staticScopes: STATIC_SCOPES,
      adminClientIds: config.adminClientIds,
      signingAlgs: SIGNING_ALGS,
      // After an admin change (a certificate added, a client registered) the expiry check runs at once.
      invalidateClient: (clientId) => stores.clientCache.invalidate(clientId).finally(() => expiryNotices.checkSoon()),
      invalidateResourceServer: (identifier) => stores.resourceServers.invalidate(identifier),
      enrollmentIssuer: enrollment.issuer,
      recentRefusals, revocationHealth, revocation: enrollment.revocation, findClientRegistration: (id) => stores.adapterFactory('Client').find(id),
      console: config.consoleEnabled ? {
        isAdminPerson,
        replay: stores.kv,
        describePerson: async (accountId) => {
          const account = await accounts.findAccount(accountId);
          if (!account) return undefined;
          const { preferred_username: username, name } = account.claims;
          return { ...(typeof username === 'string' ? { username } : {}), ...(typeof name === 'string' ? { name } : {}), roles: account.roles ?? [] };
        },
      } : undefined,
    });
    mountBeforeEngine(provider, adminApi.middleware);
    if (config.consoleEnabled) {
      mountBeforeEngine(provider, await createConsole({ endpoints: consoleEndpoints(config.issuer), idleTimeoutSeconds: config.consoleIdleTimeout }));
    }
    mountBeforeEngine(provider, createEstEndpoints({
      issuer: enrollment.issuer, sql: stores.sql, logger, source: certificateSource, verdicts,
      minRsaBits: config.clientCertMinRsaBits, maxFailures: config.enrollmentCodeMaxFailures,
    }));
    // A revocation on any instance: every kept-alive connection's verdict and the CRL are decided again.
    const unsubscribeRevocations = await enrollment.subscribe(() => {
      verdicts.invalidate();
      enrollment.issuer?.forgetCrl();
    });
    const ops = await startObservability(config, {
      stores, logger, provider, certificateSource,
      serverCertPem: () => tls.cert, trustAnchors: () => [...trustStore.anchors, ...trustStore.intermediates],
    });
    mountBeforeEngine(provider, createMtlsCheck({ source: certificateSource, trustStore: () => trustStore, revocation: enrollment.revocation, minRsaBits: config.clientCertMinRsaBits, rateLimits: stores.rateLimits, findClient: (id) => stores.adapterFactory('Client').find(id), logger }));

    const koaHandler = provider.callback();
    const listeners = await startListeners({
      host: config.host,
      publicPort: config.publicPort,
      mtlsPort: config.mtlsPort,
      tls,
      // Koa's handler settles its own errors (its error event): nothing to await here.
      handler: withWorkerHeader((req, res) => void koaHandler(req, res), config.logLevel),
      sessionTickets: sessionTicketsFromKek(kek),
    }).catch(async (err: unknown) => {
      // A port already taken: stop what started before the listeners, then the stores (below).
      revocation.close();
      await unsubscribeRevocations();
      await ops.close();
      throw err;
    });
    const tlsReload = watchTlsMaterial({
      files, initial: tls, logger, intervalMs: config.tlsReloadIntervalMs ?? null,
      targets: { listeners, trustStore: enrollment.reloadTarget, verdicts, crl: crlFile },
    });
    tlsReload.onReloaded((material) => {
      tls = material;
    });
    logger.info({
      event: 'listening',
      issuer: config.issuer,
      public: `https://${config.host}:${listeners.publicPort}`,
      mtls: `https://${config.host}:${listeners.mtlsPort}`,
      storage: stores.embedded ? 'embedded' : 'external',
      client_cas: trustStore.size,
      revocation_check: config.revocationCheck,
    }, 'certbound authorization server listening');
    expiryNotices.start();
    // With WORKERS > 1 the primary prints it once (cluster.ts).
    if (devPki && !inWorker()) process.stdout.write(`\n${quickStart(devPki, mtlsEndpointAliases(config).token_endpoint, generatedKekFile({ value: config.keyEncryptionKey, dataDir: config.dataDir }), undefined, undefined, metricsUrl(config.metricsHost, ops.metricsPort), config.consoleEnabled ? consoleUrls(config.issuer).home : undefined)}\n\n`);

    let closing: Promise<void> | undefined;
    return {
      config,
      publicPort: listeners.publicPort,
      mtlsPort: listeners.mtlsPort,
      devPki,
      stores,
      adminRoutes: adminApi.routes,
      metricsPort: ops.metricsPort,
      tls: tlsReload,
      reloadTls: () => {
        stores.refreshStoreTls(); // DATABASE_SSL_* / REDIS_TLS_*: for the stores' next connections
        return tlsReload.reload('SIGHUP');
      },
      close() {
        closing ??= (async () => {
          tlsReload.close();
          revocation.close();
          // A pub/sub connection still reconnecting (Redis restarted) cannot unsubscribe: the
          // listeners and stores must close all the same, or the process hangs on SIGTERM.
          await unsubscribeRevocations().catch((err: unknown) => logger.warn({ event: 'close_unsubscribe_failed', err }, 'could not unsubscribe from revocations while closing'));
          await ops.close();
          await expiryNotices.stop();
          await listeners.close();
          await stores.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await stores.close();
    throw err;
  }
}

async function run(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`certbound: configuration error: ${(err as Error).message}\n`);
    process.exit(78); // EX_CONFIG
  }
  const logger = workerLogger(createLogger(config.logLevel));
  if (config.workers > 1 && !inWorker()) return runPrimary(config, logger);
  // SIGHUP (from the operator, `npm start` or the cluster primary) reloads the TLS material; one
  // that arrives while the server starts is applied once it listens, and never kills the process.
  let started: AuthzServer | undefined;
  let hangupWhileStarting = false;
  const reloadTls = () => void started?.reloadTls().catch((err: unknown) => logger.error({ event: 'tls_reload_failed', err }, 'TLS reload failed'));
  process.on('SIGHUP', () => {
    if (started) reloadTls();
    else hangupWhileStarting = true;
  });
  let server: AuthzServer;
  try {
    server = await startAuthzServer(config, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`certbound: configuration error: ${err.message}\n`);
      process.exit(78);
    }
    logger.fatal({ err }, 'certbound failed to start');
    process.exit(1);
  }
  started = server;
  if (hangupWhileStarting) reloadTls();
  announceReady(server);
  const stop = (signal: string) => {
    logger.info({ event: 'shutdown', signal }, 'draining in-flight requests');
    server.close().then(() => process.exit(0), (err) => {
      logger.error({ err }, 'error while shutting down');
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) await run();
