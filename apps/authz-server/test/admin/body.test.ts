import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonObject, refuseUnknownFields } from '../../src/admin/body.ts';
import { AdminError } from '../../src/admin/errors.ts';

function refused(fn: () => unknown, code: string, description: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AdminError);
    assert.equal(err.status, 400);
    assert.equal(err.code, code);
    if (typeof description === 'string') assert.equal(err.message, description);
    else assert.match(err.message, description);
    return true;
  });
}

describe('admin JSON bodies', () => {
  it('parses an object', () => {
    assert.deepEqual(parseJsonObject('{"a":[1,"x"],"b":{"c":null}}'), { a: [1, 'x'], b: { c: null } });
  });

  it('refuses malformed JSON naming only the position, never the text', () => {
    refused(() => parseJsonObject('{"pem":"-----BEGIN PRIVATE KEY----- abc" x}'), 'invalid_request', /^body: malformed JSON at position \d+$/);
  });

  it('refuses anything but an object', () => {
    for (const text of ['[]', '1', '"s"', 'null', 'true']) refused(() => parseJsonObject(text), 'invalid_request', 'body: must be a JSON object');
  });

  it('refuses NUL and lone surrogates anywhere, naming where', () => {
    refused(() => parseJsonObject('{"a":{"b":["ok","\\u0000"]}}'), 'invalid_request', 'a.b[1]: must be well-formed Unicode without NUL characters');
    refused(() => parseJsonObject('{"\\udc00":1}'), 'invalid_request', 'field name: must be well-formed Unicode without NUL characters');
  });

  it('refuses hostile nesting instead of recursing through it', () => {
    refused(() => parseJsonObject(`{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`), 'invalid_request', 'body: nested deeper than 16 levels');
  });

  it('names the first unknown field', () => {
    refused(() => refuseUnknownFields({ a: 1, zz: 2, yy: 3 }, new Set(['a'])), 'invalid_request', 'zz: unknown field');
    refused(() => refuseUnknownFields({ __proto__x: 1 }, new Set(['a']), 'invalid_client_metadata'), 'invalid_client_metadata', '__proto__x: unknown field');
    refused(() => refuseUnknownFields({ '': 1 }, new Set(['a'])), 'invalid_request', '"" (a field with an empty name): unknown field');
    refuseUnknownFields({ a: 1 }, new Set(['a']));
  });
});
