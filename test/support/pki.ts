// Certificates made at test time, for every suite: import from here, never commit a key.
//   const pki = await createTestPki();            // root -> issuing CA -> client
//   loadTrustStore(pki.caBundle, 'test');         // what the server trusts
import { issueCertificate, type IssueOptions, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';

export { issueCertificate, loadIssued, subjectWithCn } from '../../apps/authz-server/src/pki/issue.ts';
export type { IssueOptions, IssuedCertificate, KeyAlgorithm, KeyUsageName } from '../../apps/authz-server/src/pki/issue.ts';
export { ensureDevPki, DEV_CA_SUBJECT } from '../../apps/authz-server/src/dev/pki.ts';
export type { DevPki } from '../../apps/authz-server/src/dev/pki.ts';
export { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';

export interface TestPki {
  root: IssuedCertificate;
  /** issuing CA under root */
  intermediate: IssuedCertificate;
  /** clientAuth leaf issued by `intermediate` */
  client: IssuedCertificate;
  /** root only: what a server's client-CA file would hold */
  caBundle: string;
  /** intermediate then root */
  chainPem: string;
}

/** A three-level PKI; `client` options override the leaf's (subject default 'CN=test-client,O=certbound test'). */
export async function createTestPki(client: Partial<Omit<IssueOptions, 'issuer'>> = {}): Promise<TestPki> {
  const root = await issueCertificate({ subject: 'CN=certbound test root,O=certbound test', ca: true, pathLength: 1, days: 3650 });
  const intermediate = await issueCertificate({ subject: 'CN=certbound test issuing CA,O=certbound test', ca: true, pathLength: 0, issuer: root });
  const leaf = await issueCertificate({ subject: 'CN=test-client,O=certbound test', ...client, issuer: intermediate });
  return { root, intermediate, client: leaf, caBundle: root.certPem, chainPem: pemBundle(intermediate, root) };
}

/** Concatenated certificate PEMs. */
export function pemBundle(...certs: IssuedCertificate[]): string {
  return certs.map((c) => c.certPem).join('');
}
