// The configured client CAs (RFC 8705 §2.1: the PKI method trusts certificates "issued by a
// trusted certificate authority"). Only this bundle is ever trusted — never the system store.
// Every certificate of the bundle is a trust anchor (RFC 5280 §6.1.1 d: an anchor is a name and
// a key, not necessarily a self-signed certificate), so an operator may trust one issuing
// intermediate without its root. Issuer lookup is by subject DN (RFC 5280 §7.1 name matching)
// narrowed by key id.
import { X509Certificate } from 'node:crypto';
import { fieldsOf } from './parsing.ts';
import { issuerKeyOf, subjectDnOf, subjectKeyOf } from './subject-dn.ts';

export interface TrustStore {
  /** where the bundle came from (a file name, a variable), for messages */
  readonly source: string;
  /** the self-signed certificates of the store */
  readonly anchors: readonly X509Certificate[];
  /** the other certificates of the store: trusted as well, and chained further up when their issuer is here too */
  readonly intermediates: readonly X509Certificate[];
  readonly size: number;
  /** certificates in the store whose subject is `cert`'s issuer (and whose key id fits its AKI) */
  findIssuers(cert: X509Certificate): X509Certificate[];
  /** is this exact certificate (same DER) in the store, and so a trust anchor? */
  isAnchor(cert: X509Certificate): boolean;
  /** is this exact certificate one of the store's self-signed certificates? */
  isRoot(cert: X509Certificate): boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Parses a PEM bundle; throws an Error naming `source` and the problem. */
export function loadTrustStore(pem: string, source: string): TrustStore {
  const certificates: X509Certificate[] = [];
  const seen = new Set<string>();
  let block = 0;
  for (const match of pem.matchAll(PEM_BLOCK)) {
    block++;
    if (match[1] !== 'CERTIFICATE') {
      throw new Error(`${source}: PEM block ${block} is a ${match[1]}, not a CERTIFICATE`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(match[0]);
      fieldsOf(cert);
    } catch (error) {
      throw new Error(`${source}: certificate ${block} could not be parsed (${(error as Error).message})`, { cause: error });
    }
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    certificates.push(cert);
  }
  if (block === 0) throw new Error(`${source}: no certificate found`);
  return createTrustStore(certificates, source);
}

export function createTrustStore(certificates: readonly X509Certificate[], source: string): TrustStore {
  const anchors: X509Certificate[] = [];
  const intermediates: X509Certificate[] = [];
  const anchorDer = new Set<string>();
  const rootDer = new Set<string>();
  const bySubject = new Map<string, X509Certificate[]>();
  for (const cert of certificates) {
    if (isSelfSigned(cert)) {
      anchors.push(cert);
      rootDer.add(cert.fingerprint256);
    } else {
      intermediates.push(cert);
    }
    anchorDer.add(cert.fingerprint256);
    const key = subjectKeyOf(cert);
    bySubject.set(key, [...(bySubject.get(key) ?? []), cert]);
  }
  return {
    source,
    anchors,
    intermediates,
    size: anchors.length + intermediates.length,
    findIssuers(cert) {
      const candidates = bySubject.get(issuerKeyOf(cert)) ?? [];
      const keyId = fieldsOf(cert).authorityKeyId;
      // RFC 5280 §4.2.1.1: AKI keyIdentifier equals the issuer's SKI; a mismatch cannot be the issuer.
      return keyId === undefined ? candidates : candidates.filter((ca) => {
        const ski = fieldsOf(ca).subjectKeyId;
        return ski === undefined || ski === keyId;
      });
    },
    isAnchor(cert) {
      return anchorDer.has(cert.fingerprint256);
    },
    isRoot(cert) {
      return rootDer.has(cert.fingerprint256);
    },
  };
}

/**
 * The trust store the server runs with: one TrustStore whose bundle ops/reload.ts replaces when
 * CLIENT_CA_FILE changes, so every reader (path validation of new verdicts, the admin API) sees the
 * new CAs at once. `generation` counts the replacements: a verdict computed under an older
 * generation is not reused (mtls/connection-verdict.ts). A validation that began before a
 * replacement finishes on the bundle it started with (`current` is read once per validation).
 */
export interface LiveTrustStore extends TrustStore {
  /** 0 at start, +1 at every replace() */
  readonly generation: number;
  /** the bundle in force now: hold it for the length of one validation */
  readonly current: TrustStore;
  replace(next: TrustStore): void;
}

export function createLiveTrustStore(initial: TrustStore): LiveTrustStore {
  let store = initial;
  let generation = 0;
  return {
    get source() { return store.source; },
    get anchors() { return store.anchors; },
    get intermediates() { return store.intermediates; },
    get size() { return store.size; },
    get generation() { return generation; },
    get current() { return store; },
    findIssuers: (cert) => store.findIssuers(cert),
    isAnchor: (cert) => store.isAnchor(cert),
    isRoot: (cert) => store.isRoot(cert),
    replace(next) {
      store = next;
      generation++;
    },
  };
}

/** The bundle to validate with now and its generation (0 for a store that never changes). */
export function trustStoreNow(store: TrustStore): { store: TrustStore; generation: number } {
  const live = store as Partial<LiveTrustStore>;
  if (live.current === undefined || typeof live.generation !== 'number') return { store, generation: 0 };
  return { store: live.current, generation: live.generation };
}

/** RFC 5280 §3.3: self-issued (subject = issuer) and verifiable with its own key. */
export function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return subjectKeyOf(cert) === issuerKeyOf(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

/** For messages: "CN=x" */
export function describeCert(cert: X509Certificate): string {
  try {
    return subjectDnOf(cert) || '(empty subject)';
  } catch {
    // Our strict reading failed (the certificate is being refused for that): OpenSSL's lenient
    // rendering still tells an operator whose certificate it was.
    try {
      return `${cert.subject.split('\n').reverse().join(',')} (as read by OpenSSL)`;
    } catch {
      return '(unreadable subject)';
    }
  }
}
