/**
 * `callTimeout` on `command:` and `url:` routes while the upstream waits on its client: a tool
 * that asks (elicitation waits on a human, sampling on an LLM) for the call it is serving is not
 * cut short while the question is at the client, and the clock starts again once the answer is
 * back. A stdio child (asking-server.mjs) behind one gateway, and the same child reached through
 * a second gateway's `url:` route, driven by the SDK's Client in the 2025 era (the era with
 * server-to-client requests).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath } from '../helpers/project.js';
import { until } from '../helpers/until.js';

const ASKING = fixturePath('stdio', 'asking-server.mjs');
/** Short, so that the client's answer comes well after it. */
const CALL_TIMEOUT_MS = 400;
/**
 * The url route's: longer, as a url route's callTimeout also bounds its upstream's `initialize`,
 * which here starts a child behind the other gateway (slow on a busy machine).
 */
const REMOTE_CALL_TIMEOUT_MS = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 2025 client that declares elicitation and sampling; `answer` answers both (or never does). */
async function askedClient(url: string, answer: (signal: AbortSignal) => Promise<void>): Promise<Client> {
  const client = new Client({ name: 'bridge-waits', version: '1.0.0' }, { capabilities: { elicitation: { form: {} }, sampling: {} } });
  client.setRequestHandler('elicitation/create', async (_request, ctx) => {
    await answer(ctx.mcpReq.signal);
    return { action: 'accept', content: { ok: true } };
  });
  client.setRequestHandler('sampling/createMessage', async (_request, ctx) => {
    await answer(ctx.mcpReq.signal);
    return { model: 'test-model', role: 'assistant', content: { type: 'text', text: '42' } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** A client that answers three times the route's callTimeout later. */
const answersAfter = (callTimeout: number) => async (): Promise<void> => void (await sleep(3 * callTimeout));

function assertTimedOut(error: unknown, message: string): true {
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal((error.data as { code?: string } | undefined)?.code, 'upstream_timeout');
  assert.equal(error.message, message);
  return true;
}

describe('callTimeout while a command or url route waits on its client', () => {
  const marker = `bridge-waits-${randomUUID()}`;
  const child = (callTimeout: string) =>
    `    command: ${process.execPath}\n    args: [${JSON.stringify(ASKING)}, ${JSON.stringify(marker)}]\n    callTimeout: ${callTimeout}\n`;
  let upstream: InProcessGateway;
  let front: InProcessGateway;
  /** Route name → its URL and callTimeout: `asking` (the child, 400 ms) and `remote` (url: the child behind another gateway, 1.5 s). */
  const routes: Record<string, { url: string; callTimeout: number }> = {};
  before(async () => {
    // `behind` gives the url route's upstream all the time it wants: what is tested is the front gateway's own clock.
    upstream = await startInProcessGateway(`servers:\n  asking:\n${child(`${CALL_TIMEOUT_MS}ms`)}  behind:\n${child('1h')}`);
    front = await startInProcessGateway(
      `servers:\n  remote:\n    url: ${upstream.url}/mcp/behind\n    callTimeout: ${REMOTE_CALL_TIMEOUT_MS}ms\n`,
    );
    routes.asking = { url: `${upstream.url}/mcp/asking`, callTimeout: CALL_TIMEOUT_MS };
    routes.remote = { url: `${front.url}/mcp/remote`, callTimeout: REMOTE_CALL_TIMEOUT_MS };
  });
  after(async () => {
    await front.close();
    await upstream.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  for (const route of ['asking', 'remote']) {
    test(`a tool's elicitation answered after 3 × callTimeout gets the tool's result, not upstream_timeout (${route})`, async () => {
      const client = await askedClient(routes[route]!.url, answersAfter(routes[route]!.callTimeout));
      const result = await client.callTool({ name: 'confirm', arguments: {} });
      assert.deepEqual(JSON.parse(textOf(result)), { answer: { ok: true } });
      await client.close();
    });

    test(`a tool's sampling answered after 3 × callTimeout gets the tool's result, not upstream_timeout (${route})`, async () => {
      const client = await askedClient(routes[route]!.url, answersAfter(routes[route]!.callTimeout));
      const result = await client.callTool({ name: 'complete', arguments: {} });
      assert.deepEqual(JSON.parse(textOf(result)), { answer: '42' });
      await client.close();
    });
  }

  test('a tool that hangs without asking anything still times out at callTimeout, and the message names the tool', async () => {
    const client = await askedClient(routes.asking!.url, answersAfter(CALL_TIMEOUT_MS));
    await assert.rejects(client.callTool({ name: 'hang', arguments: {} }), (error) =>
      assertTimedOut(error, 'the server process of route "asking" did not answer tools/call "hang" within 0.4 s (callTimeout)'),
    );
    await client.close();
  });

  test('progress still restarts the clock: a tool working twice callTimeout in steps of a quarter of it gets its result', async () => {
    const client = await askedClient(routes.asking!.url, answersAfter(CALL_TIMEOUT_MS));
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'work', arguments: { steps: 8, stepMs: CALL_TIMEOUT_MS / 4 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    assert.deepEqual(JSON.parse(textOf(result)), { worked: 8 });
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
    await client.close();
  });

  test('a url route names the tool that timed out too', async () => {
    const client = await askedClient(routes.remote!.url, answersAfter(REMOTE_CALL_TIMEOUT_MS));
    await assert.rejects(client.callTool({ name: 'hang', arguments: {} }), (error) =>
      assertTimedOut(error, 'the remote server of route "remote" did not answer tools/call "hang" within 1.5 s (callTimeout)'),
    );
    await client.close();
  });

  test("a client that never answers: the server's own wait ends the question, then callTimeout runs again from the start", async () => {
    let cancelled = false;
    const client = await askedClient(
      routes.asking!.url,
      (signal) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => (cancelled = true), { once: true });
        }),
    );
    // The server gives up on its question after 1 s, and then hangs: the call ends callTimeout later.
    await assert.rejects(client.callTool({ name: 'confirm', arguments: { waitMs: 1000, thenHang: true } }), (error) =>
      assertTimedOut(error, 'the server process of route "asking" did not answer tools/call "confirm" within 0.4 s (callTimeout)'),
    );
    // The question was withdrawn from the client when the server gave up on it, before the timeout.
    assert.equal(cancelled, true);
    await client.close();
  });

  test('a question the gateway cannot tie to one call (two in flight) pauses neither', async () => {
    const client = await askedClient(routes.asking!.url, answersAfter(CALL_TIMEOUT_MS));
    const [hanging, asking] = await Promise.allSettled([
      client.callTool({ name: 'hang', arguments: {} }),
      client.callTool({ name: 'confirm', arguments: {} }),
    ]);
    assert.equal(hanging.status, 'rejected');
    assertTimedOut(hanging.reason, 'the server process of route "asking" did not answer tools/call "hang" within 0.4 s (callTimeout)');
    assert.equal(asking.status, 'rejected');
    assertTimedOut(asking.reason, 'the server process of route "asking" did not answer tools/call "confirm" within 0.4 s (callTimeout)');
    await client.close();
  });
});
