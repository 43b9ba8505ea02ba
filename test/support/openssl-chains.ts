// Certificate chains made by the openssl CLI and judged by `openssl verify`, for differential tests
// of mtls/path-validation.ts. Certificates are described as data (CertSpec), made once each
// (identical specs share one file), with explicit dates so that time is frozen:
//   const chains = await createOpensslChains();
//   const root = { subject: '/CN=Root', key: 'p256#root', extensions: 'basicConstraints = critical,CA:TRUE' };
//   const pem = await chains.pem(root);
//   const verdict = await chains.verify({ leaf, presented: [], trust: [root], at: 1893456000 });
//   await chains.dispose();
// Keys are a small pool named `<algorithm>#<label>`, each generated once: RSA generation is slow.
// `openssl ca` (not `x509 -req`) signs, because openssl 3.0 can only set explicit dates there.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export function opensslAvailable(): boolean {
  return existsSync(OPENSSL);
}

export type KeyAlgorithm = 'rsa1024' | 'rsa2048' | 'rsa3072' | 'p256' | 'p384' | 'p521' | 'secp256k1' | 'brainpoolP256r1' | 'ed25519';

const KEYGEN: Record<KeyAlgorithm, string[]> = {
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa3072: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:named_curve'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-pkeyopt', 'ec_param_enc:named_curve'],
  p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-pkeyopt', 'ec_param_enc:named_curve'],
  secp256k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1', '-pkeyopt', 'ec_param_enc:named_curve'],
  brainpoolP256r1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1', '-pkeyopt', 'ec_param_enc:named_curve'],
  ed25519: ['-algorithm', 'ED25519'],
};

export interface CertSpec {
  /** as `openssl ca -subj` takes it: '/O=Example/CN=Root' */
  readonly subject: string;
  /** a pool key, `<KeyAlgorithm>#<label>`: the same name is the same key everywhere */
  readonly key: string;
  /** absent: self-signed with its own key */
  readonly issuer?: CertSpec;
  /** body of an openssl extension section, one `name = value` per line */
  readonly extensions: string;
  /** YYYYMMDDHHMMSSZ */
  readonly notBefore: string;
  readonly notAfter: string;
  /** flip a bit of the signature after signing */
  readonly corruptSignature?: boolean;
  /**
   * Encodings DER forbids and OpenSSL reads anyway: `boolean-0x01` writes the basicConstraints
   * `critical` BOOLEAN as 0x01 and signs the certificate again with the issuer's key (P-256
   * issuers only); `outer-length-leading-zero` writes the Certificate SEQUENCE length with a
   * needless 0x00 octet (outside what the signature covers).
   */
  readonly derTamper?: 'boolean-0x01' | 'outer-length-leading-zero';
  /**
   * Pad the certificate (with a non-critical extension 1.2.3.5) until the content length of the
   * Certificate or TBSCertificate SEQUENCE is exactly `length`: lengths such as 512 (0x82 0x02
   * 0x00) are a classic decoder bug. Deterministic lengths need an Ed25519 issuer; the serial is
   * then fixed.
   */
  readonly padTo?: { element: 'certificate' | 'tbs'; length: number };
}

export interface OpensslVerdict {
  verdict: 'accept' | 'refuse';
  /** the first `error N at D depth lookup: …` line, when openssl refused */
  error?: string;
  output: string;
}

export interface VerifyInput {
  leaf: CertSpec;
  /** what the client sends after its certificate, in this order (the -untrusted bundle) */
  presented: readonly CertSpec[];
  /** the -CAfile bundle: with -partial_chain, every certificate in it is an anchor */
  trust: readonly CertSpec[];
  /** seconds since the epoch (-attime) */
  at: number;
}

export interface OpensslChains {
  readonly dir: string;
  /** the certificate's PEM, made on first use (issuers first) */
  pem(spec: CertSpec): Promise<string>;
  /** `openssl verify -x509_strict -purpose sslclient -partial_chain -attime …` */
  verify(input: VerifyInput): Promise<OpensslVerdict>;
  /** the same for many inputs: one openssl process judges every leaf sharing a trust store and presented chain */
  verifyAll(inputs: readonly VerifyInput[]): Promise<OpensslVerdict[]>;
  /** `openssl x509 -text` without key and signature dumps, for reports */
  text(spec: CertSpec): Promise<string>;
  /** openssl processes run so far */
  readonly processes: number;
  dispose(): Promise<void>;
}

/** YYYYMMDDHHMMSSZ for `openssl ca -startdate/-enddate` */
export function asn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

const CA_CONFIG = `[ca]
default_ca = differential
[differential]
database = $ENV::CB_DATABASE
serial = $ENV::CB_DATABASE.serial
new_certs_dir = $ENV::CB_NEW_CERTS
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = yes
copy_extensions = none
[anything]
`;
// The request's subject is replaced by -subj; the request only carries the public key.
const REQ_CONFIG = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function createOpensslChains({ concurrency = 4 } = {}): Promise<OpensslChains> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-openssl-'));
  await Promise.all([mkdir(join(dir, 'keys')), mkdir(join(dir, 'certs')), mkdir(join(dir, 'db')), mkdir(join(dir, 'new')), mkdir(join(dir, 'verify'))]);
  await writeFile(join(dir, 'ca.cnf'), CA_CONFIG);
  await writeFile(join(dir, 'req.cnf'), REQ_CONFIG);

  let processes = 0;
  let running = 0;
  const waiting: (() => void)[] = [];
  // A slot is held only while a process runs, never while awaiting an issuer: no deadlock.
  async function openssl(args: string[], env?: Record<string, string>): Promise<Run> {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    processes++;
    try {
      return await new Promise<Run>((resolve, reject) => {
        execFile(OPENSSL, args, { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; its type is an Omit<> the rule cannot see through
          if (error && code === -1) reject(error);
          else resolve({ code, stdout, stderr });
        });
      });
    } finally {
      running--;
      waiting.shift()?.();
    }
  }
  async function mustRun(what: string, args: string[], env?: Record<string, string>): Promise<Run> {
    const run = await openssl(args, env);
    if (run.code !== 0) throw new Error(`openssl ${what} failed (exit ${run.code}): openssl ${args.join(' ')}\n${run.stderr}${run.stdout}`);
    return run;
  }

  const keys = new Map<string, Promise<{ key: string; csr: string }>>();
  function key(name: string) {
    let made = keys.get(name);
    if (!made) {
      const algorithm = name.split('#')[0] as KeyAlgorithm;
      if (!KEYGEN[algorithm]) throw new Error(`unknown key algorithm in key name ${name}`);
      const file = name.replace(/[^A-Za-z0-9]/g, '_');
      const paths = { key: join('keys', `${file}.key`), csr: join('keys', `${file}.csr`) };
      made = (async () => {
        await mustRun(`genpkey ${name}`, ['genpkey', ...KEYGEN[algorithm], '-out', paths.key]);
        await mustRun(`req ${name}`, ['req', '-new', '-config', 'req.cnf', '-key', paths.key, '-out', paths.csr]);
        return paths;
      })();
      keys.set(name, made);
    }
    return made;
  }

  const identities = new WeakMap<CertSpec, string>();
  function identity(spec: CertSpec): string {
    let id = identities.get(spec);
    if (id === undefined) {
      const { issuer, ...own } = spec;
      id = JSON.stringify([
        own.subject, own.key, own.extensions, own.notBefore, own.notAfter, own.corruptSignature === true, own.derTamper ?? null, own.padTo ?? null,
        issuer ? identity(issuer) : null,
      ]);
      identities.set(spec, id);
    }
    return id;
  }

  const certs = new Map<string, Promise<{ path: string; pem: string }>>();
  let serial = 0;
  function cert(spec: CertSpec): Promise<{ path: string; pem: string }> {
    const id = identity(spec);
    let made = certs.get(id);
    if (!made) {
      const n = ++serial;
      made = (async () => {
        const [own, issuer, issuerKey] = await Promise.all([key(spec.key), spec.issuer && cert(spec.issuer), spec.issuer && key(spec.issuer.key)]);
        const ext = join('certs', `c${n}.ext`);
        const database = join(dir, 'db', `c${n}`);
        const out = join('certs', `c${n}.pem`);
        const signer = issuer && issuerKey ? ['-cert', issuer.path, '-keyfile', issuerKey.key] : ['-selfsign', '-keyfile', own.key];
        const sign = async (padding: number) => {
          const pad = spec.padTo ? `\n1.2.3.5 = ASN1:UTF8String:${'p'.repeat(padding)}` : '';
          // the section's own lines first: spec.extensions may end with further [sections]
          const [own0, ...sections] = spec.extensions.split(/\n(?=\[)/);
          await writeFile(join(dir, ext), `[x]\n${own0}${pad}\n${sections.join('\n')}\n`);
          await writeFile(database, '');
          if (spec.padTo) await writeFile(`${database}.serial`, '0A11\n');
          await mustRun(`ca for ${spec.subject}`, [
            'ca', '-batch', '-config', 'ca.cnf', '-notext', '-preserveDN', ...(spec.padTo ? [] : ['-rand_serial']), ...signer,
            '-in', own.csr, '-subj', spec.subject, '-startdate', spec.notBefore, '-enddate', spec.notAfter,
            '-extfile', ext, '-extensions', 'x', '-out', out,
          ], { CB_DATABASE: database, CB_NEW_CERTS: join(dir, 'new') });
          return readFile(join(dir, out), 'utf8');
        };
        let pem = await sign(16);
        if (spec.padTo) {
          const { element, length } = spec.padTo;
          let padding = 16;
          for (let tries = 0; contentLength(pem, element) !== length; tries++) {
            if (tries === 4) throw new Error(`could not pad ${spec.subject} to a ${element} of ${length} bytes (have ${contentLength(pem, element)})`);
            padding += length - contentLength(pem, element);
            if (padding < 1) throw new Error(`${spec.subject} is already longer than ${length} bytes`);
            pem = await sign(padding);
          }
        }
        if (spec.derTamper === 'boolean-0x01') {
          if (!issuerKey || !spec.issuer?.key.startsWith('p256#')) throw new Error('boolean-0x01 needs a P-256 issuer');
          pem = await resign(pem, issuerKey.key, join('certs', `c${n}`));
          await writeFile(join(dir, out), pem);
        }
        if (spec.derTamper === 'outer-length-leading-zero') {
          pem = toPem(lengthWithLeadingZero(fromPem(pem)));
          await writeFile(join(dir, out), pem);
        }
        if (spec.corruptSignature) {
          pem = corruptLastByte(pem);
          await writeFile(join(dir, out), pem);
        }
        return { path: out, pem };
      })();
      certs.set(id, made);
    }
    return made;
  }

  /** the basicConstraints `critical` BOOLEAN as 0x01, signed again with ECDSA P-256 / SHA-256 */
  async function resign(pem: string, issuerKey: string, stem: string): Promise<string> {
    const cert = fromPem(pem);
    const [tbs, algorithm] = children(cert);
    const basicConstraintsCritical = Buffer.from('0603551d130101ff', 'hex');
    const at = tbs.indexOf(basicConstraintsCritical);
    if (at < 0) throw new Error('no critical basicConstraints to rewrite');
    const patched = Buffer.from(tbs);
    patched[at + basicConstraintsCritical.length - 1] = 0x01;
    await writeFile(join(dir, `${stem}.tbs`), patched);
    await mustRun('dgst -sign', ['dgst', '-sha256', '-sign', issuerKey, '-out', `${stem}.sig`, `${stem}.tbs`]);
    const signature = await readFile(join(dir, `${stem}.sig`));
    return toPem(tlv(0x30, Buffer.concat([patched, algorithm, tlv(0x03, Buffer.concat([Buffer.of(0), signature]))])));
  }

  const VERIFY_BATCH = 40;
  async function verifyAll(inputs: readonly VerifyInput[]): Promise<OpensslVerdict[]> {
    const groups = new Map<string, { input: VerifyInput; leaves: Map<string, CertSpec> }>();
    const groupOf = (input: VerifyInput) => JSON.stringify([input.trust.map(identity), input.presented.map(identity), input.at]);
    for (const input of inputs) {
      const key = groupOf(input);
      const group = groups.get(key) ?? { input, leaves: new Map<string, CertSpec>() };
      group.leaves.set(identity(input.leaf), input.leaf);
      groups.set(key, group);
    }
    const verdicts = new Map<string, OpensslVerdict>();
    const batches: Promise<void>[] = [];
    for (const [key, { input, leaves }] of groups) {
      const all = [...leaves];
      for (let i = 0; i < all.length; i += VERIFY_BATCH) {
        const batch = all.slice(i, i + VERIFY_BATCH);
        batches.push((async () => {
          const [paths, trustPath, untrustedPath] = await Promise.all([
            Promise.all(batch.map(async ([, spec]) => (await cert(spec)).path)),
            bundle(input.trust),
            input.presented.length ? bundle(input.presented) : undefined,
          ]);
          const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-partial_chain', '-attime', String(input.at), '-CAfile', trustPath];
          if (untrustedPath) args.push('-untrusted', untrustedPath);
          const run = await openssl([...args, ...paths]);
          const judged = parseVerify(run);
          batch.forEach(([id], index) => {
            const verdict = judged.get(paths[index]);
            if (!verdict) throw new Error(`openssl verify said nothing about ${paths[index]}:\n${run.stdout}${run.stderr}`);
            verdicts.set(`${key}\n${id}`, verdict);
          });
        })());
      }
    }
    await Promise.all(batches);
    return inputs.map((input) => verdicts.get(`${groupOf(input)}\n${identity(input.leaf)}`)!);
  }

  let bundles = 0;
  async function bundle(specs: readonly CertSpec[]): Promise<string> {
    const pems = await Promise.all(specs.map(async (spec) => (await cert(spec)).pem));
    const path = join('verify', `b${++bundles}.pem`);
    await writeFile(join(dir, path), pems.join(''));
    return path;
  }

  return {
    dir,
    get processes() {
      return processes;
    },
    async pem(spec) {
      return (await cert(spec)).pem;
    },
    async verify(input) {
      return (await verifyAll([input]))[0];
    },
    verifyAll,
    async text(spec) {
      const { path } = await cert(spec);
      const run = await mustRun('x509 -text', ['x509', '-in', path, '-noout', '-text', '-certopt', 'no_pubkey,no_sigdump,no_version,no_serial']);
      return run.stdout;
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `openssl verify` with several files prints `<file>: OK` on stdout for each accepted one and, on
 * stderr, the failing certificate's subject, `error N at D depth lookup: <reason>` and then
 * `error <file>: verification failed` for each refused one.
 */
function parseVerify(run: { stdout: string; stderr: string }): Map<string, OpensslVerdict> {
  const verdicts = new Map<string, OpensslVerdict>();
  for (const line of run.stdout.split('\n')) {
    const ok = /^(.+): OK$/.exec(line);
    if (ok) verdicts.set(ok[1], { verdict: 'accept', output: line });
  }
  let pending: string[] = [];
  for (const line of run.stderr.split('\n')) {
    const failed = /^error (.+): verification failed$/.exec(line);
    if (!failed) {
      if (line.trim()) pending.push(line);
      continue;
    }
    const error = pending.find((l) => /^error \d+ at \d+ depth lookup: /.test(l)) ?? pending[0] ?? line;
    verdicts.set(failed[1], { verdict: 'refuse', error, output: [...pending, line].join('\n') });
    pending = [];
  }
  return verdicts;
}

/** The last byte of a certificate's DER is the last byte of its signature: flip its low bit. */
function corruptLastByte(pem: string): string {
  const der = fromPem(pem);
  const last = der.length - 1;
  der[last] = der[last] ^ 0x01;
  return toPem(der);
}

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64');
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** header length and content length of the DER element at `offset` */
function header(der: Buffer, offset: number): { headerLength: number; length: number } {
  const first = der[offset + 1];
  if (first < 0x80) return { headerLength: 2, length: first };
  const count = first & 0x7f;
  return { headerLength: 2 + count, length: der.readUIntBE(offset + 2, count) };
}

/** the encodings (header included) of a SEQUENCE's elements */
function children(der: Buffer): Buffer[] {
  const outer = header(der, 0);
  const out: Buffer[] = [];
  for (let offset = outer.headerLength; offset < outer.headerLength + outer.length;) {
    const { headerLength, length } = header(der, offset);
    out.push(der.subarray(offset, offset + headerLength + length));
    offset += headerLength + length;
  }
  return out;
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
  return Buffer.concat([Buffer.of(tag), length, content]);
}

function contentLength(pem: string, element: 'certificate' | 'tbs'): number {
  const der = fromPem(pem);
  return element === 'certificate' ? header(der, 0).length : header(der, header(der, 0).headerLength).length;
}

/** the Certificate SEQUENCE's length with one more, needless, leading 0x00 octet */
function lengthWithLeadingZero(der: Buffer): Buffer {
  const { headerLength, length } = header(der, 0);
  const count = headerLength - 2;
  const octets = Buffer.alloc(count + 1);
  octets.writeUIntBE(length, 1, count);
  return Buffer.concat([Buffer.of(der[0], 0x80 | (count + 1)), octets, der.subarray(headerLength)]);
}
