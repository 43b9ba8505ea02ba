// One HTTP request on its own TLS connection, offering a TLS session to resume and reporting
// whether the server resumed it: what the session-resumption and worker tests need and
// test/support/https.ts (agent: false, no sessions) does not do.
import { connect } from 'node:tls';
import type { JsonAnswer } from '../../../../test/support/json-answer.ts';

export interface TlsAnswer {
  status: number;
  headers: Record<string, string>;
  json: JsonAnswer;
  /** whether the server resumed the offered session */
  reused: boolean;
  /** the newest session ticket the server sent, else the one offered */
  session: Buffer | undefined;
}

export function requestOverTls(url: string, options: {
  ca: string;
  cert?: string;
  key?: string;
  session?: Buffer | undefined;
  form?: Record<string, string>;
}): Promise<TlsAnswer> {
  const target = new URL(url);
  const body = options.form ? new URLSearchParams(options.form).toString() : '';
  const request = `${options.form ? 'POST' : 'GET'} ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: application/json\r\n` +
    (options.form ? `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '') +
    `Connection: close\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: target.hostname === 'localhost' ? '127.0.0.1' : target.hostname,
      port: Number(target.port),
      servername: 'localhost',
      ca: options.ca,
      ...(options.cert ? { cert: options.cert, key: options.key } : {}),
      ...(options.session ? { session: options.session } : {}),
    });
    let reused = false;
    let latest: Buffer | undefined;
    const chunks: Buffer[] = [];
    socket.on('session', (s: Buffer) => { latest = s; });
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(request);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let text = raw.slice(split + 4);
      // Chunked transfer coding: good enough for the small JSON bodies of these tests.
      if (headers['transfer-encoding'] === 'chunked') text = text.split('\r\n').filter((_, i) => i % 2 === 1).join('');
      let json: unknown;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      resolve({ status: Number(statusLine?.split(' ')[1] ?? 0), headers, json: json as JsonAnswer, reused, session: latest ?? options.session });
    });
  });
}
