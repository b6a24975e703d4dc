/**
 * CallDeadline on its own, over a stub transport with the clock faked: what it keeps per request
 * on a long-lived 2025 session, and when its clock runs. (module-timeouts.test.ts drives it
 * through the real gateway.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JSONRPCMessage, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { CallDeadline } from '../../src/gateway/protocol/call-deadline.js';
import { createLogger } from '../../src/gateway/logger.js';

function wire(callTimeout: number) {
  const toClient: Array<{ message: JSONRPCMessage; options?: TransportSendOptions }> = [];
  const inner: Transport = {
    start: async () => undefined,
    close: async () => undefined,
    send: async (message, options) => {
      toClient.push({ message, ...(options ? { options } : {}) });
    },
  };
  const deadline = new CallDeadline(inner, { route: 'r', callTimeout, logger: createLogger({ level: 'silent' }) });
  const toServer: JSONRPCMessage[] = [];
  deadline.onmessage = (message) => toServer.push(message);
  const fromClient = (message: JSONRPCMessage) => inner.onmessage!(message);
  return { deadline, toClient, toServer, fromClient };
}

const call = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'hang', arguments: {} } });
const codeOf = (message: JSONRPCMessage) => (message as { error?: { data?: { code?: string } } }).error?.data?.code;

describe('CallDeadline', () => {
  it('keeps nothing for calls answered upstream_timeout whose handlers never settle', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const { deadline, toClient, toServer, fromClient } = wire(1000);
    for (let id = 1; id <= 500; id++) fromClient(call(id));
    t.mock.timers.tick(1000);
    assert.equal(toClient.filter(({ message }) => codeOf(message) === 'upstream_timeout').length, 500);
    assert.equal(toServer.filter((m) => 'method' in m && m.method === 'notifications/cancelled').length, 500);
    assert.equal(deadline.tracked, 0);
  });

  it('stops the clock while the server waits on its client for a call, and starts it again from the whole callTimeout', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const { deadline, toClient, fromClient } = wire(1000);
    fromClient(call(1));
    t.mock.timers.tick(400);
    void deadline.send({ jsonrpc: '2.0', id: 0, method: 'elicitation/create', params: {} }, { relatedRequestId: 1 });
    t.mock.timers.tick(60_000);
    assert.equal(toClient.filter(({ message }) => codeOf(message) === 'upstream_timeout').length, 0);
    fromClient({ jsonrpc: '2.0', id: 0, result: { action: 'accept' } });
    t.mock.timers.tick(999);
    assert.equal(toClient.filter(({ message }) => codeOf(message) === 'upstream_timeout').length, 0);
    t.mock.timers.tick(1);
    assert.equal(toClient.filter(({ message }) => codeOf(message) === 'upstream_timeout').length, 1);
    assert.equal(deadline.tracked, 0);
  });
});
