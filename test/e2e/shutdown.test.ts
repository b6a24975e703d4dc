/**
 * SIGTERM on the real gateway process, as Flex Consumption sends it on every scale-in and deploy:
 * calls in flight finish within shutdownGrace, new requests get 503 shutting_down, what is still
 * running at the end of the grace gets a JSON-RPC error (never an empty response), then the
 * process exits 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ProtocolError } from '@modelcontextprotocol/server';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  shippedModule,
  startGatewayProcess,
  textOf,
} from '../helpers/gateway.js';
import { startFakeNws } from '../helpers/fake-nws.js';

async function until(condition: () => boolean, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

const logLines = (stdout: string[]) => stdout.map((line) => JSON.parse(line) as Record<string, unknown>);

/** Waits until /status.json shows `count` requests in flight on `route`. */
async function untilInFlight(url: string, route: string, count: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const status = (await (await fetch(`${url}/status.json`)).json()) as { routes: Array<{ name: string; inFlight: number }> };
    if (status.routes.find((r) => r.name === route)?.inFlight === count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`${route} never had ${count} requests in flight`);
}

describe('SIGTERM', () => {
  it('lets a slow upstream call in flight finish and answers new requests 503 shutting_down', async () => {
    const nws = await startFakeNws({ latencyMs: 700 });
    const gateway = await startGatewayProcess(
      `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n` +
        `  echo:\n    module: ${fixtureModule('echo')}\n    sessions: stateless\nshutdownGrace: 10s\n`,
    );
    try {
      const weather = await connectClient(`${gateway.url}/mcp/weather`);
      const forecast = weather.client.callTool({ name: 'get_forecast', arguments: { latitude: 41.967, longitude: -71.189 } });
      const stateless = fetch(`${gateway.url}/mcp/echo`, {
        method: 'POST',
        headers: MCP_POST_HEADERS,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'slow', arguments: { ms: 1200, text: 'done' } },
        }),
      });
      await untilInFlight(gateway.url, 'weather', 1);
      await untilInFlight(gateway.url, 'echo', 1);
      gateway.child.kill('SIGTERM');
      await until(() => gateway.stdout.some((l) => l.includes('"gateway draining"')), 'the gateway is draining');

      const refused = await fetch(`${gateway.url}/mcp/weather`, {
        method: 'POST',
        headers: MCP_POST_HEADERS,
        body: JSON.stringify(initializeBody()),
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      const body = (await refused.json()) as { error: { code: number; data: { code: string } } };
      assert.equal(body.error.code, -32000);
      assert.equal(body.error.data.code, 'shutting_down');
      const health = await fetch(`${gateway.url}/healthz`);
      assert.equal(health.status, 503);

      const result = await forecast;
      assert.match(textOf(result), /^Forecast for /);
      const statelessAnswer = await (await stateless).text();
      assert.match(statelessAnswer, /"text":"done"/);

      assert.equal(await gateway.exited, 0);
      const drained = logLines(gateway.stdout).find((l) => l.msg === 'gateway drained');
      assert.ok(drained, 'the log says the drain ended');
      assert.equal(drained.inFlight, 2);
      assert.equal(drained.answered, 0);
      assert.equal(drained.finished, 2);
      await weather.client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
      await nws.close();
    }
  });

  it('answers a call still running when the grace ends with a shutting_down JSON-RPC error, and ends GET streams', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nshutdownGrace: 300ms\n`);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      const slow = client.callTool({ name: 'slow', arguments: { ms: 5000, text: 'too late' } });
      await untilInFlight(gateway.url, 'echo', 1);
      gateway.child.kill('SIGTERM');

      const error = await slow.then(
        () => assert.fail('the call must not succeed'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ProtocolError, `an McpError, got ${String(error)}`);
      assert.equal(error.code, -32000);
      assert.match(error.message, /shutting down: the call did not finish within its grace period/);
      assert.deepEqual(error.data, { code: 'shutting_down' });

      assert.equal(await gateway.exited, 0);
      const lines = logLines(gateway.stdout);
      const drained = lines.find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('gateway drained'));
      assert.equal(drained?.inFlight, 1);
      assert.equal(drained?.answered, 1);
      const call = lines.find((l) => l.msg === 'request' && l.rpc === 'tools/call');
      assert.equal(call?.error, 'shutting_down', "the call's log line says it was cut short");
      const stream = lines.find((l) => l.msg === 'request' && (l.http as { method: string }).method === 'GET');
      assert.equal((stream?.http as { status: number } | undefined)?.status, 200, 'the GET stream ended cleanly');
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('does the same for a 2026-07-28 client: the call cut short gets shutting_down, one in grace its result', async () => {
    // The quick call must still be running when SIGTERM lands, and finish within the grace: margins
    // of seconds, as a loaded machine can take hundreds of milliseconds between the two.
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nshutdownGrace: 3s\n`);
    try {
      const client = new Client({ name: 'modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/echo`)));
      const quick = client.callTool({ name: 'slow', arguments: { ms: 1500, text: 'in time' } });
      const slow = client.callTool({ name: 'slow', arguments: { ms: 5000, text: 'too late' } });
      await untilInFlight(gateway.url, 'echo', 2);
      gateway.child.kill('SIGTERM');
      assert.equal(textOf(await quick), 'in time');
      const error = await slow.then(
        () => assert.fail('the call must not succeed'),
        (e: unknown) => e as { code?: number; message?: string; data?: unknown },
      );
      assert.equal(error.code, -32000);
      assert.match(error.message ?? '', /shutting down: the call did not finish within its grace period/);
      assert.deepEqual(error.data, { code: 'shutting_down' });
      assert.equal(await gateway.exited, 0);
      const drained = logLines(gateway.stdout).find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('gateway drained'));
      assert.deepEqual([drained?.inFlight, drained?.answered], [2, 1]);
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('ignores a second SIGTERM while draining: the call in flight finishes and the process exits 0', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nshutdownGrace: 5s\n`);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      // A timeout of its own: a client whose gateway dies under it waits out 60 s for the answer.
      const slow = client.callTool({ name: 'slow', arguments: { ms: 800, text: 'finished' } }, { timeout: 4000 });
      await untilInFlight(gateway.url, 'echo', 1);
      gateway.child.kill('SIGTERM');
      await until(() => gateway.stdout.some((l) => l.includes('"gateway draining"')), 'the gateway is draining');
      // The platform (or an operator) may signal again; the drain carries on.
      gateway.child.kill('SIGTERM');
      gateway.child.kill('SIGINT');
      assert.equal(textOf(await slow), 'finished');
      assert.equal(await gateway.exited, 0);
      assert.equal(gateway.child.signalCode, null);
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('exits 0 when whoever read its log went away mid-drain (`npm start | head`), saying on stderr that lines are dropped', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      // The reader goes as `head` does: right after the line it waited for, while the gateway
      // still has lines to write. Writing them fails (EPIPE), at exit too.
      gateway.child.stdout!.on('data', (chunk: Buffer | string) => {
        if (String(chunk).includes('"gateway draining"')) gateway.child.stdout!.destroy();
      });
      gateway.child.kill('SIGTERM');
      // The drain does not wait for this client: it has nothing in flight.
      assert.equal(await gateway.exited, 0);
      assert.match(gateway.stderr.join(''), /log: stdout is closed \(EPIPE\); log lines are dropped from now on/);
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('keeps serving when its stdout is closed, and exits 0 at SIGTERM', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    try {
      gateway.child.stdout!.destroy();
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      for (let i = 0; i < 3; i++)
        assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } })), `call ${i}`);
      await until(() => gateway.stderr.join('').includes('log lines are dropped'), 'stderr says the log is gone');
      gateway.child.kill('SIGTERM');
      assert.equal(await gateway.exited, 0);
      assert.equal(gateway.stderr.join('').match(/log lines are dropped/g)?.length, 1, 'said once');
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  it('still takes a cancellation for a call in flight while draining', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nshutdownGrace: 1s\n`);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      const controller = new AbortController();
      const slow = client.callTool({ name: 'slow', arguments: { ms: 5000, text: 'cancelled' } }, { signal: controller.signal });
      await untilInFlight(gateway.url, 'echo', 1);
      gateway.child.kill('SIGTERM');
      await until(() => gateway.stdout.some((l) => l.includes('"gateway draining"')), 'the gateway is draining');
      controller.abort('the user gave up');
      await assert.rejects(slow);
      await until(
        () => logLines(gateway.stdout).some((l) => l.rpc === 'notifications/cancelled' && (l.http as { status: number }).status === 202),
        'the cancellation was accepted (202), not refused',
      );
      assert.equal(await gateway.exited, 0);
      await client.close().catch(() => undefined);
    } finally {
      await gateway.stop('SIGKILL');
    }
  });
});
