/**
 * The url routes' fetch (upstream-fetch.ts) against a real HTTP server on loopback: every request
 * has an abort signal of its own, the caller's keeps no listener once a request is finished, and
 * aborting the caller's signal still ends a request or an event stream.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { upstreamFetch, withOwnAbortSignal } from '../../src/gateway/upstreams/upstream-fetch.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
/** A response's headers but its date, which two responses need not share. */
function headersOf(response: Response): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  response.headers.forEach((value, name) => name !== 'date' && list.push([name, value]));
  return list;
}

/** A server answering JSON, 202, an error, whole and open event streams, and never (`/hang`). */
class TestServer {
  private server!: Server;
  url = '';
  /** Resolves when the connection of the last `/open` or `/hang` request closed. */
  closed: Promise<void> = Promise.resolve();
  /** Resolves when the last `/hang` request arrived. */
  arrived: Promise<void> = Promise.resolve();
  private markArrived = () => {};

  async start(): Promise<void> {
    this.server = createServer((request, response) => this.answer(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  expectLongRequest(): void {
    this.arrived = new Promise((resolve) => (this.markArrived = resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    switch (request.url) {
      case '/json':
        response
          .writeHead(200, 'Fine', { 'content-type': 'application/json', 'x-test': 'json' })
          .end('{"jsonrpc":"2.0","id":1,"result":{}}');
        return;
      case '/accepted':
        response.writeHead(202).end();
        return;
      case '/error':
        response.writeHead(500, 'Very Wrong', { 'content-type': 'text/plain' }).end('boom');
        return;
      case '/sse':
        response.writeHead(200, 'Streaming', { 'content-type': 'text/event-stream; charset=utf-8', 'x-test': 'sse' });
        response.write('event: message\ndata: {"n":1}\n\n');
        setImmediate(() => response.end('data: {"n":2}\n\n'));
        return;
      case '/open':
      case '/broken':
        this.closed = new Promise((resolve) => response.once('close', resolve));
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write('data: first\n\n');
        if (request.url === '/broken') setImmediate(() => response.destroy());
        return;
      case '/hang':
        this.closed = new Promise((resolve) => response.once('close', resolve));
        this.markArrived();
        return;
      default:
        response.writeHead(404).end();
    }
  }
}

describe('upstreamFetch', () => {
  const server = new TestServer();
  let parent: AbortController;
  before(() => server.start());
  after(() => server.stop());
  beforeEach(() => {
    parent = new AbortController();
  });
  const get = (path: string, init: RequestInit = {}) => upstreamFetch(`${server.url}${path}`, { signal: parent.signal, ...init });

  it('leaves no listener on a shared signal after 200 requests of each kind', async () => {
    for (let i = 0; i < 200; i++) {
      assert.equal(((await (await get('/json', { method: 'POST', body: '{}' })).json()) as { id: number }).id, 1);
      assert.equal((await get('/accepted', { method: 'POST', body: '{}' })).status, 202);
      assert.equal(await (await get('/error')).text(), 'boom');
      assert.match(await (await get('/sse')).text(), /data: \{"n":2\}/);
    }
    assert.equal(listeners(parent.signal), 0);

    // The same requests through Node's own fetch leave a listener each until a garbage collection
    // frees them (typically all 200 are still there; never all gone in trials).
    const plain = new AbortController();
    for (let i = 0; i < 200; i++) await (await fetch(`${server.url}/json`, { signal: plain.signal })).text();
    assert.ok(listeners(plain.signal) > 0);
  });

  it('keeps the link while an event stream is open, and aborting it ends the stream and the connection', async () => {
    const response = await get('/open');
    assert.equal(listeners(parent.signal), 1);
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: first\n\n');
    parent.abort();
    await assert.rejects(reader.read(), { name: 'AbortError' });
    await server.closed;
    assert.equal(listeners(parent.signal), 0);
  });

  it('passes the reason the caller aborted with', async () => {
    const response = await get('/open');
    const reader = response.body!.getReader();
    await reader.read();
    const reason = new Error('the transport closed');
    parent.abort(reason);
    await assert.rejects(reader.read(), (error) => error === reason);
    await server.closed;
  });

  it('unlinks when the reader cancels an event stream, and the connection closes', async () => {
    const response = await get('/open');
    assert.equal(listeners(parent.signal), 1);
    await response.body!.cancel();
    assert.equal(listeners(parent.signal), 0);
    await server.closed;
  });

  it('unlinks when an event stream breaks off', async () => {
    const response = await get('/broken');
    await assert.rejects(response.text());
    assert.equal(listeners(parent.signal), 0);
  });

  it('rejects with AbortError when the signal aborts before the request or before the headers', async () => {
    parent.abort();
    await assert.rejects(get('/json'), { name: 'AbortError' });
    assert.equal(listeners(parent.signal), 0);

    parent = new AbortController();
    server.expectLongRequest();
    const pending = get('/hang');
    await server.arrived;
    assert.equal(listeners(parent.signal), 1);
    parent.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    assert.equal(listeners(parent.signal), 0);
    await server.closed;
  });

  it('unlinks when the request fails', async () => {
    await assert.rejects(upstreamFetch('http://127.0.0.1:1/', { signal: parent.signal }), TypeError);
    assert.equal(listeners(parent.signal), 0);
  });

  it('passes status, status text, headers and body through unchanged', async () => {
    const json = await get('/json');
    assert.deepEqual([json.status, json.statusText, json.headers.get('x-test')], [200, 'Fine', 'json']);
    assert.equal(await json.text(), '{"jsonrpc":"2.0","id":1,"result":{}}');
    const error = await get('/error');
    assert.deepEqual([error.status, error.statusText, error.ok], [500, 'Very Wrong', false]);

    const [through, direct] = await Promise.all([get('/sse'), fetch(`${server.url}/sse`)]);
    assert.deepEqual([through.status, through.statusText, through.ok], [direct.status, direct.statusText, direct.ok]);
    assert.deepEqual(headersOf(through), headersOf(direct));
    assert.equal(through.headers.get('x-test'), 'sse');
    assert.equal(await through.text(), await direct.text());
  });
});

describe('withOwnAbortSignal', () => {
  it('gives each request a signal of its own, and calls fetch as it is when there is no signal', async () => {
    const seen: Array<RequestInit | undefined> = [];
    const wrapped = withOwnAbortSignal(async (_url, init) => {
      seen.push(init);
      return new Response('{}', { headers: { 'content-type': 'application/json' } });
    });
    const init = { method: 'POST', body: '{}' };
    await wrapped('http://127.0.0.1/', init);
    assert.equal(seen[0], init);

    const parent = new AbortController();
    await wrapped('http://127.0.0.1/', { ...init, signal: parent.signal });
    await wrapped('http://127.0.0.1/', { ...init, signal: parent.signal });
    const [first, second] = [seen[1]!.signal!, seen[2]!.signal!];
    assert.notEqual(first, parent.signal);
    assert.notEqual(first, second);
    assert.deepEqual([seen[1]!.method, seen[1]!.body], ['POST', '{}']);
    parent.abort();
    assert.deepEqual([first.aborted, second.aborted], [false, false], 'finished requests are no longer linked');
  });
});
