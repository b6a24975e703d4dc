import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withHints } from '../../src/gateway/protocol/modern.js';

describe('withHints', () => {
  it("replaces the result's own hints, not a look-alike written by a tool", () => {
    const tricky = 'a description quoting "resultType":"complete","ttlMs":0,"cacheScope":"private"';
    const text = JSON.stringify({
      result: {
        tools: [{ name: 't', description: tricky }],
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'x', version: '1' } },
      },
      jsonrpc: '2.0',
      id: 1,
    });
    const rewritten = JSON.parse(withHints(text, 3_600_000, 'public')!) as { result: Record<string, unknown> };
    assert.equal(rewritten.result.ttlMs, 3_600_000);
    assert.equal(rewritten.result.cacheScope, 'public');
    assert.equal((rewritten.result.tools as Array<{ description: string }>)[0]!.description, tricky);
  });

  it('says it cannot when the result is not written the way the SDK writes it', () => {
    assert.equal(withHints('{"result":{"tools":[]},"jsonrpc":"2.0","id":1}', 1000, 'private'), undefined);
    assert.equal(withHints('{"result":{"resultType":"complete","ttlMs":"soon"}}', 1000, 'private'), undefined);
  });
});
