// Certificates for one bench run, made at run time (a fresh clone has none): a server CA and
// the server's certificate for localhost, a client root CA, and the bench client's certificate.
// Written to a temporary directory because the servers under test read their TLS material from
// files, exactly as in production.
//
// The client certificate names a real OCSP responder on loopback in its authorityInfoAccess
// (RFC 5280 §4.2.2.1), so certbound's revocation check (REVOCATION_CHECK=soft, the default) does
// the work it does in production: one fetch, then the cached answer. A second client certificate
// with the same subject names a responder that always answers 503 (soft mode must still let it
// through), a few more with the same subject stand for a rotation (certificates no server has seen
// yet), and a leaf with every SAN form certbound reads feeds the parser benchmark.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AccessDescription, AuthorityInfoAccessSyntax, CRLDistributionPoints, DistributionPoint, DistributionPointName, GeneralName,
  id_ad_ocsp, id_ce_cRLDistributionPoints, id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { startOcspResponder, type OcspResponder } from './ocsp-responder.ts';

export const BENCH_CLIENT_SUBJECT = 'CN=bench-client,O=certbound bench';

export interface BenchPki {
  dir: string;
  serverCa: IssuedCertificate;
  server: IssuedCertificate;
  clientRoot: IssuedCertificate;
  /** the bench client: its AIA names `ocsp.url` */
  client: IssuedCertificate;
  /** the same subject, its AIA naming `ocsp.unavailableUrl` (a responder that answers 503) */
  clientResponderDown: IssuedCertificate;
  /** further certificates of the bench client (same subject and key, AIA naming `ocsp.url`): a rotation, new to every server */
  clientRotated: IssuedCertificate[];
  /** a leaf with DNS, IP, URI and email SANs, AIA and a CRL distribution point (parser bench only) */
  sanLeaf: IssuedCertificate;
  ocsp: OcspResponder;
  files: { serverCert: string; serverKey: string; clientCa: string };
}

type Extra = { oid: string; critical: boolean; value: Uint8Array };

/** authorityInfoAccess with one id-ad-ocsp URI (RFC 5280 §4.2.2.1). */
export function ocspAiaExtension(url: string): Extra {
  const aia = new AuthorityInfoAccessSyntax([
    new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: url }) }),
  ]);
  return { oid: id_pe_authorityInfoAccess, critical: false, value: new Uint8Array(AsnConvert.serialize(aia)) };
}

/** cRLDistributionPoints with one fullName URI (RFC 5280 §4.2.1.13). */
function crlDpExtension(url: string): Extra {
  const points = new CRLDistributionPoints([
    new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) }),
  ]);
  return { oid: id_ce_cRLDistributionPoints, critical: false, value: new Uint8Array(AsnConvert.serialize(points)) };
}

export async function createBenchPki(): Promise<BenchPki> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-bench-'));
  // The responder listens first: its URL goes into the client certificate.
  const ocsp = await startOcspResponder(dir);
  try {
    const serverCa = await issueCertificate({ subject: 'CN=certbound bench server CA', ca: true, days: 2 });
    const server = await issueCertificate({
      subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], sanIp: ['127.0.0.1'], extKeyUsage: ['serverAuth'], days: 2,
    });
    const clientRoot = await issueCertificate({ subject: 'CN=certbound bench client root,O=certbound bench', ca: true, days: 2 });
    const client = await issueCertificate({ subject: BENCH_CLIENT_SUBJECT, issuer: clientRoot, days: 2, extraExtensions: [ocspAiaExtension(ocsp.url)] });
    const clientResponderDown = await issueCertificate({
      subject: BENCH_CLIENT_SUBJECT, issuer: clientRoot, days: 2, keyPem: client.keyPem, extraExtensions: [ocspAiaExtension(ocsp.unavailableUrl)],
    });
    const clientRotated = await Promise.all([1, 2, 3].map(() => issueCertificate({
      subject: BENCH_CLIENT_SUBJECT, issuer: clientRoot, days: 2, keyPem: client.keyPem, extraExtensions: [ocspAiaExtension(ocsp.url)],
    })));
    const sanLeaf = await issueCertificate({
      subject: 'CN=settlements-batch,OU=payments,O=certbound bench,C=DE',
      issuer: clientRoot,
      sanDns: ['batch.partner.example', 'batch-2.partner.example'],
      sanIp: ['192.0.2.10', '2001:db8::10'],
      sanUri: ['spiffe://partner.example/ns/payments/sa/batch'],
      sanEmail: ['ops@partner.example'],
      days: 2,
      extraExtensions: [ocspAiaExtension(ocsp.url), crlDpExtension('http://127.0.0.1:9/bench-client-root.crl')],
    });
    await ocsp.configure(clientRoot, [client.cert, clientResponderDown.cert, ...clientRotated.map((c) => c.cert), sanLeaf.cert]);
    const files = { serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem'), clientCa: join(dir, 'client-ca.pem') };
    await writeFile(files.serverCert, server.certPem);
    await writeFile(files.serverKey, server.keyPem, { mode: 0o600 });
    await writeFile(files.clientCa, clientRoot.certPem);
    return { dir, serverCa, server, clientRoot, client, clientResponderDown, clientRotated, sanLeaf, ocsp, files };
  } catch (err) {
    await ocsp.close();
    throw err;
  }
}

/**
 * A client-CA bundle of `count` CAs: the bench client's root plus `count - 1` unrelated roots
 * (one key shared by all: only their number and names matter to the trust store).
 */
export async function caBundle(pki: BenchPki, count: number): Promise<string> {
  const pems = [pki.clientRoot.certPem];
  const first = count > 1 ? await issueCertificate({ subject: 'CN=bench filler CA 1,O=certbound bench', ca: true, days: 2 }) : undefined;
  if (first) pems.push(first.certPem);
  for (let i = 2; i < count; i++) {
    const ca = await issueCertificate({ subject: `CN=bench filler CA ${i},O=certbound bench`, ca: true, days: 2, keyPem: first!.keyPem });
    pems.push(ca.certPem);
  }
  return pems.join('');
}
