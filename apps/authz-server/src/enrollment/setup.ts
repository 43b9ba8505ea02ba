// Starts enrollment for main.ts: finds the issuing CA (ISSUING_CA_* or the dev PKI's), trusts it
// as a client CA (kept across CLIENT_CA_FILE reloads), answers revocation of its leaves from the
// shared marks, and builds the issuer. Without an issuing CA enrollment is off, said once in the log.
import { createTrustStore, type LiveTrustStore, type TrustStore } from '../mtls/trust-store.ts';
import type { RevocationChecker } from '../mtls/revocation/index.ts';
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { Logger } from '../log.ts';
import type { SqlClient } from '../storage/sql.ts';
import type { KvStore } from '../storage/kv/kv.ts';
import type { DevPki } from '../dev/pki.ts';
import { IssuingCaError, loadIssuingCa, type IssuingCa } from '../pki/issuing.ts';
import { createRevocationMarks, withIssuedRevocations } from './revocations.ts';
import { createIssuer, type Issuer } from './issuer.ts';
import { EST_PREFIX } from './est.ts';

export interface EnrollmentSetup {
  /** undefined: enrollment is off */
  issuer: Issuer | undefined;
  /** the revocation checker every verdict uses (answers for the issuing CA's leaves from the marks) */
  revocation: RevocationChecker;
  /** what ops/reload.ts replaces: the trust store, with the issuing CA added to every new bundle */
  reloadTarget: LiveTrustStore;
  /** introspection: is this certificate (x5t#S256), one certbound issued, revoked? */
  certificateRevoked: (x5t: string) => Promise<boolean>;
  /** runs `onRevoked` on every revocation of an issued certificate, on any instance */
  subscribe(onRevoked: () => void): Promise<() => Promise<void>>;
}

export interface EnrollmentDeps {
  devPki: DevPki | undefined;
  kek: Buffer;
  sql: SqlClient;
  kv: KvStore;
  logger: Logger;
  trustStore: LiveTrustStore;
  revocation: RevocationChecker;
  invalidateClient: (clientId: string) => Promise<void>;
  revokeGrant: (grantId: string) => Promise<void>;
}

/** `bundle` plus the issuing CA (a trust anchor of its own, so a client need not send it). */
function withIssuingCa(bundle: TrustStore, ca: IssuingCa): TrustStore {
  if (bundle.isAnchor(ca.cert)) return bundle;
  return createTrustStore([...bundle.anchors, ...bundle.intermediates, ca.cert], bundle.source);
}

export async function setUpEnrollment(config: Config, deps: EnrollmentDeps): Promise<EnrollmentSetup> {
  const files = config.issuingCaCertFile !== undefined
    ? { cert: config.issuingCaCertFile, key: config.issuingCaKeyFile! }
    : deps.devPki && { cert: deps.devPki.issuingCaFile, key: deps.devPki.issuingCaKeyFile };
  const marks = createRevocationMarks(deps.kv);
  if (files === undefined) {
    deps.logger.info({ event: 'enrollment_off' }, `enrollment is off: no issuing CA configured (ISSUING_CA_CERT_FILE / ISSUING_CA_KEY_FILE); ${EST_PREFIX}/* answers 404`);
    return {
      issuer: undefined, revocation: deps.revocation, reloadTarget: deps.trustStore,
      certificateRevoked: async () => false, subscribe: (fn) => marks.subscribe(fn),
    };
  }
  let ca: IssuingCa;
  try {
    ca = await loadIssuingCa(files, deps.kek);
  } catch (err) {
    if (err instanceof IssuingCaError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError(config.issuingCaCertFile !== undefined ? 'ISSUING_CA_KEY_FILE' : 'DATA_DIR', (err as Error).message);
    }
    throw err;
  }
  const live = deps.trustStore;
  live.replace(withIssuingCa(live.current, ca));
  // Object.create keeps every getter of the live store; only replace() differs.
  const reloadTarget: LiveTrustStore = Object.assign(Object.create(live) as LiveTrustStore, {
    replace: (next: TrustStore) => live.replace(withIssuingCa(next, ca)),
  });
  const issuer = createIssuer({
    ca,
    sql: deps.sql,
    marks,
    urls: {
      crl: new URL(`${EST_PREFIX}/crl`, config.issuer).href,
      caIssuers: new URL(`${EST_PREFIX}/cacerts`, config.mtlsBaseUrl).href,
    },
    defaultTtl: config.issuedCertTtl,
    invalidateClient: deps.invalidateClient,
    revokeGrant: deps.revokeGrant,
  });
  deps.logger.info({ event: 'enrollment_on', issuing_ca: ca.issued.subject, x5t: ca.x5t, not_after: ca.cert.validToDate.toISOString() },
    `enrollment is on: ${EST_PREFIX}/ issues client certificates from ${ca.issued.subject}`);
  return {
    issuer,
    revocation: withIssuedRevocations(deps.revocation, ca, marks),
    reloadTarget,
    certificateRevoked: (x5t) => marks.thumbprintRevoked(x5t),
    subscribe: (fn) => marks.subscribe(fn),
  };
}
