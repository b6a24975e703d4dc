/**
 * A url route's maxMessageSize (message-limit.ts) against a real HTTP server on loopback: a JSON
 * body over it is refused by its Content-Length or cut as it arrives, an event stream is bounded
 * per event, and what was cut is told with the ids of the requests it answered.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { EventMeter, MessageTooLarge, withMessageLimit, type Overflow } from '../../src/gateway/upstreams/message-limit.js';
import { upstreamFetch } from '../../src/gateway/upstreams/upstream-fetch.js';

const KIB = 1024;
/** The bound of these tests: far more than loopback's socket buffers hold, so a cut body is one the server could not finish writing. */
const MAX = 4 * 1024 * KIB;
const chunk = (bytes: number, fill = 'x') => fill.repeat(bytes);

/** A server whose answers are over or within {@link MAX}, and that counts what it wrote of each. */
class TestServer {
  private server!: Server;
  url = '';
  /** Bytes written of the last answer, and whether its connection closed before it was all written. */
  written = 0;
  cutShort: Promise<boolean> = Promise.resolve(false);

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.answer(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for await (const _ of request);
    this.written = 0;
    this.cutShort = new Promise((resolve) => response.once('close', () => resolve(!response.writableFinished)));
    const json = { 'content-type': 'application/json' };
    const sse = { 'content-type': 'text/event-stream' };
    switch (request.url) {
      case '/declared':
        // Says it is over the bound: nothing of it is read.
        response.writeHead(200, { ...json, 'content-length': String(16 * MAX) });
        return this.write(
          response,
          Array.from({ length: 256 }, () => chunk(MAX / 16)),
        );
      case '/chunked':
        // Says nothing of its length, and would go on for 16 times the bound.
        response.writeHead(200, json);
        return this.write(
          response,
          Array.from({ length: 256 }, () => chunk(MAX / 16)),
        );
      case '/exact':
        response.writeHead(200, json);
        return this.write(response, [chunk(MAX / 2), chunk(MAX / 2)]);
      case '/gzip': {
        // 2 KiB on the wire that fetch inflates to 16 times the bound: counted as it inflates.
        const zipped = gzipSync(Buffer.alloc(16 * MAX));
        response.writeHead(200, { ...json, 'content-encoding': 'gzip', 'content-length': String(zipped.length) });
        return this.write(response, [zipped.toString('latin1')], 'latin1');
      }
      case '/error-page':
        response.writeHead(500, { 'content-type': 'text/html' });
        return this.write(
          response,
          Array.from({ length: 256 }, () => chunk(MAX / 16)),
        );
      case '/small-events':
        // 256 events of 64 KiB: four times the bound in all, each far within it.
        response.writeHead(200, sse);
        return this.write(
          response,
          Array.from(
            { length: 256 },
            (_, n) => `id: ${n}\r\ndata: ${chunk(64 * KIB)}${n % 3 === 0 ? '\r\n\r\n' : n % 3 === 1 ? '\n\n' : '\r\r'}`,
          ),
        );
      case '/endless-event':
        // One event that never ends: a data line of 16 KiB at a time, never a blank line.
        response.writeHead(200, sse);
        return this.write(response, [
          'data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n',
          ...Array.from({ length: 256 }, () => `data: ${chunk(MAX / 16)}\n`),
        ]);
      default:
        response.writeHead(404).end();
    }
  }

  /** Writes `parts` as the client reads them (backpressure), and stops when its connection closes. */
  private write(response: ServerResponse, parts: string[], encoding: BufferEncoding = 'utf8'): void {
    Readable.from(this.counted(parts, encoding)).pipe(response);
  }

  private *counted(parts: string[], encoding: BufferEncoding): Generator<Buffer> {
    for (const part of parts) {
      const bytes = Buffer.from(part, encoding);
      this.written += bytes.length;
      yield bytes;
    }
  }
}

describe('withMessageLimit', () => {
  const server = new TestServer();
  const told: Overflow[] = [];
  const limited = withMessageLimit(upstreamFetch, MAX, (overflow) => told.push(overflow));
  const post = (path: string, body: unknown) =>
    limited(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: new AbortController().signal });
  before(() => server.start());
  after(() => server.stop());

  it("refuses a JSON body whose Content-Length is over the bound before reading it, and tells the request's id", async () => {
    told.length = 0;
    await assert.rejects(post('/declared', { jsonrpc: '2.0', id: 7, method: 'tools/call' }), (error: unknown) => {
      assert.ok(error instanceof MessageTooLarge);
      assert.equal(error.message, 'sent a message over 4 MiB (maxMessageSize)');
      return true;
    });
    assert.deepEqual(
      told.map(({ method, eventStream, declared, requestIds }) => ({ method, eventStream, declared, requestIds })),
      [{ method: 'POST', eventStream: false, declared: true, requestIds: [7] }],
    );
    assert.equal(await server.cutShort, true, 'the connection was closed, the body unread');
  });

  it('cuts a JSON body of no declared length at the byte past the bound, and the remote stops writing', async () => {
    told.length = 0;
    const response = await post('/chunked', [
      { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'b', method: 'ping' },
    ]);
    assert.equal(response.status, 200);
    await assert.rejects(response.json(), MessageTooLarge);
    assert.deepEqual(
      told.map(({ declared, requestIds }) => ({ declared, requestIds })),
      [{ declared: false, requestIds: ['a', 'b'] }],
    );
    assert.equal(await server.cutShort, true);
    assert.ok(server.written < 16 * MAX, `${server.written} bytes written of ${16 * MAX}`);
  });

  it('passes a body of exactly the bound whole, and tells nothing', async () => {
    told.length = 0;
    const response = await post('/exact', {});
    assert.equal((await response.text()).length, MAX);
    assert.deepEqual(told, []);
    assert.equal(await server.cutShort, false);
  });

  it('counts a compressed body as fetch inflates it, whatever its Content-Length said', async () => {
    told.length = 0;
    const response = await post('/gzip', { jsonrpc: '2.0', id: 3, method: 'tools/call' });
    await assert.rejects(response.arrayBuffer(), MessageTooLarge);
    assert.deepEqual(
      told.map(({ declared, requestIds }) => ({ declared, requestIds })),
      [{ declared: false, requestIds: [3] }],
    );
  });

  it('hands over a body whose declared length is within the bound as it came: HTTP ends it there', async () => {
    const answer = new Response('{"jsonrpc":"2.0","id":1,"result":{}}', {
      headers: { 'content-type': 'application/json', 'content-length': '36' },
    });
    assert.equal(await withMessageLimit(async () => answer, MAX)('http://127.0.0.1/'), answer);
  });

  it('cuts an error page over the bound too (the SDK reads it whole for its message)', async () => {
    const response = await post('/error-page', { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(response.status, 500);
    await assert.rejects(response.text(), MessageTooLarge);
    assert.equal(await server.cutShort, true);
  });

  it('passes a long event stream of small events, whatever their line ends (CRLF, LF, CR)', async () => {
    told.length = 0;
    const text = await (await limited(`${server.url}/small-events`)).text();
    assert.equal(text.split('data: ').length - 1, 256);
    assert.ok(text.length > 4 * MAX);
    assert.deepEqual(told, []);
  });

  it('cuts an event stream at the event that grows past the bound, after the events before it', async () => {
    told.length = 0;
    const response = await limited(`${server.url}/endless-event`, { headers: { 'Last-Event-ID': 'e-41' } });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    await assert.rejects(async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    }, MessageTooLarge);
    assert.ok(text.startsWith('data: {"jsonrpc":"2.0","method":"notifications/message"}\n\n'), 'the event before it came whole');
    assert.ok(text.length <= MAX + 200, `${text.length} characters passed`);
    assert.deepEqual(
      told.map(({ method, eventStream, requestIds, lastEventId }) => ({ method, eventStream, requestIds, lastEventId })),
      [{ method: 'GET', eventStream: true, requestIds: [], lastEventId: 'e-41' }],
    );
    assert.equal(await server.cutShort, true);
  });
});

describe('EventMeter', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('counts the bytes of the event still open, and starts again after each blank line', () => {
    const meter = new EventMeter();
    assert.equal(meter.feed(bytes('data: abc\n')), 10);
    assert.equal(meter.feed(bytes('data: de')), 18);
    assert.equal(meter.feed(bytes('f\n\nda')), 21, 'the event that ended in this chunk');
    assert.equal(meter.feed(bytes('ta: x\n')), 8);
  });

  it('takes a CRLF split between chunks as one line end, not a line end and a blank line', () => {
    const meter = new EventMeter();
    meter.feed(bytes('data: a\r'));
    assert.equal(meter.feed(bytes('\ndata: b\r')), 17, 'still one event');
    meter.feed(bytes('\n\r'));
    assert.equal(meter.feed(bytes('\ndata: c')), 7, 'a CRLF blank line ended it');
  });

  it('ends events at CR alone and at LF alone', () => {
    const meter = new EventMeter();
    assert.equal(meter.feed(bytes('data: 1\r\rdata: 22\n\n')), 10);
    assert.equal(meter.feed(bytes('x')), 1);
  });
});
