// Shared by the expiry notice tests: a real HTTPS webhook receiver (a certificate made at test time,
// every request recorded, an answer script so a test can make it fail, then recover) and a logger
// that records its lines.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { issueCertificate } from '../../src/pki/issue.ts';
import type { NoticeLogger } from '../../src/ops/expiry-notices.ts';
import type { JsonObject } from '../../../../test/support/json-answer.ts';

export interface ReceivedRequest {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface WebhookReceiver {
  url: string;
  /** PEM of the CA that issued the receiver's certificate (EXPIRY_WEBHOOK_CA_FILE) */
  ca: string;
  requests: ReceivedRequest[];
  /** the next `n` requests are answered 503, then 204 again */
  failNext(n: number): void;
  /** requests answered 2xx */
  delivered(): ReceivedRequest[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const ca = await issueCertificate({ subject: 'CN=webhook test CA', ca: true, days: 2 });
  const leaf = await issueCertificate({
    subject: 'CN=localhost', issuer: ca, sanDns: ['localhost'], sanIp: ['127.0.0.1'], extKeyUsage: ['serverAuth'], days: 2,
  });
  const requests: ReceivedRequest[] = [];
  let failures = 0;
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = failures > 0 ? 503 : 204;
      if (failures > 0) failures -= 1;
      requests.push({ status, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}/hooks/certbound/s3cr3t-path`,
    ca: ca.certPem,
    requests,
    failNext(n) {
      failures = n;
    },
    delivered: () => requests.filter((r) => r.status < 300),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The JSON body of a webhook delivery: the notice's payload as src/ops/expiry-notices.ts writes it (and logs it). */
export interface NoticeBody extends JsonObject {
  readonly event: 'certificate_expiry_notice';
  readonly notice_id: string;
  readonly kind: 'client' | 'server' | 'trust_anchor';
  readonly client_id: string | null;
  readonly x5t: string;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly not_after: string;
  readonly days_left: number;
  readonly threshold: number;
  readonly expired: boolean;
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

export function recordingLogger(): NoticeLogger & { lines: LogLine[]; notices(): LogLine[] } {
  const lines: LogLine[] = [];
  const push = (level: LogLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return {
    lines,
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    notices: () => lines.filter((l) => l.obj['event'] === 'certificate_expiry_notice'),
  };
}
