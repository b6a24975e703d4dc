import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { InMemoryServerEventBus, McpServer } from '@modelcontextprotocol/server';
import { createListeners, type ListenAdmission } from '../../src/gateway/protocol/listeners.js';

const MODERN = '2026-07-28';

/** A server whose resources take subscriptions, as the factory of a route's listen streams builds it. */
const factory = () => new McpServer({ name: 'watched', version: '1.0.0' }, { capabilities: { resources: { subscribe: true } } });
const WATCHED = ['test://alice', 'test://bob', 'test://route'];

/** A 2026-07-28 `subscriptions/listen` for updates of {@link WATCHED}, as a client sends it. */
function listenRequest(id: number): { request: Request; body: unknown } {
  const body = {
    jsonrpc: '2.0',
    id,
    method: 'subscriptions/listen',
    params: {
      notifications: { resourceSubscriptions: WATCHED },
      _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} },
    },
  };
  const request = new Request('http://127.0.0.1/mcp/lists', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify(body),
  });
  return { request, body };
}

/** The JSON-RPC messages of an SSE stream, read as they come. */
interface Message {
  method?: string;
  params?: { uri?: string };
  result?: unknown;
}

function messagesOf(response: Response): { next(): Promise<Message> } {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  return {
    async next() {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end !== -1) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = frame.split('\n').find((line) => line.startsWith('data: '));
          if (data) return JSON.parse(data.slice('data: '.length)) as Message;
          continue;
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error('the stream ended');
        buffered += chunk.value;
      }
    },
  };
}

/** What the HTTP layer hands the listeners: a response that says when it closes. */
const response = () => new EventEmitter() as unknown as ServerResponse;

/** The handler of a listen that was let through. */
function handlerOf(admission: ListenAdmission) {
  assert.equal(admission.kind, 'opened', admission.kind === 'refused' ? admission.message : '');
  return admission.handler;
}

describe('createListeners', () => {
  it("tells an owner's streams of its changes only, and every owner's of the route's", async () => {
    const bus = new InMemoryServerEventBus();
    const listeners = createListeners({ factory, bus, keepAlive: 0, onerror: (error) => assert.fail(error) });
    const streams = await Promise.all(
      ['alice', 'bob'].map(async (owner, i) => {
        const { request, body } = listenRequest(i + 1);
        const handler = handlerOf(listeners.open(owner, response()));
        const stream = messagesOf(await handler.fetch(request, { parsedBody: body }));
        assert.equal((await stream.next()).method, 'notifications/subscriptions/acknowledged');
        return stream;
      }),
    );
    listeners.of('alice').resourceUpdated('test://alice');
    bus.publish({ kind: 'resource_updated', uri: 'test://route' });
    listeners.of('bob').resourceUpdated('test://bob');
    listeners.of('carol').resourceUpdated('test://route');
    // Each change is written to the streams it reaches as it is published, in order.
    const updated = async (stream: (typeof streams)[number]) => (await stream.next()).params?.uri;
    const [alice, bob] = streams;
    assert.deepEqual([await updated(alice!), await updated(alice!)], ['test://alice', 'test://route']);
    assert.deepEqual([await updated(bob!), await updated(bob!)], ['test://route', 'test://bob']);
    await listeners.close();
    // The gateway stopping ends each one with the empty listen result.
    for (const stream of streams) assert.deepEqual(Object.keys((await stream.next()).result as object).sort(), ['_meta', 'resultType']);
  });

  it("keeps a handler only for owners with a stream open, and refuses streams past the route's cap", () => {
    const listeners = createListeners({ factory, bus: new InMemoryServerEventBus(), keepAlive: 0, onerror: () => undefined, max: 2 });
    const [first, second] = [response(), response()];
    handlerOf(listeners.open('alice', first));
    handlerOf(listeners.open('alice', second));
    assert.deepEqual(listeners.open('bob', response()), {
      kind: 'refused',
      cap: 'route',
      message: 'Subscription limit reached: this route has 2 listen streams open',
    });
    assert.equal(listeners.owners, 1);
    first.emit('close');
    assert.equal(listeners.owners, 1);
    second.emit('close');
    assert.equal(listeners.owners, 0);
    handlerOf(listeners.open('bob', response()));
    assert.equal(listeners.owners, 1);
  });

  it('refuses an owner its streams past its own cap, and leaves the rest of the route to the others', () => {
    const listeners = createListeners({
      factory,
      bus: new InMemoryServerEventBus(),
      keepAlive: 0,
      onerror: () => undefined,
      max: 4,
      maxPerOwner: 2,
    });
    const alice = [response(), response()];
    for (const res of alice) handlerOf(listeners.open('alice', res));
    assert.deepEqual(listeners.open('alice', response()), {
      kind: 'refused',
      cap: 'owner',
      message: 'Subscription limit reached: this caller has 2 listen streams open on this route, the most one caller may',
    });
    handlerOf(listeners.open('bob', response()));
    handlerOf(listeners.open('bob', response()));
    assert.equal(listeners.open('bob', response()).kind, 'refused');
    // A stream that ends gives its owner its place back.
    alice[0]!.emit('close');
    handlerOf(listeners.open('alice', response()));
    assert.equal(listeners.owners, 2);
  });

  it('takes no place for a client that went away before its listen was served (its close already fired)', () => {
    const listeners = createListeners({
      factory,
      bus: new InMemoryServerEventBus(),
      keepAlive: 0,
      onerror: () => undefined,
      maxPerOwner: 1,
    });
    for (let i = 0; i < 3; i++) {
      const gone = Object.assign(response(), { destroyed: true });
      assert.equal(listeners.open('alice', gone).kind, 'gone');
    }
    assert.equal(listeners.owners, 0);
    handlerOf(listeners.open('alice', response()));
  });

  it('opens no stream once closed', async () => {
    const listeners = createListeners({ factory, bus: new InMemoryServerEventBus(), keepAlive: 0, onerror: () => undefined });
    await listeners.close();
    assert.throws(
      () => listeners.open('alice', response()),
      (error: { code?: string }) => error.code === 'shutting_down',
    );
  });
});
