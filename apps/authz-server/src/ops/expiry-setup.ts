// Builds the expiry notices from the configuration for main.ts, so the process entry holds only
// their wiring: the webhook (its CA file read and its key derived here), the recorder of
// certificates seen at authentication hooked to the token endpoint, and the checker.
import { readFile } from 'node:fs/promises';
import type { Provider } from 'oidc-provider';
import { ConfigError, type Config } from '../config.ts';
import type { SqlClient } from '../storage/sql.ts';
import type { TrustStore } from '../mtls/trust-store.ts';
import { createExpiryNotices, localCertificates, type ExpiryNotices, type NoticeLogger } from './expiry-notices.ts';
import { createWebhookSender, webhookSigningKey } from './expiry-webhook.ts';
import { createSeenCertificateRecorder, recordCertificatesOnGrant } from './seen-certificates.ts';

export interface ExpiryNoticeDeps {
  sql: SqlClient;
  logger: NoticeLogger;
  /** the key-encryption key: the webhook's signing key is derived from it */
  kek: Buffer;
  provider: Provider;
  /** the server certificate PEM in force (read at every round) */
  serverCertPem: () => string;
  trustStore: TrustStore;
}

/** Not started: call start() once the listeners are up, stop() before the stores close. */
export async function setUpExpiryNotices(config: Config, deps: ExpiryNoticeDeps): Promise<ExpiryNotices> {
  let ca: string | undefined;
  if (config.expiryWebhookCaFile !== undefined) {
    try {
      ca = await readFile(config.expiryWebhookCaFile, 'utf8');
    } catch (err) {
      throw new ConfigError('EXPIRY_WEBHOOK_CA_FILE', `cannot read ${config.expiryWebhookCaFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const webhook = config.expiryWebhookUrl === undefined ? undefined : createWebhookSender({
    url: config.expiryWebhookUrl, key: webhookSigningKey(deps.kek), ...(ca === undefined ? {} : { ca }),
  });
  recordCertificatesOnGrant(deps.provider, createSeenCertificateRecorder({ sql: deps.sql, logger: deps.logger }));
  return createExpiryNotices({
    sql: deps.sql,
    logger: deps.logger,
    thresholds: config.expiryNoticeDays,
    ...(webhook === undefined ? {} : { webhook }),
    intervalMs: config.expiryCheckIntervalMs,
    local: () => localCertificates(deps.serverCertPem(), deps.trustStore),
  });
}
