// The OpenAPI 3.1 description of /admin/v1, served at GET /admin/v1/openapi.json. Written by
// hand for the people and the CLI that read it; test/integration/admin-openapi.test.ts keeps it
// true: every route of the router's table is here with exactly the statuses it declares.
import { BODY_LIMIT_BYTES } from './body.ts';
import { MAX_LIMIT, DEFAULT_LIMIT } from './query.ts';
import { AUTH_METHODS, SIGNING_ALGS } from '../oidc/vocabulary.ts';
import { CHECKS } from '../mtls/diagnosis.ts';
import { CERTIFICATE_STATES } from './certificate-timeline.ts';
import { GLOBAL, PER_CLIENT } from '../storage/kv/recent-refusals.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string) => ({ $ref: `#/components/responses/${name}` });
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const json = (schema: object, description: string, headers?: object) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});
const etag = { ETag: { description: 'The version of the resource; send it back in If-Match.', schema: { type: 'string', example: '"3"' } } };
const location = { Location: { description: 'Where the created resource lives.', schema: { type: 'string' } } };

const AUTH_ERRORS = { 401: response('Unauthorized'), 403: response('Forbidden') };
const BODY_ERRORS = { 400: response('BadRequest'), 413: response('PayloadTooLarge'), 415: response('UnsupportedMediaType') };
const pageOf = (item: string) => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: { items: { type: 'array', items: ref(item) }, next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last page.' } },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'certbound management API',
    version: '1',
    description: [
      'Clients, their certificates, resource servers and the audit log of a certbound authorization server.',
      'Served on the mutual-TLS listener only (the public listener answers 404). Every route except this document needs a',
      'certificate-bound access token (RFC 8705) with scope `admin` for the audience `urn:certbound:admin-api`, presented over',
      'the certificate it is bound to: `grant_type=client_credentials&client_id=admin&scope=admin` at the token endpoint.',
      'Only the clients named in ADMIN_CLIENT_IDS (default `admin`) can hold that audience or call these routes.',
      '',
      'Every error is `{"error": code, "error_description": "<field>: <problem>"}`. Every answer carries `X-Request-Id`',
      '(yours when you send one). Bodies are JSON (`application/json`, UTF-8), at most ' + BODY_LIMIT_BYTES + ' bytes, and',
      'unknown fields are refused. Unknown paths answer 404 not_found and known paths with another method 405',
      'method_not_allowed (with `Allow`). A change made here reaches the token endpoint of every instance within 5 seconds.',
    ].join('\n'),
  },
  servers: [{ url: '/admin/v1' }],
  security: [{ mutualTLS: [], adminToken: [] }],
  tags: [
    { name: 'clients', description: 'OAuth clients (RFC 7591 client metadata).' },
    { name: 'certificates', description: 'Client certificates: overlapping rotation, pinning, expiry.' },
    { name: 'resource-servers', description: 'RFC 8707 resource indicators: audiences and their scopes.' },
    { name: 'audit', description: 'Who changed what, and when.' },
    { name: 'enrollment', description: 'Certificates certbound issues (EST, RFC 7030): one-time enrollment codes, revocation.' },
    { name: 'overview', description: 'What the console\'s overview shows: counts, recent refusals, revocation responder health.' },
    { name: 'meta', description: 'This document.' },
  ],
  paths: {
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument', tags: ['meta'], summary: 'This OpenAPI document', security: [],
        responses: { 200: json({ type: 'object' }, 'The OpenAPI 3.1 document.') },
      },
    },
    '/me': {
      get: {
        operationId: 'getMe', tags: ['meta'], summary: 'Who this token speaks for: the admin client, or the console\'s person with their name and roles',
        responses: {
          200: json({
            type: 'object', required: ['client_id'],
            properties: {
              client_id: { type: 'string' }, 'x5t#S256': { type: 'string' }, sub: { type: 'string' },
              username: { type: 'string' }, name: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } },
            },
          }, 'The caller.'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/clients': {
      get: {
        operationId: 'listClients', tags: ['clients'], summary: 'List clients in client_id order',
        parameters: [param('Limit'), param('Cursor')],
        responses: { 200: json(pageOf('Client'), 'One page of clients.'), 400: response('BadRequest'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'createClient', tags: ['clients'], summary: 'Register a client (client_id generated when absent)',
        parameters: [param('RequestId')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('Client') } } },
        responses: { 201: json(ref('Client'), 'The client as stored.', { ...etag, ...location }), ...BODY_ERRORS, ...AUTH_ERRORS, 409: response('Conflict') },
      },
    },
    '/clients/{client_id}': {
      parameters: [param('ClientId')],
      get: {
        operationId: 'getClient', tags: ['clients'], summary: 'One client',
        responses: { 200: json(ref('Client'), 'The client.', etag), ...AUTH_ERRORS, 404: response('NotFound') },
      },
      put: {
        operationId: 'replaceClient', tags: ['clients'],
        summary: 'Replace a client\'s metadata (If-Match required). `disabled` and, for self-signed clients, `jwks` are kept when omitted.',
        parameters: [param('IfMatchRequired'), param('RequestId')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('Client') } } },
        responses: {
          200: json(ref('Client'), 'The client as stored.', etag), ...BODY_ERRORS, ...AUTH_ERRORS, 404: response('NotFound'),
          409: response('Conflict'), 412: response('PreconditionFailed'), 428: response('PreconditionRequired'),
        },
      },
      delete: {
        operationId: 'deleteClient', tags: ['clients'], summary: 'Delete a client, its certificates, grants and refresh tokens',
        parameters: [param('IfMatchOptional'), param('RequestId')],
        responses: { 204: { description: 'Deleted.' }, ...AUTH_ERRORS, 404: response('NotFound'), 409: response('Conflict'), 412: response('PreconditionFailed') },
      },
    },
    '/clients/{client_id}/revoke': {
      parameters: [param('ClientId')],
      post: {
        operationId: 'revokeClient', tags: ['clients'],
        summary: 'Revoke every grant and refresh token of the client; its JWT access tokens issued so far become inactive at introspection',
        parameters: [param('RequestId')],
        responses: { 200: json(ref('Revocation'), 'What was revoked.'), ...AUTH_ERRORS, 404: response('NotFound') },
      },
    },
    '/clients/{client_id}/certificates': {
      parameters: [param('ClientId')],
      get: {
        operationId: 'listClientCertificates', tags: ['certificates'], summary: 'The client\'s certificates, active and retired',
        responses: { 200: json(pageOf('Certificate'), 'All of them (next_cursor is always null).'), ...AUTH_ERRORS, 404: response('NotFound') },
      },
      post: {
        operationId: 'addClientCertificate', tags: ['certificates'],
        summary: 'Add a certificate. Self-signed clients: it joins the jwks. tls_client_auth clients: it must match the registered subject and chain to a configured client CA.',
        parameters: [param('RequestId')],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', required: ['pem'], additionalProperties: false, properties: { pem: { type: 'string', description: 'The certificate, optionally followed by intermediates; never a private key.' } } } },
            'application/x-pem-file': { schema: { type: 'string' } },
            'application/pem-certificate-chain': { schema: { type: 'string' } },
          },
        },
        responses: { 201: json(ref('Certificate'), 'The certificate, active.', location), ...BODY_ERRORS, ...AUTH_ERRORS, 404: response('NotFound'), 409: response('Conflict') },
      },
    },
    '/clients/{client_id}/certificates/{x5t}': {
      parameters: [param('ClientId'), param('X5t')],
      delete: {
        operationId: 'retireClientCertificate', tags: ['certificates'], summary: 'Retire a certificate (kept for the record, no longer accepted)',
        parameters: [param('RequestId')],
        responses: { 200: json(ref('Certificate'), 'The certificate, retired.'), ...AUTH_ERRORS, 404: response('NotFound') },
      },
    },
    '/clients/{client_id}/certificates/{x5t}/revoke': {
      parameters: [param('ClientId'), param('X5t')],
      post: {
        operationId: 'revokeClientCertificate', tags: ['enrollment'],
        summary: 'Revoke a certificate certbound issued (EST): it goes on the CRL, every instance\'s token endpoint refuses it at once, and the refresh tokens bound to it are revoked; access tokens already issued stay valid until exp (introspection: inactive). A certificate certbound did not issue: 409 (retire it instead).',
        parameters: [param('RequestId')],
        requestBody: {
          required: false,
          content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { reason: { enum: ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'], default: 'unspecified', description: 'RFC 5280 §5.3.1 CRLReason.' } } } } },
        },
        responses: { 200: json(ref('IssuedCertificate'), 'The issued certificate\'s record, revoked.'), ...BODY_ERRORS, ...AUTH_ERRORS, 404: response('NotFound'), 409: response('Conflict') },
      },
    },
    '/clients/{client_id}/enrollment-codes': {
      parameters: [param('ClientId')],
      get: {
        operationId: 'listEnrollmentCodes', tags: ['enrollment'], summary: 'The client\'s enrollment codes (newest 100), without the codes',
        responses: { 200: json(pageOf('EnrollmentCode'), 'All of them (next_cursor is always null).'), ...AUTH_ERRORS, 404: response('NotFound') },
      },
      post: {
        operationId: 'createEnrollmentCode', tags: ['enrollment'],
        summary: 'A one-time code for the client\'s first certificate at /.well-known/est/simpleenroll (HTTP Basic: client_id and the code). Shown once; stored hashed. 409 when the client has no subject DN or SAN matcher to put in a certificate; 404 when enrollment is off.',
        parameters: [param('RequestId')],
        requestBody: {
          required: false,
          content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { expires_in: { type: 'integer', minimum: 60, maximum: 2592000, default: 86400, description: 'Seconds until the code expires (at most 30 days).' } } } } },
        },
        responses: {
          201: json({ type: 'object', required: ['code', 'expires_at'], properties: { code: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' }, id: { type: 'string' } } }, 'The code (shown only now).'),
          ...BODY_ERRORS, ...AUTH_ERRORS, 404: response('NotFound'), 409: response('Conflict'),
        },
      },
    },
    '/certificates/expiring': {
      get: {
        operationId: 'listExpiringCertificates', tags: ['certificates'], summary: 'Active client certificates that expire soon (or already have), soonest first',
        parameters: [
          { name: 'within', in: 'query', schema: { type: 'string', pattern: '^\\d{1,5}[dh]$', default: '30d' }, description: 'Days (30d) or hours (12h) from now.' },
          param('Limit'), param('Cursor'),
        ],
        responses: { 200: json(pageOf('Certificate'), 'One page of certificates.'), 400: response('BadRequest'), ...AUTH_ERRORS },
      },
    },
    '/certificates': {
      get: {
        operationId: 'listCertificates', tags: ['certificates'],
        summary: 'Every client certificate certbound knows of — registered, issued by enrollment, or last seen at authentication — merged by client and x5t#S256, soonest expiry first',
        parameters: [
          { name: 'client_id', in: 'query', schema: { type: 'string' }, description: 'Only this client\'s certificates.' },
          { name: 'status', in: 'query', schema: { enum: [...CERTIFICATE_STATES] }, description: 'Only certificates in this state.' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 2000, default: 500 } },
        ],
        responses: {
          200: json({
            type: 'object', required: ['now', 'items', 'truncated'],
            properties: {
              now: { type: 'string', format: 'date-time', description: 'The server\'s clock: where the timeline marks today.' },
              items: { type: 'array', items: ref('TimelineCertificate') },
              truncated: { type: 'boolean', description: 'More certificates match than `limit`: narrow by client_id or status.' },
            },
          }, 'The certificates, sorted by not_after ascending.'),
          400: response('BadRequest'), ...AUTH_ERRORS,
        },
      },
    },
    '/certificates/check': {
      post: {
        operationId: 'checkCertificate', tags: ['certificates'],
        summary: 'Walk a pasted certificate through the checks the token endpoint makes (the steps of GET /mtls/check and `certbound doctor`), against the client CAs in force, revocation and, with client_id, the client\'s registration. Nothing is stored.',
        parameters: [{ name: 'client_id', in: 'query', schema: { type: 'string' }, description: 'With a PEM body: the client to match.' }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object', required: ['pem'], additionalProperties: false,
                properties: {
                  pem: { type: 'string', description: 'The certificate, optionally followed by its intermediates; never a private key.' },
                  client_id: { type: 'string', description: 'The client to match the certificate against.' },
                },
              },
            },
            'application/x-pem-file': { schema: { type: 'string' } },
            'application/pem-certificate-chain': { schema: { type: 'string' } },
          },
        },
        responses: {
          200: json(ref('Diagnosis'), 'The diagnosis: 200 whether or not the certificate would be accepted (`ok`). A PEM that is not a certificate is a 400 naming it.'),
          ...BODY_ERRORS, ...AUTH_ERRORS,
        },
      },
    },
    '/refusals': {
      get: {
        operationId: 'listRefusals', tags: ['overview'],
        summary: `Recent OAuth refusals that named a client, newest first: a registered client's ${PER_CLIENT} newest, or every client's ${GLOBAL} newest; each is kept 24 hours`,
        parameters: [
          { name: 'client_id', in: 'query', schema: { type: 'string' }, description: 'Only this (registered) client\'s refusals.' },
          { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'At or after (RFC 3339); default one hour ago.' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: GLOBAL, default: 100 }, description: `At most ${PER_CLIENT} with client_id.` },
        ],
        responses: {
          200: json({
            type: 'object', required: ['since', 'items', 'by_reason'],
            properties: {
              since: { type: 'string', format: 'date-time' },
              kept_seconds: { type: 'integer' },
              items: { type: 'array', items: ref('Refusal') },
              by_reason: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Refusals per reason among `items`.' },
            },
          }, 'The refusals.'),
          400: response('BadRequest'), ...AUTH_ERRORS,
        },
      },
    },
    '/status': {
      get: {
        operationId: 'getStatus', tags: ['overview'], summary: 'The overview: clients, certificates and their expiry, refusals of the last hour, revocation responders',
        responses: { 200: json(ref('Status'), 'The overview.'), 400: response('BadRequest'), ...AUTH_ERRORS },
      },
    },
    '/resource-servers': {
      get: {
        operationId: 'listResourceServers', tags: ['resource-servers'], summary: 'List resource servers in identifier order',
        parameters: [param('Limit'), param('Cursor')],
        responses: { 200: json(pageOf('ResourceServer'), 'One page of resource servers.'), 400: response('BadRequest'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'createResourceServer', tags: ['resource-servers'], summary: 'Register a resource server',
        parameters: [param('RequestId')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('ResourceServer') } } },
        responses: { 201: json(ref('ResourceServer'), 'The resource server as stored.', { ...etag, ...location }), ...BODY_ERRORS, ...AUTH_ERRORS, 409: response('Conflict') },
      },
    },
    '/resource-servers/{identifier}': {
      parameters: [param('Identifier')],
      get: {
        operationId: 'getResourceServer', tags: ['resource-servers'], summary: 'One resource server',
        responses: { 200: json(ref('ResourceServer'), 'The resource server.', etag), ...AUTH_ERRORS, 404: response('NotFound') },
      },
      put: {
        operationId: 'replaceResourceServer', tags: ['resource-servers'], summary: 'Replace a resource server (If-Match required; 409 when it removes a scope some client holds, or for urn:certbound:admin-api)',
        parameters: [param('IfMatchRequired'), param('RequestId')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('ResourceServer') } } },
        responses: {
          200: json(ref('ResourceServer'), 'The resource server as stored.', etag), ...BODY_ERRORS, ...AUTH_ERRORS, 404: response('NotFound'),
          409: response('Conflict'), 412: response('PreconditionFailed'), 428: response('PreconditionRequired'),
        },
      },
      delete: {
        operationId: 'deleteResourceServer', tags: ['resource-servers'], summary: 'Delete a resource server (409 while a client holds it, and for urn:certbound:admin-api)',
        parameters: [param('IfMatchOptional'), param('RequestId')],
        responses: { 204: { description: 'Deleted.' }, ...AUTH_ERRORS, 404: response('NotFound'), 409: response('Conflict'), 412: response('PreconditionFailed') },
      },
    },
    '/audit': {
      get: {
        operationId: 'listAuditEntries', tags: ['audit'], summary: 'The audit log, newest first',
        parameters: [
          { name: 'target', in: 'query', schema: { type: 'string' }, description: 'A target such as `clients/ledger`; also matches what lies under it (`clients/ledger/certificates/...`).' },
          { name: 'actor', in: 'query', schema: { type: 'string' }, description: 'The admin\'s client_id or certificate x5t#S256.' },
          { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'At or after (RFC 3339).' },
          { name: 'until', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Before (RFC 3339).' },
          param('Limit'), param('Cursor'),
        ],
        responses: { 200: json(pageOf('AuditEntry'), 'One page of audit entries.'), 400: response('BadRequest'), ...AUTH_ERRORS },
      },
    },
  },
  components: {
    securitySchemes: {
      mutualTLS: { type: 'mutualTLS', description: 'The client certificate the access token is bound to (RFC 8705 §3).' },
      adminToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Certificate-bound access token with scope `admin`, audience `urn:certbound:admin-api`.' },
    },
    parameters: {
      ClientId: { name: 'client_id', in: 'path', required: true, schema: { type: 'string' }, description: 'Percent-encoded.' },
      X5t: { name: 'x5t', in: 'path', required: true, schema: { type: 'string' }, description: 'The certificate\'s x5t#S256 (base64url SHA-256 of the DER).' },
      Identifier: { name: 'identifier', in: 'path', required: true, schema: { type: 'string' }, description: 'The resource indicator, percent-encoded (`https%3A%2F%2Fapi.example.com`).' },
      Limit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT } },
      Cursor: { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'The next_cursor of the previous page.' },
      IfMatchRequired: { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'The ETag of your last GET.' },
      IfMatchOptional: { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'When sent, the change happens only at this ETag.' },
      RequestId: { name: 'X-Request-Id', in: 'header', required: false, schema: { type: 'string', maxLength: 128 }, description: 'Recorded in the audit log and echoed back; generated when absent.' },
    },
    responses: {
      BadRequest: json(ref('Error'), 'invalid_request or invalid_client_metadata: "<field>: <problem>".'),
      Unauthorized: json(ref('Error'), 'invalid_token: no token, or a token that is forged, expired, revoked, for another audience, or presented over another certificate.', {
        'WWW-Authenticate': { description: 'RFC 6750 §3 challenge.', schema: { type: 'string' } },
      }),
      Forbidden: json(ref('Error'), 'insufficient_scope: the token lacks scope `admin`.', {
        'WWW-Authenticate': { description: 'RFC 6750 §3 challenge with scope="admin".', schema: { type: 'string' } },
      }),
      NotFound: json(ref('Error'), 'not_found.'),
      Conflict: json(ref('Error'), 'conflict: already exists, still referenced, or the request is authenticated as the client it would delete or disable.'),
      PreconditionFailed: json(ref('Error'), 'precondition_failed: If-Match names an older version.'),
      PreconditionRequired: json(ref('Error'), 'precondition_required: If-Match is missing.'),
      PayloadTooLarge: json(ref('Error'), `payload_too_large: more than ${BODY_LIMIT_BYTES} bytes.`),
      UnsupportedMediaType: json(ref('Error'), 'unsupported_media_type.'),
    },
    schemas: {
      Error: {
        type: 'object', required: ['error', 'error_description'],
        properties: { error: { type: 'string' }, error_description: { type: 'string' } },
      },
      Client: {
        type: 'object', additionalProperties: false,
        properties: {
          client_id: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$', description: 'Generated when absent on create.' },
          client_name: { type: 'string' },
          contacts: { type: 'array', items: { type: 'string' } },
          token_endpoint_auth_method: { enum: [...AUTH_METHODS], default: 'tls_client_auth' },
          token_endpoint_auth_signing_alg: { enum: [...SIGNING_ALGS], description: 'private_key_jwt only.' },
          tls_client_auth_subject_dn: { type: 'string', description: 'RFC 4514. tls_client_auth needs exactly one of the five subject matchers.' },
          tls_client_auth_san_dns: { type: 'string' },
          tls_client_auth_san_uri: { type: 'string' },
          tls_client_auth_san_ip: { type: 'string' },
          tls_client_auth_san_email: { type: 'string' },
          tls_client_certificate_bound_access_tokens: { type: 'boolean', description: 'Default true for certificate methods.' },
          grant_types: { type: 'array', items: { enum: ['client_credentials', 'authorization_code', 'refresh_token'] }, default: ['client_credentials'] },
          response_types: { type: 'array', items: { enum: ['code'] }, default: [] },
          redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' }, description: 'https, or http://127.0.0.1 / http://[::1] for native apps (RFC 8252 §7.3).' },
          resources: {
            type: 'object', maxProperties: 50,
            additionalProperties: { type: 'array', uniqueItems: true, items: { type: 'string' } },
            examples: [{ 'https://ledger.example.com': ['ledger:read'], 'https://reports.example.com': [] }],
            description: 'The resource servers the client may get tokens for (RFC 8707 identifiers), each with the scopes of it the client holds; an empty array holds the audience without scopes. urn:certbound:admin-api only for ADMIN_CLIENT_IDS. Answers always carry it. A 400 names the member: `resources["https://x"][1]: ...`.',
          },
          scope: { type: 'string', description: 'Space-separated. openid / offline_access stay here; any other scope must belong to exactly one registered resource server and is moved into `resources` (400 naming a scope two resource servers define). Answers carry only openid / offline_access.' },
          default_resource: { type: 'string', description: 'One of the client\'s `resources` (without `resources` in the request: held with the scopes `scope` maps to it): the audience when the token request names none. Without it, a token request must name its resource.' },
          introspection_allowed: { type: 'boolean', description: 'May introspect other clients\' tokens.' },
          dpop_bound_access_tokens: { type: 'boolean', description: 'RFC 9449 §5.2: tokens are always DPoP-bound.' },
          require_pushed_authorization_requests: { type: 'boolean', description: 'RFC 9126 §6.' },
          fapi_profile: { enum: ['2.0'], description: 'Puts this client under the FAPI 2.0 Security Profile.' },
          jwks: {
            type: 'object', required: ['keys'], additionalProperties: false,
            properties: { keys: { type: 'array', items: { type: 'object' } } },
            description: 'Public keys only. self_signed_tls_client_auth: each key carries its certificate in x5c (managed through /certificates). private_key_jwt: the assertion keys.',
          },
          certificate_pinning: { type: 'boolean', description: 'tls_client_auth only: accept only the active certificates registered through /certificates.' },
          disabled: { type: 'boolean', description: 'A disabled client gets no token. Omitted on PUT: unchanged.' },
        },
      },
      Certificate: {
        type: 'object',
        required: ['client_id', 'x5t#S256', 'subject', 'issuer', 'sans', 'serial', 'not_before', 'not_after', 'status', 'created_at', 'retired_at'],
        properties: {
          client_id: { type: 'string' },
          'x5t#S256': { type: 'string' },
          subject: { type: ['string', 'null'] },
          issuer: { type: ['string', 'null'] },
          sans: {
            type: 'object',
            properties: { dns: { type: 'array', items: { type: 'string' } }, ip: { type: 'array', items: { type: 'string' } }, uri: { type: 'array', items: { type: 'string' } }, email: { type: 'array', items: { type: 'string' } } },
          },
          serial: { type: ['string', 'null'] },
          not_before: { type: ['string', 'null'], format: 'date-time' },
          not_after: { type: ['string', 'null'], format: 'date-time' },
          status: { enum: ['active', 'retired'] },
          created_at: { type: 'string', format: 'date-time' },
          retired_at: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      ResourceServer: {
        type: 'object', additionalProperties: false, required: ['identifier'],
        properties: {
          identifier: { type: 'string', format: 'uri', description: 'RFC 8707 resource indicator, used as the token audience.' },
          name: { type: ['string', 'null'] },
          scopes: { type: 'array', items: { type: 'string' }, default: [], description: 'Not openid, offline_access or admin (reserved). A scope some client holds cannot be removed (409).' },
          token_format: { enum: ['jwt', 'opaque'], default: 'jwt' },
          access_token_ttl: { type: ['integer', 'null'], minimum: 1, maximum: 86400, description: 'Seconds; null = ACCESS_TOKEN_TTL.' },
          sender_constraint_required: { type: 'boolean', default: true },
        },
      },
      IssuedCertificate: {
        type: 'object',
        properties: {
          client_id: { type: 'string' },
          'x5t#S256': { type: 'string' },
          serial: { type: 'string' },
          issued_by: { enum: ['enroll', 'reenroll'] },
          previous_x5t_s256: { type: ['string', 'null'] },
          not_before: { type: 'string', format: 'date-time' },
          not_after: { type: 'string', format: 'date-time' },
          revoked_at: { type: ['string', 'null'], format: 'date-time' },
          revocation_reason: { type: ['string', 'null'] },
        },
      },
      EnrollmentCode: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'The start of the code\'s hash: names it in lists and the audit log.' },
          client_id: { type: 'string' },
          state: { enum: ['active', 'used', 'expired', 'invalidated'] },
          created_at: { type: 'string', format: 'date-time' },
          expires_at: { type: 'string', format: 'date-time' },
          used_at: { type: ['string', 'null'], format: 'date-time' },
          failures: { type: 'integer', description: 'Wrong codes tried for the client while this one was live.' },
        },
      },
      TimelineCertificate: {
        type: 'object',
        required: ['client_id', 'x5t#S256', 'subject', 'issuer', 'not_before', 'not_after', 'sources', 'state', 'last_seen_at'],
        properties: {
          client_id: { type: 'string' },
          'x5t#S256': { type: 'string' },
          subject: { type: ['string', 'null'], description: 'RFC 4514; null for an issued certificate recorded without it.' },
          issuer: { type: ['string', 'null'] },
          serial: { type: ['string', 'null'] },
          not_before: { type: ['string', 'null'], format: 'date-time', description: 'null when only its authentication was recorded.' },
          not_after: { type: 'string', format: 'date-time' },
          sources: { type: 'array', items: { enum: ['registered', 'issued', 'seen'] }, description: 'Registered through /clients, issued by enrollment (EST), seen at authentication.' },
          state: { enum: [...CERTIFICATE_STATES], description: 'revoked (by certbound\'s CA), else retired, else expired, else active.' },
          retired_at: { type: ['string', 'null'], format: 'date-time' },
          revoked_at: { type: ['string', 'null'], format: 'date-time' },
          revocation_reason: { type: ['string', 'null'] },
          first_seen_at: { type: ['string', 'null'], format: 'date-time' },
          last_seen_at: { type: ['string', 'null'], format: 'date-time', description: 'The last token request made with it (seen certificates).' },
        },
      },
      Refusal: {
        type: 'object', required: ['at', 'client_id', 'error', 'reason', 'description', 'listener'],
        properties: {
          at: { type: 'string', format: 'date-time' },
          client_id: { type: 'string' },
          error: { type: 'string', description: 'The OAuth error code the client got.' },
          reason: { type: 'string', examples: ['certificate_subject', 'certificate_expired', 'certificate_chain', 'client_unknown', 'invalid_grant'], description: 'The failed check\'s stable code (the metrics\' `reason` label), else the OAuth error.' },
          description: { type: 'string', description: 'The error_description the client read.' },
          listener: { type: ['string', 'null'], enum: ['public', 'mtls', null] },
        },
      },
      Status: {
        type: 'object', required: ['clients', 'certificates', 'expiring', 'refusals_last_hour', 'revocation'],
        properties: {
          now: { type: 'string', format: 'date-time' },
          clients: { type: 'integer' },
          disabled_clients: { type: 'integer' },
          certificates: { type: 'integer', description: 'Certificates in use (registered and active, or seen at authentication and not retired), neither revoked nor expired.' },
          expiring: {
            type: 'object', required: ['7', '30'],
            properties: { 7: { type: 'integer', description: 'Of those, expiring within 7 days.' }, 30: { type: 'integer', description: 'Within 30 days.' } },
          },
          expired: { type: 'integer', description: 'Registered active or seen certificates already expired.' },
          refusals_last_hour: {
            type: 'object', required: ['total', 'by_reason'],
            properties: {
              total: { type: 'integer' },
              by_reason: { type: 'object', additionalProperties: { type: 'integer' } },
              capped: { type: 'boolean', description: `The hour held at least ${GLOBAL} refusals (the global list's size): the counts are a lower bound.` },
            },
          },
          revocation: {
            type: 'object', required: ['mode', 'responders'],
            properties: {
              mode: { enum: ['off', 'soft', 'hard'] },
              responders: {
                type: 'array', description: 'The OCSP responders and CRL distribution points this instance fetched from since it started (at most 200), unhealthy first.',
                items: {
                  type: 'object', required: ['source', 'url', 'last_success_at', 'last_failure_at', 'last_error', 'healthy'],
                  properties: {
                    source: { enum: ['ocsp', 'crl'] },
                    url: { type: 'string' },
                    last_success_at: { type: ['string', 'null'], format: 'date-time' },
                    last_failure_at: { type: ['string', 'null'], format: 'date-time' },
                    last_error: { type: ['string', 'null'] },
                    healthy: { type: 'boolean', description: 'Its last fetch succeeded.' },
                  },
                },
              },
            },
          },
        },
      },
      Diagnosis: {
        type: 'object', required: ['ok', 'certificate', 'steps', 'first_failure'],
        description: 'The same document GET /mtls/check answers (mtls/diagnosis.ts).',
        properties: {
          ok: { type: 'boolean', description: 'No step failed and every step but client_match ran.' },
          certificate: {
            type: ['object', 'null'],
            properties: {
              subject: { type: 'string' }, issuer: { type: 'string' }, serial: { type: 'string' },
              not_before: { type: 'string', format: 'date-time' }, not_after: { type: 'string', format: 'date-time' },
              'x5t#S256': { type: 'string' }, san: { type: ['object', 'null'] },
            },
          },
          steps: {
            type: 'array',
            items: {
              type: 'object', required: ['check', 'ok', 'detail'],
              properties: { check: { enum: [...CHECKS] }, ok: { type: ['boolean', 'null'], description: 'null: not run (detail says why).' }, detail: { type: 'string' } },
            },
          },
          first_failure: {
            type: ['object', 'null'],
            properties: { check: { enum: [...CHECKS] }, code: { type: 'string' }, detail: { type: 'string' }, fix: { type: 'string' } },
          },
        },
      },
      Revocation: {
        type: 'object', required: ['client_id', 'revoked_grants', 'revoked_refresh_tokens', 'tokens_issued_before'],
        properties: {
          client_id: { type: 'string' },
          revoked_grants: { type: 'integer' },
          revoked_refresh_tokens: { type: 'integer' },
          tokens_issued_before: { type: 'string', format: 'date-time', description: 'Access tokens issued before this instant are inactive at introspection.' },
        },
      },
      AuditEntry: {
        type: 'object', required: ['id', 'at', 'request_id', 'actor', 'action', 'target', 'before', 'after'],
        properties: {
          id: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
          request_id: { type: 'string' },
          actor: { type: 'object', properties: { client_id: { type: 'string' }, 'x5t#S256': { type: ['string', 'null'] } } },
          action: { type: 'string', examples: ['client.create', 'client.update', 'client.delete', 'client.revoke', 'client.certificate.add', 'client.certificate.retire', 'resource_server.create'] },
          target: { type: 'string', examples: ['clients/ledger', 'clients/ledger/certificates/3q2-...', 'resource-servers/https://api.example.com'] },
          before: { type: ['object', 'null'], description: 'The fields that changed, before. Never a secret, private key or PEM.' },
          after: { type: ['object', 'null'], description: 'The fields that changed, after.' },
        },
      },
    },
  },
} as const;
