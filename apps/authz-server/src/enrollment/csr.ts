// Reads an EST request body (RFC 7030 §4.2.1: base64 DER PKCS#10) into a verified public key, or
// a refusal saying what was wrong. @peculiar/x509 parses the CSR (vetted); its signature is
// checked (proof of possession of the private key) and its key must be one certbound accepts
// (CLIENT_CERT_MIN_RSA_BITS, the curves of path validation). Never throws: the property test
// (test/enrollment/csr.property.test.ts) feeds it random and mutated bodies.
import { createPublicKey } from 'node:crypto';
import { x509 } from '../mtls/x509.ts';

export type CsrResult =
  | { ok: true; publicKey: x509.PublicKey; /** 'EC P-256', 'RSA 2048', 'Ed25519' */ key: string }
  | { ok: false; problem: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/** The key types csrattrs announces and this accepts. */
export function acceptedKeyTypes(minRsaBits: number): string {
  return `EC keys on P-256 or P-384, RSA keys of at least ${minRsaBits} bits, or Ed25519`;
}

export async function readCsr(body: string, minRsaBits: number): Promise<CsrResult> {
  try {
    return await read(body, minRsaBits);
  } catch (err) {
    // Nothing below should throw past its own checks; if a library does, the request is still refused.
    return { ok: false, problem: `the body is not a readable PKCS#10 certificate request (${String((err as Error)?.message ?? err).slice(0, 200)})` };
  }
}

async function read(body: string, minRsaBits: number): Promise<CsrResult> {
  const text = body.replace(/\s+/g, '');
  if (text === '') return { ok: false, problem: 'the body is empty: send the PKCS#10 request, DER in base64 (RFC 7030 §4.2.1)' };
  if (!BASE64.test(text) || text.length % 4 === 1) return { ok: false, problem: 'the body is not base64 (RFC 7030 §4.2.1: base64 DER PKCS#10)' };
  const der = Buffer.from(text, 'base64');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch {
    return { ok: false, problem: 'the body is not a DER PKCS#10 certificate request' };
  }
  let spki: Buffer;
  let nodeKey: ReturnType<typeof createPublicKey>;
  try {
    spki = Buffer.from(csr.publicKey.rawData);
    nodeKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, problem: 'the request\'s public key is unreadable' };
  }
  const key = keyProblem(nodeKey, minRsaBits);
  if (!key.ok) return key;
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) return { ok: false, problem: 'the request\'s signature does not verify with its public key (proof of possession failed)' };
  return { ok: true, publicKey: csr.publicKey, key: key.key };
}

function keyProblem(key: ReturnType<typeof createPublicKey>, minRsaBits: number): { ok: true; key: string } | { ok: false; problem: string } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (curve === undefined) return { ok: false, problem: `EC curve ${details.namedCurve ?? 'unknown'} is not accepted; ${acceptedKeyTypes(minRsaBits)}` };
    return { ok: true, key: `EC ${curve}` };
  }
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < minRsaBits) return { ok: false, problem: `RSA key of ${bits} bits is too weak (CLIENT_CERT_MIN_RSA_BITS is ${minRsaBits}); ${acceptedKeyTypes(minRsaBits)}` };
    return { ok: true, key: `RSA ${bits}` };
  }
  if (type === 'ed25519') return { ok: true, key: 'Ed25519' };
  return { ok: false, problem: `${type ?? 'unknown'} keys are not accepted; ${acceptedKeyTypes(minRsaBits)}` };
}

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const tlv = (tag: number, body: Buffer) => {
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const OIDS = {
  ecPublicKey: hex('06 07 2A 86 48 CE 3D 02 01'),
  secp256r1: hex('06 08 2A 86 48 CE 3D 03 01 07'),
  secp384r1: hex('06 05 2B 81 04 00 22'),
  rsaEncryption: hex('06 09 2A 86 48 86 F7 0D 01 01 01'),
  ed25519: hex('06 03 2B 65 70'),
  ecdsaWithSha256: hex('06 08 2A 86 48 CE 3D 04 03 02'),
  sha256WithRsa: hex('06 09 2A 86 48 86 F7 0D 01 01 0B'),
};

/**
 * RFC 7030 §4.5.2 CsrAttrs, DER: id-ecPublicKey with the curves accepted (as in the RFC's
 * example), rsaEncryption, Ed25519, and the signature algorithms (SHA-256 based) to sign with.
 */
export function csrAttributes(): Buffer {
  const ec = tlv(0x30, Buffer.concat([OIDS.ecPublicKey, tlv(0x31, Buffer.concat([OIDS.secp256r1, OIDS.secp384r1]))]));
  return tlv(0x30, Buffer.concat([ec, OIDS.rsaEncryption, OIDS.ed25519, OIDS.ecdsaWithSha256, OIDS.sha256WithRsa]));
}
