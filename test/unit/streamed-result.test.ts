import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteStreamedResult } from '../../src/gateway/protocol/streamed-result.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stream the test writes to chunk by chunk, as the SDK enqueues its frames. */
function source() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    stream,
    write: (text: string | Uint8Array) => controller.enqueue(typeof text === 'string' ? encoder.encode(text) : text),
    end: () => controller.close(),
  };
}

const frame = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
const log = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'listing' } };
const result = { result: { tools: [{ name: 'echo' }], ttlMs: 0, cacheScope: 'public' }, jsonrpc: '2.0', id: 7 };
const marked = (text: string) => {
  const message = JSON.parse(text) as { result: Record<string, unknown> };
  message.result.ttlMs = 60_000;
  message.result.cacheScope = 'private';
  return JSON.stringify(message);
};

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe('rewriteStreamedResult', () => {
  it('passes each event before the result on as soon as it is whole, then rewrites the result', async () => {
    const { stream, write, end } = source();
    const reader = rewriteStreamedResult(stream, 7, marked).getReader();
    write(frame(log));
    assert.equal(decoder.decode((await reader.read()).value), frame(log));
    write(': keepalive\n\n');
    assert.equal(decoder.decode((await reader.read()).value), ': keepalive\n\n');
    write(frame(result));
    end();
    const rewritten = decoder.decode((await reader.read()).value);
    assert.equal(rewritten, frame({ ...result, result: { ...result.result, ttlMs: 60_000, cacheScope: 'private' } }));
    assert.equal((await reader.read()).done, true);
  });

  it('rewrites a result split across chunks, even inside a character of several bytes', async () => {
    const named = { ...result, result: { ...result.result, tools: [{ name: 'grüße 東京' }] } };
    const bytes = encoder.encode(frame(log) + frame(named));
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "ü"
    const { stream, write, end } = source();
    const out = readAll(rewriteStreamedResult(stream, 7, marked));
    write(bytes.slice(0, 5));
    write(bytes.slice(5, cut));
    write(bytes.slice(cut));
    end();
    assert.equal(await out, frame(log) + frame({ ...named, result: { ...named.result, ttlMs: 60_000, cacheScope: 'private' } }));
  });

  it('leaves alone a response to another id, an error response and an event that is not a message', async () => {
    const other = { ...result, id: 8 };
    const error = { jsonrpc: '2.0', id: 7, error: { code: -32603, message: 'failed' } };
    const custom = `event: other\ndata: ${JSON.stringify(result)}\n\n`;
    const { stream, write, end } = source();
    const out = readAll(rewriteStreamedResult(stream, 7, marked));
    for (const text of [frame(other), custom, frame(error)]) write(text);
    end();
    assert.equal(await out, frame(other) + custom + frame(error));
  });

  it('reads CRLF line endings and a data field without its space, and keeps the fields other than data', async () => {
    const { stream, write, end } = source();
    const out = readAll(rewriteStreamedResult(stream, '7', marked));
    write(`id: 3\r\nevent: message\r\ndata:${JSON.stringify({ ...result, id: '7' })}\r\n\r\n`);
    end();
    const rewritten = { ...result, id: '7', result: { ...result.result, ttlMs: 60_000, cacheScope: 'private' } };
    assert.equal(await out, `id: 3\r\nevent: message\r\ndata: ${JSON.stringify(rewritten)}\r\n\r\n`);
  });

  it('passes an unterminated last event as it is: the client never sees it as an event', async () => {
    const { stream, write, end } = source();
    const out = readAll(rewriteStreamedResult(stream, 7, marked));
    write(`event: message\ndata: ${JSON.stringify(result)}`);
    end();
    assert.equal(await out, `event: message\ndata: ${JSON.stringify(result)}`);
  });
});
