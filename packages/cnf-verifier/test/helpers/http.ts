/** A plain HTTP server around the node adapter, and a client that can repeat headers. */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { nodeAuth } from '@certbound/cnf-verifier/node';
import type { VerifiedRequest, Verifier } from '@certbound/cnf-verifier';

export interface Served {
  origin: string;
  /** The verifier behind the server. */
  verifier: Verifier;
  /** Every request the protected handler saw. */
  handled: VerifiedRequest[];
  close(): Promise<void>;
}

/** Serves `verifier`, or the verifier built for the server's own origin once it listens. */
export async function serve(verifier: Verifier | ((origin: string) => Verifier)): Promise<Served> {
  const handled: VerifiedRequest[] = [];
  let listener: ReturnType<typeof nodeAuth> | undefined;
  const server: Server = createServer((req, res) => void listener!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const built = typeof verifier === 'function' ? verifier(origin) : verifier;
  listener = nodeAuth(built, (_req, res, auth) => {
    handled.push(auth);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ clientId: auth.clientId, binding: auth.binding, scopes: auth.scopes }));
  });
  return {
    origin,
    verifier: built,
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
  /** the body parsed as JSON (undefined when empty) */
  body: { readonly [member: string]: unknown };
}

export function call(url: string, options: { method?: string; headers?: Record<string, string | string[]> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Reply['body'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends `head` exactly as written (an absolute-form target, a forged Host) and parses the answer. */
export function rawRequest(origin: string, head: string): Promise<Reply> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [status = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      // A chunked body (RFC 9112 §7.1): size lines and chunks, until the zero-size chunk.
      let content = body;
      if (headers['transfer-encoding'] === 'chunked') {
        content = '';
        for (let rest = body; ;) {
          const eol = rest.indexOf('\r\n');
          const size = parseInt(rest.slice(0, eol), 16);
          if (!(size > 0)) break;
          content += rest.slice(eol + 2, eol + 2 + size);
          rest = rest.slice(eol + 2 + size + 2);
        }
      }
      resolve({ status: Number(status.split(' ')[1]), headers, body: (content ? JSON.parse(content) : undefined) as Reply['body'] });
    });
  });
}

/** Asserts an OAuth refusal: status, error code, description and the exact WWW-Authenticate. */
export function expectOAuthError(reply: Reply, status: number, code: string, description: string, wwwAuthenticate: string): void {
  assert.equal(reply.status, status);
  assert.deepEqual(reply.body, { error: code, error_description: description });
  assert.equal(reply.headers['www-authenticate'], wwwAuthenticate);
  assert.equal(reply.headers['cache-control'], 'no-store');
}
