import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import type { McpServer } from '@modelcontextprotocol/server';
import { Client } from '@modelcontextprotocol/client';
import pino from 'pino';
import type { ServerContext } from '../../src/gateway/module-contract.js';
import { createServer, createTimeServer, optionsSchema, TIME_SERVER_VERSION, type TimeOptions } from '../../servers/time/index.js';
import { UNIT_CONTEXT } from '../helpers/module-context.js';

const SUMMER = () => new Date('2026-07-15T20:00:37Z');

const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((closable) => closable.close()));
});

async function connect(server: McpServer): Promise<Client> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'time-test', version: '0.0.0' });
  await client.connect(clientTransport);
  open.push(client, server);
  return client;
}

function context(options: TimeOptions): ServerContext<TimeOptions> {
  return {
    route: 'time',
    options,
    fetch: () => Promise.reject(new Error('the time server must not use the network')),
    logger: pino({ level: 'silent' }),
    ...UNIT_CONTEXT,
  };
}

/** The single text item of a result. */
function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  assert.equal(content.length, 1);
  assert.equal(content[0]?.type, 'text');
  return content[0]?.text ?? '';
}

describe('time server', () => {
  it('identifies itself as time with the module version', async () => {
    const client = await connect(createTimeServer({ localTimezone: 'UTC', now: SUMMER }));
    assert.deepEqual(client.getServerVersion(), { name: 'time', version: TIME_SERVER_VERSION });
  });

  it('lists both tools with titles, annotations, output schemas and the local zone', async () => {
    const client = await connect(createTimeServer({ localTimezone: 'Europe/Paris', now: SUMMER }));
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), ['convert_time', 'get_current_time']);

    for (const tool of tools) {
      assert.ok(tool.title, `${tool.name} has a title`);
      assert.deepEqual(tool.annotations, { readOnlyHint: true, openWorldHint: false });
      assert.match(tool.description ?? '', /Use 'Europe\/Paris' as local timezone/);
      assert.equal(tool.outputSchema?.type, 'object');
      for (const [name, property] of Object.entries(tool.inputSchema.properties ?? {})) {
        assert.ok((property as { description?: string }).description, `${tool.name}.${name} is described`);
      }
    }

    const getCurrent = tools.find((tool) => tool.name === 'get_current_time');
    assert.deepEqual(getCurrent?.inputSchema.required, ['timezone']);
    assert.deepEqual(Object.keys(getCurrent?.outputSchema?.properties ?? {}).sort(), ['datetime', 'day_of_week', 'is_dst', 'timezone']);
    assert.match(
      JSON.stringify(getCurrent?.inputSchema.properties?.timezone),
      /Use 'Europe\/Paris' as local timezone if no timezone provided by the user/,
    );

    const convert = tools.find((tool) => tool.name === 'convert_time');
    assert.deepEqual(convert?.inputSchema.required?.slice().sort(), ['source_timezone', 'target_timezone', 'time']);
    assert.deepEqual(Object.keys(convert?.outputSchema?.properties ?? {}).sort(), ['source', 'target', 'time_difference']);
    for (const field of ['source_timezone', 'target_timezone']) {
      assert.match(JSON.stringify(convert?.inputSchema.properties?.[field]), /'Europe\/Paris'/);
    }
  });

  describe('get_current_time', () => {
    it('returns structured content and the same JSON as text', async () => {
      const client = await connect(createTimeServer({ localTimezone: 'UTC', now: SUMMER }));
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'America/New_York' } });
      assert.equal(result.isError, undefined);
      assert.deepEqual(result.structuredContent, {
        timezone: 'America/New_York',
        datetime: '2026-07-15T16:00:37-04:00',
        day_of_week: 'Wednesday',
        is_dst: true,
      });
      assert.equal(textOf(result), JSON.stringify(result.structuredContent, null, 2));
    });

    it('returns an isError result for an invalid timezone', async () => {
      const client = await connect(createTimeServer({ localTimezone: 'UTC', now: SUMMER }));
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'Mars/Base' } });
      assert.equal(result.isError, true);
      assert.equal(result.structuredContent, undefined);
      assert.equal(textOf(result), "Invalid timezone: 'Mars/Base'. Use an IANA name such as 'America/New_York' or 'UTC'.");
    });

    it('returns an isError result for a missing argument', async () => {
      const client = await connect(createTimeServer({ localTimezone: 'UTC', now: SUMMER }));
      const result = await client.callTool({ name: 'get_current_time', arguments: {} });
      assert.equal(result.isError, true);
      assert.match(textOf(result), /Input validation error.*timezone/s);
    });

    it('uses the system clock when created by createServer', async () => {
      const client = await connect(createServer(context({ localTimezone: 'UTC' })));
      const before = Math.floor(Date.now() / 1000) * 1000;
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      const after = Date.now();
      const shown = Date.parse((result.structuredContent as { datetime: string }).datetime);
      assert.ok(before <= shown && shown <= after, `${shown} within [${before}, ${after}]`);
    });
  });

  describe('convert_time', () => {
    it('returns structured content and the same JSON as text', async () => {
      const client = await connect(createTimeServer({ localTimezone: 'UTC', now: SUMMER }));
      const result = await client.callTool({
        name: 'convert_time',
        arguments: { source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Kathmandu' },
      });
      assert.equal(result.isError, undefined);
      assert.deepEqual(result.structuredContent, {
        source: { timezone: 'UTC', datetime: '2026-07-15T12:00:00+00:00', day_of_week: 'Wednesday', is_dst: false },
        target: {
          timezone: 'Asia/Kathmandu',
          datetime: '2026-07-15T17:45:00+05:45',
          day_of_week: 'Wednesday',
          is_dst: false,
        },
        time_difference: '+5.75h',
      });
      assert.equal(textOf(result), JSON.stringify(result.structuredContent, null, 2));
    });

    it('returns isError results naming what is wrong', async () => {
      const client = await connect(createTimeServer({ localTimezone: 'UTC', now: () => new Date('2026-03-08T12:00:00Z') }));
      const cases: Array<[Record<string, string>, string]> = [
        [
          { source_timezone: 'Mars/Base', time: '12:00', target_timezone: 'UTC' },
          "Invalid timezone: 'Mars/Base'. Use an IANA name such as 'America/New_York' or 'UTC'.",
        ],
        [
          { source_timezone: 'UTC', time: '12:00', target_timezone: 'Mars/Base' },
          "Invalid timezone: 'Mars/Base'. Use an IANA name such as 'America/New_York' or 'UTC'.",
        ],
        [
          { source_timezone: 'UTC', time: '25:99', target_timezone: 'UTC' },
          "Invalid time format: '25:99'. Expected HH:MM in 24-hour format.",
        ],
        [
          { source_timezone: 'America/New_York', time: '02:30', target_timezone: 'UTC' },
          "Invalid time: '02:30' does not exist in America/New_York on 2026-03-08: " +
            'the clocks skip it when they change (e.g. to daylight saving time).',
        ],
      ];
      for (const [args, message] of cases) {
        const result = await client.callTool({ name: 'convert_time', arguments: args });
        assert.equal(result.isError, true, JSON.stringify(args));
        assert.equal(result.structuredContent, undefined);
        assert.equal(textOf(result), message);
      }
    });
  });

  it('gives each createServer call its own independent server', async () => {
    const paris = createServer(context({ localTimezone: 'Europe/Paris' }));
    const tokyo = createServer(context({ localTimezone: 'Asia/Tokyo' }));
    assert.notEqual(paris, tokyo);
    const parisClient = await connect(paris);
    const tokyoClient = await connect(tokyo);

    const describeOf = async (client: Client) =>
      (await client.listTools()).tools.find((tool) => tool.name === 'get_current_time')?.description ?? '';
    assert.match(await describeOf(parisClient), /'Europe\/Paris'/);
    assert.match(await describeOf(tokyoClient), /'Asia\/Tokyo'/);

    await parisClient.close();
    const result = await tokyoClient.callTool({ name: 'get_current_time', arguments: { timezone: 'Asia/Tokyo' } });
    assert.equal(result.isError, undefined);
    assert.equal((result.structuredContent as { timezone: string }).timezone, 'Asia/Tokyo');
  });

  it('refuses to build with an invalid local timezone', () => {
    assert.throws(() => createTimeServer({ localTimezone: 'Mars/Base' }), /localTimezone "Mars\/Base"/);
  });
});

describe('optionsSchema', () => {
  it('defaults localTimezone to UTC', () => {
    assert.deepEqual(optionsSchema.parse({}), { localTimezone: 'UTC' });
  });

  it('accepts an IANA zone', () => {
    assert.deepEqual(optionsSchema.parse({ localTimezone: 'Asia/Kathmandu' }), { localTimezone: 'Asia/Kathmandu' });
  });

  it('rejects an unknown key', () => {
    const result = optionsSchema.safeParse({ localTimezone: 'UTC', timezone: 'UTC' });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map(({ code, path }) => ({ code, path })),
      [{ code: 'unrecognized_keys', path: [] }],
    );
    assert.match(result.error?.issues[0]?.message ?? '', /"timezone"/);
  });

  it('rejects an invalid zone with a message naming it', () => {
    const result = optionsSchema.safeParse({ localTimezone: 'Mars/Base' });
    assert.equal(result.success, false);
    assert.deepEqual(result.error?.issues[0]?.path, ['localTimezone']);
    assert.equal(
      result.error?.issues[0]?.message,
      `localTimezone "Mars/Base" is not an IANA timezone name; use one such as 'America/New_York' or 'UTC'`,
    );
  });
});
