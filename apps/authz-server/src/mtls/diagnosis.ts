// "Why did my handshake fail?": walks the checks the token endpoint makes on a client
// certificate, in the order of the troubleshooting decision tree (presented -> chain -> dates ->
// key usage -> revocation -> client match), and says for each one whether it passed and why.
// X.509 only, no HTTP: GET /mtls/check (ops/mtls-check.ts) and `certbound doctor --offline`
// (cli/doctor.ts) both answer with it.
//
// Every decision comes from the functions the token endpoint uses — validatePath, the
// revocation checker, subjectDnMatches / sanMatches, the pinned thumbprints — so the two never
// disagree; this file only splits their verdict into steps and adds what helps a partner
// (the missing issuer's DN and key id, how far the clock is outside the validity window, the
// first RDN that differs). Revocation is asked only about a chain that validated (DESIGN.md:
// no fetch to an address an untrusted certificate names).
//
// The shape: every one of the six steps is always listed. A step that ran has ok true or false;
// a step that did not run (an earlier one failed, or no client_id was given) has ok null and a
// detail starting "not checked: ". `ok` is true exactly when no step failed and every step but
// client_match ran (client_match is skipped without a client); first_failure names the first
// failing step with its stable code and a one-sentence fix.
import type { X509Certificate } from 'node:crypto';
import { validatePath, type PathErrorCode } from './path-validation.ts';
import { describeRevocation, type RevocationChecker } from './revocation/index.ts';
import { describeCert, isSelfSigned, type TrustStore } from './trust-store.ts';
import { fieldsOf, OID } from './parsing.ts';
import { dnKey, formatDn, issuerDnOf, issuerKeyOf, parseDn, subjectDnMatches, subjectDnOf, subjectKeyOf, type Rdn } from './subject-dn.ts';
import { sanMatches, sansOf, type SanProperty, type Sans } from './san.ts';
import { keyWeakness } from './key-strength.ts';
import { x5tS256 } from './thumbprint.ts';
import { SUBJECT_MATCHERS } from '../oidc/vocabulary.ts';

export const CHECKS = ['presented', 'chain', 'dates', 'key_usage', 'revocation', 'client_match'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface DiagnosisStep {
  check: CheckName;
  /** null: not run (see detail) */
  ok: boolean | null;
  detail: string;
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  'x5t#S256': string;
  san: Sans | null;
}

export interface DiagnosisFailure {
  check: CheckName;
  /** stable: a path-validation code, 'revoked', 'revocation_unknown', 'no_certificate', 'unknown_client', 'subject_mismatch', … */
  code: string;
  detail: string;
  /** what to do about it, in one sentence */
  fix: string;
}

export interface Diagnosis {
  ok: boolean;
  /** null when no certificate was presented */
  certificate: CertificateSummary | null;
  steps: DiagnosisStep[];
  first_failure: DiagnosisFailure | null;
}

/** The client metadata the match reads (RFC 8705 §2.1.2 matchers, certbound pinning, RFC 7517 jwks for self-signed). */
export interface ClientRegistration {
  token_endpoint_auth_method?: unknown;
  tls_client_auth_subject_dn?: unknown;
  tls_client_auth_san_dns?: unknown;
  tls_client_auth_san_uri?: unknown;
  tls_client_auth_san_ip?: unknown;
  tls_client_auth_san_email?: unknown;
  certificate_pinning?: unknown;
  certificate_thumbprints?: unknown;
  jwks?: unknown;
  [property: string]: unknown;
}

export interface DiagnosisInput {
  /** the leaf and the intermediates the client sent; undefined = no certificate */
  presented: { leaf: X509Certificate; chain: readonly X509Certificate[] } | undefined;
  trustStore: TrustStore;
  /** the server's clock; default now */
  now?: Date;
  /** the server's checker (same caches as the token endpoint); absent = revocation not checked */
  revocation?: RevocationChecker;
  /** CLIENT_CERT_MIN_RSA_BITS */
  minRsaBits?: number;
  /** the client to match; `registration` undefined = no such (enabled) client */
  client?: { id: string; registration: ClientRegistration | undefined };
}

const CHAIN_CODES: ReadonlySet<PathErrorCode> = new Set(['untrusted', 'bad_signature', 'not_a_ca', 'path_length', 'name_constraints', 'unhandled_extension']);
const DATE_CODES: ReadonlySet<PathErrorCode> = new Set(['expired', 'not_yet_valid']);
const ADD_CERT = 'issue a new one and add it with `certbound certs add`';

/** Never throws: an unreadable certificate is a failing step. */
export async function diagnose(input: DiagnosisInput): Promise<Diagnosis> {
  const now = input.now ?? new Date();
  const steps: DiagnosisStep[] = [];
  let failure: DiagnosisFailure | null = null;
  const pass = (check: CheckName, detail: string) => void steps.push({ check, ok: true, detail });
  const failed = (check: CheckName, code: string, detail: string, fix: string): Diagnosis => {
    steps.push({ check, ok: false, detail });
    failure = { check, code, detail, fix };
    return finish();
  };
  const finish = (): Diagnosis => {
    for (const check of CHECKS.slice(steps.length)) {
      const why = failure ? `not checked: the ${failure.check} step failed` : 'not checked: no client_id given (add ?client_id= or --client-id to compare with a registration)';
      steps.push({ check, ok: null, detail: why });
    }
    return { ok: failure === null, certificate, steps, first_failure: failure };
  };

  const presented = input.presented;
  const certificate = presented ? summarize(presented.leaf) : null;
  if (!presented) {
    return failed('presented', 'no_certificate', 'no client certificate was presented in the TLS handshake (or by the trusted proxy)',
      'configure the client to send its certificate and key on the mutual-TLS listener (curl --cert/--key)');
  }
  const { leaf, chain } = presented;

  const selfSigned = selfSignedClient(input.client?.registration);
  const path = await validatePath({ leaf, presented: [...chain], trustStore: input.trustStore, at: now, minRsaBits: input.minRsaBits });
  if (!path.ok && path.code === 'malformed') {
    return failed('presented', 'malformed', path.reason, 'the certificate is not valid DER X.509: re-issue it with a standard tool (openssl, your CA) and present that one');
  }
  pass('presented', `certificate ${certificate!.subject ? `"${certificate!.subject}"` : '(empty subject)'} serial ${certificate!.serial}, x5t#S256 ${certificate!['x5t#S256']}${chain.length ? `, with ${chain.length} intermediate${chain.length === 1 ? '' : 's'}` : ', no intermediates'}`);

  if (selfSigned) {
    // RFC 8705 §2.2: the registered certificate itself is the credential; no chain, no revocation.
    // The token endpoint still refuses one outside its validity window (oidc/client-certificate.ts getCertificate).
    pass('chain', `not used: client "${input.client!.id}" authenticates with self_signed_tls_client_auth, so the certificate needs no chain to a client CA`);
    const window = windowProblem(leaf, now);
    if (window) return failed('dates', window.code, `certificate ${window.detail}`, window.fix);
    pass('dates', inWindow(leaf, now));
    pass('key_usage', 'not used for self_signed_tls_client_auth: the certificate is compared whole with the registered ones');
    pass('revocation', 'not used for self_signed_tls_client_auth: to revoke it, remove it from the client\'s jwks');
    return clientMatch();
  }

  if (!path.ok && CHAIN_CODES.has(path.code)) {
    const detail = path.code === 'untrusted' ? untrustedDetail(path.reason, leaf, chain, input.trustStore) : path.reason;
    return failed('chain', path.code, detail, chainFix(path.code));
  }
  if (path.ok) pass('chain', `${path.chain.map((c, i) => (i === 0 ? 'certificate' : `"${describeCert(c)}"`)).join(' <- ')} (a configured client CA)`);
  else pass('chain', 'leads to a configured client CA with every signature verified');

  if (!path.ok && DATE_CODES.has(path.code)) {
    const culprit = outOfWindow(path.reason, leaf, [...chain, ...input.trustStore.anchors, ...input.trustStore.intermediates], now);
    const window = culprit ? windowProblem(culprit, now) : undefined;
    const detail = window ? `${path.reason}: ${window.relative} by the server's clock (${now.toISOString()})` : path.reason;
    return failed('dates', path.code, detail, window && culprit === leaf ? window.fix
      : `a CA certificate of the chain is outside its validity window: the CA operator must renew it (or fix the server's clock)`);
  }
  if (path.ok) pass('dates', `every certificate of the chain is valid now; the certificate is ${inWindow(leaf, now)}`);
  else pass('dates', inWindow(leaf, now));

  if (!path.ok) {
    // Everything left is about keys and usages (key_usage, ext_key_usage, weak_key, leaf_is_ca).
    return failed('key_usage', path.code, path.reason, keyUsageFix(path.code));
  }
  pass('key_usage', keyUsageSummary(leaf, input.minRsaBits));

  const revocation = input.revocation;
  if (!revocation || revocation.mode === 'off') {
    pass('revocation', revocation ? 'not asked: REVOCATION_CHECK=off, so the token endpoint accepts revoked certificates' : 'not asked: no revocation checker configured');
  } else {
    // Only now, for a chain that validated.
    const answer = await revocation.check(path.chain);
    if (answer.status === 'revoked') {
      return failed('revocation', 'revoked', describeRevocation(answer), `the certificate is revoked: ${ADD_CERT}`);
    }
    if (answer.status === 'unknown' && revocation.mode === 'hard') {
      return failed('revocation', 'revocation_unknown', describeRevocation(answer),
        'the revocation responder did not answer and REVOCATION_CHECK=hard refuses that: make its OCSP responder or CRL reachable from the server');
    }
    pass('revocation', answer.status === 'unknown'
      ? `${describeRevocation(answer)}; accepted because REVOCATION_CHECK=soft`
      : answer.source === 'none' ? `not revoked: ${answer.detail ?? 'no source named'}` : `${describeRevocation(answer)} (${answer.source})`);
  }
  return clientMatch();

  function clientMatch(): Diagnosis {
    const client = input.client;
    if (!client) return finish();
    const registration = client.registration;
    if (!registration) {
      return failed('client_match', 'unknown_client', `no client "${client.id}" is registered (or it is disabled)`,
        'check the client_id, or register the client with `certbound clients create`');
    }
    const method = typeof registration.token_endpoint_auth_method === 'string' ? registration.token_endpoint_auth_method : 'tls_client_auth';
    if (method === 'self_signed_tls_client_auth') {
      const registered = jwksThumbprints(registration.jwks);
      const thumbprint = certificate!['x5t#S256'];
      if (!registered.includes(thumbprint)) {
        return failed('client_match', 'certificate_not_registered', `certificate x5t#S256 ${thumbprint} is not among the ${registered.length} certificate${registered.length === 1 ? '' : 's'} in client "${client.id}"'s jwks`,
          `add this certificate to the client's jwks (x5c), or present one that is registered`);
      }
      pass('client_match', `certificate x5t#S256 ${thumbprint} is registered in client "${client.id}"'s jwks`);
      return finish();
    }
    if (method !== 'tls_client_auth') {
      pass('client_match', `client "${client.id}" authenticates with ${method}: the certificate is not matched, only bound to its tokens`);
      return finish();
    }
    const property = SUBJECT_MATCHERS.find((p) => typeof registration[p] === 'string');
    if (!property) {
      return failed('client_match', 'no_matcher', `client "${client.id}" uses tls_client_auth but registers none of ${SUBJECT_MATCHERS.join(', ')}`,
        'register the subject DN or SAN the certificate carries (`certbound clients update`)');
    }
    const expected = registration[property] as string;
    const matches = property === 'tls_client_auth_subject_dn' ? subjectDnMatches(leaf, expected) : sanMatches(leaf, property, expected);
    if (!matches) {
      const detail = property === 'tls_client_auth_subject_dn' ? dnMismatch(leaf, expected) : sanMismatch(leaf, property, expected);
      return failed('client_match', property === 'tls_client_auth_subject_dn' ? 'subject_mismatch' : 'san_mismatch', `client "${client.id}": ${detail}`,
        `present the certificate issued for this client, or change the client's ${property} to the value the certificate carries`);
    }
    if (registration.certificate_pinning === true) {
      const pinned = Array.isArray(registration.certificate_thumbprints) ? registration.certificate_thumbprints : [];
      if (!pinned.includes(certificate!['x5t#S256'])) {
        return failed('client_match', 'certificate_pinning', `${property} matches, but certificate x5t#S256 ${certificate!['x5t#S256']} is not among the ${pinned.length} certificates registered for client "${client.id}" (certificate_pinning)`,
          `add it with \`certbound certs add ${client.id}\``);
      }
    }
    pass('client_match', `${property} ${JSON.stringify(expected)} matches${registration.certificate_pinning === true ? ', and the certificate is registered (certificate_pinning)' : ''}`);
    return finish();
  }
}

/** One line a person can act on, for each path-validation code of the chain step. */
function chainFix(code: PathErrorCode): string {
  switch (code) {
    case 'untrusted': return 'send the missing intermediate CA certificate after your certificate (or have the operator add its CA to CLIENT_CA_FILE)';
    case 'bad_signature': return 'a certificate of the chain was not signed by the CA it names: re-issue it from the right CA';
    case 'name_constraints': return 'the CA may not issue for this name: request a certificate whose names its name constraints permit';
    default: return 'the issuing CA certificate is not fit to issue client certificates: the CA operator must fix it';
  }
}

function keyUsageFix(code: PathErrorCode): string {
  switch (code) {
    case 'ext_key_usage': return `the certificate (or its CA) is not for TLS client authentication: ${ADD_CERT.replace('issue a new one', 'issue a new one with extendedKeyUsage clientAuth')}`;
    case 'weak_key': return `the key is too weak: ${ADD_CERT.replace('issue a new one', 'issue a new one with a P-256 or RSA 2048+ key')}`;
    case 'leaf_is_ca': return `a CA certificate cannot authenticate a client: ${ADD_CERT}`;
    default: return `the certificate's keyUsage does not allow a TLS client signature: ${ADD_CERT.replace('issue a new one', 'issue a new one with keyUsage digitalSignature')}`;
  }
}

function summarize(cert: X509Certificate): CertificateSummary {
  const read = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch {
      return fallback;
    }
  };
  return {
    subject: read(() => subjectDnOf(cert), describeCert(cert)),
    issuer: read(() => issuerDnOf(cert), read(() => `${cert.issuer.split('\n').reverse().join(',')} (as read by OpenSSL)`, '(unreadable issuer)')),
    serial: read(() => cert.serialNumber, ''),
    not_before: read(() => cert.validFromDate.toISOString(), ''),
    not_after: read(() => cert.validToDate.toISOString(), ''),
    'x5t#S256': x5tS256(cert),
    san: read(() => sansOf(cert), null),
  };
}

function selfSignedClient(registration: ClientRegistration | undefined): boolean {
  return registration?.token_endpoint_auth_method === 'self_signed_tls_client_auth';
}

/** x5t#S256 of the first x5c certificate of each key (what oidc-provider compares, RFC 8705 §2.2). */
function jwksThumbprints(jwks: unknown): string[] {
  const keys = (jwks as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) return [];
  return keys.flatMap((key) => {
    const first = (key as { x5c?: unknown }).x5c;
    if (!Array.isArray(first) || typeof first[0] !== 'string') return [];
    return [x5tS256(Buffer.from(first[0], 'base64'))]; // DER that need not parse
  });
}

/** "3 days", "2 hours", "5 minutes", "40 seconds" */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  const [size, unit] = abs >= 86_400_000 ? [86_400_000, 'day'] : abs >= 3_600_000 ? [3_600_000, 'hour'] : abs >= 60_000 ? [60_000, 'minute'] : [1000, 'second'];
  const n = Math.floor(abs / size);
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function windowProblem(cert: X509Certificate, now: Date): { code: 'expired' | 'not_yet_valid'; detail: string; relative: string; fix: string } | undefined {
  if (now < cert.validFromDate) {
    const relative = `valid from in ${duration(cert.validFromDate.getTime() - now.getTime())}`;
    return {
      code: 'not_yet_valid', relative,
      detail: `not valid before ${cert.validFromDate.toISOString()}: ${relative} by the server's clock (${now.toISOString()})`,
      fix: `the certificate is ${relative}: wait, or check the clocks of the CA and the server (NTP)`,
    };
  }
  if (now >= cert.validToDate) {
    const relative = `expired ${duration(now.getTime() - cert.validToDate.getTime())} ago`;
    return {
      code: 'expired', relative,
      detail: `expired at ${cert.validToDate.toISOString()}: ${relative} by the server's clock (${now.toISOString()})`,
      fix: `the certificate ${relative}: ${ADD_CERT}`,
    };
  }
  return undefined;
}

function inWindow(cert: X509Certificate, now: Date): string {
  return `valid from ${cert.validFromDate.toISOString()} to ${cert.validToDate.toISOString()}: expires in ${duration(cert.validToDate.getTime() - now.getTime())} (server clock ${now.toISOString()})`;
}

/** The certificate a date refusal is about: the leaf when it is out of its window (checked first), else the CA named in the reason. */
function outOfWindow(reason: string, leaf: X509Certificate, others: readonly X509Certificate[], now: Date): X509Certificate | undefined {
  if (windowProblem(leaf, now)) return leaf;
  return others.find((c) => windowProblem(c, now) !== undefined && reason.includes(describeCert(c)));
}

/**
 * The chain stops at a certificate whose issuer is neither sent nor configured: name that issuer
 * by DN and authority key id. Follows the sent intermediates by name only — the decision was
 * validatePath's; this finds what to ask for.
 */
function untrustedDetail(reason: string, leaf: X509Certificate, chain: readonly X509Certificate[], trustStore: TrustStore): string {
  try {
    let at = leaf;
    const seen = new Set([leaf.fingerprint256]);
    for (;;) {
      const next = chain.find((c) => !seen.has(c.fingerprint256) && subjectKeyOf(c) === issuerKeyOf(at));
      if (!next) break;
      seen.add(next.fingerprint256);
      at = next;
    }
    if (isSelfSigned(at)) {
      return at === leaf
        ? `${reason}: the certificate is self-signed; a tls_client_auth client needs one issued by a configured client CA (a self-signed certificate fits a self_signed_tls_client_auth client that registers it)`
        : `${reason}: the chain the client sent ends at root "${describeCert(at)}", which is not a configured client CA`;
    }
    const aki = fieldsOf(at).authorityKeyId;
    const known = trustStore.findIssuers(at).length > 0;
    const who = at === leaf ? 'the certificate' : `intermediate "${describeCert(at)}"`;
    const needs = `${who} was issued by "${issuerDnOf(at) || '(empty)'}"${aki ? ` (authority key id ${colonHex(aki)})` : ''}`;
    if (known) return `${reason}: ${needs}; a CA of that name is configured but its signature does not verify the certificate`;
    return `${reason}: ${needs}, which is neither a configured client CA nor among the ${chain.length} intermediate${chain.length === 1 ? '' : 's'} the client sent — the missing intermediate is "${issuerDnOf(at)}"`;
  } catch {
    return reason;
  }
}

function colonHex(hex: string): string {
  return (hex.replace(/[^0-9a-f]/gi, '').toLowerCase().match(/../g) ?? []).join(':');
}

function keyUsageSummary(leaf: X509Certificate, minRsaBits = 2048): string {
  const { keyUsage, extKeyUsage } = fieldsOf(leaf);
  const key = leaf.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const strength = key.asymmetricKeyType === 'ec' ? `EC ${details.namedCurve}` : details.modulusLength ? `${key.asymmetricKeyType?.toUpperCase()} ${details.modulusLength} bits` : key.asymmetricKeyType ?? 'unknown';
  const weak = keyWeakness(leaf, minRsaBits);
  return [
    keyUsage ? `keyUsage ${[...keyUsage].join(', ')}` : 'no keyUsage (any use)',
    extKeyUsage ? `extendedKeyUsage ${extKeyUsage.includes(OID.clientAuth) ? 'includes clientAuth' : extKeyUsage.join(', ')}` : 'no extendedKeyUsage (any purpose)',
    `key ${strength}${weak ? ` (${weak})` : ''}`,
  ].join('; ');
}

function dnMismatch(leaf: X509Certificate, expected: string): string {
  let have: readonly Rdn[];
  let want: readonly Rdn[];
  try {
    have = fieldsOf(leaf).subjectRdns;
  } catch (error) {
    return `the certificate's subject could not be read (${(error as Error).message})`;
  }
  try {
    want = parseDn(expected);
  } catch (error) {
    return `the registered tls_client_auth_subject_dn ${JSON.stringify(expected)} is not an RFC 4514 DN (${(error as Error).message})`;
  }
  const head = `certificate subject "${formatDn(have)}" does not match the registered tls_client_auth_subject_dn "${expected}"`;
  for (let i = 0; i < Math.max(have.length, want.length); i++) {
    const h = have[i];
    const w = want[i];
    if (h && w && dnKey([h]) === dnKey([w])) continue;
    const show = (rdn: Rdn | undefined) => (rdn ? `"${formatDn([rdn])}"` : 'nothing');
    return `${head}: first difference at RDN ${i + 1} (from the left, RFC 4514 order): expected ${show(w)}, presented ${show(h)}`;
  }
  return `${head}: a value cannot be compared (RFC 4518 prohibited characters)`;
}

function sanMismatch(leaf: X509Certificate, property: SanProperty, expected: string): string {
  let sans: Sans;
  try {
    sans = sansOf(leaf);
  } catch (error) {
    return `the certificate's subjectAltName could not be read (${(error as Error).message})`;
  }
  const kind = property.slice('tls_client_auth_san_'.length) as keyof Sans;
  const values = sans[kind];
  return `the registered ${property} ${JSON.stringify(expected)} is not among the certificate's ${kind.toUpperCase()} SANs (${values.length ? values.map((v) => JSON.stringify(v)).join(', ') : 'none'})`;
}
