// ops/metrics.ts on its own: what each recording call adds to the exposition, the client-id cap
// (METRICS_MAX_CLIENTS folds further clients into `other`), labels that never come from the
// request, the expiry gauge read from its source at scrape time, and nothing recorded when off.
import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  enableMetrics, metricsRegistry, recordCertificateVerdict, recordNoCertificate, recordOAuthAnswer, recordRevocationEvent,
  recordStoreLatency, resetMetrics, type RegisteredCertificate,
} from '../../src/ops/metrics.ts';
import { parseExposition, sampleValue, type Sample } from '../../../../test/support/prometheus.ts';

const TOKENS = 'certbound_token_requests_total';
const EXPIRY = 'certbound_client_certificate_expiry_timestamp_seconds';

async function samples(): Promise<Sample[]> {
  return parseExposition(await metricsRegistry().metrics());
}

/** A token-endpoint request as oidc/errors.ts's reporter sees it once answered. */
function tokenRequest(
  clientId: string | undefined,
  options: { grantType?: unknown; status?: number; dpop?: string; authMethod?: string; state?: Record<string, unknown> } = {},
) {
  return {
    path: '/token',
    status: options.status ?? 200,
    state: options.state ?? {},
    oidc: {
      route: 'token',
      ...(clientId === undefined ? {} : { client: { clientId, clientAuthMethod: options.authMethod ?? 'private_key_jwt' } }),
      params: { grant_type: 'grantType' in options ? options.grantType : 'client_credentials' },
    },
    req: { headers: options.dpop === undefined ? {} : { dpop: options.dpop } },
  };
}

describe('ops/metrics', () => {
  beforeEach(() => resetMetrics());

  it('records nothing until enabled (METRICS_PORT=off)', async () => {
    recordOAuthAnswer(tokenRequest('quiet'), undefined);
    recordNoCertificate();
    recordRevocationEvent('ocsp:good');
    const all = await samples();
    assert.equal(all.filter((s) => s.name.startsWith('certbound_') && !s.name.includes('expiry')).length, 0);
  });

  it('counts token requests by client, grant type, outcome and the failed check', async () => {
    enableMetrics({ maxClients: 10 });
    recordOAuthAnswer(tokenRequest('ledger'), undefined);
    recordOAuthAnswer(tokenRequest('ledger'), undefined);
    recordOAuthAnswer(tokenRequest('ledger', { status: 401 }), { error: 'invalid_client', check: 'certificate_subject' });
    recordOAuthAnswer(tokenRequest('ledger', { status: 400 }), { error: 'invalid_grant' });
    const all = await samples();
    assert.equal(sampleValue(all, TOKENS, { client_id: 'ledger', grant_type: 'client_credentials', outcome: 'success', reason: 'none' }), 2);
    assert.equal(sampleValue(all, TOKENS, { client_id: 'ledger', outcome: 'refused', reason: 'certificate_subject' }), 1);
    assert.equal(sampleValue(all, TOKENS, { client_id: 'ledger', outcome: 'refused', reason: 'invalid_grant' }), 1);
  });

  it('takes no label from the request: an unknown grant_type is `other`, a client not found is `unknown`', async () => {
    enableMetrics({ maxClients: 10 });
    recordOAuthAnswer(tokenRequest(undefined, { status: 401, grantType: 'x'.repeat(300) }), { error: 'invalid_client' });
    recordOAuthAnswer(tokenRequest('ledger', { status: 400, grantType: ['client_credentials'] }), { error: 'invalid_request' });
    const all = await samples();
    assert.equal(sampleValue(all, TOKENS, { client_id: 'unknown', grant_type: 'other', reason: 'invalid_client' }), 1);
    assert.equal(sampleValue(all, TOKENS, { client_id: 'ledger', grant_type: 'other', reason: 'invalid_request' }), 1);
  });

  it('folds client ids beyond METRICS_MAX_CLIENTS into `other`', async () => {
    enableMetrics({ maxClients: 2 });
    for (const client of ['a', 'b', 'c', 'd', 'a']) recordOAuthAnswer(tokenRequest(client), undefined);
    const all = (await samples()).filter((s) => s.name === TOKENS);
    assert.deepEqual(all.map((s) => [s.labels.client_id, s.value]).sort(), [['a', 2], ['b', 1], ['other', 2]]);
  });

  it('reports registered certificates read at scrape time, folding clients beyond the cap into their soonest expiry', async () => {
    let rows: RegisteredCertificate[] = [
      { client_id: 'a', x5t_s256: 'x5t-a', not_after: new Date('2030-01-01T00:00:00Z') },
      { client_id: 'b', x5t_s256: 'x5t-b', not_after: new Date('2029-06-01T00:00:00Z') },
      { client_id: 'c', x5t_s256: 'x5t-c', not_after: new Date('2028-03-01T00:00:00Z') },
    ];
    enableMetrics({ maxClients: 1, registeredCertificates: async () => rows });
    let all = await samples();
    assert.equal(sampleValue(all, EXPIRY, { client_id: 'a', x5t: 'x5t-a' }), Date.parse('2030-01-01T00:00:00Z') / 1000);
    assert.equal(sampleValue(all, EXPIRY, { client_id: 'other', x5t: 'other' }), Date.parse('2028-03-01T00:00:00Z') / 1000);
    assert.equal(all.filter((s) => s.name === EXPIRY).length, 2);
    rows = [rows[0]];
    all = await samples();
    assert.equal(all.filter((s) => s.name === EXPIRY).length, 1, 'a retired certificate is gone at the next scrape');
  });

  it('keeps the last certificates read when the store fails, and says so once', async () => {
    let failing = false;
    const errors: string[] = [];
    enableMetrics({
      maxClients: 10,
      registeredCertificates: async () => {
        if (failing) throw new Error('connection refused');
        return [{ client_id: 'a', x5t_s256: 'x5t-a', not_after: new Date('2030-01-01T00:00:00Z') }];
      },
      onSourceError: (source, err) => errors.push(`${source}: ${err.message}`),
    });
    await samples();
    failing = true;
    const all = await samples();
    await samples();
    assert.equal(sampleValue(all, EXPIRY, { client_id: 'a', x5t: 'x5t-a' }), Date.parse('2030-01-01T00:00:00Z') / 1000);
    assert.deepEqual(errors, ['client_certificates: connection refused']);
  });

  it('remembers the certificate a certificate-authenticated client last got a token with', async () => {
    enableMetrics({ maxClients: 10 });
    const leaf = { validToDate: new Date('2031-02-03T04:05:06Z') };
    const state = { clientCertificate: { presented: { thumbprint: 'used-x5t', leaf } } };
    recordOAuthAnswer(tokenRequest('mtls-client', { authMethod: 'tls_client_auth', state }), undefined);
    recordOAuthAnswer(tokenRequest('jwt-client', { authMethod: 'private_key_jwt', state }), undefined);
    const all = await samples();
    assert.equal(sampleValue(all, EXPIRY, { client_id: 'mtls-client', x5t: 'used-x5t' }), Math.floor(Date.parse('2031-02-03T04:05:06Z') / 1000));
    assert.equal(sampleValue(all, EXPIRY, { client_id: 'jwt-client' }), undefined);
  });

  it('counts DPoP proofs by outcome', async () => {
    enableMetrics({ maxClients: 10 });
    recordOAuthAnswer(tokenRequest('d', { dpop: 'proof' }), undefined);
    recordOAuthAnswer(tokenRequest('d', { dpop: 'proof', status: 400 }), { error: 'use_dpop_nonce' });
    recordOAuthAnswer(tokenRequest('d', { dpop: 'proof', status: 400 }), { error: 'invalid_dpop_proof' });
    recordOAuthAnswer(tokenRequest('d'), undefined);
    const all = await samples();
    assert.equal(sampleValue(all, 'certbound_dpop_proofs_total', { outcome: 'accepted' }), 1);
    assert.equal(sampleValue(all, 'certbound_dpop_proofs_total', { outcome: 'nonce_required' }), 1);
    assert.equal(sampleValue(all, 'certbound_dpop_proofs_total', { outcome: 'invalid' }), 1);
  });

  it('counts certificate verdicts, revocation answers and store latency', async () => {
    enableMetrics({ maxClients: 10 });
    const verdict = Promise.resolve({ ok: false, code: 'expired' });
    assert.equal(recordCertificateVerdict('mtls', verdict), verdict, 'the verdict is handed back untouched');
    await recordCertificateVerdict('proxy', Promise.resolve({ ok: true }));
    await verdict;
    recordNoCertificate();
    for (const name of ['ocsp:good', 'ocsp:good', 'crl:revoked', 'crl-file:unknown', 'fetch:ocsp', 'answer:good']) recordRevocationEvent(name);
    recordStoreLatency('redis', 'get', 3);
    const all = await samples();
    const tls = 'certbound_tls_client_certificates_total';
    assert.equal(sampleValue(all, tls, { listener: 'mtls', outcome: 'refused', reason: 'expired' }), 1);
    assert.equal(sampleValue(all, tls, { listener: 'proxy', outcome: 'accepted', reason: 'none' }), 1);
    assert.equal(sampleValue(all, tls, { listener: 'mtls', outcome: 'absent', reason: 'no_certificate' }), 1);
    const revocation = 'certbound_revocation_checks_total';
    assert.equal(sampleValue(all, revocation, { source: 'ocsp', outcome: 'good' }), 2);
    assert.equal(sampleValue(all, revocation, { source: 'crl', outcome: 'revoked' }), 1);
    assert.equal(sampleValue(all, revocation, { source: 'crl-file', outcome: 'unknown' }), 1);
    assert.equal(all.filter((s) => s.name === revocation).length, 3, 'fetch and answer tallies are not revocation sources');
    assert.equal(sampleValue(all, 'certbound_store_operation_duration_seconds_count', { store: 'redis', operation: 'get' }), 1);
    assert.equal(sampleValue(all, 'certbound_store_operation_duration_seconds_bucket', { store: 'redis', operation: 'get', le: '0.0025' }), 0);
    assert.equal(sampleValue(all, 'certbound_store_operation_duration_seconds_bucket', { store: 'redis', operation: 'get', le: '0.005' }), 1);
  });
});
