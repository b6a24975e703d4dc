/**
 * Time limits on `module:` routes (README: gateway.yaml reference): a tool call its module never
 * answers fails with `upstream_timeout` after `callTimeout`, as on command and url routes, and its
 * handler's abort signal fires; a module whose import never finishes stops the start after
 * `startTimeout`, and one whose createServer never settles fails the request after it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { connectClient, fixtureModule, startInProcessGateway, textOf } from '../helpers/gateway.js';

const ERAS = ['legacy', 'auto'] as const;
const eraName = (era: (typeof ERAS)[number]) => (era === 'auto' ? '2026-07-28' : '2025');
const yaml = ['servers:', '  slow:', `    module: ${fixtureModule('stalling')}`, '    callTimeout: 300ms', ''].join('\n');

/** What these tests read of /status.json. */
interface StatusJson {
  routes: Array<{
    name: string;
    traffic: { operations: Array<{ method: string; target?: string; errors: number; errorTypes?: Record<string, number> }> };
  }>;
}

/** Asks the fixture what the call under `key` saw, until it says `want` (or 10 s pass). */
async function stateOf(call: (key: string) => Promise<string>, key: string, want: string): Promise<string> {
  let state = await call(key);
  for (let tries = 0; state !== want && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = await call(key);
  }
  return state;
}

describe('a module route with callTimeout', () => {
  for (const era of ERAS) {
    it(`answers a tool call its module never answers with upstream_timeout, aborts the handler, and serves the next call (${eraName(era)})`, async () => {
      const gw = await startInProcessGateway(yaml);
      try {
        const { client } = await connectClient(`${gw.url}/mcp/slow`, 'module-timeouts-test', { era });
        const key = `hang-${era}`;
        await assert.rejects(client.callTool({ name: 'hang', arguments: { key } }), (error: unknown) => {
          assert.ok(error instanceof ProtocolError, String(error));
          assert.equal(error.code, -32000);
          assert.equal((error.data as { code?: string }).code, 'upstream_timeout');
          assert.match(error.message, /the module of route "slow" did not answer tools\/call "hang" within 0\.3 s \(callTimeout\)/);
          return true;
        });
        const state = (k: string) => client.callTool({ name: 'state', arguments: { key: k } }).then(textOf);
        // The same session (2025) or client (2026-07-28) goes on working, and the handler saw the abort.
        assert.equal(await stateOf(state, key, 'aborted'), 'aborted');
        await client.close();
        const timedOut = gw.logs.find((line) => line.msg === 'a module did not answer within callTimeout');
        assert.equal(timedOut?.method, 'tools/call');
        assert.equal(timedOut?.tool, 'hang');
        // Counted as a failed call, of the error type a command route's upstream_timeout has.
        const status = (await (await fetch(`${gw.url}/status.json`)).json()) as StatusJson;
        // (Its tool is counted under `_OTHER`: this client never listed the tools, and failed calls
        // of unlisted names are not told apart, for cardinality.)
        const operations = status.routes.find((route) => route.name === 'slow')?.traffic.operations ?? [];
        const hang = operations.find((o) => o.method === 'tools/call' && o.errors > 0);
        assert.equal(hang?.errors, 1, JSON.stringify(status.routes));
        assert.deepEqual(hang?.errorTypes, { '-32000': 1 });
      } finally {
        await gw.close();
      }
    });

    it(`lets a tool that reports progress work past callTimeout (${eraName(era)})`, async () => {
      const gw = await startInProcessGateway(yaml);
      try {
        const { client } = await connectClient(`${gw.url}/mcp/slow`, 'module-timeouts-test', { era });
        const progress: number[] = [];
        const result = await client.callTool(
          { name: 'work', arguments: { ms: 1200, every: 100 } },
          // The client's own limit is far off; the gateway's is what is tested.
          { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
        );
        assert.equal(textOf(result), 'worked 1200 ms on route slow');
        assert.ok(progress.length >= 10, `progress ${JSON.stringify(progress)}`);
        await client.close();
      } finally {
        await gw.close();
      }
    });

    it(`never delivers the answer a module gives after callTimeout (${eraName(era)})`, async () => {
      const gw = await startInProcessGateway(yaml);
      try {
        const { client } = await connectClient(`${gw.url}/mcp/slow`, 'module-timeouts-test', { era });
        const errors: Error[] = [];
        client.onerror = (error) => errors.push(error);
        const key = `late-${era}`;
        await assert.rejects(client.callTool({ name: 'late', arguments: { key, ms: 800 } }), (error: unknown) => {
          assert.equal(((error as ProtocolError).data as { code?: string }).code, 'upstream_timeout');
          return true;
        });
        const state = (k: string) => client.callTool({ name: 'state', arguments: { key: k } }).then(textOf);
        // The handler returned after its call had been answered: that answer went nowhere.
        assert.equal(await stateOf(state, key, 'finished'), 'finished');
        const after = await client.callTool({ name: 'work', arguments: { ms: 0, every: 1 } });
        assert.equal(textOf(after), 'worked 0 ms on route slow');
        assert.deepEqual(
          errors.map((error) => error.message),
          [],
        );
        await client.close();
      } finally {
        await gw.close();
      }
    });
  }
});

describe('a module route with callTimeout, while its module waits on the client', () => {
  // 2025 only: in the 2026-07-28 era a server's question to its client is an input_required
  // result, which answers the call.
  it('stops the clock while the client answers an elicitation the call made, and restarts it after (2025)', async () => {
    const gw = await startInProcessGateway(yaml);
    const client = new Client({ name: 'module-timeouts-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async ({ params }) => {
      asked.push(params.message);
      // A person taking their time: longer than the route's callTimeout (300 ms).
      await new Promise((resolve) => setTimeout(resolve, 900));
      return { action: 'accept', content: {} };
    });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/slow`)));
      const result = await client.callTool({ name: 'ask', arguments: { key: 'x' } }, { timeout: 30_000 });
      assert.equal(textOf(result), 'the client said accept');
      assert.deepEqual(asked, ['what is x?']);
      assert.equal(
        gw.logs.find((line) => line.msg === 'a module did not answer within callTimeout'),
        undefined,
      );
      // The clock runs again once the answer is in: a hang after it still times out.
      await assert.rejects(client.callTool({ name: 'hang', arguments: { key: 'after-ask' } }), (error: unknown) => {
        assert.equal(((error as ProtocolError).data as { code?: string }).code, 'upstream_timeout');
        return true;
      });
    } finally {
      await client.close();
      await gw.close();
    }
  });
});

describe('a module route with startTimeout', () => {
  it('stops the start naming the route, the module and the limit when the import never finishes', async () => {
    const module = `${fixtureModule('faulty')}/never-imports.ts`;
    await assert.rejects(startInProcessGateway(`servers:\n  stuck:\n    module: ${module}\n    startTimeout: 300ms\n`), (error: Error) => {
      assert.equal(error.name, 'ConfigError');
      assert.match(
        error.message,
        /servers\.stuck\.module: route "stuck" \(module .*never-imports\.ts\) did not finish importing within 0\.3 s \(startTimeout\)/,
      );
      return true;
    });
  });

  for (const era of ERAS) {
    it(`answers 500 and logs the limit when createServer never settles (${eraName(era)})`, async () => {
      const module = `${fixtureModule('faulty')}/factory-never-returns.ts`;
      const gw = await startInProcessGateway(`servers:\n  stuck:\n    module: ${module}\n    startTimeout: 300ms\n`);
      try {
        await assert.rejects(connectClient(`${gw.url}/mcp/stuck`, 'module-timeouts-test', { era }), /HTTP 500|Internal (server )?error/);
        const line = gw.logs.find((entry) => entry.level === 'error');
        assert.equal(
          (line?.err as { message?: string } | undefined)?.message,
          'the createServer of route "stuck" did not return a server within 0.3 s (startTimeout)',
        );
      } finally {
        await gw.close();
      }
    });
  }
});
