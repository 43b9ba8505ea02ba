// The certificate parser, per certificate: certbound's fieldsOf (mtls/parsing.ts: asn1js and
// @peculiar/asn1-x509 behind a strict DER check, cached per object and by the DER's SHA-256)
// against the hand-written reader it replaced (bench/lib/legacy-der-reader.ts), on the bench
// PKI's certificates and a leaf with every SAN form. Two questions:
//   - per new connection: the client presents a certificate the server has seen before, as a new
//     X509Certificate object. The new code finds it by digest; the old one parsed it again.
//   - first sight: a certificate never seen before. Both parse; the vetted decoder is expected
//     to cost more here, and it also decodes more (names, AIA, CRL distribution points).
// Every case includes `new X509Certificate(der)`, as a connection does; the construction alone
// is timed too, so the parsers' own share can be read off. Synchronous work, so the figure is
// CPU time per operation (process.cpuUsage), in alternating rounds, median of per-round ratios.
import { X509Certificate } from 'node:crypto';
import { fieldsOf } from '../../apps/authz-server/src/mtls/parsing.ts';
import { legacyFieldsOf } from './legacy-der-reader.ts';
import { median } from './verifier.ts';

export interface ParserCase {
  /** CPU time per certificate (µs, median round) */
  usPerOp: number;
  /** wall-clock time per certificate (µs, median round) */
  wallUsPerOp: number;
  /** CPU µs per certificate, each round */
  rounds: number[];
}

export interface ParserBench {
  certificates: string[];
  cases: Record<CaseName, ParserCase>;
  /** (new X509Certificate + fieldsOf, seen before) / (new X509Certificate + old reader), CPU time, median of per-round ratios */
  newConnectionRatio: number;
  /** the same ratio without the X509Certificate construction both sides pay */
  newConnectionParseRatio: number;
  /** (new X509Certificate + fieldsOf, first sight) / (new X509Certificate + old reader) */
  coldRatio: number;
  coldParseRatio: number;
}

const CASES = ['X509Certificate only', 'new, seen before', 'old, seen before', 'new, first sight', 'old, first sight'] as const;
type CaseName = typeof CASES[number];

/**
 * A copy of `der` that no cache has seen: the last three octets (inside the signature's
 * INTEGER s, opaque to both parsers and to OpenSSL's decoding) xored with `n` (1 ≤ n < 2^24).
 */
function variant(der: Buffer, n: number): Buffer {
  const copy = Buffer.from(der);
  const end = copy.length;
  for (let k = 0; k < 3; k++) copy[end - 1 - k] = copy[end - 1 - k] ^ ((n >> (8 * k)) & 0xff);
  return copy;
}

/** Both readers must read the same fields, or the comparison is of different work. */
function sameReading(name: string, der: Buffer): void {
  const cert = new X509Certificate(der);
  const fresh = fieldsOf(cert);
  const old = legacyFieldsOf(cert);
  const show = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x instanceof Set ? [...x].sort() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
  const pick = (f: typeof old) => ({
    issuer: f.issuer, subject: f.subject, basicConstraints: f.basicConstraints, keyUsage: f.keyUsage, extKeyUsage: f.extKeyUsage,
    subjectKeyId: f.subjectKeyId, authorityKeyId: f.authorityKeyId,
    san: { dns: f.subjectAltName.dns, ip: f.subjectAltName.ip, uri: f.subjectAltName.uri, email: f.subjectAltName.email },
  });
  if (show(pick(fresh)) !== show(pick(old))) throw new Error(`parser bench: the two readers disagree on ${name}`);
}

export function benchParser(certificates: Record<string, X509Certificate>, opts: { rounds: number; ops: number }): ParserBench {
  const bases = Object.entries(certificates).map(([name, cert]) => {
    sameReading(name, cert.raw);
    return cert.raw;
  });
  let serial = 0;
  const nextVariant = (i: number) => {
    serial = (serial % 0xfffffe) + 1;
    return variant(bases[i % bases.length], serial);
  };
  let fresh: Buffer[] = [];
  const cases: Record<CaseName, { prepare?(): void; run(i: number): unknown }> = {
    'X509Certificate only': { run: (i) => new X509Certificate(bases[i % bases.length]) },
    'new, seen before': {
      // seen before: in the digest map (the first-sight cases push thousands of others through it)
      prepare: () => bases.forEach((der) => fieldsOf(new X509Certificate(der))),
      run: (i) => fieldsOf(new X509Certificate(bases[i % bases.length])),
    },
    'old, seen before': { run: (i) => legacyFieldsOf(new X509Certificate(bases[i % bases.length])) },
    'new, first sight': {
      prepare: () => { fresh = Array.from({ length: opts.ops }, (_, i) => nextVariant(i)); },
      run: (i) => fieldsOf(new X509Certificate(fresh[i])),
    },
    'old, first sight': {
      prepare: () => { fresh = Array.from({ length: opts.ops }, (_, i) => nextVariant(i)); },
      run: (i) => legacyFieldsOf(new X509Certificate(fresh[i])),
    },
  };

  const cpu: Record<CaseName, number[]> = Object.fromEntries(CASES.map((c) => [c, []])) as unknown as Record<CaseName, number[]>;
  const wall: Record<CaseName, number[]> = Object.fromEntries(CASES.map((c) => [c, []])) as unknown as Record<CaseName, number[]>;
  // Round -1 warms the JIT and is not counted.
  for (let round = -1; round < opts.rounds; round++) {
    for (const name of CASES) {
      const c = cases[name];
      c.prepare?.();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < opts.ops; i++) c.run(i);
      const ns = Number(process.hrtime.bigint() - t0);
      const used = process.cpuUsage(c0);
      if (round >= 0) {
        cpu[name].push((used.user + used.system) / opts.ops);
        wall[name].push(ns / 1000 / opts.ops);
      }
    }
  }
  const round1 = (n: number) => Math.round(n * 10) / 10;
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  const ratio = (a: CaseName, b: CaseName, less: CaseName | undefined) => round3(median(cpu[a].map((us, i) => {
    const base = less ? cpu[less][i] : 0;
    return (us - base) / (cpu[b][i] - base);
  }).filter(Number.isFinite)));
  return {
    certificates: Object.keys(certificates),
    cases: Object.fromEntries(CASES.map((name) => [name, {
      usPerOp: round1(median(cpu[name])),
      wallUsPerOp: round1(median(wall[name])),
      rounds: cpu[name].map(round1),
    }])) as Record<CaseName, ParserCase>,
    newConnectionRatio: ratio('new, seen before', 'old, seen before', undefined),
    newConnectionParseRatio: ratio('new, seen before', 'old, seen before', 'X509Certificate only'),
    coldRatio: ratio('new, first sight', 'old, first sight', undefined),
    coldParseRatio: ratio('new, first sight', 'old, first sight', 'X509Certificate only'),
  };
}
