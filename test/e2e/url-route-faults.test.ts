/**
 * `url:` routes whose remote server misbehaves: what the gateway's clients get, and that nothing
 * else is disturbed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { SESSION_ID_MAX_LENGTH } from '../../src/gateway/sessions/session-token.js';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';
import { startInProcessGateway, textOf } from '../helpers/gateway.js';
import { startV1Remote, type V1Remote } from '../helpers/v1-remote.js';

/** The remote of these tests: an echo tool, and one that waits until it is cancelled. */
function startRemote(sessionId?: () => string): Promise<V1Remote> {
  return startV1Remote({
    ...(sessionId ? { sessionId } : {}),
    register: (mcp) => {
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      mcp.registerTool('slow', { inputSchema: {} }, async (_args, extra) => {
        await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
        return { content: [{ type: 'text', text: 'cancelled' }] };
      });
    },
  });
}

async function connect(url: string, mode: 'legacy' | 'auto' = 'legacy'): Promise<Client> {
  const client = new Client({ name: 'faults-test', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("a url route whose remote server issues a session id too long to seal in the gateway's", () => {
  test('opens the 2025 session all the same, says so in the log, and another instance reaches the remote in a session of its own', async () => {
    // 450 random bytes: about 600 characters that do not compress, against the gateway's 768.
    const remote = await startRemote(() => randomBytes(450).toString('base64url'));
    const keyring = createSessionKeyring(randomBytes(32));
    const yaml = `servers:\n  r:\n    url: ${remote.url}\n`;
    const gw = await startInProcessGateway(yaml, { keyring });
    const other = await startInProcessGateway(yaml, { keyring });
    try {
      const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/r`));
      const client = new Client({ name: 'faults-test', version: '1.0.0' });
      await client.connect(transport);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'here' } })), 'here');
      assert.ok(transport.sessionId!.length <= SESSION_ID_MAX_LENGTH);
      const warning = gw.logs.find(
        (line) =>
          line.msg ===
          "the upstream's session id does not fit in the gateway's; another instance that resumes this session opens a new upstream session",
      );
      assert.ok(warning, 'logged');
      assert.equal(warning.upstreamStateLength, JSON.stringify({ s: [...remote.sessions.keys()][0], v: '2025-11-25' }).length);

      const moved = new Client({ name: 'faults-test', version: '1.0.0' });
      await moved.connect(new StreamableHTTPClientTransport(new URL(`${other.url}/mcp/r`), { sessionId: transport.sessionId! }));
      assert.equal(textOf(await moved.callTool({ name: 'echo', arguments: { text: 'there' } })), 'there');
      assert.equal(remote.sessions.size, 2, 'a second upstream session');
      await Promise.all([client.close(), moved.close()]);
    } finally {
      await Promise.all([gw.close(), other.close()]);
      await remote.close();
    }
  });
});

describe('a url route whose remote server cannot be reached', () => {
  test("says why, not only Node's 'fetch failed': the network error's code (ECONNREFUSED)", async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const gw = await startInProcessGateway(`servers:\n  dead:\n    url: http://127.0.0.1:${port}/mcp\n`);
    try {
      await assert.rejects(
        connect(`${gw.url}/mcp/dead`),
        /the remote server of route \\"dead\\" is unavailable: fetch failed \(ECONNREFUSED\)/,
      );
    } finally {
      await gw.close();
    }
  });
});

describe('a url route whose remote server refuses its first connection', () => {
  test('takes a 429 for a busy server, not one without Streamable HTTP: the next connection reaches it', async () => {
    const remote = await startRemote();
    let refusals = 1;
    remote.intercept = (_req, res) => {
      if (refusals-- <= 0) return false;
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('slow down');
      return true;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n`);
    try {
      await assert.rejects(
        connect(`${gw.url}/mcp/r`),
        /the remote server of route \\"r\\" is unavailable: answered HTTP 429 \(slow down\)/,
      );
      const client = await connect(`${gw.url}/mcp/r`);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'after' } })), 'after');
      assert.ok(!gw.logs.some((line) => line.msg === 'the remote server refused Streamable HTTP; using HTTP+SSE'));
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });

  test('says which HTTP status it answered, and what to check for a 401 or a 403, to the client and in the log', async () => {
    const remote = await startRemote();
    const answers: Array<[number, string]> = [
      [401, ''],
      [403, 'not for you'],
      [500, 'boom'],
    ];
    remote.intercept = (_req, res) => {
      const next = answers.shift();
      if (!next) return false;
      res.writeHead(next[0], { 'content-type': 'text/plain' }).end(next[1]);
      return true;
    };
    // No backoff between the three: each connection asks the remote again.
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\ncache:\n  backoff: { afterFailures: 10 }\n`);
    try {
      for (const expected of [
        /is unavailable: answered HTTP 401: check the credentials in the route's headers\W*"/,
        /is unavailable: answered HTTP 403: check the credentials in the route's headers \(not for you\)/,
        /is unavailable: answered HTTP 500 \(boom\)/,
      ]) {
        await assert.rejects(connect(`${gw.url}/mcp/r`), expected);
      }
      const warned = gw.logs.filter((line) => line.msg === 'remote server could not be connected to').map((line) => line.why);
      assert.deepEqual(warned, [
        "answered HTTP 401: check the credentials in the route's headers",
        "answered HTTP 403: check the credentials in the route's headers (not for you)",
        'answered HTTP 500 (boom)',
      ]);
      assert.ok(gw.logs.filter((line) => line.msg === 'remote server could not be connected to').every((line) => line.route === 'r'));
    } finally {
      await gw.close();
      await remote.close();
    }
  });

  test('names both refusals of a server that answers neither transport, and asks it in Streamable HTTP again next time', async () => {
    const remote = await startRemote();
    // A proxy's 404 while the server is being deployed: the POST, then the HTTP+SSE GET.
    let refusals = 2;
    remote.intercept = (_req, res) => {
      if (refusals-- <= 0) return false;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such app');
      return true;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n`);
    try {
      await assert.rejects(
        connect(`${gw.url}/mcp/r`),
        /is unavailable: Streamable HTTP was refused \(Error POSTing to endpoint: no such app\), and so was HTTP\+SSE \(SSE error: Non-200 status code \(404\)\)/,
      );
      const client = await connect(`${gw.url}/mcp/r`);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'deployed' } })), 'deployed');
      assert.ok(!gw.logs.some((line) => line.msg === 'the remote server refused Streamable HTTP; using HTTP+SSE'));
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});

describe('a url route whose remote server answers a call with garbage', () => {
  test('gives the client a short, clear error for an enormous error page and for JSON that is not JSON-RPC, and the session goes on', async () => {
    const remote = await startRemote();
    let reply: (res: ServerResponse) => void = () => undefined;
    remote.intercept = (_req, res, body) => {
      if ((body as { method?: string } | undefined)?.method !== 'tools/call') return false;
      reply(res);
      return true;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\ncache:\n  backoff:\n    afterFailures: 100\n`);
    try {
      const client = await connect(`${gw.url}/mcp/r`);
      const echo = { name: 'echo', arguments: { text: 'x' } };
      reply = (res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('x'.repeat(1_000_000));
      await assert.rejects(client.callTool(echo), (error: Error) => {
        assert.match(error.message, /the remote server of route "r" failed: Error POSTing to endpoint: x+…$/);
        assert.ok(error.message.length < 400, `${error.message.length} characters`);
        return true;
      });
      const logged = gw.logs.filter((line) => line.msg === 'upstream request failed').map((line) => String(line.err));
      assert.ok(logged.length === 1 && logged[0]!.length < 400, 'a short log line');

      reply = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      await assert.rejects(client.callTool(echo), /the remote server of route "r" failed: its answer is not a JSON-RPC message$/);

      remote.intercept = () => false;
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});

describe('a url route whose remote server ends the stream of a call without its answer', () => {
  for (const mode of ['legacy', 'auto'] as const) {
    const era = mode === 'legacy' ? 'a 2025 session' : 'a 2026-07-28 client';
    test(
      `fails the call at once, not after callTimeout, counts it as a failure, and the session goes on (${era})`,
      { timeout: 60_000 },
      async () => {
        const remote = await startRemote();
        // What each cut stream carries before it ends: a log message, then a result under an id the gateway never sent.
        const before = [
          { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working' } },
          { jsonrpc: '2.0', id: 'never-sent', result: { content: [{ type: 'text', text: 'not yours' }] } },
        ];
        let cut = 0;
        remote.intercept = (_req, res, body) => {
          if ((body as { method?: string } | undefined)?.method !== 'tools/call' || cut >= before.length) return false;
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(`event: message\ndata: ${JSON.stringify(before[cut++])}\n\n`);
          return true;
        };
        // An hour: a call that waited for its answer would outlast the test.
        const gw = await startInProcessGateway(
          `servers:\n  r:\n    url: ${remote.url}\n    callTimeout: 1h\ncache:\n  backoff:\n    afterFailures: 100\n`,
        );
        try {
          const client = await connect(`${gw.url}/mcp/r`, mode);
          for (let attempt = 0; attempt < before.length; attempt++) {
            await assert.rejects(
              client.callTool({ name: 'echo', arguments: { text: 'x' } }),
              /the remote server of route "r" failed: its response stream ended without an answer$/,
            );
          }
          assert.deepEqual(
            gw.logs.filter((line) => line.msg === 'upstream request failed').map((line) => [line.method, line.err]),
            before.map(() => ['tools/call', 'its response stream ended without an answer']),
          );
          const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
            routes: Array<{ upstream: { backoff: { lastError?: string } } }>;
          };
          // A listing in between (the client's, for output schemas) is an answer and resets the count: the label tells.
          assert.equal(status.routes[0]!.upstream.backoff.lastError, 'stream ended unanswered', 'counted as a failure, not an answer');
          assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');

          // A listing changes nothing: the gateway sends it again once, and the client never knows.
          let lists = 0;
          remote.intercept = (_req, res, body) => {
            if ((body as { method?: string } | undefined)?.method !== 'tools/list' || lists++ > 0) return false;
            res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': nothing\n\n');
            return true;
          };
          assert.deepEqual(
            (await client.listTools()).tools.map((tool) => tool.name),
            ['echo', 'slow'],
          );
          assert.equal(lists, 2, 'cut once, then answered');
          await client.close();
        } finally {
          await gw.close();
          await remote.close();
        }
      },
    );
  }
});

describe("a url route whose remote server's error page repeats the request", () => {
  test("keeps the route's URL query values and header values out of the client's error, the log and /status.json", async () => {
    const remote = await startRemote();
    remote.intercept = (req, res, body) => {
      if ((body as { method?: string } | undefined)?.method !== 'tools/call') return false;
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`no such thing: ${req.url} (${req.headers.authorization})`);
      return true;
    };
    const yaml = `servers:\n  r:\n    url: ${remote.url}?api_key=SECRETKEY123&v=1\n    headers: { Authorization: "Bearer TOPSECRET-TOKEN" }\ncache:\n  backoff:\n    afterFailures: 100\n`;
    const gw = await startInProcessGateway(yaml);
    try {
      const client = await connect(`${gw.url}/mcp/r`);
      await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'x' } }), (error: Error) => {
        assert.match(error.message, /failed: Error POSTing to endpoint: no such thing: \/mcp\?api_key=\[redacted\]&v=1 \(\[redacted\]\)$/);
        return true;
      });
      const everything =
        JSON.stringify(gw.logs) + (await (await fetch(`${gw.url}/status.json`)).text()) + (await (await fetch(`${gw.url}/`)).text());
      for (const secret of ['SECRETKEY123', 'TOPSECRET-TOKEN']) assert.ok(!everything.includes(secret), `${secret} nowhere`);
      remote.intercept = () => false;
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'fine' } })), 'fine');
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});
