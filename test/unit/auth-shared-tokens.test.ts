/**
 * Which OAuth routes take tokens issued for another route (auth/shared-tokens.ts), as the start-up
 * warning names them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authOf, parseConfig } from '../../src/gateway/config/config.js';
import { sharedTokenRoutes } from '../../src/gateway/auth/shared-tokens.js';

const ISSUER = 'https://login.example.com/tenant/v2.0';

function sharedIn(servers: Record<string, string>, topLevel = ''): ReturnType<typeof sharedTokenRoutes> {
  const yaml = `servers:\n${Object.entries(servers)
    .map(([name, auth]) => `  ${name}:\n    module: x\n${auth ? `    auth: ${auth}\n` : ''}`)
    .join('')}${topLevel}`;
  const config = parseConfig(yaml, 'g.yaml');
  return sharedTokenRoutes(Object.entries(config.servers).map(([name, entry]) => [name, authOf(config, entry)] as const));
}

const oauth = (audience: string, scopes: string[] = [], issuer = ISSUER) =>
  `{ kind: oauth, issuer: "${issuer}", audience: "${audience}", scopes: [${scopes.join(', ')}] }`;

describe('sharedTokenRoutes', () => {
  it("names every route of a top-level OAuth default: each takes the other's tokens", () => {
    const shared = sharedIn({ a: '', b: '', open: 'none' }, `auth: ${oauth('api://app')}\n`);
    assert.deepEqual(shared, [
      { route: 'a', takesTokensOf: ['b'] },
      { route: 'b', takesTokensOf: ['a'] },
    ]);
  });

  it('keeps apart routes of distinct audiences, issuers, or each with a scope of its own', () => {
    assert.deepEqual(sharedIn({ a: oauth('https://mcp.example.com/mcp/a'), b: oauth('https://mcp.example.com/mcp/b') }), []);
    assert.deepEqual(sharedIn({ a: oauth('api://app'), b: oauth('api://app', [], 'https://other.example.com') }), []);
    assert.deepEqual(sharedIn({ a: oauth('api://app', ['a.use']), b: oauth('api://app', ['b.use']) }), []);
  });

  it('names a route whose scopes a token for another route carries, written in full or short as Entra ID does', () => {
    assert.deepEqual(sharedIn({ wide: oauth('api://app', ['a.use', 'b.use']), narrow: oauth('api://app', ['b.use']) }), [
      { route: 'narrow', takesTokensOf: ['wide'] },
    ]);
    assert.deepEqual(sharedIn({ full: oauth('api://app', ['api://app/read']), short: oauth('api://app', ['read']) }), [
      { route: 'full', takesTokensOf: ['short'] },
      { route: 'short', takesTokensOf: ['full'] },
    ]);
  });

  it('ignores API-key and open routes', () => {
    const key = '{ kind: apiKey, keys: ["0123456789abcdef0123"] }';
    assert.deepEqual(sharedIn({ a: key, b: key, c: 'none', d: 'none' }), []);
  });
});
