// WebCrypto parameters for the key types certbound issues, and recognition of a PKCS#8 key's type.
import { createPrivateKey, createPublicKey, type webcrypto } from 'node:crypto';

export type KeyAlgorithm = 'ES256' | 'RS256' | 'Ed25519';

interface Params {
  readonly generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm;
  readonly import: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm;
  readonly sign: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

const PARAMS: Record<KeyAlgorithm, Params> = {
  ES256: {
    generate: { name: 'ECDSA', namedCurve: 'P-256' },
    import: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
  },
  RS256: {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  },
  Ed25519: { generate: { name: 'Ed25519' }, import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export function signingAlgorithm(alg: KeyAlgorithm): webcrypto.EcdsaParams | webcrypto.Algorithm {
  return PARAMS[alg].sign;
}

export async function generateKeyPair(alg: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  // extractable: the private key is written out as PKCS#8
  return (await globalThis.crypto.subtle.generateKey(PARAMS[alg].generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** Imports a PKCS#8 PEM private key together with its public half, recognising the algorithm. */
export async function importKeyPair(keyPem: string): Promise<{ alg: KeyAlgorithm; keys: webcrypto.CryptoKeyPair }> {
  const privateKey = createPrivateKey(keyPem);
  const alg = algorithmOf(privateKey.asymmetricKeyType, privateKey.asymmetricKeyDetails?.namedCurve);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const subtle = globalThis.crypto.subtle;
  return {
    alg,
    keys: {
      privateKey: await subtle.importKey('pkcs8', pkcs8, PARAMS[alg].import, true, ['sign']),
      publicKey: await subtle.importKey('spki', spki, PARAMS[alg].import, true, ['verify']),
    },
  };
}

function algorithmOf(type: string | undefined, curve: string | undefined): KeyAlgorithm {
  if (type === 'ec' && curve === 'prime256v1') return 'ES256';
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'Ed25519';
  throw new Error(`unsupported key type ${type}${curve ? ` (${curve})` : ''}: certbound issues with ES256, RS256 or Ed25519 keys`);
}
