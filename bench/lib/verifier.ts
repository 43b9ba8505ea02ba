// Micro-benchmarks of @certbound/cnf-verifier's verify() against bare jose jwtVerify of the
// same access token: an mTLS-bound JWT presented on a keep-alive connection (the certificate is
// hashed once per connection), a DPoP-bound JWT with a fresh proof per request, and the cost of
// a larger JWKS. Cases run in alternating rounds so background load hits them alike.
import { createHash, randomUUID } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, calculateJwkThumbprint, type CryptoKey, type JWK } from 'jose';
import { createVerifier, type VerifiableRequest } from '@certbound/cnf-verifier';
import type { IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';

const ISSUER = 'https://as.bench.certbound.test';
const AUDIENCE = 'https://api.bench.certbound.test';
const HTU = `${AUDIENCE}/v1/settlements`;

export interface OpsCase {
  /** called before each round, outside the timing (e.g. to mint fresh DPoP proofs) */
  prepare?(ops: number): Promise<void>;
  run(i: number): Promise<unknown>;
}

export interface OpsResult {
  /** wall-clock operations per second, one after the other (median round) */
  opsPerSec: number;
  /** CPU time per operation, all threads (µs, median round) */
  usPerOp: number;
  /** CPU time per operation over the reference case's, median of the per-round ratios */
  ratio: number;
  /** wall-clock time per operation over the reference case's, median of the per-round ratios */
  wallRatio: number;
  rounds: number[];
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Runs every case `ops` times per round, the cases one after the other and the rounds repeated,
 * so a burst of background load lands on all of them; a first round warms the JIT. Each case's
 * ratio to `reference` is computed within a round, then the median taken: the ratio survives
 * load that comes and goes better than a ratio of two medians does. The ratio that counts is of
 * CPU time (process.cpuUsage: every thread, so webcrypto's thread pool too): the operations are
 * awaited one after the other, and on a busy machine their wall-clock time is mostly the wait
 * for a thread-pool thread and the event loop to be scheduled again, not their cost.
 */
export async function compareOps(reference: string, cases: Record<string, OpsCase>, opts: { rounds: number; ops: number }): Promise<Record<string, OpsResult>> {
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let round = -1; round < opts.rounds; round++) {
    for (const [name, c] of Object.entries(cases)) {
      await c.prepare?.(opts.ops);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < opts.ops; i++) await c.run(i);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const used = process.cpuUsage(c0);
      if (round >= 0) {
        wall[name].push(seconds / opts.ops);
        cpu[name].push((used.user + used.system) / opts.ops);
      }
    }
  }
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  return Object.fromEntries(Object.keys(cases).map((name) => {
    const w = wall[name];
    const c = cpu[name];
    return [name, {
      opsPerSec: Math.round(1 / median(w)),
      usPerOp: Math.round(median(c) * 10) / 10,
      ratio: round3(median(c.map((us, i) => us / cpu[reference][i]))),
      wallRatio: round3(median(w.map((s, i) => s / wall[reference][i]))),
      rounds: c.map((us) => Math.round(us)),
    }];
  }));
}

interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

function accessToken(key: SigningKey, cnf: Record<string, string>): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'bench-client', client_id: 'bench-client', scope: 'settlements:read', jti: randomUUID(), iat, exp: iat + 3600, cnf })
    .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid!, typ: 'at+jwt' })
    .sign(key.privateKey);
}

/** A keep-alive TLS connection as the verifier sees it: the client certificate on the socket. */
function tlsSocketPresenting(cert: X509Certificate): IncomingMessage['socket'] {
  return {
    encrypted: true,
    remoteAddress: '192.0.2.10',
    getPeerCertificate: () => ({ raw: cert.raw }),
    getPeerX509Certificate: () => cert,
  } as unknown as IncomingMessage['socket'];
}

export interface VerifierBench {
  /** verify() / bare jwtVerify, by time per operation */
  mtlsRatio: number;
  dpopRatio: number;
  /** verify() with a 50-key JWKS / with a 1-key JWKS, by time per operation */
  jwksRatio: number;
  cases: Record<string, OpsResult>;
  jwksSizes: { small: number; large: number };
}

export async function benchVerifier(client: IssuedCertificate, opts: { rounds: number; ops: number; jwksKeys: number }): Promise<VerifierBench> {
  const key = await signingKey('bench-1');
  const others = await Promise.all(Array.from({ length: opts.jwksKeys - 1 }, (_, i) => signingKey(`bench-other-${i + 2}`)));
  const smallJwks = { keys: [key.publicJwk] };
  // The token's key last: the key lookup walks past every other key.
  const largeJwks = { keys: [...others.map((k) => k.publicJwk), key.publicJwk] };
  const certificate = new X509Certificate(client.certPem);
  const x5t = createHash('sha256').update(certificate.raw).digest('base64url');

  const mtlsToken = await accessToken(key, { 'x5t#S256': x5t });
  const proofKey = await generateKeyPair('ES256', { extractable: true });
  const proofJwk = await exportJWK(proofKey.publicKey);
  const dpopToken = await accessToken(key, { jkt: await calculateJwkThumbprint(proofJwk, 'sha256') });
  const ath = createHash('sha256').update(dpopToken).digest('base64url');

  const verifierOptions = { issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, algorithms: ['ES256'] };
  const small = createVerifier({ ...verifierOptions, jwks: smallJwks });
  const large = createVerifier({ ...verifierOptions, jwks: largeJwks });
  const bareKeys = createLocalJWKSet(smallJwks);
  const bareOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], typ: 'at+jwt' };

  const mtlsRequest: VerifiableRequest = {
    method: 'GET',
    url: '/v1/settlements',
    headers: { host: 'api.bench.certbound.test', authorization: `Bearer ${mtlsToken}` },
    socket: tlsSocketPresenting(certificate),
  };
  const dpopSocket = { encrypted: true, remoteAddress: '192.0.2.11' } as unknown as IncomingMessage['socket'];
  let proofs: string[] = [];

  const bare = await compareOps('jwtVerify', {
    jwtVerify: { run: () => jwtVerify(mtlsToken, bareKeys, bareOptions) },
    'verify mTLS': { run: () => small.verify(mtlsRequest) },
    'verify DPoP': {
      async prepare(ops) {
        const iat = Math.floor(Date.now() / 1000);
        proofs = await Promise.all(Array.from({ length: ops }, () => new SignJWT({ jti: randomUUID(), htm: 'GET', htu: HTU, iat, ath })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: proofJwk })
          .sign(proofKey.privateKey)));
      },
      run: (i) => small.verify({
        method: 'GET',
        url: '/v1/settlements',
        headers: { host: 'api.bench.certbound.test', authorization: `DPoP ${dpopToken}`, dpop: proofs[i] },
        socket: dpopSocket,
      }),
    },
  }, opts);
  const jwks = await compareOps('JWKS of 1', {
    'JWKS of 1': { run: () => small.verify(mtlsRequest) },
    [`JWKS of ${opts.jwksKeys}`]: { run: () => large.verify(mtlsRequest) },
  }, opts);

  return {
    mtlsRatio: bare['verify mTLS'].ratio,
    dpopRatio: bare['verify DPoP'].ratio,
    jwksRatio: jwks[`JWKS of ${opts.jwksKeys}`].ratio,
    cases: { ...bare, ...Object.fromEntries(Object.entries(jwks).map(([k, v]) => [`verify mTLS, ${k}`, v])) },
    jwksSizes: { small: 1, large: opts.jwksKeys },
  };
}
