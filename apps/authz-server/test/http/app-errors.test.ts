import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Koa from 'koa';
import { createLogger } from '../../src/log.ts';
import { logAppErrors } from '../../src/http/app-errors.ts';
import type { LogLine } from '../../../../test/support/json-answer.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { lines, logger: createLogger('info', stream) };
}

async function get(app: Koa, path: string): Promise<number> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path }, resolve).on('error', reject).end();
    });
    res.resume();
    await once(res, 'end');
    return res.statusCode!;
  } finally {
    server.close();
  }
}

describe("Koa's error event", () => {
  it('logs an error no middleware answered as one structured line at error level, cause included', async () => {
    const { lines, logger } = capture();
    const app = new Koa();
    logAppErrors(app, logger);
    app.use(function broken() { throw new Error('store answered nonsense', { cause: new Error('ECONNRESET from upstream') }); });
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => { stderr.push(String(chunk)); return true; };
    let status: number;
    try {
      status = await get(app, '/x');
    } finally {
      process.stderr.write = write;
    }
    assert.equal(status, 500);
    assert.equal(lines.length, 1, lines.join('\n'));
    const line = JSON.parse(lines[0]) as LogLine;
    assert.equal(line.level, 50);
    assert.equal(line.event, 'app_error');
    assert.equal(line.path, '/x');
    assert.equal(line.status, 500);
    assert.match(line.err!.message, /store answered nonsense: ECONNRESET from upstream/);
    assert.match(line.err!.stack, /broken/, 'the stack rides in the one line');
    assert.deepEqual(stderr, [], "Koa's default listener (a multi-line stack on stderr) is replaced");
  });

  it('logs an exposed 4xx thrown by a middleware at warn', async () => {
    const { lines, logger } = capture();
    const app = new Koa();
    logAppErrors(app, logger);
    app.use(function refuses(ctx) { ctx.throw(413, 'body too large'); });
    assert.equal(await get(app, '/y'), 413);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]) as LogLine;
    assert.equal(line.level, 40);
    assert.equal(line.status, 413);
  });
});
