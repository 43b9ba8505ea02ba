import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import { createCertificateSource, InvalidRequestError, x5tS256, type CertificateSource, type CertificateSourceOptions, type PresentedCertificate, type ProxyHeaderFormat } from '@certbound/cnf-verifier';
import { createTestPki, type TestPki } from './helpers/pki.ts';
import { startTlsServer, tlsRequest, type TestServer } from './helpers/tls.ts';

const pem2escaped = (pem: string) => encodeURIComponent(pem);
const sfBinary = (der: Buffer) => `:${der.toString('base64')}:`;

function fakeRequest(headers: Record<string, string>, remoteAddress = '10.0.0.5'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function expectInvalidRequest(fn: () => unknown, description: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_request');
    assert.match(err.description, description);
    return true;
  });
}

describe('which certificate did this request present', () => {
  let pki: TestPki;
  let server: TestServer;
  let options: CertificateSourceOptions = {};
  let source = createCertificateSource();
  let seen: PresentedCertificate[] = [];

  before(async () => {
    pki = createTestPki();
    server = await startTlsServer(pki, (req, res) => {
      try {
        const cert = source.fromRequest(req);
        if (cert) seen.push(cert);
        // Computed once per connection: the second call returns the very same object.
        if (cert?.source === 'tls') assert.equal(source.fromRequest(req), cert);
        res.end(JSON.stringify(cert ? { source: cert.source, thumbprint: cert.thumbprint, chain: cert.chain.length, cn: cert.leaf.subject } : null));
      } catch (err) {
        res.statusCode = err instanceof InvalidRequestError ? 400 : 500;
        res.end(JSON.stringify({ error: (err as Error).message }));
      }
    });
  });
  after(async () => {
    await server.close();
    pki.cleanup();
  });
  const reset = (next: CertificateSourceOptions) => {
    options = next;
    source = createCertificateSource(options);
    seen = [];
  };

  describe('RFC 8705 §3 the TLS peer certificate', () => {
    it('reports the leaf and its x5t#S256 thumbprint', async () => {
      reset({});
      const client = pki.issue('client-a');
      const res = await tlsRequest(pki, server, { client });
      assert.deepEqual(res.json(), {
        source: 'tls',
        thumbprint: createHash('sha256').update(client.der).digest('base64url'),
        chain: 0,
        cn: 'CN=client-a',
      });
      assert.equal(x5tS256(client.der), res.json().thumbprint);
    });

    it('reports the intermediates the client sent, leaf excluded', async () => {
      reset({});
      const client = pki.issue('client-int', 'intermediate');
      const res = await tlsRequest(pki, server, { client, chain: [pki.intermediate.cert, pki.ca.cert] });
      assert.equal(res.json().chain, 1);
      assert.ok(seen[0].chain[0].raw.equals(pki.intermediate.der));
    });

    it('reads a brainpoolP256r1 certificate and its chain without crashing the process', async () => {
      // Node 24's legacy certificate object (getPeerCertificate) segfaults on curves without a
      // NIST name; a client can present one (TLS 1.3 ecdsa_brainpoolP256r1tls13_sha256).
      reset({});
      const client = pki.issue('client-brainpool', 'intermediate', 'brainpoolP256r1');
      const res = await tlsRequest(pki, server, { client, chain: [pki.intermediate.cert] });
      assert.equal(res.json().thumbprint, x5tS256(client.der));
      assert.equal(res.json().chain, 1);
    });

    it('reports nothing when the client presented no certificate', async () => {
      reset({});
      const res = await tlsRequest(pki, server, {});
      assert.equal(res.body, 'null');
    });

    it('computes the certificate once per connection', async () => {
      reset({});
      const client = pki.issue('client-keepalive');
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      await tlsRequest(pki, server, { client, agent });
      await tlsRequest(pki, server, { client, agent });
      agent.destroy();
      assert.equal(seen.length, 2);
      assert.equal(seen[0], seen[1]);
    });
  });

  describe('proxy headers from an untrusted peer', () => {
    it('ignores them, counts them and uses the TLS certificate', async () => {
      reset({ trustedProxies: ['10.0.0.0/8'], proxyHeader: 'client-cert' });
      const real = pki.issue('real-client');
      const forged = pki.issue('forged');
      const res = await tlsRequest(pki, server, { client: real, headers: { 'client-cert': sfBinary(forged.der), 'x-ssl-client-cert': pem2escaped(forged.cert) } });
      assert.equal(res.json().cn, 'CN=real-client');
      assert.equal(res.json().source, 'tls');
      assert.equal(source.ignoredProxyHeaders, 1);
    });

    it('never reads them when no proxy is configured', () => {
      const src = createCertificateSource();
      const forged = pki.issue('forged-2');
      assert.equal(src.fromRequest(fakeRequest({ 'client-cert': sfBinary(forged.der) }, '127.0.0.1')), undefined);
      assert.equal(src.ignoredProxyHeaders, 1);
    });
  });

  describe('proxy headers from a trusted peer', () => {
    it('RFC 9440 Client-Cert and Client-Cert-Chain', async () => {
      reset({ trustedProxies: ['127.0.0.1'], proxyHeader: 'client-cert' });
      const viaProxy = pki.issue('via-proxy', 'intermediate');
      const proxyOwn = pki.issue('the-proxy');
      const res = await tlsRequest(pki, server, {
        client: proxyOwn,
        headers: { 'client-cert': sfBinary(viaProxy.der), 'client-cert-chain': `${sfBinary(pki.intermediate.der)}, ${sfBinary(pki.ca.der)}` },
      });
      // The self-signed root is left out of `chain`, as for TLS.
      assert.deepEqual(res.json(), { source: 'client-cert', thumbprint: x5tS256(viaProxy.der), chain: 1, cn: 'CN=via-proxy' });
      assert.equal(source.ignoredProxyHeaders, 0);
    });

    it('Envoy x-forwarded-client-cert: its one element, quoted-string aware', async () => {
      reset({ trustedProxies: ['127.0.0.0/8'], proxyHeader: 'xfcc' });
      const client = pki.issue('envoy-client', 'intermediate');
      const xfcc = `By=spiffe://b;Hash=11;Subject="O=\\"quoted\\", CN=envoy-client";Cert="${pem2escaped(client.cert)}";Chain="${pem2escaped(client.cert + pki.intermediate.cert)}"`;
      const res = await tlsRequest(pki, server, { headers: { 'x-forwarded-client-cert': xfcc } });
      assert.deepEqual(res.json(), { source: 'xfcc', thumbprint: x5tS256(client.der), chain: 1, cn: 'CN=envoy-client' });
    });

    it('refuses x-forwarded-client-cert with two elements (a hop appended instead of replacing)', async () => {
      reset({ trustedProxies: ['127.0.0.0/8'], proxyHeader: 'xfcc' });
      const first = pki.issue('first-hop');
      const last = pki.issue('last-hop');
      const xfcc = `By=spiffe://a;Cert="${pem2escaped(first.cert)}";Subject="CN=x, O=comma",By=spiffe://b;Cert="${pem2escaped(last.cert)}"`;
      const res = await tlsRequest(pki, server, { headers: { 'x-forwarded-client-cert': xfcc } });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json(), { error: 'x-forwarded-client-cert must hold exactly one element, not 2: the proxy must set it (SANITIZE_SET), not append to it' });
      // Two header lines are two elements as well, and an empty trailing element counts.
      const src = createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'xfcc' });
      expectInvalidRequest(() => src.fromRequest(fakeRequest({ 'x-forwarded-client-cert': [`Cert="${pem2escaped(first.cert)}"`, `Cert="${pem2escaped(last.cert)}"`] as unknown as string })), /^x-forwarded-client-cert must hold exactly one element, not 2:/);
      expectInvalidRequest(() => src.fromRequest(fakeRequest({ 'x-forwarded-client-cert': `Cert="${pem2escaped(last.cert)}",` })), /^x-forwarded-client-cert must hold exactly one element, not 2:/);
    });

    it('nginx $ssl_client_escaped_cert under a configurable header name', async () => {
      reset({ trustedProxies: ['::1', '127.0.0.1/32'], proxyHeader: 'nginx', nginxHeader: 'X-Client-Cert-Escaped' });
      const client = pki.issue('nginx-client');
      const res = await tlsRequest(pki, server, { headers: { 'x-client-cert-escaped': pem2escaped(client.cert) } });
      assert.deepEqual(res.json(), { source: 'nginx', thumbprint: x5tS256(client.der), chain: 0, cn: 'CN=nginx-client' });
    });

    it('never falls back to the proxy’s own TLS certificate', async () => {
      reset({ trustedProxies: ['127.0.0.1'], proxyHeader: 'nginx' });
      const res = await tlsRequest(pki, server, { client: pki.issue('proxy-itself') });
      assert.equal(res.body, 'null');
    });

    it('matches IPv4-mapped IPv6 peers and IPv6 CIDRs', () => {
      const client = pki.issue('mapped');
      const header = { 'client-cert': sfBinary(client.der) };
      const proxyHeader = 'client-cert';
      assert.equal(createCertificateSource({ trustedProxies: ['192.0.2.0/24'], proxyHeader }).fromRequest(fakeRequest(header, '::ffff:192.0.2.7'))?.source, 'client-cert');
      assert.equal(createCertificateSource({ trustedProxies: ['2001:db8::/32'], proxyHeader }).fromRequest(fakeRequest(header, '2001:db8:1::9'))?.source, 'client-cert');
      assert.equal(createCertificateSource({ trustedProxies: ['2001:db8::/32'], proxyHeader }).fromRequest(fakeRequest(header, '2001:db9::1')), undefined);
    });
  });

  describe('one configured format: the other two header families are refused, never read', () => {
    const client = () => pki.issue('injected-admin');
    const families: Array<[ProxyHeaderFormat, string, (c: ReturnType<typeof client>) => string]> = [
      ['client-cert', 'client-cert', (c) => sfBinary(c.der)],
      ['client-cert', 'client-cert-chain', (c) => sfBinary(c.der)],
      ['xfcc', 'x-forwarded-client-cert', (c) => `Cert="${pem2escaped(c.cert)}"`],
      ['nginx', 'x-ssl-client-cert', (c) => pem2escaped(c.cert)],
    ];
    const expected: Record<ProxyHeaderFormat, string> = { 'client-cert': 'client-cert', xfcc: 'x-forwarded-client-cert', nginx: 'x-ssl-client-cert' };
    for (const configured of ['client-cert', 'xfcc', 'nginx'] as const) {
      for (const [, name, value] of families.filter(([f]) => f !== configured)) {
        it(`with proxyHeader '${configured}', refuses ${name} naming it`, () => {
          const src = createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: configured });
          expectInvalidRequest(() => src.fromRequest(fakeRequest({ [name]: value(client()) })),
            new RegExp(`^client certificate header ${name} is not accepted: the proxy passes the certificate in ${expected[configured]}$`));
        });
      }
    }

    it('refuses another family even when empty, and even beside the configured header', () => {
      const c = client();
      const src = createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'nginx' });
      expectInvalidRequest(() => src.fromRequest(fakeRequest({ 'x-ssl-client-cert': pem2escaped(c.cert), 'client-cert': '' })), /^client certificate header client-cert is not accepted/);
      expectInvalidRequest(() => src.fromRequest(fakeRequest({ 'x-ssl-client-cert': pem2escaped(c.cert), 'x-forwarded-client-cert': `Cert="${pem2escaped(c.cert)}"` })), /^client certificate header x-forwarded-client-cert is not accepted/);
    });

    it('names a renamed nginx header in the refusal', () => {
      const src = createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'client-cert', nginxHeader: 'X-Client-Cert-Escaped' });
      expectInvalidRequest(() => src.fromRequest(fakeRequest({ 'x-client-cert-escaped': pem2escaped(client().cert) })), /^client certificate header x-client-cert-escaped is not accepted: the proxy passes the certificate in client-cert$/);
    });

    it('an absent configured header is no certificate (the proxy had none to pass)', () => {
      for (const proxyHeader of ['client-cert', 'xfcc', 'nginx'] as const) {
        assert.equal(createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader }).fromRequest(fakeRequest({})), undefined);
      }
    });
  });

  describe('malformed proxy headers only ever produce invalid_request', () => {
    const sources = {
      'client-cert': createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'client-cert' }),
      'x-forwarded-client-cert': createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'xfcc' }),
      'x-ssl-client-cert': createCertificateSource({ trustedProxies: ['10.0.0.5'], proxyHeader: 'nginx' }),
    } as Record<string, CertificateSource>;
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['Client-Cert without colons', { 'client-cert': 'MIIB' }, /^Client-Cert is not a structured-field byte sequence$/],
      ['Client-Cert with bad base64', { 'client-cert': ':MI*B$$:' }, /^Client-Cert is not a structured-field byte sequence$/],
      ['Client-Cert with a truncated base64 quantum', { 'client-cert': ':MIIBA:' }, /^Client-Cert is not a structured-field byte sequence$/],
      ['Client-Cert of random bytes', { 'client-cert': ':AAECAwQF:' }, /^Client-Cert does not hold a DER X.509 certificate$/],
      ['Client-Cert-Chain with a bare token', { 'client-cert': '', 'client-cert-chain': 'abc' }, /.*/],
      ['xfcc with an unterminated quote', { 'x-forwarded-client-cert': 'Cert="abc' }, /^x-forwarded-client-cert has an unterminated quoted string$/],
      ['xfcc with a pair lacking "="', { 'x-forwarded-client-cert': 'By=x;garbage' }, /^x-forwarded-client-cert has a malformed key=value pair$/],
      ['xfcc with bad URL encoding', { 'x-forwarded-client-cert': 'Cert="%E0%A4%A"' }, /^x-forwarded-client-cert Cert is not valid URL encoding$/],
      ['nginx header that is not PEM', { 'x-ssl-client-cert': 'hello' }, /^x-ssl-client-cert is not a PEM certificate$/],
      ['nginx header with broken PEM base64', { 'x-ssl-client-cert': pem2escaped('-----BEGIN CERTIFICATE-----\nM*==\n-----END CERTIFICATE-----\n') }, /^x-ssl-client-cert holds invalid PEM base64$/],
    ];
    for (const [name, headers, description] of cases) {
      it(`refuses ${name}`, () => {
        const src = sources[Object.keys(headers)[0]];
        if (headers['client-cert'] === '') {
          // An empty Client-Cert is absent; its chain alone is not read.
          assert.equal(src.fromRequest(fakeRequest(headers)), undefined);
          return;
        }
        expectInvalidRequest(() => src.fromRequest(fakeRequest(headers)), description);
      });
    }
  });

  describe('options are checked at creation', () => {
    it('names the bad trustedProxies entry', () => {
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.1', 'proxy.local'] }), { name: 'TypeError', message: 'trustedProxies[1]: "proxy.local" is not an IP address or CIDR' });
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.0/33'] }), { message: 'trustedProxies[0]: "10.0.0.0/33" is not an IP address or CIDR' });
    });
    it('requires the one proxyHeader format with trustedProxies', () => {
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.1'] }),
        { name: 'TypeError', message: "proxyHeader: required with trustedProxies, one of 'client-cert', 'xfcc', 'nginx' (the one format the proxy sets)" });
      assert.doesNotThrow(() => createCertificateSource({ trustedProxies: [] }));
      assert.doesNotThrow(() => createCertificateSource({ proxyHeader: 'xfcc' }));
    });
    it('names a bad proxyHeader format', () => {
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.1'], proxyHeader: 'haproxy' as 'xfcc' }), { name: 'TypeError', message: `proxyHeader: "haproxy" is not one of 'client-cert', 'xfcc', 'nginx'` });
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.1'], proxyHeader: ['nginx', 'xfcc'] as unknown as 'xfcc' }), { message: `proxyHeader: ["nginx","xfcc"] is not one of 'client-cert', 'xfcc', 'nginx'` });
    });
    it('refuses an nginxHeader that is another format\'s header', () => {
      assert.throws(() => createCertificateSource({ trustedProxies: ['10.0.0.1'], proxyHeader: 'nginx', nginxHeader: 'Client-Cert' }), { name: 'TypeError', message: 'nginxHeader: "Client-Cert" is the header of another format' });
    });
  });
});
