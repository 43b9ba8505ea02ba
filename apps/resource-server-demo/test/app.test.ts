// The demo API's request bodies, over a real HTTP listener and raw sockets: a settlement within
// the limit is created; a body over the limit (declared or sent), of another content type, or cut
// off before its Content-Length gets a 4xx naming the problem and one log line, never a 500 or a
// hang. The verifier is a stand-in that accepts every request: its own checks have their own suites.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { createCertificateSource, type VerifiedRequest, type Verifier } from '@certbound/cnf-verifier';
import { createDemoApp } from '../src/app.ts';
import { createDemoLogger } from '../src/log.ts';

const accepted: VerifiedRequest = { claims: {}, clientId: 'ledger', scopes: ['settlements:write'], binding: 'mtls', scheme: 'Bearer' };
const verifier: Verifier = { verify: () => Promise.resolve(accepted), certificates: createCertificateSource(), replayStoreFullRefusals: 0 };

type Answer = { error?: string; error_description?: string };
type LogLine = { event?: string; status?: number; error?: string; reason?: string };

describe('demo API request bodies', () => {
  let server: Server;
  let port: number;
  const lines: LogLine[] = [];
  const waiters: Array<() => void> = [];
  const logger = createDemoLogger({
    write(line: string) {
      lines.push(JSON.parse(line) as LogLine);
      waiters.splice(0).forEach((wake) => wake());
    },
  });
  /** Resolves with the first log line after `from` that `match` accepts; fails after 5 s. */
  async function logLine(from: number, match: (line: LogLine) => boolean): Promise<LogLine> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = lines.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such log line; saw ${JSON.stringify(lines.slice(from))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }

  before(async () => {
    const handle = createDemoApp({ verifier, logger }).callback();
    server = createServer((req, res) => {
      void handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends `head` + `body` on a fresh connection (optionally cut off), returns status and JSON body. */
  function post(headers: Record<string, string>, body: string, cutOff = false): Promise<{ status: number; json: Answer }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let raw = '';
      socket.on('data', (chunk: Buffer) => {
        raw += chunk.toString('utf8');
      });
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', text = ''] = raw.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), json: text ? (JSON.parse(text) as Answer) : {} });
      });
      const lines = Object.entries({ host: 'demo', connection: 'close', authorization: 'Bearer t', ...headers }).map(([k, v]) => `${k}: ${v}`);
      socket.write(`POST /api/v1/settlements HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
      // A client that stops sending half way and closes its side.
      if (cutOff) socket.end();
    });
  }

  const settlement = JSON.stringify({ amount: '12.50', currency: 'EUR', counterparty: 'ACME', reference: 'inv-1' });

  it('creates a settlement from a JSON body within the limit', async () => {
    const res = await post({ 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(settlement)) }, settlement);
    assert.equal(res.status, 201);
  });

  it('refuses a declared body over 16 KiB with 413 payload_too_large', async () => {
    const res = await post({ 'content-type': 'application/json', 'content-length': String(16 * 1024 + 1) }, '');
    assert.equal(res.status, 413);
    assert.deepEqual(res.json, { error: 'payload_too_large', error_description: 'body exceeds 16384 bytes' });
  });

  it('refuses a chunked body growing past 16 KiB with 413', async () => {
    const chunk = 'x'.repeat(8 * 1024);
    const res = await post({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, `${`2000\r\n${chunk}\r\n`.repeat(3)}0\r\n\r\n`);
    assert.equal(res.status, 413);
    assert.equal(res.json.error, 'payload_too_large');
  });

  it('refuses another content type with 415', async () => {
    const res = await post({ 'content-type': 'text/plain', 'content-length': '2' }, 'hi');
    assert.equal(res.status, 415);
    assert.equal(res.json.error, 'unsupported_media_type');
  });

  it('refuses a body cut off before its Content-Length as 400 invalid_request, with one refusal line', async () => {
    const from = lines.length;
    // Node's HTTP parser answers the half-closed connection itself (400); the app sees the cut-off body.
    const res = await post({ 'content-type': 'application/json', 'content-length': '100' }, '{"amount":', true);
    assert.equal(res.status, 400);
    const line = await logLine(from, (l) => l.status !== undefined);
    assert.deepEqual({ event: line.event, status: line.status, error: line.error, reason: line.reason },
      { event: 'refusal', status: 400, error: 'invalid_request', reason: 'body was cut off or does not match its Content-Length' });
    assert.ok(!lines.slice(from).some((l) => l.event === 'server_error'));
  });
});
