// http/body.ts against a real HTTP server and raw sockets: the whole body within the limit, 413
// for a declared or streamed body over it (the declared one before any byte is read), and 400
// for a body cut off before its Content-Length.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BodyReadError, readBody } from '../../src/http/body.ts';

const LIMIT = 1024;

describe('readBody', () => {
  let server: Server;
  let port: number;
  const outcomes: Array<{ bytes?: number; error?: BodyReadError }> = [];
  let arrived: (() => void) | undefined;

  before(async () => {
    server = createServer((req, res) => {
      readBody(req, LIMIT).then(
        (body) => {
          outcomes.push({ bytes: body.length });
          res.end(`read ${body.length}`);
        },
        (err: unknown) => {
          assert.ok(err instanceof BodyReadError, String(err));
          outcomes.push({ error: err });
          res.writeHead(err.status, { connection: 'close' }).end(err.problem);
        },
      ).finally(() => arrived?.());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Writes `raw` on a fresh connection, optionally half-closing or destroying it, and returns the outcome the server saw. */
  async function send(raw: string, end: 'half-close' | 'destroy' | 'keep' = 'keep'): Promise<{ answer: string; outcome: { bytes?: number; error?: BodyReadError } }> {
    const seen = new Promise<void>((resolve) => { arrived = resolve; });
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1'); });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(raw);
    if (end === 'half-close') socket.end();
    if (end === 'destroy') setImmediate(() => socket.destroy());
    await seen;
    if (end !== 'destroy') await closed;
    return { answer, outcome: outcomes.at(-1)! };
  }

  it('reads a body within the limit, declared or chunked', async () => {
    const body = 'x'.repeat(LIMIT);
    let r = await send(`POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: ${LIMIT}\r\n\r\n${body}`);
    assert.equal(r.outcome.bytes, LIMIT);
    assert.match(r.answer, /^HTTP\/1\.1 200 /);
    r = await send(`POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${'y'.repeat(16)}\r\n0\r\n\r\n`);
    assert.equal(r.outcome.bytes, 16);
  });

  it('refuses a declared length over the limit with 413 before reading the body', async () => {
    const r = await send(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    assert.equal(r.outcome.error?.problem, 'too_large');
    assert.equal(r.outcome.error?.status, 413);
    assert.match(r.answer, /^HTTP\/1\.1 413 /);
  });

  it('refuses a chunked body that grows past the limit with 413', async () => {
    const chunk = 'z'.repeat(512);
    const r = await send(`POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${`200\r\n${chunk}\r\n`.repeat(3)}`);
    assert.equal(r.outcome.error?.problem, 'too_large');
    assert.match(r.answer, /^HTTP\/1\.1 413 /);
  });

  it('refuses a body cut off before its Content-Length with 400', async () => {
    const r = await send(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly this`, 'destroy');
    assert.equal(r.outcome.error?.status, 400);
    assert.ok(r.outcome.error?.problem === 'aborted' || r.outcome.error?.problem === 'length_mismatch', r.outcome.error?.problem);
  });
});
