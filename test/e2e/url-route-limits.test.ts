/**
 * `url:` routes and what bounds a remote server: maxMessageSize on what it sends (a JSON body, one
 * event of a stream), callTimeout on a stream that goes silent, and answers it sends to no request
 * the gateway is waiting for. Each time the call concerned gets a clear error (or its own answer),
 * and nothing else is disturbed: other calls, other sessions, the route's backoff.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { ProtocolError, type Client } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { connectClient, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { gate } from '../helpers/fake-upstream.js';
import { until } from '../helpers/until.js';
import { startV1Remote, startV1SseRemote, type V1Remote } from '../helpers/v1-remote.js';

const MIB = 1_048_576;

/** A call the remote's echo tool gets, by the text it is asked to echo. */
interface Call {
  readonly id: number | string;
  readonly text: string;
}

/** The remote of these tests: `echo`, and `wait`, which answers once the test opens `waiting`. */
async function startRemote(waiting: Promise<void>): Promise<V1Remote> {
  return startV1Remote({
    register: (mcp) => {
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      mcp.registerTool('wait', { inputSchema: {} }, async () => {
        await waiting;
        return { content: [{ type: 'text', text: 'waited' }] };
      });
    },
  });
}

/** Answers the echo calls for which `answer` returns true itself; counts every echo call by its text. */
function interceptEcho(remote: V1Remote, answer: (call: Call, res: ServerResponse) => boolean): Map<string, number> {
  const seen = new Map<string, number>();
  remote.intercept = (_req, res, body) => {
    const message = body as
      { id?: number | string; method?: string; params?: { name?: string; arguments?: { text?: string } } } | undefined;
    if (message?.method !== 'tools/call' || message.params?.name !== 'echo') return false;
    const text = message.params.arguments?.text ?? '';
    seen.set(text, (seen.get(text) ?? 0) + 1);
    res.on('error', () => undefined);
    return answer({ id: message.id!, text }, res);
  };
  return seen;
}

/** Writes `parts` as the gateway reads them, and stops when it closes the connection. */
function stream(res: ServerResponse, parts: Iterable<string>): void {
  Readable.from(parts).pipe(res);
}

/** `count` strings of `size` characters, made as they are read. */
function* filler(count: number, size: number, wrap: (text: string) => string = (text) => text): Generator<string> {
  for (let n = 0; n < count; n++) yield wrap('x'.repeat(size));
}

const result = (id: Call['id'], text: string) => JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } });
const event = (message: string) => `event: message\ndata: ${message}\n\n`;

/** The error a call failed with: its JSON-RPC code, the gateway's code and the message. */
async function failure(call: Promise<unknown>): Promise<{ rpc: number; code: string | undefined; message: string }> {
  const error = await call.then(
    (value) => assert.fail(`expected an error, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ProtocolError, String(error));
  return { rpc: error.code, code: (error.data as { code?: string } | undefined)?.code, message: error.message };
}

async function backoffOf(gw: InProcessGateway): Promise<{ state: string; consecutiveFailures: number }> {
  const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
    routes: Array<{ upstream: { backoff: { state: string; consecutiveFailures: number } } }>;
  };
  return status.routes[0]!.upstream.backoff;
}

const echo = (client: Client, text: string) => client.callTool({ name: 'echo', arguments: { text } });

describe("a url route's maxMessageSize", () => {
  for (const era of ['legacy', 'auto'] as const) {
    const who = era === 'legacy' ? 'a 2025 session' : 'a 2026-07-28 client';
    test(
      `fails a call whose answer is over it (a declared or streamed JSON body, one endless event) with upstream_exited, once, and nothing else (${who})`,
      { timeout: 60_000 },
      async () => {
        const waiting = gate();
        const remote = await startRemote(waiting.opened);
        const seen = interceptEcho(remote, (call, res) => {
          switch (call.text) {
            case 'declared': {
              // 2 MiB, and says so up front.
              const body = result(call.id, 'x'.repeat(2 * MIB));
              res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
              stream(res, [body]);
              return true;
            }
            case 'streamed':
              // A JSON body of no declared length that would go on for 64 MiB.
              res.writeHead(200, { 'content-type': 'application/json' });
              stream(res, [
                '{"jsonrpc":"2.0","id":',
                String(call.id),
                ',"result":{"content":[{"type":"text","text":"',
                ...filler(1024, 64 * 1024),
              ]);
              return true;
            case 'endless event':
            case 'endless event, resumable':
              // A log message, then an event that never ends: 64 MiB of one data line. With event
              // ids, the SDK tries to resume the stream (GET with Last-Event-ID): the call has
              // failed already, and stays failed.
              res.writeHead(200, { 'content-type': 'text/event-stream' });
              stream(res, [
                call.text.endsWith('resumable') ? 'id: 1\n' : '',
                event(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } })),
                call.text.endsWith('resumable') ? 'id: 2\n' : '',
                'event: message\ndata: ',
                ...filler(1024, 64 * 1024),
              ]);
              return true;
            case 'many small events':
              // 48 events of 64 KiB (3 MiB in all), then the answer.
              res.writeHead(200, { 'content-type': 'text/event-stream' });
              stream(res, [
                ...filler(48, 64 * 1024, (data) =>
                  event(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data } })),
                ),
                event(result(call.id, 'all there')),
              ]);
              return true;
            default:
              return false;
          }
        });
        const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n    maxMessageSize: 1MiB\n    callTimeout: 1h\n`);
        try {
          const { client } = await connectClient(`${gw.url}/mcp/r`, 'limits-test', { era });
          const { client: other } = await connectClient(`${gw.url}/mcp/r`, 'limits-test-other', { era });
          // Another session's call in flight all along, and one of this session's own.
          const otherCall = other.callTool({ name: 'wait', arguments: {} });
          const ownCall = client.callTool({ name: 'wait', arguments: {} });

          const cut = ['declared', 'streamed', 'endless event', 'endless event, resumable'];
          for (const text of cut) {
            assert.deepEqual(await failure(echo(client, text)), {
              rpc: -32000,
              code: 'upstream_exited',
              message: 'the remote server of route "r" sent a message over 1 MiB (maxMessageSize) before answering',
            });
          }
          assert.deepEqual(
            cut.map((text) => seen.get(text)),
            [1, 1, 1, 1],
            'not sent again',
          );
          const warnings = gw.logs.filter(
            (line) => line.msg === 'the remote server sent a message over maxMessageSize; its answer was cut there',
          );
          assert.deepEqual(
            warnings.map((line) => [line.level, line.maxBytes, line.body, line.declared, line.requests]),
            [
              ['warn', MIB, 'message', true, 1],
              ['warn', MIB, 'message', false, 1],
              ['warn', MIB, 'event stream', false, 1],
              ['warn', MIB, 'event stream', false, 1],
            ],
          );
          assert.deepEqual(await backoffOf(gw), { state: 'ok', consecutiveFailures: 0 }, 'four in a row, and no backoff');

          // A long stream of small events, and a message just within the bound, pass.
          assert.equal(textOf(await echo(client, 'many small events')), 'all there');
          const within = 'y'.repeat(MIB - 1024);
          assert.equal(textOf(await echo(client, within)), within);

          waiting.open();
          assert.equal(textOf(await otherCall), 'waited');
          assert.equal(textOf(await ownCall), 'waited');
          assert.equal(textOf(await echo(client, 'still here')), 'still here');
          await Promise.all([client.close(), other.close()]);
        } finally {
          waiting.open();
          await gw.close();
          await remote.close();
        }
      },
    );
  }
});

describe("a url route's maxMessageSize on a stream the SDK resumes (GET with Last-Event-ID)", () => {
  for (const era of ['legacy', 'auto'] as const) {
    const who = era === 'legacy' ? 'a 2025 session' : 'a 2026-07-28 client';
    test(
      `fails the call whose answer was cut on its own stream or on the resumed one, and fetches neither again (${who})`,
      { timeout: 60_000 },
      async () => {
        const remote = await startRemote(Promise.resolve());
        const endless = (id: string) => [`id: ${id}\n`, 'event: message\ndata: ', ...filler(1024, 64 * 1024)];
        const working = (id: string) =>
          `id: ${id}\n${event(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } }))}`;
        let withinId: Call['id'] | undefined;
        const seen = interceptEcho(remote, (call, res) => {
          const start = () => res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (call.text === 'resumed within') withinId = call.id;
          switch (call.text) {
            case 'replayed':
              // An event over the bound after one with an id: the SDK resumes from that id, and
              // this server replays the same event each time.
              start();
              stream(res, [working('replayed-1'), ...endless('replayed-2')]);
              return true;
            case 'answered on resumption':
            case 'resumed within':
              // The stream ends after one event, unanswered: the answer comes on the resumed stream.
              start();
              res.end(working(call.text === 'resumed within' ? 'within-1' : 'resumed-1'));
              return true;
            default:
              return false;
          }
        });
        const resumptions = new Map<string, number>();
        const answerEcho = remote.intercept;
        remote.intercept = (req, res, body) => {
          const from = req.headers['last-event-id'];
          if (req.method !== 'GET' || typeof from !== 'string') return answerEcho(req, res, body);
          resumptions.set(from, (resumptions.get(from) ?? 0) + 1);
          res.on('error', () => undefined);
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (from === 'replayed-1') stream(res, endless('replayed-2'));
          else if (from === 'resumed-1') stream(res, endless('resumed-2'));
          else res.end(`id: within-2\n${event(result(withinId!, 'resumed within'))}`);
          return true;
        };
        const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n    maxMessageSize: 1MiB\n    callTimeout: 1h\n`);
        try {
          const { client } = await connectClient(`${gw.url}/mcp/r`, 'resumed-limits-test', { era });
          for (const text of ['replayed', 'answered on resumption']) {
            assert.deepEqual(await failure(echo(client, text)), {
              rpc: -32000,
              code: 'upstream_exited',
              message: 'the remote server of route "r" sent a message over 1 MiB (maxMessageSize) before answering',
            });
          }
          assert.equal(textOf(await echo(client, 'resumed within')), 'resumed within', 'an answer on a resumed stream still arrives');
          // The SDK resumes a broken stream after a second; a stream the gateway ended is never resumed.
          await delay(2_500);
          assert.deepEqual(
            Object.fromEntries(resumptions),
            { 'resumed-1': 1, 'within-1': 1 },
            'the replayed event was not fetched again, nor the cut resumed stream',
          );
          assert.deepEqual(
            ['replayed', 'answered on resumption', 'resumed within'].map((text) => seen.get(text)),
            [1, 1, 1],
            'no call was sent again',
          );
          const warnings = gw.logs.filter(
            (line) => line.msg === 'the remote server sent a message over maxMessageSize; its answer was cut there',
          );
          assert.deepEqual(
            warnings.map((line) => [line.method, line.requests]),
            [
              ['POST', 1],
              ['GET', 0],
            ],
          );
          assert.deepEqual(await backoffOf(gw), { state: 'ok', consecutiveFailures: 0 });
          assert.equal(textOf(await echo(client, 'still here')), 'still here');
          await client.close();
        } finally {
          await gw.close();
          await remote.close();
        }
      },
    );
  }
});

describe("a url route's maxMessageSize on the connection's own GET stream", () => {
  test('opens the stream afresh after an event over it, not from the event before (which a server that replays would send again), and the session goes on', async () => {
    const remote = await startRemote(Promise.resolve());
    let fresh = 0;
    const resumed = new Map<string, number>();
    remote.intercept = (req, res) => {
      if (req.method !== 'GET') return false;
      const from = req.headers['last-event-id'];
      if (typeof from === 'string') resumed.set(from, (resumed.get(from) ?? 0) + 1);
      else fresh++;
      // The first stream: an event with an id, then one that never ends. Each later one (fresh,
      // or resumed, as a server with an event store would) sends the same again.
      if (fresh > 1 && from === undefined) return false;
      res.on('error', () => undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const log = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'listening' } });
      stream(res, [`id: listen-1\n${event(log)}`, 'id: listen-2\nevent: message\ndata: ', ...filler(1024, 64 * 1024)]);
      return true;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n    maxMessageSize: 1MiB\n`);
    try {
      const { client } = await connectClient(`${gw.url}/mcp/r`, 'listen-limits-test', { era: 'legacy' });
      await until(() => fresh >= 2 || resumed.size > 0, 'the stream to be opened again');
      assert.equal(textOf(await echo(client, 'after the cut')), 'after the cut');
      assert.deepEqual(Object.fromEntries(resumed), {}, 'never resumed from the event before the cut');
      assert.equal(fresh, 2);
      assert.ok(
        gw.logs.some(
          (line) => line.msg === 'the remote server sent a message over maxMessageSize; its answer was cut there' && line.method === 'GET',
        ),
      );
      assert.deepEqual(await backoffOf(gw), { state: 'ok', consecutiveFailures: 0 });
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});

describe("a url route's maxMessageSize on a server that speaks only HTTP+SSE", () => {
  test(
    'fails every call waiting on the event stream an event over it was cut from, at once, and the route goes on',
    { timeout: 60_000 },
    async () => {
      const remote = await startV1SseRemote({
        register: (mcp) =>
          mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
            content: [{ type: 'text', text: text === 'big' ? 'x'.repeat(2 * MIB) : text }],
          })),
      });
      // An hour: a call left to wait for its dropped answer would outlast the test.
      const gw = await startInProcessGateway(`servers:\n  old:\n    url: ${remote.url}\n    maxMessageSize: 1MiB\n    callTimeout: 1h\n`);
      try {
        const { client } = await connectClient(`${gw.url}/mcp/old`, 'sse-limits-test');
        assert.equal(textOf(await echo(client, 'small')), 'small');
        assert.deepEqual(await failure(echo(client, 'big')), {
          rpc: -32000,
          code: 'upstream_exited',
          message: 'the remote server of route "old" sent a message over 1 MiB (maxMessageSize) before answering',
        });
        assert.ok(
          gw.logs.some(
            (line) =>
              line.msg === 'the remote server sent a message over maxMessageSize; its answer was cut there' && line.method === 'GET',
          ),
        );
        assert.deepEqual(await backoffOf(gw), { state: 'ok', consecutiveFailures: 0 });
        const { client: next } = await connectClient(`${gw.url}/mcp/old`, 'sse-limits-test-next');
        assert.equal(textOf(await echo(next, 'next session')), 'next session');
        await Promise.all([client.close(), next.close()]);
      } finally {
        await gw.close();
        await remote.close();
      }
    },
  );
});

describe('a url route whose remote server goes silent on the stream of a call', () => {
  test('fails that call with upstream_timeout after callTimeout, and other calls and sessions go on', { timeout: 60_000 }, async () => {
    const waiting = gate();
    const remote = await startRemote(waiting.opened);
    const arrived = gate();
    const silent: ServerResponse[] = [];
    interceptEcho(remote, (call, res) => {
      if (call.text !== 'silent') return false;
      // The stream opens, and nothing more comes: no event, no end.
      res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
      silent.push(res);
      arrived.open();
      return true;
    });
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n    callTimeout: 2s\n`);
    try {
      const { client } = await connectClient(`${gw.url}/mcp/r`, 'silent-test');
      const { client: other } = await connectClient(`${gw.url}/mcp/r`, 'silent-test-other');
      const call = failure(echo(client, 'silent'));
      await arrived.opened;
      // While it waits: the same session's other calls, and another session's, are answered.
      assert.equal(textOf(await echo(client, 'meanwhile')), 'meanwhile');
      assert.equal(textOf(await echo(other, 'elsewhere')), 'elsewhere');
      assert.deepEqual(await call, {
        rpc: -32000,
        code: 'upstream_timeout',
        message: 'the remote server of route "r" did not answer tools/call "echo" within 2 s (callTimeout)',
      });
      assert.equal(silent.length, 1, 'sent once');
      assert.deepEqual(await backoffOf(gw), { state: 'ok', consecutiveFailures: 0 }, 'a timeout counts neither way');
      assert.equal(textOf(await echo(client, 'after')), 'after');
      await Promise.all([client.close(), other.close()]);
    } finally {
      waiting.open();
      await gw.close();
      await remote.close();
    }
  });
});

describe('a url route whose remote server answers requests the gateway is not waiting for', () => {
  test('drops an answer to an id it never sent and a second answer, with a warning each, and every call gets its own answer', async () => {
    const waiting = gate();
    const remote = await startRemote(waiting.opened);
    interceptEcho(remote, (call, res) => {
      if (call.text !== 'twice') return false;
      // An answer to an id the gateway never sent (while another call waits), its own, then its own again.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(event(result(Number(call.id) + 1000, 'not yours')) + event(result(call.id, 'twice')) + event(result(call.id, 'again')));
      return true;
    });
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n`);
    try {
      const { client } = await connectClient(`${gw.url}/mcp/r`, 'ids-test');
      const pending = client.callTool({ name: 'wait', arguments: {} });
      assert.equal(textOf(await echo(client, 'twice')), 'twice');
      const droppedNow = () =>
        gw.logs.filter(
          (line) =>
            line.msg === 'upstream answered no request the gateway is waiting for (an id it never sent, or a second answer); dropped',
        );
      // The second answer may be read just after the first went back to the client.
      for (let tries = 0; droppedNow().length < 2 && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
      const dropped = droppedNow();
      assert.deepEqual(
        dropped.map((line) => [
          line.level,
          (JSON.parse(String(line.answer)) as { result: { content: [{ text: string }] } }).result.content[0].text,
        ]),
        [
          ['warn', 'not yours'],
          ['warn', 'again'],
        ],
      );
      waiting.open();
      assert.equal(textOf(await pending), 'waited', 'the call in flight got its own answer, not the stray one');
      assert.equal(textOf(await echo(client, 'next')), 'next');
      await client.close();
    } finally {
      waiting.open();
      await gw.close();
      await remote.close();
    }
  });
});
