// Attack class: DPoP proof htu chosen by the attacker (RFC 9449 §4.3 step 9, §11.1). A proof
// captured or minted for another server (https://attacker.example/…) is presented to the resource
// server with a Host header — or an absolute-form request target (RFC 9112 §3.2.2) — naming that
// same server, hoping the resource server builds "the request URL" from what the request says.
// The verifier compares htu only with its configured external origin (DEMO_EXTERNAL_URL, default
// https://localhost:<port>) plus the request path, so every variant is refused 401
// invalid_dpop_proof naming htu, and the protected handler never runs.
//
// Real processes: the authorization server after its dev bootstrap and the demo settlement API,
// over real TLS; the token is a real DPoP-bound token for demo-dpop-client (private_key_jwt).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { demoDpopToken, dpopProof, type TestKey } from '../support/dpop.ts';
import { startDevPair, type DevPair, type RunningProcess } from '../support/processes.ts';
import type { JsonAnswer } from '../support/json-answer.ts';

const ATTACKER = 'attacker.example';
const HTU_REFUSAL = 'DPoP proof htu does not match the request URL';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: JsonAnswer;
}

describe('DPoP htu from a forged Host or an absolute-form target (demo resource server process)', () => {
  let pair: DevPair;
  let ca: string;
  let demo: RunningProcess;
  let demoPort: number;
  let origin: string;
  let key: TestKey;
  let accessToken: string;

  /** One request over its own TLS connection to the demo, with exactly the headers given (Host included). */
  const send = (path: string, headers: Record<string, string>): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: demoPort, servername: 'localhost', path, method: 'GET', ca, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: (text ? JSON.parse(text) : undefined) as JsonAnswer }));
      });
      req.on('error', reject);
      req.end();
    });

  /** The request line and headers exactly as written (an absolute-form target), over verified TLS. */
  const sendRaw = (head: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: demoPort, servername: 'localhost', ca }, () => socket.write(head));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (text += c));
      socket.on('error', reject);
      socket.on('end', () => {
        const [top = '', body = ''] = text.split('\r\n\r\n');
        const [statusLine = '', ...lines] = top.split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
        resolve({ status: Number(statusLine.split(' ')[1]), headers, json: (body ? JSON.parse(body) : undefined) as JsonAnswer });
      });
    });

  const expectHtuRefusal = (answer: Answer) => {
    assert.equal(answer.status, 401, JSON.stringify(answer.json));
    assert.deepEqual(answer.json, { error: 'invalid_dpop_proof', error_description: HTU_REFUSAL });
    assert.match(String(answer.headers['www-authenticate']), new RegExp(`^DPoP error="invalid_dpop_proof", error_description="${HTU_REFUSAL}"`));
  };
  const refusals = () => demo.logs().filter((l) => l.event === 'refusal');
  /** The child's log lines arrive through a pipe: wait (bounded) until `count` refusals after `from` are in. */
  const refusalsAfter = async (from: number, count: number) => {
    for (let i = 0; i < 50 && refusals().length - from < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return refusals().slice(from);
  };

  before(async () => {
    // No DEMO_EXTERNAL_URL: the external origin is https://localhost:<DEMO_PORT>.
    pair = await startDevPair('certbound-security-htu-');
    ({ ca, demo, demoPort } = pair);
    const { publicPort, pki } = pair;
    origin = `https://localhost:${demoPort}`;

    // A real DPoP-bound token for demo-dpop-client, through the authorization server's nonce challenge.

    ({ accessToken, key } = await demoDpopToken(`https://localhost:${publicPort}`, ca, pki.dir));
  });

  after(async () => {
    await pair?.close();
  });

  const path = '/api/v1/settlements/00000000-0000-4000-8000-000000000000';

  it('refuses a proof whose htu names the attacker host, sent with a matching forged Host header', async () => {
    const before = refusals().length;
    const proof = await dpopProof(key, { htm: 'GET', htu: `https://${ATTACKER}${path}`, accessToken });
    expectHtuRefusal(await send(path, { host: ATTACKER, authorization: `DPoP ${accessToken}`, dpop: proof }));
    // The same with the port a client would put in Host for a non-default port.
    const withPort = await dpopProof(key, { htm: 'GET', htu: `https://${ATTACKER}:${demoPort}${path}`, accessToken });
    expectHtuRefusal(await send(path, { host: `${ATTACKER}:${demoPort}`, authorization: `DPoP ${accessToken}`, dpop: withPort }));
    // One refusal line per request, naming the check; the settlement handler never answered.
    const lines = await refusalsAfter(before, 2);
    assert.deepEqual(lines.map((l) => [l.status, l.error, l.reason]), [[401, 'invalid_dpop_proof', HTU_REFUSAL], [401, 'invalid_dpop_proof', HTU_REFUSAL]]);
  });

  it('refuses it with an absolute-form request target naming the attacker host (node accepts the form)', async () => {
    const proof = await dpopProof(key, { htm: 'GET', htu: `https://${ATTACKER}${path}`, accessToken });
    expectHtuRefusal(await sendRaw(`GET https://${ATTACKER}${path} HTTP/1.1\r\nHost: ${ATTACKER}\r\nAuthorization: DPoP ${accessToken}\r\nDPoP: ${proof}\r\nConnection: close\r\n\r\n`));
    // Absolute-form naming the attacker, Host naming the real server: the authority still does not count.
    const again = await dpopProof(key, { htm: 'GET', htu: `https://${ATTACKER}${path}`, accessToken });
    expectHtuRefusal(await sendRaw(`GET https://${ATTACKER}${path} HTTP/1.1\r\nHost: localhost:${demoPort}\r\nAuthorization: DPoP ${accessToken}\r\nDPoP: ${again}\r\nConnection: close\r\n\r\n`));
  });

  it('refuses an htu built from X-Forwarded-Host / -Proto (the demo trusts no proxy, and htu never reads them)', async () => {
    const proof = await dpopProof(key, { htm: 'GET', htu: `https://${ATTACKER}${path}`, accessToken });
    expectHtuRefusal(await send(path, { 'x-forwarded-host': ATTACKER, 'x-forwarded-proto': 'https', authorization: `DPoP ${accessToken}`, dpop: proof }));
  });

  it('still serves the client whose proof names the configured origin, whatever Host and the target authority say', async () => {
    const proof = await dpopProof(key, { htm: 'GET', htu: `${origin}${path}`, accessToken });
    const forgedHost = await send(path, { host: ATTACKER, authorization: `DPoP ${accessToken}`, dpop: proof });
    // Past the verifier: the settlement does not exist.
    assert.equal(forgedHost.status, 404, JSON.stringify(forgedHost.json));
    assert.equal(forgedHost.json.error, 'not_found');
    const absolute = await dpopProof(key, { htm: 'GET', htu: `${origin}${path}`, accessToken });
    const answer = await sendRaw(`GET https://${ATTACKER}${path} HTTP/1.1\r\nHost: ${ATTACKER}\r\nAuthorization: DPoP ${accessToken}\r\nDPoP: ${absolute}\r\nConnection: close\r\n\r\n`);
    assert.equal(answer.status, 404, JSON.stringify(answer.json));
  });
});
