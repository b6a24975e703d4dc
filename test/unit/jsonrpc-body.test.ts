/**
 * The edge's JSON-RPC body checks: the envelope rules, as the SDK's schema has them, said in
 * words a client can act on; repeated ids in a batch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/core';
import { GatewayError } from '../../src/gateway/errors.js';
import {
  MAX_DEPTH,
  describeIssues,
  envelopeProblem,
  nestsDeeperThan,
  repeatedRequestId,
  validateJsonRpc,
} from '../../src/gateway/http/jsonrpc-body.js';

function refusal(body: unknown): GatewayError {
  try {
    validateJsonRpc(body);
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
}

describe('envelopeProblem', () => {
  it('accepts requests, notifications, results and errors as MCP sends them', () => {
    for (const message of [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 'x-1', method: 'tools/call', params: { name: 'echo', arguments: { text: 'a' } } },
      { jsonrpc: '2.0', id: -0, method: 'ping' },
      { jsonrpc: '2.0', id: Number.MAX_SAFE_INTEGER, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 3, result: {} },
      { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'Method not found', data: [1] } },
      { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' } },
    ]) {
      assert.equal(envelopeProblem(message), undefined, JSON.stringify(message));
      assert.ok(JSONRPCMessageSchema.safeParse(message).success, 'and so does the SDK');
    }
  });

  it('names what is wrong, without echoing large values', () => {
    const cases: Array<[unknown, string]> = [
      [42, 'a message must be a JSON object, not 42'],
      [[1], 'a message must be a JSON object, not an array'],
      [{ id: 1, method: 'ping' }, 'jsonrpc must be "2.0"'],
      [{ jsonrpc: '2.0', id: 1, method: 7 }, 'method must be a string'],
      [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }, 'id must be a string or an integer, not 1.5'],
      [{ jsonrpc: '2.0', id: 2 ** 53, method: 'ping' }, 'id must be a string or an integer, not 9007199254740992'],
      [{ jsonrpc: '2.0', id: null, method: 'ping' }, 'id must be a string or an integer, not null'],
      [{ jsonrpc: '2.0', id: { big: 'x'.repeat(10_000) }, method: 'ping' }, 'id must be a string or an integer, not an object'],
      [{ jsonrpc: '2.0', id: 1, method: 'ping', params: [] }, 'params must be an object, not an array'],
      [{ jsonrpc: '2.0', id: 1, method: 'ping', params: null }, 'params must be an object, not null'],
      [{ jsonrpc: '2.0', id: 1, method: 'ping', extra: true }, 'unexpected member "extra"'],
      [{ jsonrpc: '2.0', id: null, result: {} }, "a response's id must be a string or an integer, not null"],
      [{ jsonrpc: '2.0', result: {} }, 'a response needs the id of the request it answers'],
      [{ jsonrpc: '2.0', id: 1, result: 'ok' }, 'result must be an object, not a string'],
      [{ jsonrpc: '2.0', id: 1, error: { code: '1', message: 'x' } }, 'error.code must be an integer'],
      [{ jsonrpc: '2.0', id: 1, error: { code: 1 } }, 'error.message must be a string'],
      [{ jsonrpc: '2.0', id: 1 }, 'a message needs a method (a request or notification), or a result or an error (a response)'],
    ];
    for (const [message, problem] of cases) assert.equal(envelopeProblem(message), problem, JSON.stringify(message).slice(0, 80));
  });

  it('agrees with the SDK schema on which envelopes are valid (property)', () => {
    /** Half the time the valid choice, else one of the invalid ones; `absent` leaves the member out. */
    const either = <T>(valid: fc.Arbitrary<T>, ...invalid: fc.Arbitrary<unknown>[]) =>
      fc.oneof({ arbitrary: valid, weight: invalid.length }, ...invalid.map((arbitrary) => ({ arbitrary, weight: 1 })));
    const absent = fc.constant(undefined);
    const id = either(fc.oneof(fc.integer(), fc.string()), fc.double(), fc.constant(null), fc.boolean(), fc.constant(2 ** 53), absent);
    const object = either(fc.constantFrom({}, { a: [1] }), fc.constant([]), fc.constant(null), fc.string(), fc.integer());
    const error = either(
      fc.record({ code: fc.integer(), message: fc.string() }),
      object,
      fc.record({ code: fc.double(), message: fc.string() }),
      fc.record({ code: fc.integer(), message: fc.integer() }),
      fc.constant({ code: 1 }),
    );
    const envelope = fc
      .record({
        jsonrpc: either(fc.constant('2.0'), fc.constant('1.0'), fc.constant(2), absent),
        id,
        method: either(fc.constantFrom('ping', 'tools/list', 'notifications/initialized'), fc.integer(), absent),
        params: either(absent, object),
        result: either(absent, object),
        error: either(absent, error),
        extra: either(absent, fc.constant(1)),
      })
      .map((members) => Object.fromEntries(Object.entries(members).filter(([, value]) => value !== undefined)));
    let valid = 0;
    fc.assert(
      fc.property(envelope, (message) => {
        const accepted = JSONRPCMessageSchema.safeParse(message).success;
        if (accepted) valid++;
        return (envelopeProblem(message) === undefined) === accepted;
      }),
      { numRuns: 5000 },
    );
    // About 1 in 60 is valid (exactly one of method, result, error, and all else right): some 80 runs.
    assert.ok(valid > 40, `only ${valid} of the generated envelopes were valid`);
  });
});

describe('validateJsonRpc', () => {
  it('agrees with the SDK schema on _meta, with or without zod (property)', () => {
    const token = fc.oneof(fc.integer(), fc.string(), fc.double(), fc.boolean(), fc.constant(null), fc.constant({}));
    const meta = fc.oneof(
      fc.record({ progressToken: token }, { requiredKeys: [] }),
      fc.record({ progressToken: token, other: fc.jsonValue() }, { requiredKeys: [] }),
      fc.record({
        'io.modelcontextprotocol/related-task': fc.oneof(fc.record({ taskId: fc.oneof(fc.string(), fc.integer()) }), fc.string()),
      }),
      fc.constantFrom([], null, 'x', 1),
    );
    const message = fc.oneof(
      meta.map((m) => ({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: m } })),
      meta.map((m) => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { _meta: m } })),
      meta.map((m) => ({ jsonrpc: '2.0', id: 1, result: { _meta: m } })),
    );
    const accepts = (m: unknown) => {
      try {
        validateJsonRpc(m);
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(message, (m) => accepts(m) === JSONRPCMessageSchema.safeParse(m).success),
      { numRuns: 2000 },
    );
  });

  it('refuses with invalid_request and the id of a request whose id is readable', () => {
    const error = refusal({ jsonrpc: '2.0', id: 'r1', method: 'ping', params: [] });
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.message, 'Invalid Request: params must be an object, not an array');
    assert.deepEqual(error.toJsonRpcBody().id, 'r1');
    assert.equal(refusal({ jsonrpc: '2.0', id: 1.5, method: 'ping' }).rpcId, null, 'an id JSON-RPC does not allow is not echoed');
    assert.equal(refusal({ jsonrpc: '2.0', id: 4, result: [] }).rpcId, null, 'a response is not answered by id');
  });

  it('checks _meta with the SDK schema, naming the path', () => {
    const error = refusal({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { progressToken: true } } });
    assert.equal(error.message, 'Invalid Request: params._meta.progressToken: Invalid input');
    assert.ok(validateJsonRpc({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { progressToken: 'p' } } }));
  });

  it('refuses empty and long batches, a bad item by its index, and a repeated request id', () => {
    assert.equal(refusal([]).message, 'Invalid Request: empty batch');
    assert.equal(refusal(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))).code, 'invalid_request');
    assert.equal(
      refusal([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { nope: true }]).message,
      'Invalid Request: jsonrpc must be "2.0" (batch item 1)',
    );
    const repeated = refusal([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    ]);
    assert.equal(repeated.message, 'Invalid Request: the batch repeats the request id 1');
    assert.equal(repeated.rpcId, null);
  });
});

describe('nestsDeeperThan', () => {
  it('counts objects and arrays as levels, and primitives as none', () => {
    assert.equal(nestsDeeperThan('text', 0), false);
    assert.equal(nestsDeeperThan(null, 0), false);
    assert.equal(nestsDeeperThan({}, 0), true);
    assert.equal(nestsDeeperThan({}, 1), false);
    assert.equal(nestsDeeperThan({ a: [] }, 1), true);
    assert.equal(nestsDeeperThan({ a: [] }, 2), false);
    assert.equal(nestsDeeperThan([1, 'x', [{ b: null }]], 3), false);
    assert.equal(nestsDeeperThan([1, 'x', [{ b: {} }]], 3), true);
  });

  it('finds the deep branch wherever it is, and stops there however deep it goes', () => {
    const wide = { rows: Array.from({ length: 1000 }, (_, i) => ({ i, tags: ['a'] })) };
    assert.equal(nestsDeeperThan(wide, 4), false);
    assert.equal(nestsDeeperThan({ ...wide, late: { x: { y: { z: {} } } } }, 4), true);
    const millionDeep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    assert.equal(nestsDeeperThan(millionDeep, MAX_DEPTH), true);
  });
});

describe('initialize', () => {
  const params = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } };

  it('accepts the params MCP defines', () => {
    assert.ok(validateJsonRpc({ jsonrpc: '2.0', id: 0, method: 'initialize', params }));
  });

  it('refuses other params with invalid_params, naming each issue, and the request id', () => {
    const error = refusal({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { ...params, protocolVersion: 1, clientInfo: {} } });
    assert.equal(error.code, 'invalid_params');
    assert.equal(error.rpcCode, -32602);
    assert.equal(
      error.message,
      'Invalid params: initialize params.protocolVersion: Invalid input: expected string, received number; ' +
        'params.clientInfo.name: Invalid input: expected string, received undefined; ' +
        'params.clientInfo.version: Invalid input: expected string, received undefined',
    );
    assert.equal(error.rpcId, 0);
  });

  it('refuses initialize as a notification with invalid_request', () => {
    const error = refusal({ jsonrpc: '2.0', method: 'initialize', params });
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.message, 'Invalid Request: initialize must be a request with an id');
  });
});

describe('repeatedRequestId', () => {
  it("finds the first id two requests share; responses, notifications and '1' vs 1 do not count", () => {
    const request = (id: string | number) => ({ jsonrpc: '2.0' as const, id, method: 'ping' });
    assert.equal(repeatedRequestId([request(1), request('1'), request(2)]), undefined);
    assert.equal(repeatedRequestId([request(1), { jsonrpc: '2.0', id: 1, result: {} }]), undefined);
    assert.equal(
      repeatedRequestId([
        { jsonrpc: '2.0', method: 'n' },
        { jsonrpc: '2.0', method: 'n' },
      ]),
      undefined,
    );
    assert.equal(repeatedRequestId([request('a'), request(2), request(2), request('a')]), 2);
  });
});

describe('describeIssues', () => {
  it('stays short whatever the client sent: ten issues at most, long keys cut', () => {
    const issues = Array.from({ length: 25 }, (_, i) => ({ path: ['params', 'k'.repeat(1000), i], message: 'Invalid input' }));
    const text = describeIssues(issues);
    assert.ok(text.endsWith('; and 15 more'), text.slice(-40));
    assert.equal(text.split('; ').length, 11);
    assert.ok(text.startsWith(`params.${'k'.repeat(64)}….0: Invalid input; `));
    assert.equal(
      refusal({ jsonrpc: '2.0', id: 1, method: 'ping', ['x'.repeat(10_000)]: 1 }).message,
      `Invalid Request: unexpected member "${'x'.repeat(64)}…"`,
    );
  });

  it('joins zod issues as path: message', () => {
    const issues = [
      { path: ['params', 'protocolVersion'], message: 'Invalid input: expected string, received number' },
      { path: [], message: 'Invalid input' },
    ];
    assert.equal(describeIssues(issues), 'params.protocolVersion: Invalid input: expected string, received number; Invalid input');
  });
});
