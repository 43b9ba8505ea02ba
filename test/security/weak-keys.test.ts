// Attack class: weak or unsupported public keys in a chain that otherwise validates: an RSA-1024
// leaf or intermediate (factorable by a resourced attacker; below NIST SP 800-131A's 2048 bits),
// and EC keys on curves outside the accepted set (brainpoolP256r1, secp256k1). Every certificate of
// the path is checked, not only the leaf. The Node TLS client refuses to load an RSA-1024 key at its
// default security level (ERR_SSL_EE_KEY_TOO_SMALL / CA_KEY_TOO_SMALL), so those attacks are sent
// with `ciphers: 'DEFAULT@SECLEVEL=0'` on the client side, as an attacker's client would.
import { describe, it, before, after, beforeEach } from 'node:test';
import {
  CA_EXTENSIONS, LEAF_EXTENSIONS, attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, expectToken,
  presenting, registerWorld, startSecurityServer, type CertFiles, type CraftedKey, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const ANY_KEY = { ciphers: 'DEFAULT@SECLEVEL=0' };
const CURVES = 'only P-256, P-384, P-521 and Ed25519 are accepted';

describe('public keys of the client certificate path', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, CertFiles> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    const { pki } = server;
    const make = (name: string, key: CraftedKey, issuer: CertFiles, extensions = LEAF_EXTENSIONS) =>
      craftCertificate(pki, { name, subject: `CN=${name},O=certbound tests`, issuer, extensions, key });
    certs.rsa1024 = await make('rsa1024', 'rsa1024', pki.root);
    certs.brainpool = await make('brainpool', 'brainpoolP256r1', pki.root);
    certs.rsa2048 = await make('rsa2048', 'rsa2048', pki.root);
    certs.weakCa = await make('weak RSA CA', 'rsa1024', pki.root, CA_EXTENSIONS);
    certs.viaWeakCa = await make('via-weak-ca', 'P-256', certs.weakCa);
    certs.k1Ca = await make('secp256k1 CA', 'secp256k1', pki.root, CA_EXTENSIONS);
    certs.viaK1Ca = await make('via-k1-ca', 'P-256', certs.k1Ca);
    for (const name of ['rsa1024', 'brainpool', 'rsa2048', 'viaWeakCa', 'viaK1Ca']) await world.tlsClient(name, { tls_client_auth_subject_dn: certs[name].subject });
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses an RSA-1024 leaf issued by the trusted CA', async () => {
    const tried = await attempt(server, 'rsa1024', presenting(certs.rsa1024, [], ANY_KEY));
    expectRefusal(tried, 401, 'invalid_client', 'certificate public key is RSA with 1024 bits; at least 2048 bits are required');
    await expectStillServing(server, world.legit);
  });

  it('refuses a brainpoolP256r1 leaf issued by the trusted CA (and is not crashed by it)', async () => {
    const tried = await attempt(server, 'brainpool', presenting(certs.brainpool));
    expectRefusal(tried, 401, 'invalid_client', `certificate public key uses the curve brainpoolP256r1; ${CURVES}`);
    await expectStillServing(server, world.legit);
  });

  it('refuses a P-256 leaf under a presented RSA-1024 intermediate', async () => {
    const tried = await attempt(server, 'viaWeakCa', presenting(certs.viaWeakCa, [certs.weakCa], ANY_KEY));
    expectRefusal(tried, 401, 'invalid_client', 'intermediate CN=weak RSA CA,O=certbound tests public key is RSA with 1024 bits; at least 2048 bits are required');
    await expectStillServing(server, world.legit);
  });

  it('refuses a P-256 leaf under a presented secp256k1 intermediate (and is not crashed by it)', async () => {
    const tried = await attempt(server, 'viaK1Ca', presenting(certs.viaK1Ca, [certs.k1Ca]));
    expectRefusal(tried, 401, 'invalid_client', `intermediate CN=secp256k1 CA,O=certbound tests public key uses the curve secp256k1; ${CURVES}`);
    await expectStillServing(server, world.legit);
  });

  it('accepts an RSA-2048 leaf', async () => {
    expectToken(await attempt(server, 'rsa2048', presenting(certs.rsa2048)), certs.rsa2048.thumbprint);
  });
});
