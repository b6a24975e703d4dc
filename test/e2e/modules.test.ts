/**
 * `module:` routes whose module does what a module author might get wrong (README: Add a server):
 * each is a clear start error naming the route and the module, or a clear per-request error, and
 * never a crash of the gateway.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectClient, fixtureModule, startGatewayProcess, startInProcessGateway, textOf } from '../helpers/gateway.js';

/** A module of test/fixtures/servers/faulty. */
const faulty = (name: string) => `${fixtureModule('faulty')}/${name}.ts`;
const ERAS = ['legacy', 'auto'] as const;

describe('a module route', () => {
  it('serves a module whose createServer is async (returns a promise of its server), in both eras', async () => {
    const gw = await startInProcessGateway(`servers:\n  lazy:\n    module: ${faulty('async-factory')}\n`);
    try {
      for (const era of ERAS) {
        const { client } = await connectClient(`${gw.url}/mcp/lazy`, 'modules-test', { era });
        assert.equal(textOf(await client.callTool({ name: 'ping', arguments: {} })), 'pong from lazy', era);
        await client.close();
      }
    } finally {
      await gw.close();
    }
  });

  for (const era of ERAS) {
    it(`refuses a server createServer returned before, naming the route, instead of sharing it (${era === 'auto' ? '2026-07-28' : '2025'})`, async () => {
      const gw = await startInProcessGateway(`servers:\n  single:\n    module: ${faulty('singleton')}\n`);
      const ping = async () => {
        const { client } = await connectClient(`${gw.url}/mcp/single`, 'modules-test', { era });
        try {
          return textOf(await client.callTool({ name: 'ping', arguments: {} }));
        } finally {
          await client.close();
        }
      };
      try {
        // A 2025 session is one server: the first client is served, the next one is refused. A
        // 2026-07-28 client makes a server per request: its second request (after server/discover)
        // already gets the same server back. One after the other: the SDK's own "already
        // connected" check never sees them.
        if (era === 'legacy') assert.equal(await ping(), 'pong');
        await assert.rejects(ping(), /Internal (server )?error/);
        const errors = gw.logs.filter((entry) => entry.level === 'error');
        assert.ok(
          errors.some((entry) =>
            /the createServer of route "single" returned a server it had returned before: return a new McpServer from every call/.test(
              String((entry.err as { message?: string } | undefined)?.message),
            ),
          ),
          JSON.stringify(errors),
        );
      } finally {
        await gw.close();
      }
    });
  }

  for (const era of ERAS) {
    it(`answers 500 and logs the error when createServer throws (${era === 'auto' ? '2026-07-28' : '2025'})`, async () => {
      const gw = await startInProcessGateway(`servers:\n  throws:\n    module: ${faulty('factory-throws')}\n`);
      try {
        await assert.rejects(connectClient(`${gw.url}/mcp/throws`, 'modules-test', { era }), /HTTP 500|Internal (server )?error/);
        const line = gw.logs.find((entry) => entry.level === 'error');
        assert.equal((line?.err as { message?: string } | undefined)?.message, 'no database connection string');
        assert.match(String((line?.err as { stack?: string }).stack), /faulty\/factory-throws\.(ts|js)/);
      } finally {
        await gw.close();
      }
    });
  }

  it('stops the start naming the route and module when optionsSchema is not a schema (a raw zod shape)', async () => {
    await assert.rejects(
      startInProcessGateway(`servers:\n  shape:\n    module: ${faulty('raw-shape-options')}\n    options: { sides: 6 }\n`),
      (error: Error) => {
        assert.equal(error.name, 'ConfigError');
        assert.match(
          error.message,
          /test-gateway\.yaml:3:13 servers\.shape\.module: route "shape" \(module .*raw-shape-options\.ts\) exports an optionsSchema that is not a schema \(it has no safeParse\): export z\.object\(\{ … \}\)/,
        );
        return true;
      },
    );
  });

  it('stops the start naming the route and its options when optionsSchema throws while parsing', async () => {
    await assert.rejects(
      startInProcessGateway(`servers:\n  region:\n    module: ${faulty('throwing-options')}\n    options:\n      region: mars\n`),
      (error: Error) => {
        assert.equal(error.name, 'ConfigError');
        assert.match(
          error.message,
          /test-gateway\.yaml:\d+:\d+ servers\.region\.options: route "region" \(module .*throwing-options\.ts\): its optionsSchema threw: no endpoint for region mars/,
        );
        return true;
      },
    );
  });

  it('says so when createServer is the default export, not a named one', async () => {
    await assert.rejects(startInProcessGateway(`servers:\n  dflt:\n    module: ${faulty('default-export')}\n`), (error: Error) => {
      assert.match(
        error.message,
        /servers\.dflt\.module: route "dflt" \(module .*default-export\.ts\) does not export a createServer\(ctx\) function \(it has a default export: export createServer by name\)/,
      );
      return true;
    });
  });

  it('keeps serving, and logs it, when a tool leaves a promise rejection nobody handles', async () => {
    const gateway = await startGatewayProcess(`servers:\n  leaky:\n    module: ${faulty('leaky')}\n`);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/leaky`);
      assert.equal(textOf(await client.callTool({ name: 'leak_rejection', arguments: {} })), 'leaked');
      assert.equal(textOf(await client.callTool({ name: 'ping', arguments: {} })), 'pong from leaky');
      await client.close();
    } finally {
      // A drain and exit 0 (and the log flushed): the process was still the one that started.
      assert.equal(await gateway.stop(), 0);
    }
    const logged = gateway.stdout.map((line) => JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string } });
    const line = logged.find((entry) => entry.msg === 'unhandled promise rejection (a server module, or the gateway, did not handle it)');
    assert.equal(line?.level, 'error');
    assert.equal(line?.err?.message, 'leaked from a tool');
  });
});
