/**
 * The era classifier: the gateway asks the SDK's classifier (`classifyInboundRequest`) straight
 * from the Node request, and must answer as the SDK's own predicate (`isLegacyRequest`) does for
 * every request it classifies. The one difference is a header that names no version (the SDK
 * compares versions as strings, so `garbage` is modern to it): the route refuses those before
 * asking (route.ts, versions.ts), unless the body claims a version in `_meta`.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  isLegacyRequest,
  PROTOCOL_VERSION_META_KEY,
  type JSONRPCMessage,
} from '@modelcontextprotocol/server';
import { claimsVersionInMeta, isModernRequest } from '../../src/gateway/protocol/modern.js';
import { eraOfVersion } from '../../src/gateway/protocol/versions.js';

const MODERN = '2026-07-28';
const envelope = {
  [PROTOCOL_VERSION_META_KEY]: MODERN,
  [CLIENT_CAPABILITIES_META_KEY]: {},
  [CLIENT_INFO_META_KEY]: { name: 't', version: '1' },
};

describe('isModernRequest', () => {
  const call = (meta: Record<string, unknown> | undefined, method = 'tools/list'): JSONRPCMessage => ({
    jsonrpc: '2.0',
    id: 1,
    method,
    params: meta === undefined ? {} : { _meta: meta },
  });
  const modernHeaders = (method: string, name?: string) => ({
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
    ...(name ? { 'mcp-name': name } : {}),
  });
  // What it is, its HTTP method, headers and body, and whether the modern era answers it.
  const cases: Array<[string, string, Record<string, string>, JSONRPCMessage | JSONRPCMessage[], boolean]> = [
    ['a 2025 request', 'POST', {}, call(undefined), false],
    ['a 2025 initialize', 'POST', {}, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25' } }, false],
    ['a modern request', 'POST', modernHeaders('tools/list'), call(envelope), true],
    ['a modern request without its headers', 'POST', {}, call(envelope), true],
    ['a modern version header without the envelope', 'POST', { 'mcp-protocol-version': MODERN }, call(undefined), true],
    ['a mismatched Mcp-Method', 'POST', modernHeaders('prompts/list'), call(envelope), true],
    ['a mismatched Mcp-Name', 'POST', modernHeaders('tools/call', 'b'), call(envelope, 'tools/call'), true],
    ['headers padded with spaces', 'POST', { 'mcp-protocol-version': ` ${MODERN} `, 'mcp-method': ' tools/list ' }, call(envelope), true],
    ['an unsupported version', 'POST', {}, call({ ...envelope, [PROTOCOL_VERSION_META_KEY]: '2099-01-01' }), true],
    ['a modern notification', 'POST', {}, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: envelope } }, true],
    ['a posted response', 'POST', { 'mcp-protocol-version': MODERN }, { jsonrpc: '2.0', id: 1, result: {} }, false],
    ['a batch holding a modern request', 'POST', {}, [call(envelope), call(undefined)], true],
    ['a GET with a modern version header', 'GET', { 'mcp-protocol-version': MODERN }, call(envelope), false],
  ];

  for (const [what, method, headers, body, modern] of cases) {
    it(`says ${modern ? 'modern' : 'legacy'} for ${what}, as the SDK's isLegacyRequest does`, async () => {
      const req = { method, headers } as unknown as IncomingMessage;
      const web = new Request('http://gateway.test/mcp/x', { method, headers });
      assert.equal(await isModernRequest(req, body), modern);
      assert.equal(await isLegacyRequest(web, method === 'POST' ? body : undefined), !modern);
    });
  }

  it('says legacy for a version header that names no version and no claim in _meta, where the SDK, comparing strings, says modern', async () => {
    for (const version of ['garbage', 'zzz', '2026-99-99', '2099-01-01']) {
      const headers = { 'mcp-protocol-version': version };
      const req = { method: 'POST', headers } as unknown as IncomingMessage;
      assert.equal(await isModernRequest(req, call(undefined)), false, version);
      assert.equal(
        await isLegacyRequest(new Request('http://gateway.test/mcp/x', { method: 'POST', headers }), call(undefined)),
        false,
        version,
      );
    }
  });

  it('answers as isLegacyRequest does for any single request or notification it classifies, headers or none', async () => {
    const metas = fc.oneof(
      fc.constant(undefined),
      fc.constant({}),
      fc.record({ [PROTOCOL_VERSION_META_KEY]: fc.constantFrom<unknown>(MODERN, '2025-11-25', '2099-01-01', 42, null, '') }),
      fc.constant(envelope),
    );
    const messages = fc.record({
      method: fc.constantFrom('initialize', 'tools/list', 'tools/call', 'server/discover', 'notifications/cancelled', 'ping'),
      id: fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 3 })), { nil: undefined }),
      meta: metas,
    });
    const headers = fc.record(
      {
        'mcp-protocol-version': fc.constantFrom(MODERN, ` ${MODERN}`, '2025-11-25', '2099-01-01', 'garbage'),
        'mcp-method': fc.constantFrom('tools/list', 'tools/call', 'initialize'),
        'mcp-name': fc.constantFrom('a', 'b'),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(messages, headers, async ({ method, id, meta }, sent) => {
        const body = {
          jsonrpc: '2.0',
          method,
          ...(id === undefined ? {} : { id }),
          params: meta === undefined ? {} : { _meta: meta },
        } as JSONRPCMessage;
        const header = sent['mcp-protocol-version']?.trim();
        // Refused before classification (route.ts): a header naming no version, the body claiming none.
        fc.pre(header === undefined || eraOfVersion(header) !== undefined || claimsVersionInMeta(body));
        const req = { method: 'POST', headers: sent } as unknown as IncomingMessage;
        const web = new Request('http://gateway.test/mcp/x', { method: 'POST', headers: sent });
        assert.equal(await isModernRequest(req, body), !(await isLegacyRequest(web, body)));
      }),
      { numRuns: 500 },
    );
  });
});
