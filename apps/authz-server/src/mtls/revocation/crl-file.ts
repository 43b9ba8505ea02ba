// CLIENT_CRL_FILE: a PEM bundle of CRLs an operator maintains (e.g. for a CA that publishes no
// distribution point, or to revoke faster than the CA does). Its mtime is looked at no more than
// once per `recheckMs` (at a lookup) and the file read again when it changed, so a new certificate
// is checked against the new list within a second. In the server, ops/reload.ts also watches the
// file with the other TLS material (SIGHUP or a change), hands each new version in with use() and
// drops the verdicts that rested on the old one, so open connections see it too; both read through
// parseCrlFile. A read that fails keeps the last good contents, so a file caught half-written
// never un-revokes anything.
import type { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { comparableSubject } from './certificate.ts';
import { describeCert } from '../trust-store.ts';
import { crlDerBlocks, crlFreshness, lookupSerial, verifyCrl, type CrlLookup, type CrlVerdict } from './crl.ts';

export interface CrlFileSource {
  /** undefined: the file holds no CRL naming this issuer */
  lookup(cert: X509Certificate, issuer: X509Certificate): Promise<(CrlLookup & { nextUpdate?: Date }) | undefined>;
  /** replaces the contents with a version already read and parsed (parseCrlFile) */
  use(contents: CrlFileContents): void;
}

/** The CRLs of one version of the file, parsed but not yet verified (that needs the issuer). */
export interface CrlFileContents {
  readonly crls: ReadonlyArray<{ readonly der: Buffer; readonly issuerName: Buffer; readonly verified: Map<string, CrlVerdict> }>;
}

interface Loaded extends CrlFileContents {
  readonly version: string;
}

/** Parses the file's bytes; throws an Error whose message completes "CLIENT_CRL_FILE <path> …". */
export function parseCrlFile(bytes: Buffer): CrlFileContents {
  const blocks = crlDerBlocks(bytes);
  if (blocks.length === 0) throw new Error('holds no -----BEGIN X509 CRL----- block');
  const crls = blocks.map((der, i) => {
    try {
      const issuerName = Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, CertificateList).tbsCertList.issuer));
      return { der, issuerName, verified: new Map<string, CrlVerdict>() };
    } catch {
      throw new Error(`CRL #${i + 1} is not a well-formed CRL`);
    }
  });
  return { crls };
}

export function createCrlFileSource(path: string, options: { now: () => number; recheckMs?: number }): CrlFileSource {
  const { now, recheckMs = 1000 } = options;
  let loaded: Loaded | undefined;
  let problem: string | undefined = 'has not been read yet';
  let checkedAt = Number.NEGATIVE_INFINITY;
  let reloading: Promise<void> | undefined;

  const reload = async () => {
    try {
      const info = await stat(path);
      const version = `${info.mtimeMs}:${info.size}`;
      if (loaded?.version === version) return;
      loaded = { version, ...parseCrlFile(await readFile(path)) };
      problem = undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problem = code ? `cannot be read (${code})` : (err as Error).message;
    }
  };

  const current = async (): Promise<Loaded | undefined> => {
    if (now() - checkedAt >= recheckMs) {
      checkedAt = now();
      reloading ??= reload().finally(() => (reloading = undefined));
    }
    if (reloading) await reloading;
    return loaded;
  };

  let pushed = 0;
  return {
    use(contents) {
      loaded = { version: `use:${++pushed}`, crls: contents.crls };
      problem = undefined;
      // the first lookup must not read the file over what was handed in
      checkedAt = now();
    },
    async lookup(cert, issuer) {
      const file = await current();
      if (file === undefined) return { status: 'unknown', detail: `CLIENT_CRL_FILE ${path} ${problem}` };
      const issuerName = comparableSubject(issuer);
      let refusal: string | undefined;
      let covered: (CrlLookup & { nextUpdate?: Date }) | undefined;
      for (const entry of file.crls) {
        if (!entry.issuerName.equals(issuerName)) continue;
        let verdict = entry.verified.get(issuer.fingerprint256);
        if (verdict === undefined) entry.verified.set(issuer.fingerprint256, (verdict = verifyCrl(entry.der, issuer)));
        const stale = verdict.ok ? crlFreshness(verdict.crl, now()) : verdict.detail;
        if (!verdict.ok || stale !== undefined) {
          refusal ??= `CLIENT_CRL_FILE ${path}: the CRL of ${describeCert(issuer)} ${stale}`;
          continue;
        }
        const found = lookupSerial(verdict.crl, cert);
        if (found.status === 'revoked') return { ...found, nextUpdate: verdict.crl.nextUpdate };
        if (found.status === 'good') covered = { ...found, nextUpdate: verdict.crl.nextUpdate };
      }
      if (covered) return covered;
      return refusal === undefined ? undefined : { status: 'unknown', detail: refusal };
    },
  };
}
