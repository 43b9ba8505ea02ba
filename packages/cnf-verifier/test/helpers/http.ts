/** A plain HTTP server around the node adapter, and a client that can repeat headers. */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { nodeAuth } from '@certbound/cnf-verifier/node';
import type { VerifiedRequest, Verifier } from '@certbound/cnf-verifier';

export interface Served {
  origin: string;
  /** Every request the protected handler saw. */
  handled: VerifiedRequest[];
  close(): Promise<void>;
}

export async function serve(verifier: Verifier): Promise<Served> {
  const handled: VerifiedRequest[] = [];
  const server: Server = createServer(
    nodeAuth(verifier, (_req, res, auth) => {
      handled.push(auth);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ clientId: auth.clientId, binding: auth.binding, scopes: auth.scopes }));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handled,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: any;
}

export function call(url: string, options: { method?: string; headers?: Record<string, string | string[]> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asserts an OAuth refusal: status, error code, description and the exact WWW-Authenticate. */
export function expectOAuthError(reply: Reply, status: number, code: string, description: string, wwwAuthenticate: string): void {
  assert.equal(reply.status, status);
  assert.deepEqual(reply.body, { error: code, error_description: description });
  assert.equal(reply.headers['www-authenticate'], wwwAuthenticate);
  assert.equal(reply.headers['cache-control'], 'no-store');
}
