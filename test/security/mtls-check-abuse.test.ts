// Attack class: abuse of GET /mtls/check, the self-service certificate check any TLS client may
// call. It parses whatever certificate it is shown and may trigger revocation fetches, so it must
// (1) answer hostile DER with a 200 whose presented step fails, never a 500, a hang or a crash;
// (2) never fetch revocation data from an address named by a certificate whose chain did not
// validate (DESIGN.md security rules: an attacker must not make the server call out);
// (3) issue nothing; (4) refuse a flood from one address with 429 and Retry-After.
// A real server process over real TLS (test/support/security-server.ts); certificates crafted
// by openssl at test time; the "attacker's" revocation responder is a loopback HTTP listener.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CA_EXTENSIONS, LEAF_EXTENSIONS, craftCertificate, describeAnswer, expectStillServing, presenting, registerWorld, startSecurityServer, timedRequest,
  type CertFiles, type SecurityServer, type SecurityWorld, type TimedAnswer, ANSWER_DEADLINE_MS,
} from '../support/security-server.ts';
import { https } from '../support/https.ts';

/** An OID in extendedKeyUsage whose long-form length runs past the end of the extension. */
const EKU_LENGTH_PAST_END = 'extendedKeyUsage=DER:30:02:06:84';

describe('GET /mtls/check abuse', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  let attacker: Server;
  let attackerUrl: string;
  const attackerHits: string[] = [];
  const certs: Record<string, CertFiles> = {};

  const check = async (cert: CertFiles | undefined, query = '', method = 'GET', form?: Record<string, string>): Promise<TimedAnswer> => {
    const res = await timedRequest(`${server.mtlsUrl}/mtls/check${query}`, { ca: server.ca, method, ...(cert ? { identity: presenting(cert) } : {}), ...(form ? { form } : {}) });
    if (res.timedOut) assert.fail(`no answer within ${ANSWER_DEADLINE_MS} ms: the check hangs on this input`);
    assert.notEqual(res.status, 500, describeAnswer(res));
    return res;
  };
  const serverErrors = () => server.logs().filter((l) => l.msg === 'server error' || (typeof l.level === 'number' && l.level >= 50));

  before(async () => {
    attacker = createServer((req, res) => {
      attackerHits.push(`${req.method} ${req.url}`);
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    // In-process rate-limit counters: a Redis shared with other suites would also count their
    // checks from this same loopback address. REVOCATION_CHECK=hard: the server would ask.
    server = await startSecurityServer({ env: { REDIS_URL: '', REVOCATION_CHECK: 'hard' } });
    world = await registerWorld(server);
    const { pki } = server;
    const revocationUrls = [`authorityInfoAccess=OCSP;URI:${attackerUrl}/ocsp`, `crlDistributionPoints=URI:${attackerUrl}/crl`];
    certs.hostile = await craftCertificate(pki, { name: 'check-hostile', subject: 'CN=hostile,O=certbound tests', issuer: pki.root, extensions: ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', EKU_LENGTH_PAST_END] });
    certs.rogueCa = await craftCertificate(pki, { name: 'check-rogue-ca', subject: 'CN=rogue CA', issuer: 'self', extensions: [...CA_EXTENSIONS.filter((e) => !e.startsWith('authorityKeyIdentifier'))] });
    certs.untrusted = await craftCertificate(pki, { name: 'check-untrusted', subject: 'CN=untrusted,O=certbound tests', issuer: certs.rogueCa, extensions: [...LEAF_EXTENSIONS, ...revocationUrls] });
    certs.trusted = await craftCertificate(pki, { name: 'check-trusted', subject: 'CN=trusted,O=certbound tests', issuer: pki.root, extensions: [...LEAF_EXTENSIONS, ...revocationUrls] });
    certs.plain = await craftCertificate(pki, { name: 'check-plain', subject: 'CN=plain,O=certbound tests', issuer: pki.root, extensions: LEAF_EXTENSIONS });
  });
  after(async () => {
    await server?.stop();
    attacker?.closeAllConnections();
    await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  });

  it('hostile DER (an EKU OID whose length runs past the end): 200 with the presented step failing, never a 500', async () => {
    const res = await check(certs.hostile, '?client_id=legit');
    assert.equal(res.status, 200, describeAnswer(res));
    assert.equal(res.json.ok, false);
    assert.equal(res.json.first_failure.check, 'presented');
    assert.equal(res.json.first_failure.code, 'malformed');
    assert.match(res.json.first_failure.detail, /could not be parsed \(.*extendedKeyUsage.*\)/);
    assert.ok(res.json.certificate['x5t#S256'], 'the summary still names the certificate');
    assert.deepEqual(serverErrors(), []);
    await expectStillServing(server, world.legit);
  });

  it('an untrusted chain naming the attacker\'s OCSP responder and CRL: the chain step fails and the attacker gets no request', async () => {
    const res = await check(certs.untrusted);
    assert.equal(res.status, 200, describeAnswer(res));
    assert.equal(res.json.first_failure.check, 'chain');
    assert.equal(res.json.first_failure.code, 'untrusted');
    assert.equal(res.json.steps.find((s) => s.check === 'revocation')?.ok, null);
    assert.deepEqual(attackerHits, []);
  });

  it('control: a trusted chain naming the same URLs is asked about (so the listener above would have seen a fetch)', async () => {
    const res = await check(certs.trusted);
    assert.equal(res.json.first_failure?.check, 'revocation', describeAnswer(res));
    assert.equal(res.json.first_failure.code, 'revocation_unknown');
    assert.ok(attackerHits.length > 0, 'the validated chain\'s responder was asked');
  });

  it('issues nothing: the answer is the diagnosis only, and a token request sent to it is refused with 405', async () => {
    const res = await check(certs.plain, '?client_id=legit');
    assert.equal(res.status, 200, describeAnswer(res));
    assert.deepEqual(Object.keys(res.json).sort(), ['certificate', 'first_failure', 'ok', 'steps']);
    const post = await check(certs.plain, '', 'POST', { grant_type: 'client_credentials', client_id: 'legit' });
    assert.equal(post.status, 405);
    assert.equal(post.json.access_token, undefined);
    assert.equal(post.json.error, 'invalid_request');
  });

  it('a flood from one address gets 429 with Retry-After, and the token endpoint still serves', async () => {
    let refused: TimedAnswer | undefined;
    let answered = 0;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await check(undefined);
      if (res.status === 429) refused = res;
      else {
        assert.equal(res.status, 200, describeAnswer(res));
        answered++;
      }
    }
    assert.ok(refused, 'no 429 after 40 checks');
    // 30 per minute per address; the tests above used some of them
    assert.ok(answered <= 30, `${answered} checks answered before the 429`);
    assert.equal(refused.json.error, 'too_many_requests');
    assert.match(refused.json.error_description, /more than 30 certificate checks from .* in 60 s/);
    const probe = await https(`${server.mtlsUrl}/mtls/check`, { ca: server.ca });
    assert.equal(probe.status, 429);
    const seconds = Number(probe.headers['retry-after']);
    assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After ${String(probe.headers['retry-after'])}`);
    assert.equal(server.logs().filter((l) => l.event === 'mtls_check_refused' && l.status === 429).length >= 1, true);
    await expectStillServing(server, world.legit);
  });
});
