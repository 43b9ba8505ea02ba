/** A real HTTPS server that asks for (but does not require) a client certificate, and a client. */
import { request as httpsRequest, createServer, type Agent, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Issued, TestPki } from './pki.ts';

export interface TestServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startTlsServer(
  pki: TestPki,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
): Promise<TestServer> {
  // requestCert without rejectUnauthorized: unknown certificates reach the application (DESIGN.md).
  const server = createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** the body parsed as JSON */
  json(): { readonly [member: string]: unknown };
}

export interface RequestOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  client?: Issued | undefined;
  /** Extra certificates sent after the leaf (intermediates). */
  chain?: string[];
  agent?: Agent | false;
}

export function tlsRequest(pki: TestPki, server: TestServer, options: RequestOptions = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: server.port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        ca: pki.ca.cert,
        cert: options.client ? [options.client.cert, ...(options.chain ?? [])].join('') : undefined,
        key: options.client?.key,
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as { readonly [member: string]: unknown } }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
