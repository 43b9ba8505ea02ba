// A real OCSP responder on loopback for the bench's client CA (RFC 6960 Appendix A.1: a DER
// OCSPRequest POSTed over plain HTTP): node:http in front of `openssl ocsp`, one openssl run per
// request, answering from an index.txt in the format `openssl ca` keeps, signed with the CA's own
// key (RFC 6960 §4.2.2.2: the issuer may sign its answers itself), nextUpdate one day ahead.
// It counts what it is asked: the bench reports the number of fetches, which shows certbound's
// cache at work (about one per server and nextUpdate, never one per request).
//
// Two paths: `/` answers; `/unavailable` always answers 503, for a certificate whose responder is
// down (REVOCATION_CHECK=soft must still let it through).
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_REQUEST_BYTES = 64 * 1024;

export interface OcspResponder {
  /** http://127.0.0.1:<port>/ : answers from the index */
  readonly url: string;
  /** http://127.0.0.1:<port>/unavailable : always 503 */
  readonly unavailableUrl: string;
  /** the CA whose certificates it answers for, and the certificates it knows as valid ('V') */
  configure(ca: { certPem: string; keyPem: string }, valid: readonly X509Certificate[]): Promise<void>;
  /** OCSP requests answered from the index so far (successful or not) */
  fetches(): number;
  /** requests to /unavailable so far */
  refused(): number;
  /** openssl runs that failed (each answered 500) */
  errors(): number;
  /** openssl's complaint about the latest failed run */
  lastError(): string | undefined;
  close(): Promise<void>;
}

/** YYMMDDHHMMSSZ, as `openssl ca` writes expiry dates in index.txt. */
function indexDate(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** One index.txt line: status, expiry, revocation date (empty), serial (hex), file name, subject. */
function indexLine(cert: X509Certificate): string {
  const subject = cert.subject.split('\n').map((rdn) => `/${rdn}`).join('');
  // openssl looks the request's serial up as BN_bn2hex prints it: upper case, no leading zero octets
  const serial = cert.serialNumber.toUpperCase().replace(/^(00)+(?=..)/, '');
  return ['V', indexDate(cert.validToDate), '', serial, 'unknown', subject].join('\t');
}

export async function startOcspResponder(parentDir: string): Promise<OcspResponder> {
  const dir = await mkdtemp(join(parentDir, 'ocsp-'));
  const files = { ca: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem'), index: join(dir, 'index.txt') };
  let configured = false;
  let fetches = 0;
  let refused = 0;
  let errors = 0;
  let sequence = 0;
  let lastError: string | undefined;

  async function answer(body: Buffer): Promise<Buffer> {
    const id = ++sequence;
    const [reqin, respout] = [join(dir, `req-${id}.der`), join(dir, `resp-${id}.der`)];
    await writeFile(reqin, body);
    try {
      await run('openssl', ['ocsp', '-index', files.index, '-CA', files.ca, '-rsigner', files.ca, '-rkey', files.key,
        '-reqin', reqin, '-respout', respout, '-ndays', '1'], { timeout: 10_000 });
      return await readFile(respout);
    } finally {
      await Promise.all([rm(reqin, { force: true }), rm(respout, { force: true })]);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    if (req.url === '/unavailable') {
      refused++;
      res.writeHead(503, { 'retry-after': '60' }).end();
      return;
    }
    if (req.method !== 'POST' || req.url !== '/' || !configured) {
      res.writeHead(req.method !== 'POST' ? 405 : 404).end();
      return;
    }
    fetches++;
    try {
      const der = await answer(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': der.length }).end(der);
    } catch (err) {
      errors++;
      lastError = String((err as { stderr?: string }).stderr || (err as Error).message).trim().slice(0, 500);
      res.writeHead(500).end();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      errors++;
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    unavailableUrl: `http://127.0.0.1:${port}/unavailable`,
    async configure(ca, valid) {
      await writeFile(files.ca, ca.certPem);
      await writeFile(files.key, ca.keyPem, { mode: 0o600 });
      await writeFile(files.index, valid.map((cert) => `${indexLine(cert)}\n`).join(''));
      // Two of the bench's client certificates share a subject, as a rotation's old and new do.
      await writeFile(`${files.index}.attr`, 'unique_subject = no\n');
      configured = true;
    },
    fetches: () => fetches,
    refused: () => refused,
    errors: () => errors,
    lastError: () => lastError,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
