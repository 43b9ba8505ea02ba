// RFC 5077 / RFC 8446 §4.6.1 session resumption across processes: ticket keys derived per time
// window from one secret, current and previous window accepted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { connect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createSessionTickets, sessionTicketsFromKek, type SessionTickets } from '../../src/http/session-tickets.ts';
import { issueCertificate, type IssuedCertificate } from '../../../../test/support/pki.ts';

const HOUR = 3_600_000;

describe('session ticket keys derived per window', () => {
  const secret = randomBytes(32);

  it('gives every holder of the secret the same 48-byte key for a window', () => {
    const a = createSessionTickets(secret).keysAt(10 * HOUR + 5);
    const b = createSessionTickets(Buffer.from(secret)).keysAt(10 * HOUR + HOUR - 1);
    assert.equal(a.current.bytes.length, 48);
    assert.deepEqual(a.current.bytes, b.current.bytes);
    assert.deepEqual(a.current.name, a.current.bytes.subarray(0, 16));
  });

  it('changes the key with the window and keeps the previous one', () => {
    const tickets = createSessionTickets(secret);
    const now = tickets.keysAt(11 * HOUR);
    assert.notDeepEqual(now.current.bytes, tickets.keysAt(10 * HOUR).current.bytes);
    assert.deepEqual(now.previous.bytes, tickets.keysAt(10 * HOUR).current.bytes);
  });

  it('differs for another secret, and the KEK-derived secret is not the KEK', () => {
    const other = createSessionTickets(randomBytes(32)).keysAt(HOUR).current.bytes;
    assert.notDeepEqual(createSessionTickets(secret).keysAt(HOUR).current.bytes, other);
    assert.notDeepEqual(sessionTicketsFromKek(secret).keysAt(HOUR).current.bytes, createSessionTickets(secret).keysAt(HOUR).current.bytes);
  });

  it('gives a session lifetime of one window, so a valid ticket is always current or previous', () => {
    const options = createSessionTickets(secret, { windowSeconds: 600 }).serverOptions();
    assert.equal(options.sessionTimeout, 600);
    assert.equal(options.ticketKeys.length, 48);
  });

  it('refuses a short secret and a bad window', () => {
    assert.throws(() => createSessionTickets(randomBytes(16)), /at least 32 bytes/);
    assert.throws(() => createSessionTickets(secret, { windowSeconds: 0 }), /positive integer/);
  });
});

describe('resumption between two servers holding the same secret', () => {
  let serverCert: IssuedCertificate;
  let serverCa: IssuedCertificate;
  const servers: Server[] = [];
  let clock = 100 * HOUR;
  const secret = randomBytes(32);

  async function start(tickets: SessionTickets): Promise<number> {
    const server = createServer({ cert: serverCert.certPem, key: serverCert.keyPem, sessionIdContext: 'test', ...tickets.serverOptions() }, (_req, res) => res.end('ok'));
    tickets.install(server);
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  }

  function handshake(port: number, session?: Buffer, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<{ reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: serverCa.certPem, maxVersion, ...(session ? { session } : {}) });
      let latest: Buffer | undefined;
      let reused = false;
      socket.on('session', (s: Buffer) => { latest = s; });
      socket.once('secureConnect', () => {
        reused = socket.isSessionReused();
        socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      });
      socket.on('data', () => undefined);
      socket.once('close', () => resolve({ reused, session: latest ?? session }));
      socket.once('error', reject);
    });
  }

  before(async () => {
    serverCa = await issueCertificate({ subject: 'CN=ticket test CA', ca: true, days: 2 });
    serverCert = await issueCertificate({ subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], extKeyUsage: ['serverAuth'], days: 2 });
  });
  after(() => { for (const server of servers) server.close(); });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: a session from one server resumes on the other`, async () => {
      const a = await start(createSessionTickets(secret, { now: () => clock }));
      const b = await start(createSessionTickets(secret, { now: () => clock }));
      const first = await handshake(a, undefined, version);
      assert.equal(first.reused, false);
      assert.ok(first.session, 'the server issued a ticket');
      assert.equal((await handshake(b, first.session, version)).reused, true);
    });
  }

  it('accepts a ticket of the previous window and refuses one two windows old', async () => {
    const a = await start(createSessionTickets(secret, { now: () => clock }));
    const b = await start(createSessionTickets(secret, { now: () => clock }));
    const first = await handshake(a);
    clock += HOUR;
    const resumed = await handshake(b, first.session);
    assert.equal(resumed.reused, true, 'previous window accepted');
    clock += 2 * HOUR;
    assert.equal((await handshake(a, first.session)).reused, false, 'two windows old: full handshake');
  });

  it('does not resume a session of a server with another secret', async () => {
    const a = await start(createSessionTickets(secret, { now: () => clock }));
    const other = await start(createSessionTickets(randomBytes(32), { now: () => clock }));
    const first = await handshake(a);
    assert.equal((await handshake(other, first.session)).reused, false);
  });
});
