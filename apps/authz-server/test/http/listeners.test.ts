// http/listeners.ts reload(): both listeners show new handshakes the new certificate, session
// tickets issued before a reload still resume after it (the ticket-key hook is installed on the
// new context), and material OpenSSL refuses changes neither listener.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startListeners, type Listeners } from '../../src/http/listeners.ts';
import { createSessionTickets } from '../../src/http/session-tickets.ts';
import { issueCertificate, type IssuedCertificate } from '../../../../test/support/pki.ts';

interface Handshake {
  /** undefined on a resumed session (no certificate is sent) */
  fingerprint: string | undefined;
  reused: boolean;
  session: Buffer | undefined;
}

/** One TLS connection with a GET / on it: the certificate shown, whether `session` was resumed, the ticket received. */
function handshake(port: number, ca: string, session?: Buffer): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion: 'TLSv1.3', ...(session ? { session } : {}) });
    let latest: Buffer | undefined;
    let shown: Omit<Handshake, 'session'> | undefined;
    socket.on('session', (s: Buffer) => { latest = s; });
    socket.once('secureConnect', () => {
      shown = { fingerprint: socket.getPeerX509Certificate()?.fingerprint256, reused: socket.isSessionReused() };
      socket.end('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.resume();
    socket.once('close', () => (shown ? resolve({ ...shown, session: latest ?? session }) : reject(new Error('no handshake'))));
    socket.once('error', reject);
  });
}

describe('listeners reload', () => {
  let serverCa: IssuedCertificate;
  let first: IssuedCertificate;
  let second: IssuedCertificate;
  let listeners: Listeners;
  before(async () => {
    serverCa = await issueCertificate({ subject: 'CN=listeners test CA', ca: true, days: 2 });
    const leaf = { subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], sanIp: ['127.0.0.1'], extKeyUsage: ['serverAuth' as const], days: 2 };
    first = await issueCertificate(leaf);
    second = await issueCertificate(leaf);
    listeners = await startListeners({
      host: '127.0.0.1', publicPort: 0, mtlsPort: 0,
      tls: { cert: first.certPem, key: first.keyPem, clientCa: '' },
      handler: (_req, res) => res.end('ok'),
      sessionTickets: createSessionTickets(randomBytes(32)),
    });
  });
  after(() => listeners?.close(0));

  it('new handshakes on both listeners get the new certificate; a ticket from before still resumes', async () => {
    const before = await handshake(listeners.publicPort, serverCa.certPem);
    assert.equal(before.fingerprint, first.cert.fingerprint256);
    assert.ok(before.session, 'a session ticket was issued');

    listeners.reload({ cert: second.certPem, key: second.keyPem, clientCa: '' });
    for (const port of [listeners.publicPort, listeners.mtlsPort]) {
      assert.equal((await handshake(port, serverCa.certPem)).fingerprint, second.cert.fingerprint256);
    }
    assert.equal((await handshake(listeners.publicPort, serverCa.certPem, before.session)).reused, true, 'the ticket keys survived the reload');
  });

  it('material OpenSSL refuses throws and leaves both listeners as they were', async () => {
    const current = (await handshake(listeners.publicPort, serverCa.certPem)).fingerprint;
    assert.throws(() => listeners.reload({ cert: first.certPem, key: second.keyPem, clientCa: '' }));
    for (const port of [listeners.publicPort, listeners.mtlsPort]) {
      assert.equal((await handshake(port, serverCa.certPem)).fingerprint, current);
    }
  });
});

describe('listeners start', () => {
  it('a port already taken rejects with EADDRINUSE and leaves the other listener closed', async () => {
    const ca = await issueCertificate({ subject: 'CN=listeners start CA', ca: true, days: 2 });
    const leaf = await issueCertificate({ subject: 'CN=localhost', issuer: ca, sanDns: ['localhost'], extKeyUsage: ['serverAuth'], days: 2 });
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as AddressInfo).port;
    const free = createNetServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const publicPort = (free.address() as AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    try {
      await assert.rejects(startListeners({
        host: '127.0.0.1', publicPort, mtlsPort: takenPort,
        tls: { cert: leaf.certPem, key: leaf.keyPem, clientCa: '' },
        handler: (_req, res) => res.end('ok'),
        sessionTickets: createSessionTickets(randomBytes(32)),
      }), { code: 'EADDRINUSE' });
      // The public listener that did bind was closed again: its port can be bound once more.
      const again = createNetServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(publicPort, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => again.close(() => resolve()));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
