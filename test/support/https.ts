// A tiny HTTPS client for tests: one fresh TLS connection per request (so each request presents
// exactly the certificate it names), JSON or form bodies, and the raw answer back.
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import type { JsonAnswer } from './json-answer.ts';

export interface TlsIdentity {
  cert?: string;
  key?: string;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the parsed body; undefined at run time when it is not JSON (a test reads it after checking the status) */
  json: JsonAnswer;
}

export async function https(url: string, options: {
  method?: string;
  ca: string;
  identity?: TlsIdentity;
  form?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}): Promise<HttpsAnswer> {
  let body: string | Buffer | undefined = options.body;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      ca: options.ca,
      cert: options.identity?.cert,
      key: options.identity?.key,
      headers,
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: JsonAnswer | undefined;
        try { json = text ? JSON.parse(text) as JsonAnswer : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as JsonAnswer });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
