// Differential test: certbound's certification path validation (mtls/path-validation.ts) against
// `openssl verify -x509_strict -purpose sslclient -partial_chain`, on several hundred chains made
// by the openssl CLI at test time, all judged at one frozen instant.
//
// The rule: certbound may be STRICTER than OpenSSL, never more lenient. Every case where the two
// disagree must be listed in INTENDED_DISAGREEMENTS with the reason certbound refuses, and every
// listed row must still disagree exactly as written (so the table stays true). Each case also
// says what it was built to show (`expect`), and OpenSSL must agree with that: a case OpenSSL
// judges otherwise is a generation mistake, not a finding.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { validatePath } from '../../apps/authz-server/src/mtls/path-validation.ts';
import { loadTrustStore } from '../../apps/authz-server/src/mtls/trust-store.ts';
import { asn1Time, createOpensslChains, opensslAvailable, type CertSpec, type OpensslChains } from '../support/openssl-chains.ts';

type Verdict = 'accept' | 'refuse';
interface IntendedDisagreement {
  case: string;
  openssl: 'accept';
  certbound: 'refuse';
  why: string;
}

// Where certbound is deliberately stricter than OpenSSL. Only `openssl: 'accept', certbound:
// 'refuse'` rows may exist: a case where certbound accepts what OpenSSL refuses is a bug to fix in
// path-validation.ts, never a row here.
const WEAK_KEY = 'certbound refuses weak keys (RSA < 2048, EC other than P-256/P-384/P-521); openssl verify has no minimum at the default auth level';
const STRICT_DER = 'certbound reads certificates as DER only (X.690 §10–11, required by RFC 5280 §4.1) so that no two parsers see two certificates in the same bytes; OpenSSL decodes these BER forms';
const LEAF_CA = 'certbound refuses a client certificate with basicConstraints cA=TRUE (a CA key must not authenticate as a client); openssl accepts a CA as end entity';
export const INTENDED_DISAGREEMENTS: readonly IntendedDisagreement[] = [
  { case: 'key-strength/leaf/rsa1024', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/intermediate/rsa1024', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/root/rsa1024', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/leaf/secp256k1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/intermediate/secp256k1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/root/secp256k1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/leaf/brainpoolP256r1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/intermediate/brainpoolP256r1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'key-strength/root/brainpoolP256r1', openssl: 'accept', certbound: 'refuse', why: WEAK_KEY },
  { case: 'leaf-ca/three-level/digitalSignature', openssl: 'accept', certbound: 'refuse', why: LEAF_CA },
  { case: 'leaf-ca/three-level/keyCertSign', openssl: 'accept', certbound: 'refuse', why: LEAF_CA },
  { case: 'leaf-ca/three-level/pathlen-0', openssl: 'accept', certbound: 'refuse', why: LEAF_CA },
  { case: 'leaf-ca/two-level/digitalSignature', openssl: 'accept', certbound: 'refuse', why: LEAF_CA },
  { case: 'leaf-ca/partial-chain/digitalSignature', openssl: 'accept', certbound: 'refuse', why: LEAF_CA },
  { case: 'der/leaf/boolean-0x01', openssl: 'accept', certbound: 'refuse', why: STRICT_DER },
];

// certbound's PathErrorCode values this file asserts. A case's `code` outside this set is recorded
// but not asserted (the code for a rule path-validation.ts does not implement yet). Keep in step
// with `PathErrorCode` in apps/authz-server/src/mtls/path-validation.ts.
const ASSERTED_CODES = new Set<string>([
  'untrusted', 'expired', 'not_yet_valid', 'bad_signature', 'not_a_ca', 'path_length', 'key_usage', 'ext_key_usage',
  'weak_key', 'leaf_is_ca', 'name_constraints', 'unhandled_extension', 'malformed',
]);
const NAME_CONSTRAINTS = 'name_constraints';
const WEAK_KEY_CODE = 'weak_key';
const LEAF_IS_CA = 'leaf_is_ca';
const CRITICAL_EXTENSION = 'unhandled_extension';

/** 2030-01-01T00:00:00Z: the one instant every case is judged at */
const AT = 1_893_456_000;
const at = (offsetSeconds: number) => asn1Time(new Date((AT + offsetSeconds) * 1000));
const LONG = { notBefore: '20250101000000Z', notAfter: '20350101000000Z' };
const ORG = '/O=certbound differential';

// ---------------------------------------------------------------------------------------------
// Certificates as data. `null` omits an extension; every line is an openssl x509v3 config line.

interface CaOptions {
  subject?: string;
  key?: string;
  issuer?: CertSpec;
  basicConstraints?: string | null;
  pathLen?: number;
  keyUsage?: string | null;
  extendedKeyUsage?: string;
  nameConstraints?: string;
  /** further `name = value` lines */
  extra?: string[];
  /** further config sections ([dir_a] for a directoryName constraint) */
  sections?: string;
  notBefore?: string;
  notAfter?: string;
  corruptSignature?: boolean;
  derTamper?: CertSpec['derTamper'];
  padTo?: CertSpec['padTo'];
}

function ca(name: string, options: CaOptions = {}): CertSpec {
  const { issuer, pathLen, keyUsage = 'critical,keyCertSign,cRLSign', extendedKeyUsage, nameConstraints, extra = [], sections } = options;
  const basicConstraints = options.basicConstraints === undefined ? `critical,CA:TRUE${pathLen === undefined ? '' : `,pathlen:${pathLen}`}` : options.basicConstraints;
  const lines = [
    basicConstraints === null ? '' : `basicConstraints = ${basicConstraints}`,
    keyUsage === null ? '' : `keyUsage = ${keyUsage}`,
    extendedKeyUsage ? `extendedKeyUsage = ${extendedKeyUsage}` : '',
    nameConstraints ? `nameConstraints = ${nameConstraints}` : '',
    'subjectKeyIdentifier = hash',
    issuer ? 'authorityKeyIdentifier = keyid:always' : '',
    ...extra,
  ];
  return spec(options.subject ?? `${ORG}/CN=${name}`, options.key ?? 'p256#root', issuer, lines, sections, options);
}

interface LeafOptions {
  subject?: string;
  key?: string;
  issuer?: CertSpec;
  basicConstraints?: string | null;
  keyUsage?: string | null;
  extendedKeyUsage?: string | null;
  subjectAltName?: string;
  extra?: string[];
  notBefore?: string;
  notAfter?: string;
  corruptSignature?: boolean;
  derTamper?: CertSpec['derTamper'];
  padTo?: CertSpec['padTo'];
}

function leaf(options: LeafOptions = {}): CertSpec {
  const { issuer, basicConstraints = 'critical,CA:FALSE', keyUsage = 'critical,digitalSignature', extendedKeyUsage = 'clientAuth', subjectAltName, extra = [] } = options;
  const lines = [
    basicConstraints === null ? '' : `basicConstraints = ${basicConstraints}`,
    keyUsage === null ? '' : `keyUsage = ${keyUsage}`,
    extendedKeyUsage === null ? '' : `extendedKeyUsage = ${extendedKeyUsage}`,
    subjectAltName ? `subjectAltName = ${subjectAltName}` : '',
    'subjectKeyIdentifier = hash',
    issuer ? 'authorityKeyIdentifier = keyid:always' : '',
    ...extra,
  ];
  return spec(options.subject ?? `${ORG}/CN=client 1`, options.key ?? 'p256#leaf', issuer, lines, undefined, options);
}

interface SpecOptions {
  notBefore?: string;
  notAfter?: string;
  corruptSignature?: boolean;
  derTamper?: CertSpec['derTamper'];
  padTo?: CertSpec['padTo'];
}

function spec(subject: string, key: string, issuer: CertSpec | undefined, lines: string[], sections: string | undefined, options: SpecOptions): CertSpec {
  const extensions = [...lines.filter(Boolean), ...(sections ? [sections] : [])].join('\n');
  return {
    subject,
    key,
    ...(issuer ? { issuer } : {}),
    extensions,
    notBefore: options.notBefore ?? LONG.notBefore,
    notAfter: options.notAfter ?? LONG.notAfter,
    ...(options.corruptSignature ? { corruptSignature: true } : {}),
    ...(options.derTamper ? { derTamper: options.derTamper } : {}),
    ...(options.padTo ? { padTo: options.padTo } : {}),
  };
}

// The default PKI: root -> issuing CA -> (second-level CA ->) client.
const ROOT = ca('Differential Root', { key: 'p256#root' });
const INT = ca('Differential Issuing CA', { key: 'p256#int', issuer: ROOT });
const INT2 = ca('Differential Second-level CA', { key: 'p256#int2', issuer: INT });
const LEAF = leaf({ issuer: INT });

// ---------------------------------------------------------------------------------------------
// The cases

interface Case {
  /** `<rule>/<where>/<what>`: unique */
  id: string;
  rule: string;
  leaf: CertSpec;
  /** the intermediates the client sends, in this order */
  presented: CertSpec[];
  trust: CertSpec[];
  /** the verdict the case was built to show: OpenSSL must agree */
  expect: Verdict;
  /** certbound's PathErrorCode when it refuses */
  code?: string;
}

const cases: Case[] = [];
function add(rule: string, what: string, expect: Verdict, chain: { leaf: CertSpec; presented?: CertSpec[]; trust?: CertSpec[] }, code?: string) {
  cases.push({ id: `${rule}/${what}`, rule, leaf: chain.leaf, presented: chain.presented ?? [], trust: chain.trust ?? [ROOT], expect, ...(code ? { code } : {}) });
}

/** root -> int -> leaf with one certificate changed; `int: null` makes it root -> leaf */
function chain3(change: { root?: CaOptions; int?: CaOptions | null; leaf?: LeafOptions; trust?: 'root' | 'int' } = {}) {
  const root = ca('Differential Root', { key: 'p256#root', ...change.root });
  if (change.int === null) {
    const l = leaf({ ...change.leaf, issuer: root });
    return { leaf: l, presented: [], trust: [root] };
  }
  const int = ca('Differential Issuing CA', { key: 'p256#int', ...change.int, issuer: root });
  const l = leaf({ ...change.leaf, issuer: int });
  return { leaf: l, presented: change.trust === 'int' ? [] : [int], trust: [change.trust === 'int' ? int : root] };
}

/** root -> int -> int2 -> leaf with one certificate changed */
function chain4(change: { root?: CaOptions; int?: CaOptions; int2?: CaOptions; leaf?: LeafOptions } = {}) {
  const root = ca('Differential Root', { key: 'p256#root', ...change.root });
  const int = ca('Differential Issuing CA', { key: 'p256#int', ...change.int, issuer: root });
  const int2 = ca('Differential Second-level CA', { key: 'p256#int2', ...change.int2, issuer: int });
  const l = leaf({ ...change.leaf, issuer: int2 });
  return { leaf: l, presented: [int2, int], trust: [root], root, int, int2 };
}

// baseline: the default shapes, each accepted; a missing link refused.
add('baseline', 'three-level', 'accept', { leaf: LEAF, presented: [INT] });
add('baseline', 'two-level', 'accept', chain3({ int: null }));
add('baseline', 'four-level', 'accept', chain4());
add('baseline', 'leaf-without-key-usages', 'accept', chain3({ leaf: { keyUsage: null, extendedKeyUsage: null } }));
add('baseline', 'rsa-chain', 'accept', chain3({ root: { key: 'rsa2048#root' }, int: { key: 'rsa2048#int' }, leaf: { key: 'rsa2048#leaf' } }));
add('baseline', 'ed25519-chain', 'accept', chain3({ root: { key: 'ed25519#root' }, int: { key: 'ed25519#int' }, leaf: { key: 'ed25519#leaf' } }));
add('baseline', 'p384-chain', 'accept', chain3({ root: { key: 'p384#root' }, int: { key: 'p384#int' }, leaf: { key: 'p384#leaf' } }));
add('baseline', 'intermediate-in-trust-store', 'accept', { leaf: LEAF, presented: [], trust: [ROOT, INT] });
add('baseline', 'missing-intermediate', 'refuse', { leaf: LEAF, presented: [] }, 'untrusted');
add('baseline', 'other-root', 'refuse', { leaf: LEAF, presented: [INT], trust: [ca('Unrelated Root', { key: 'p256#unrelated' })] }, 'untrusted');

// validity: expired and not-yet-valid at every depth, and the boundary seconds.
{
  const windows: [string, Verdict, { notBefore?: string; notAfter?: string }, string?][] = [
    ['expired', 'refuse', { notAfter: '20290601000000Z' }, 'expired'],
    ['expired-1s-ago', 'refuse', { notAfter: at(-1) }, 'expired'],
    // OpenSSL treats notAfter as exclusive (X509_cmp_time is <=); RFC 5280 §4.1.2.5 says inclusive.
    ['not-after-equals-at', 'refuse', { notAfter: at(0) }, 'expired'],
    ['not-after-1s-later', 'accept', { notAfter: at(1) }],
    ['not-yet-valid', 'refuse', { notBefore: '20300601000000Z' }, 'not_yet_valid'],
    ['not-yet-valid-for-1s', 'refuse', { notBefore: at(1) }, 'not_yet_valid'],
    ['not-before-equals-at', 'accept', { notBefore: at(0) }],
  ];
  for (const [what, expect, dates, code] of windows) {
    add('validity', `leaf/${what}`, expect, chain3({ leaf: dates }), code);
    add('validity', `intermediate/${what}`, expect, chain3({ int: dates }), code);
    add('validity', `root/${what}`, expect, chain3({ root: dates }), code);
    add('validity', `partial-chain-anchor/${what}`, expect, chain3({ int: dates, trust: 'int' }), code);
  }
}

// signature: a flipped bit in a signature is refused below the anchor; OpenSSL does not check the
// self-signature of a trust anchor (neither need certbound: the anchor is trusted by configuration).
add('signature', 'leaf/corrupt', 'refuse', chain3({ leaf: { corruptSignature: true } }), 'bad_signature');
add('signature', 'leaf/corrupt-two-level', 'refuse', chain3({ int: null, leaf: { corruptSignature: true } }), 'bad_signature');
add('signature', 'intermediate/corrupt', 'refuse', chain3({ int: { corruptSignature: true } }), 'bad_signature');
add('signature', 'second-level/corrupt', 'refuse', chain4({ int2: { corruptSignature: true } }), 'bad_signature');
add('signature', 'leaf/corrupt-rsa', 'refuse', chain3({ root: { key: 'rsa2048#root' }, int: { key: 'rsa2048#int' }, leaf: { key: 'rsa2048#leaf', corruptSignature: true } }), 'bad_signature');
add('signature', 'leaf/corrupt-ed25519', 'refuse', chain3({ int: { key: 'ed25519#int' }, leaf: { corruptSignature: true } }), 'bad_signature');
add('signature', 'root/corrupt-self-signature', 'accept', chain3({ root: { corruptSignature: true } }));
add('signature', 'partial-chain-anchor/corrupt', 'accept', chain3({ int: { corruptSignature: true }, trust: 'int' }));
add('signature', 'intact', 'accept', chain3());

// same-dn: two CAs with one name and different keys; only the one in the chain of trust counts.
{
  const intB = ca('Differential Issuing CA', { key: 'p256#other', issuer: ROOT });
  const leafB = leaf({ issuer: intB });
  add('same-dn', 'intermediate/right-one-after-impostor', 'accept', { leaf: LEAF, presented: [intB, INT] });
  add('same-dn', 'intermediate/only-impostor-presented', 'refuse', { leaf: LEAF, presented: [intB] }, 'bad_signature');
  add('same-dn', 'intermediate/leaf-of-other-presented-wrong', 'refuse', { leaf: leafB, presented: [INT] }, 'bad_signature');
  add('same-dn', 'intermediate/both-legitimate', 'accept', { leaf: leafB, presented: [intB] });
  add('same-dn', 'partial-chain/other-key-anchor', 'refuse', { leaf: leafB, presented: [], trust: [INT] }, 'untrusted');
  add('same-dn', 'partial-chain/other-key-anchor-with-own-ca-presented', 'refuse', { leaf: leafB, presented: [intB], trust: [INT] }, 'untrusted');
  add('same-dn', 'partial-chain/both-anchors', 'accept', { leaf: leafB, presented: [], trust: [INT, intB] });
  const rootB = ca('Differential Root', { key: 'p256#rootB' });
  const intUnderB = ca('Differential Issuing CA', { key: 'p256#int', issuer: rootB });
  const leafUnderB = leaf({ issuer: intUnderB });
  add('same-dn', 'root/other-key-root-trusted', 'refuse', { leaf: leafUnderB, presented: [intUnderB], trust: [ROOT] }, 'untrusted');
  add('same-dn', 'root/other-key-root-presented', 'refuse', { leaf: leafUnderB, presented: [intUnderB, rootB], trust: [ROOT] }, 'bad_signature');
  add('same-dn', 'root/right-root-trusted', 'accept', { leaf: leafUnderB, presented: [intUnderB], trust: [rootB] });
  add('same-dn', 'root/both-roots-trusted', 'accept', { leaf: leafUnderB, presented: [intUnderB], trust: [ROOT, rootB] });
  add('same-dn', 'root/both-roots-trusted-default-chain', 'accept', { leaf: LEAF, presented: [INT], trust: [rootB, ROOT] });
}

// order: intermediates out of order, duplicated, mixed with the leaf, the root and strangers.
{
  const { leaf: leaf4 } = chain4();
  const stranger = ca('Unrelated Root', { key: 'p256#unrelated' });
  add('order', 'four-level/in-order', 'accept', { leaf: leaf4, presented: [INT2, INT] });
  add('order', 'four-level/reversed', 'accept', { leaf: leaf4, presented: [INT, INT2] });
  add('order', 'four-level/duplicated', 'accept', { leaf: leaf4, presented: [INT2, INT2, INT] });
  add('order', 'four-level/interleaved-duplicates', 'accept', { leaf: leaf4, presented: [INT, INT2, INT, INT2] });
  add('order', 'four-level/with-leaf-and-root', 'accept', { leaf: leaf4, presented: [leaf4, INT, ROOT, INT2] });
  add('order', 'four-level/with-stranger', 'accept', { leaf: leaf4, presented: [stranger, INT, INT2] });
  add('order', 'four-level/missing-top', 'refuse', { leaf: leaf4, presented: [INT2] }, 'untrusted');
  add('order', 'four-level/missing-bottom', 'refuse', { leaf: leaf4, presented: [INT] }, 'untrusted');
  add('order', 'four-level/nothing-presented', 'refuse', { leaf: leaf4, presented: [] }, 'untrusted');
  add('order', 'three-level/duplicated', 'accept', { leaf: LEAF, presented: [INT, INT] });
  add('order', 'three-level/root-first', 'accept', { leaf: LEAF, presented: [ROOT, INT] });
  add('order', 'three-level/only-stranger', 'refuse', { leaf: LEAF, presented: [stranger] }, 'untrusted');
}

// partial-chain: any certificate of the trust store is an anchor (openssl -partial_chain).
{
  const { leaf: leaf4 } = chain4();
  const sibling = ca('Differential Sibling CA', { key: 'p256#sibling', issuer: ROOT });
  add('partial-chain', 'intermediate-only', 'accept', { leaf: LEAF, presented: [], trust: [INT] });
  add('partial-chain', 'intermediate-only-also-presented', 'accept', { leaf: LEAF, presented: [INT], trust: [INT] });
  add('partial-chain', 'second-level-only', 'accept', { leaf: leaf4, presented: [], trust: [INT2] });
  add('partial-chain', 'top-intermediate-with-second-presented', 'accept', { leaf: leaf4, presented: [INT2], trust: [INT] });
  add('partial-chain', 'leaf-itself', 'accept', { leaf: LEAF, presented: [], trust: [LEAF] });
  add('partial-chain', 'root-and-intermediate', 'accept', { leaf: LEAF, presented: [], trust: [ROOT, INT] });
  add('partial-chain', 'sibling-intermediate-only', 'refuse', { leaf: LEAF, presented: [INT], trust: [sibling] }, 'untrusted');
  add('partial-chain', 'second-level-only-wrong-branch', 'refuse', { leaf: LEAF, presented: [INT], trust: [INT2] }, 'untrusted');
}

// self-signed: a self-signed client certificate is trusted only if the store holds it.
{
  const self = leaf({ subject: `${ORG}/CN=self-signed client`, key: 'p256#self' });
  const selfAsRoot = leaf({ subject: ROOT.subject, key: 'p256#self' });
  add('self-signed', 'not-in-store', 'refuse', { leaf: self, presented: [] }, 'untrusted');
  add('self-signed', 'not-in-store-presented', 'refuse', { leaf: self, presented: [self] }, 'untrusted');
  add('self-signed', 'in-store', 'accept', { leaf: self, presented: [], trust: [self] });
  add('self-signed', 'in-store-with-root', 'accept', { leaf: self, presented: [], trust: [ROOT, self] });
  add('self-signed', 'root-name-not-in-store', 'refuse', { leaf: selfAsRoot, presented: [] }, 'bad_signature');
}

// path-len: pathLenConstraint at each depth; self-issued CAs (key rollover) are not counted.
{
  add('path-len', 'root-0/three-level', 'refuse', chain3({ root: { pathLen: 0 } }), 'path_length');
  add('path-len', 'root-1/three-level', 'accept', chain3({ root: { pathLen: 1 } }));
  add('path-len', 'root-0/two-level', 'accept', chain3({ root: { pathLen: 0 }, int: null }));
  add('path-len', 'root-1/four-level', 'refuse', chain4({ root: { pathLen: 1 } }), 'path_length');
  add('path-len', 'root-2/four-level', 'accept', chain4({ root: { pathLen: 2 } }));
  add('path-len', 'intermediate-0/four-level', 'refuse', chain4({ int: { pathLen: 0 } }), 'path_length');
  add('path-len', 'intermediate-1/four-level', 'accept', chain4({ int: { pathLen: 1 } }));
  add('path-len', 'second-level-0/four-level', 'accept', chain4({ int2: { pathLen: 0 } }));
  const int0 = ca('Differential Issuing CA', { key: 'p256#int', issuer: ROOT, pathLen: 0 });
  const int2Under0 = ca('Differential Second-level CA', { key: 'p256#int2', issuer: int0 });
  add('path-len', 'partial-chain-anchor-0/four-level', 'refuse', { leaf: leaf({ issuer: int2Under0 }), presented: [int2Under0], trust: [int0] }, 'path_length');
  add('path-len', 'partial-chain-anchor-0/three-level', 'accept', { leaf: leaf({ issuer: int0 }), presented: [], trust: [int0] });
  const root0 = ca('Differential Root', { key: 'p256#root', pathLen: 0 });
  const rollover = ca('Differential Root', { key: 'p256#roll', issuer: root0 });
  add('path-len', 'root-0/self-issued-rollover-not-counted', 'accept', { leaf: leaf({ issuer: rollover }), presented: [rollover], trust: [root0] });
  const intUnderRollover = ca('Differential Issuing CA', { key: 'p256#int', issuer: rollover });
  add('path-len', 'root-0/self-issued-rollover-then-intermediate', 'refuse', { leaf: leaf({ issuer: intUnderRollover }), presented: [intUnderRollover, rollover], trust: [root0] }, 'path_length');
}

// key-usage: issuers need keyCertSign; the client needs digitalSignature (or keyAgreement).
{
  const noCertSign = 'critical,digitalSignature,cRLSign';
  add('key-usage', 'intermediate/without-keyCertSign', 'refuse', chain3({ int: { keyUsage: noCertSign } }), 'key_usage');
  add('key-usage', 'root/without-keyCertSign', 'refuse', chain3({ root: { keyUsage: noCertSign } }), 'key_usage');
  add('key-usage', 'second-level/without-keyCertSign', 'refuse', chain4({ int2: { keyUsage: noCertSign } }), 'key_usage');
  add('key-usage', 'partial-chain-anchor/without-keyCertSign', 'refuse', chain3({ int: { keyUsage: noCertSign }, trust: 'int' }), 'key_usage');
  // x509_strict (RFC 5280 §4.2.1.3: a CA MUST include keyUsage)
  add('key-usage', 'intermediate/absent', 'refuse', chain3({ int: { keyUsage: null } }), 'key_usage');
  add('key-usage', 'intermediate/keyCertSign-only', 'accept', chain3({ int: { keyUsage: 'critical,keyCertSign' } }));
  add('key-usage', 'intermediate/non-critical', 'accept', chain3({ int: { keyUsage: 'keyCertSign,cRLSign' } }));
  add('key-usage', 'leaf/keyEncipherment-only', 'refuse', chain3({ leaf: { key: 'rsa2048#leaf', keyUsage: 'critical,keyEncipherment' } }), 'key_usage');
  add('key-usage', 'leaf/nonRepudiation-only', 'refuse', chain3({ leaf: { keyUsage: 'critical,nonRepudiation' } }), 'key_usage');
  add('key-usage', 'leaf/keyAgreement', 'accept', chain3({ leaf: { keyUsage: 'critical,keyAgreement' } }));
  add('key-usage', 'leaf/digitalSignature-keyEncipherment', 'accept', chain3({ leaf: { key: 'rsa2048#leaf', keyUsage: 'critical,digitalSignature,keyEncipherment' } }));
  add('key-usage', 'leaf/non-critical', 'accept', chain3({ leaf: { keyUsage: 'digitalSignature' } }));
  add('key-usage', 'leaf/absent', 'accept', chain3({ leaf: { keyUsage: null } }));
  // x509_strict (RFC 5280 §4.2.1.3: keyCertSign only when cA is set)
  add('key-usage', 'leaf/keyCertSign-without-ca', 'refuse', chain3({ leaf: { keyUsage: 'critical,digitalSignature,keyCertSign' } }), 'key_usage');
}

// basic-constraints: every issuer, anchor included, must be a CA.
{
  add('basic-constraints', 'intermediate/ca-false', 'refuse', chain3({ int: { basicConstraints: 'critical,CA:FALSE' } }), 'not_a_ca');
  add('basic-constraints', 'intermediate/absent', 'refuse', chain3({ int: { basicConstraints: null } }), 'not_a_ca');
  add('basic-constraints', 'root/ca-false', 'refuse', chain3({ root: { basicConstraints: 'critical,CA:FALSE' } }), 'not_a_ca');
  add('basic-constraints', 'partial-chain-anchor/ca-false', 'refuse', chain3({ int: { basicConstraints: 'critical,CA:FALSE' }, trust: 'int' }), 'not_a_ca');
  // x509_strict (RFC 5280 §4.2.1.9: a CA MUST mark basicConstraints critical)
  add('basic-constraints', 'intermediate/non-critical', 'refuse', chain3({ int: { basicConstraints: 'CA:TRUE' } }), 'not_a_ca');
  add('basic-constraints', 'leaf/absent', 'accept', chain3({ leaf: { basicConstraints: null } }));
  add('basic-constraints', 'leaf/non-critical-ca-false', 'accept', chain3({ leaf: { basicConstraints: 'CA:FALSE' } }));
}

// leaf-ca: a client certificate with cA=TRUE.
add('leaf-ca', 'three-level/digitalSignature', 'accept', chain3({ leaf: { basicConstraints: 'critical,CA:TRUE' } }), LEAF_IS_CA);
add('leaf-ca', 'three-level/keyCertSign', 'accept', chain3({ leaf: { basicConstraints: 'critical,CA:TRUE', keyUsage: 'critical,digitalSignature,keyCertSign' } }), LEAF_IS_CA);
add('leaf-ca', 'three-level/pathlen-0', 'accept', chain3({ leaf: { basicConstraints: 'critical,CA:TRUE,pathlen:0', keyUsage: 'critical,digitalSignature,keyCertSign' } }), LEAF_IS_CA);
add('leaf-ca', 'two-level/digitalSignature', 'accept', chain3({ int: null, leaf: { basicConstraints: 'critical,CA:TRUE' } }), LEAF_IS_CA);
add('leaf-ca', 'partial-chain/digitalSignature', 'accept', chain3({ trust: 'int', leaf: { basicConstraints: 'critical,CA:TRUE' } }), LEAF_IS_CA);
add('leaf-ca', 'three-level/ca-false', 'accept', chain3({ leaf: { basicConstraints: 'critical,CA:FALSE' } }));
// x509_strict: a CA certificate (here the leaf) without keyUsage, or with basicConstraints not critical
add('leaf-ca', 'three-level/without-key-usage', 'refuse', chain3({ leaf: { basicConstraints: 'critical,CA:TRUE', keyUsage: null } }), LEAF_IS_CA);
add('leaf-ca', 'three-level/non-critical', 'refuse', chain3({ leaf: { basicConstraints: 'CA:TRUE' } }), LEAF_IS_CA);

// critical-ext: an unknown critical extension at any depth is refused; non-critical is ignored.
{
  const unknown = (critical: boolean) => ({ extra: [`1.2.3.4 = ${critical ? 'critical,' : ''}ASN1:NULL`] });
  add('critical-ext', 'leaf/unknown-critical', 'refuse', chain3({ leaf: unknown(true) }), CRITICAL_EXTENSION);
  add('critical-ext', 'intermediate/unknown-critical', 'refuse', chain3({ int: unknown(true) }), CRITICAL_EXTENSION);
  add('critical-ext', 'root/unknown-critical', 'refuse', chain3({ root: unknown(true) }), CRITICAL_EXTENSION);
  add('critical-ext', 'second-level/unknown-critical', 'refuse', chain4({ int2: unknown(true) }), CRITICAL_EXTENSION);
  add('critical-ext', 'partial-chain-anchor/unknown-critical', 'refuse', chain3({ int: unknown(true), trust: 'int' }), CRITICAL_EXTENSION);
  add('critical-ext', 'leaf/unknown-non-critical', 'accept', chain3({ leaf: unknown(false) }));
  add('critical-ext', 'intermediate/unknown-non-critical', 'accept', chain3({ int: unknown(false) }));
  add('critical-ext', 'root/unknown-non-critical', 'accept', chain3({ root: unknown(false) }));
  add('critical-ext', 'leaf/certificatePolicies-critical', 'accept', chain3({ leaf: { extra: ['certificatePolicies = critical,1.3.6.1.4.1.55555.1'] } }));
  add('critical-ext', 'leaf/extendedKeyUsage-critical', 'accept', chain3({ leaf: { extendedKeyUsage: 'critical,clientAuth' } }));
  add('critical-ext', 'leaf/subjectAltName-critical', 'accept', chain3({ leaf: { subjectAltName: 'critical,DNS:client-1.example.com' } }));
}

// issuer-eku: an issuer's extendedKeyUsage, when present, must allow TLS client authentication.
{
  const eku = (value: string) => ({ extendedKeyUsage: value });
  add('issuer-eku', 'intermediate/serverAuth', 'refuse', chain3({ int: eku('serverAuth') }), 'ext_key_usage');
  add('issuer-eku', 'intermediate/codeSigning', 'refuse', chain3({ int: eku('codeSigning') }), 'ext_key_usage');
  add('issuer-eku', 'intermediate/clientAuth', 'accept', chain3({ int: eku('clientAuth') }));
  add('issuer-eku', 'intermediate/serverAuth-clientAuth', 'accept', chain3({ int: eku('serverAuth,clientAuth') }));
  // OpenSSL's sslclient purpose does not take anyExtendedKeyUsage for clientAuth (v3_purp.c xku_reject)
  add('issuer-eku', 'intermediate/anyExtendedKeyUsage', 'refuse', chain3({ int: eku('anyExtendedKeyUsage') }), 'ext_key_usage');
  add('issuer-eku', 'intermediate/anyExtendedKeyUsage-clientAuth', 'accept', chain3({ int: eku('anyExtendedKeyUsage,clientAuth') }));
  add('issuer-eku', 'intermediate/absent', 'accept', chain3());
  add('issuer-eku', 'root/serverAuth', 'refuse', chain3({ root: eku('serverAuth') }), 'ext_key_usage');
  add('issuer-eku', 'root/clientAuth', 'accept', chain3({ root: eku('clientAuth') }));
  add('issuer-eku', 'second-level/serverAuth', 'refuse', chain4({ int2: eku('serverAuth') }), 'ext_key_usage');
  add('issuer-eku', 'second-level/clientAuth', 'accept', chain4({ int2: eku('clientAuth') }));
  add('issuer-eku', 'partial-chain-anchor/serverAuth', 'refuse', chain3({ int: eku('serverAuth'), trust: 'int' }), 'ext_key_usage');
  add('issuer-eku', 'partial-chain-anchor/clientAuth', 'accept', chain3({ int: eku('clientAuth'), trust: 'int' }));
}

// leaf-eku: the client certificate's extendedKeyUsage, when present, must allow clientAuth.
{
  const eku = (value: string | null) => ({ leaf: { extendedKeyUsage: value } });
  add('leaf-eku', 'clientAuth', 'accept', chain3(eku('clientAuth')));
  add('leaf-eku', 'serverAuth', 'refuse', chain3(eku('serverAuth')), 'ext_key_usage');
  add('leaf-eku', 'serverAuth-clientAuth', 'accept', chain3(eku('serverAuth,clientAuth')));
  add('leaf-eku', 'absent', 'accept', chain3(eku(null)));
  // OpenSSL's sslclient purpose does not take anyExtendedKeyUsage for clientAuth (v3_purp.c xku_reject)
  add('leaf-eku', 'anyExtendedKeyUsage', 'refuse', chain3(eku('anyExtendedKeyUsage')), 'ext_key_usage');
  add('leaf-eku', 'anyExtendedKeyUsage-clientAuth', 'accept', chain3(eku('anyExtendedKeyUsage,clientAuth')));
  add('leaf-eku', 'codeSigning', 'refuse', chain3(eku('codeSigning')), 'ext_key_usage');
  add('leaf-eku', 'emailProtection', 'refuse', chain3(eku('emailProtection')), 'ext_key_usage');
  add('leaf-eku', 'clientAuth-critical', 'accept', chain3(eku('critical,clientAuth')));
  add('leaf-eku', 'two-level/clientAuth', 'accept', chain3({ int: null, ...eku('clientAuth') }));
  add('leaf-eku', 'two-level/serverAuth', 'refuse', chain3({ int: null, ...eku('serverAuth') }), 'ext_key_usage');
  add('leaf-eku', 'partial-chain/serverAuth', 'refuse', chain3({ trust: 'int', ...eku('serverAuth') }), 'ext_key_usage');
}

// key-strength: each algorithm as the client's, the intermediate's and the root's key.
{
  const algorithms: [string, boolean][] = [
    ['rsa1024', false], ['rsa2048', true], ['rsa3072', true], ['p256', true], ['p384', true], ['p521', true],
    ['secp256k1', false], ['brainpoolP256r1', false], ['ed25519', true],
  ];
  for (const [algorithm, strong] of algorithms) {
    const key = `${algorithm}#strength`;
    const code = strong ? undefined : WEAK_KEY_CODE;
    // OpenSSL judges every one acceptable (no -auth_level): the weak ones are INTENDED_DISAGREEMENTS.
    add('key-strength', `leaf/${algorithm}`, 'accept', chain3({ leaf: { key } }), code);
    add('key-strength', `intermediate/${algorithm}`, 'accept', chain3({ int: { key } }), code);
    add('key-strength', `root/${algorithm}`, 'accept', chain3({ root: { key } }), code);
  }
}

// der: lengths whose last octet is 0x00 (0x82 0x02 0x00 = 512) are minimal DER and must be read;
// BER forms OpenSSL tolerates are refused by certbound's strict reading (INTENDED_DISAGREEMENTS).
{
  const edInt = ca('Differential Issuing CA', { key: 'ed25519#int', issuer: ROOT });
  const padded = (element: 'certificate' | 'tbs', length: number) => leaf({ key: 'ed25519#leaf', issuer: edInt, padTo: { element, length } });
  add('der', 'leaf/certificate-length-512', 'accept', { leaf: padded('certificate', 512), presented: [edInt] });
  add('der', 'leaf/certificate-length-768', 'accept', { leaf: padded('certificate', 768), presented: [edInt] });
  add('der', 'leaf/tbs-length-512', 'accept', { leaf: padded('tbs', 512), presented: [edInt] });
  const edRoot = ca('Differential Root', { key: 'ed25519#root' });
  const paddedInt = ca('Differential Issuing CA', { key: 'p256#int', issuer: edRoot, padTo: { element: 'certificate', length: 512 } });
  add('der', 'intermediate/certificate-length-512', 'accept', { leaf: leaf({ issuer: paddedInt }), presented: [paddedInt], trust: [edRoot] });
  const paddedRoot = ca('Differential Root', { key: 'ed25519#root', padTo: { element: 'certificate', length: 512 } });
  const intUnderPadded = ca('Differential Issuing CA', { key: 'p256#int', issuer: paddedRoot });
  add('der', 'root/certificate-length-512', 'accept', { leaf: leaf({ issuer: intUnderPadded }), presented: [intUnderPadded], trust: [paddedRoot] });
  add('der', 'leaf/minimal', 'accept', { leaf: LEAF, presented: [INT] });
  add('der', 'leaf/boolean-0x01', 'accept', chain3({ leaf: { derTamper: 'boolean-0x01' } }), 'malformed');
  // Accepted by both: node's X509Certificate re-encodes the outer SEQUENCE (cert.raw is i2d output),
  // so certbound never sees this one needless octet; the signed TBSCertificate is untouched.
  add('der', 'leaf/outer-length-leading-zero', 'accept', chain3({ leaf: { derTamper: 'outer-length-leading-zero' } }));
  add('der', 'intermediate/outer-length-leading-zero', 'accept', chain3({ int: { derTamper: 'outer-length-leading-zero' } }));
}

// Name constraints (RFC 5280 §4.2.1.10): each family of constraint × names of the client, with the
// constraint on the root, on the intermediate (critical and not) and on a partial-chain anchor.
interface NameFamily {
  rule: string;
  label: string;
  constraint: string;
  sections?: string;
  /** the intermediate's subject when the constraint sits on the root (directoryName families) */
  intSubject?: string;
  names: [what: string, expect: Verdict, leaf: LeafOptions][];
}
const san = (subjectAltName: string): LeafOptions => ({ subjectAltName });
const subj = (subject: string, subjectAltName?: string): LeafOptions => ({ subject, ...(subjectAltName ? { subjectAltName } : {}) });
const TEAM_A = 'O = certbound differential\nOU = Team A';
const families: NameFamily[] = [
  { rule: 'nc-dns', label: 'permitted-example.com', constraint: 'permitted;DNS:example.com', names: [
    ['san-apex', 'accept', san('DNS:example.com')],
    ['san-subdomain', 'accept', san('DNS:a.example.com')],
    ['san-deep-subdomain', 'accept', san('DNS:x.y.example.com')],
    ['san-uppercase', 'accept', san('DNS:A.EXAMPLE.COM')],
    ['san-wildcard', 'accept', san('DNS:*.example.com')],
    ['san-suffix-not-label', 'refuse', san('DNS:badexample.com')],
    ['san-other-domain', 'refuse', san('DNS:example.org')],
    ['san-domain-as-prefix', 'refuse', san('DNS:example.com.evil.org')],
    ['san-one-of-two-outside', 'refuse', san('DNS:a.example.com,DNS:b.evil.org')],
    ['san-ip-only', 'accept', san('IP:192.0.2.1')],
    // RFC 5280 §4.2.1.10 / OpenSSL: a hostname in the subject CN counts when there is no DNS SAN
    ['cn-inside-no-san', 'accept', subj(`${ORG}/CN=a.example.com`)],
    ['cn-outside-no-san', 'refuse', subj(`${ORG}/CN=www.evil.org`)],
    ['cn-outside-with-dns-san-inside', 'accept', subj(`${ORG}/CN=www.evil.org`, 'DNS:a.example.com')],
    ['cn-not-a-hostname', 'accept', subj(`${ORG}/CN=client 1`)],
  ] },
  { rule: 'nc-dns', label: 'permitted-.example.com', constraint: 'permitted;DNS:.example.com', names: [
    ['san-subdomain', 'accept', san('DNS:a.example.com')],
    ['san-apex', 'refuse', san('DNS:example.com')],
  ] },
  { rule: 'nc-dns', label: 'excluded-example.com', constraint: 'excluded;DNS:example.com', names: [
    ['san-subdomain', 'refuse', san('DNS:a.example.com')],
    ['san-apex', 'refuse', san('DNS:example.com')],
    ['san-other-domain', 'accept', san('DNS:example.org')],
    ['san-suffix-not-label', 'accept', san('DNS:badexample.com')],
    ['cn-inside-no-san', 'refuse', subj(`${ORG}/CN=a.example.com`)],
  ] },
  { rule: 'nc-dns', label: 'permitted-example.com-excluded-secret', constraint: 'permitted;DNS:example.com,excluded;DNS:secret.example.com', names: [
    ['san-subdomain', 'accept', san('DNS:a.example.com')],
    ['san-excluded-subdomain', 'refuse', san('DNS:x.secret.example.com')],
    ['san-excluded-apex', 'refuse', san('DNS:secret.example.com')],
  ] },
  { rule: 'nc-ip', label: 'permitted-10/8', constraint: 'permitted;IP:10.0.0.0/255.0.0.0', names: [
    ['inside', 'accept', san('IP:10.1.2.3')],
    ['top-of-range', 'accept', san('IP:10.255.255.255')],
    ['above', 'refuse', san('IP:11.0.0.1')],
    ['below', 'refuse', san('IP:9.255.255.255')],
    ['ipv6', 'refuse', san('IP:2001:db8::1')],
    ['dns-only', 'accept', san('DNS:a.example.com')],
  ] },
  { rule: 'nc-ip', label: 'permitted-192.168.1/24', constraint: 'permitted;IP:192.168.1.0/255.255.255.0', names: [
    ['inside', 'accept', san('IP:192.168.1.200')],
    ['next-subnet', 'refuse', san('IP:192.168.2.1')],
  ] },
  { rule: 'nc-ip', label: 'excluded-10/8', constraint: 'excluded;IP:10.0.0.0/255.0.0.0', names: [
    ['inside', 'refuse', san('IP:10.0.0.1')],
    ['outside', 'accept', san('IP:172.16.0.1')],
  ] },
  { rule: 'nc-ip', label: 'permitted-2001:db8::/32', constraint: 'permitted;IP:2001:db8::/ffff:ffff::', names: [
    ['inside', 'accept', san('IP:2001:db8::1')],
    ['inside-high', 'accept', san('IP:2001:db8:ffff::1')],
    ['outside', 'refuse', san('IP:2001:db9::1')],
    ['ipv4', 'refuse', san('IP:192.0.2.1')],
  ] },
  { rule: 'nc-ip', label: 'excluded-fd00::/8', constraint: 'excluded;IP:fd00::/ff00::', names: [
    ['inside', 'refuse', san('IP:fd00::5')],
    ['outside', 'accept', san('IP:2001:db8::1')],
  ] },
  { rule: 'nc-ip', label: 'permitted-10/8-and-2001:db8::/32', constraint: 'permitted;IP:10.0.0.0/255.0.0.0,permitted;IP:2001:db8::/ffff:ffff::', names: [
    ['ipv4-inside', 'accept', san('IP:10.0.0.1')],
    ['ipv6-inside', 'accept', san('IP:2001:db8::1')],
    ['ipv4-outside', 'refuse', san('IP:192.0.2.1')],
  ] },
  { rule: 'nc-email', label: 'permitted-host-example.com', constraint: 'permitted;email:example.com', names: [
    ['san-host', 'accept', san('email:alice@example.com')],
    ['san-host-uppercase', 'accept', san('email:alice@EXAMPLE.COM')],
    ['san-subdomain', 'refuse', san('email:alice@sub.example.com')],
    ['san-other', 'refuse', san('email:alice@evil.org')],
    // RFC 5280 §4.2.1.10: the rfc822Name constraint applies to the subject's emailAddress
    ['subject-email-inside', 'accept', subj(`${ORG}/CN=client 1/emailAddress=alice@example.com`)],
    ['subject-email-outside', 'refuse', subj(`${ORG}/CN=client 1/emailAddress=eve@evil.org`)],
    ['subject-email-outside-san-inside', 'refuse', subj(`${ORG}/CN=client 1/emailAddress=eve@evil.org`, 'email:alice@example.com')],
  ] },
  { rule: 'nc-email', label: 'permitted-domain-.example.com', constraint: 'permitted;email:.example.com', names: [
    ['san-subdomain', 'accept', san('email:alice@sub.example.com')],
    ['san-host', 'refuse', san('email:alice@example.com')],
  ] },
  { rule: 'nc-email', label: 'permitted-mailbox', constraint: 'permitted;email:alice@example.com', names: [
    ['san-same-mailbox', 'accept', san('email:alice@example.com')],
    ['san-other-mailbox', 'refuse', san('email:bob@example.com')],
  ] },
  { rule: 'nc-email', label: 'excluded-host-evil.org', constraint: 'excluded;email:evil.org', names: [
    ['san-excluded', 'refuse', san('email:eve@evil.org')],
    ['san-other', 'accept', san('email:alice@example.com')],
    ['subject-email-excluded', 'refuse', subj(`${ORG}/CN=client 1/emailAddress=eve@evil.org`)],
  ] },
  { rule: 'nc-uri', label: 'permitted-host-example.com', constraint: 'permitted;URI:example.com', names: [
    ['host', 'accept', san('URI:https://example.com/client')],
    ['host-with-port', 'accept', san('URI:https://example.com:8443/client')],
    ['spiffe', 'accept', san('URI:spiffe://example.com/workload')],
    ['subdomain', 'refuse', san('URI:https://a.example.com/client')],
    ['other-host', 'refuse', san('URI:https://evil.org/client')],
  ] },
  { rule: 'nc-uri', label: 'permitted-domain-.example.com', constraint: 'permitted;URI:.example.com', names: [
    ['subdomain', 'accept', san('URI:https://a.example.com/client')],
    ['apex', 'refuse', san('URI:https://example.com/client')],
  ] },
  { rule: 'nc-uri', label: 'excluded-host-evil.org', constraint: 'excluded;URI:evil.org', names: [
    ['excluded', 'refuse', san('URI:https://evil.org/client')],
    ['other', 'accept', san('URI:https://example.com/client')],
  ] },
  { rule: 'nc-dirname', label: 'permitted-O-OU-Team-A', constraint: 'permitted;dirName:dir_a', sections: `[dir_a]\n${TEAM_A}`, intSubject: `${ORG}/OU=Team A/CN=Differential Issuing CA`, names: [
    ['inside', 'accept', subj(`${ORG}/OU=Team A/CN=client 1`)],
    ['inside-other-case', 'accept', subj(`${ORG}/OU=TEAM A/CN=client 1`)],
    ['other-ou', 'refuse', subj(`${ORG}/OU=Team B/CN=client 1`)],
    ['other-o', 'refuse', subj('/O=Other Org/OU=Team A/CN=client 1')],
    ['shorter-than-constraint', 'refuse', subj(`${ORG}/CN=client 1`)],
  ] },
  { rule: 'nc-dirname', label: 'excluded-O-OU-Blocked', constraint: 'excluded;dirName:dir_b', sections: '[dir_b]\nO = certbound differential\nOU = Blocked', names: [
    ['inside-excluded', 'refuse', subj(`${ORG}/OU=Blocked/CN=client 1`)],
    ['outside', 'accept', subj(`${ORG}/OU=Team A/CN=client 1`)],
  ] },
];
for (const family of families) {
  const placements: [string, boolean, 'root' | 'int', boolean][] = [
    ['root-critical', true, 'root', false],
    ['root-non-critical', false, 'root', false],
    ['intermediate-critical', true, 'int', false],
    ['intermediate-non-critical', false, 'int', false],
    ['partial-chain-anchor-critical', true, 'int', true],
  ];
  for (const [where, critical, on, partial] of placements) {
    const constraint = { nameConstraints: `${critical ? 'critical,' : ''}${family.constraint}`, ...(family.sections ? { sections: family.sections } : {}) };
    const root = on === 'root' ? ca('Differential Root', { key: 'p256#root', ...constraint }) : ROOT;
    const int = ca('Differential Issuing CA', { key: 'p256#int', issuer: root, ...(on === 'int' ? constraint : {}), ...(on === 'root' && family.intSubject ? { subject: family.intSubject } : {}) });
    for (const [what, expect, leafOptions] of family.names) {
      const l = leaf({ ...leafOptions, issuer: int });
      add(family.rule, `${where}/${family.label}/${what}`, expect, partial ? { leaf: l, presented: [], trust: [int] } : { leaf: l, presented: [int], trust: [root] }, expect === 'refuse' ? NAME_CONSTRAINTS : undefined);
    }
  }
}
// Constraints on both root and intermediate: a name must satisfy both (the intersection).
{
  const root = ca('Differential Root', { key: 'p256#root', nameConstraints: 'critical,permitted;DNS:example.com' });
  const narrower = ca('Differential Issuing CA', { key: 'p256#int', issuer: root, nameConstraints: 'critical,permitted;DNS:a.example.com' });
  const elsewhere = ca('Differential Issuing CA', { key: 'p256#int', issuer: root, nameConstraints: 'critical,permitted;DNS:evil.org' });
  const both = (int: CertSpec, dns: string) => ({ leaf: leaf({ issuer: int, subjectAltName: `DNS:${dns}` }), presented: [int], trust: [root] });
  add('nc-dns', 'root-and-intermediate/narrower/inside-both', 'accept', both(narrower, 'x.a.example.com'));
  add('nc-dns', 'root-and-intermediate/narrower/inside-root-only', 'refuse', both(narrower, 'b.example.com'), NAME_CONSTRAINTS);
  add('nc-dns', 'root-and-intermediate/disjoint/inside-intermediate-only', 'refuse', both(elsewhere, 'www.evil.org'), NAME_CONSTRAINTS);
  add('nc-dns', 'root-and-intermediate/disjoint/inside-root-only', 'refuse', both(elsewhere, 'a.example.com'), NAME_CONSTRAINTS);
}

const RULES = [...new Set(cases.map((c) => c.rule))];

// ---------------------------------------------------------------------------------------------
// Running both validators

interface CertboundVerdict {
  verdict: Verdict;
  code?: string;
  reason?: string;
}
interface Outcome {
  case: Case;
  openssl: { verdict: Verdict; error?: string };
  certbound: CertboundVerdict;
}

async function certboundVerdict(chains: OpensslChains, c: Case): Promise<CertboundVerdict> {
  const [leafPem, presentedPems, trustPems] = await Promise.all([
    chains.pem(c.leaf), Promise.all(c.presented.map((s) => chains.pem(s))), Promise.all(c.trust.map((s) => chains.pem(s))),
  ]);
  let trustStore;
  try {
    trustStore = loadTrustStore(trustPems.join(''), 'differential');
  } catch (error) {
    return { verdict: 'refuse', code: 'trust-store-refused', reason: (error as Error).message };
  }
  const presented = presentedPems.map((pem) => new X509Certificate(pem));
  const verdict = await validatePath({ leaf: new X509Certificate(leafPem), presented, trustStore, at: new Date(AT * 1000) });
  return verdict.ok ? { verdict: 'accept' } : { verdict: 'refuse', code: verdict.code, reason: verdict.reason };
}

const show = (o: Outcome) =>
  `  ${o.case.id}: openssl ${o.openssl.verdict}${o.openssl.error ? ` (${o.openssl.error})` : ''}; certbound ${o.certbound.verdict}${o.certbound.code ? ` ${o.certbound.code}: ${o.certbound.reason}` : ''}`;

describe('certbound path validation agrees with openssl verify -x509_strict -purpose sslclient -partial_chain', { skip: opensslAvailable() ? false : 'openssl CLI not found at /usr/bin/openssl: install openssl to run the differential test' }, () => {
  let chains: OpensslChains;
  let outcomes: Outcome[] = [];
  let started = 0;

  before(async () => {
    started = performance.now();
    chains = await createOpensslChains({ concurrency: 4 });
    const openssl = await chains.verifyAll(cases.map((c) => ({ leaf: c.leaf, presented: c.presented, trust: c.trust, at: AT })));
    outcomes = [];
    for (const [index, c] of cases.entries()) {
      const { verdict, error } = openssl[index];
      outcomes.push({ case: c, openssl: { verdict, ...(error ? { error } : {}) }, certbound: await certboundVerdict(chains, c) });
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`# differential: ${cases.length} cases, ${chains.processes} openssl processes, ${seconds} s`);
    if (process.env.CERTBOUND_DIFFERENTIAL_REPORT) {
      const { writeFile } = await import('node:fs/promises');
      const disagreements = await Promise.all(
        outcomes.filter((o) => o.openssl.verdict !== o.certbound.verdict).map(async (o) => ({
          ...o,
          certificates: await Promise.all([o.case.leaf, ...o.case.presented, ...o.case.trust]
            .map(async (s) => ({ text: await chains.text(s), pem: await chains.pem(s) }))),
        })),
      );
      const rows = outcomes.map((o) => ({
        id: o.case.id, rule: o.case.rule, expect: o.case.expect, code: o.case.code, openssl: o.openssl, certbound: o.certbound,
      }));
      await writeFile(process.env.CERTBOUND_DIFFERENTIAL_REPORT, JSON.stringify({ outcomes: rows, disagreements }, null, 2));
    }
  }, { timeout: 300_000 });

  after(async () => {
    await chains?.dispose();
  });

  it('covers at least 300 cases, each id once, every rule with chains to accept and chains to refuse', () => {
    assert.ok(cases.length >= 300, `only ${cases.length} cases`);
    assert.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'duplicate case ids');
    // the verdict certbound should give: OpenSSL's, except where INTENDED_DISAGREEMENTS refuses
    const intended = new Set(INTENDED_DISAGREEMENTS.map((row) => row.case));
    for (const rule of RULES) {
      const wanted = new Set(outcomes.filter((o) => o.case.rule === rule).map((o) => (intended.has(o.case.id) ? 'refuse' : o.openssl.verdict)));
      assert.ok(wanted.has('accept') && wanted.has('refuse'), `rule ${rule}: only ${[...wanted].join(', ')}`);
    }
  });

  it('generates every case as intended: OpenSSL gives the verdict the case was built to show', () => {
    const wrong = outcomes.filter((o) => o.openssl.verdict !== o.case.expect);
    assert.equal(wrong.length, 0, `OpenSSL judged ${wrong.length} case(s) otherwise than built (fix the generation):\n${wrong.map(show).join('\n')}`);
  });

  it('INTENDED_DISAGREEMENTS lists only cases where certbound is stricter, each existing once', () => {
    const ids = new Set(cases.map((c) => c.id));
    const seen = new Set<string>();
    for (const row of INTENDED_DISAGREEMENTS) {
      assert.ok(ids.has(row.case), `INTENDED_DISAGREEMENTS names no case: ${row.case}`);
      assert.ok(!seen.has(row.case), `INTENDED_DISAGREEMENTS lists ${row.case} twice`);
      seen.add(row.case);
      assert.deepEqual([row.openssl, row.certbound], ['accept', 'refuse'], `${row.case}: certbound may only be stricter than OpenSSL`);
      assert.ok(row.why.length > 0, `${row.case}: say why`);
    }
  });

  it('certbound never accepts what OpenSSL refuses', () => {
    const lenient = outcomes.filter((o) => o.openssl.verdict === 'refuse' && o.certbound.verdict === 'accept');
    assert.equal(lenient.length, 0, `certbound accepted ${lenient.length} chain(s) OpenSSL refuses (bugs in path-validation.ts):\n${lenient.map(show).join('\n')}`);
  });

  it('certbound refuses what OpenSSL accepts only where INTENDED_DISAGREEMENTS says so', () => {
    const intended = new Map(INTENDED_DISAGREEMENTS.map((row) => [row.case, row]));
    const unlisted = outcomes.filter((o) => o.openssl.verdict === 'accept' && o.certbound.verdict === 'refuse' && !intended.has(o.case.id));
    assert.equal(unlisted.length, 0, `certbound refused ${unlisted.length} chain(s) OpenSSL accepts, not in INTENDED_DISAGREEMENTS:\n${unlisted.map(show).join('\n')}`);
  });

  it('every INTENDED_DISAGREEMENTS row still disagrees as written', () => {
    const byId = new Map(outcomes.map((o) => [o.case.id, o]));
    const stale = INTENDED_DISAGREEMENTS.map((row) => byId.get(row.case)).filter((o): o is Outcome => o !== undefined && !(o.openssl.verdict === 'accept' && o.certbound.verdict === 'refuse'));
    assert.equal(stale.length, 0, `INTENDED_DISAGREEMENTS rows that no longer hold (remove or fix them):\n${stale.map(show).join('\n')}`);
  });

  it('names the failed check: certbound refusal codes are the expected ones', () => {
    const wrong = outcomes.filter((o) => o.certbound.verdict === 'refuse' && o.case.code !== undefined && ASSERTED_CODES.has(o.case.code) && o.certbound.code !== o.case.code);
    assert.equal(wrong.length, 0, `certbound refused ${wrong.length} case(s) with another code than expected:\n${wrong.map((o) => `${show(o)} [expected ${o.case.code}]`).join('\n')}`);
  });
});
