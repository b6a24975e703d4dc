import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { createServer, optionsSchema } from '../../servers/weather/index.js';
import { createOptionsSchema, DEFAULT_NWS_BASE_URL, DEFAULT_USER_AGENT } from '../../servers/weather/options.js';
import { startFakeNws } from '../helpers/fake-nws.js';
import { UNIT_CONTEXT } from '../helpers/module-context.js';

describe('weather optionsSchema', () => {
  const schema = createOptionsSchema({});

  it('fills in the defaults', () => {
    assert.deepEqual(schema.parse({}), {
      baseUrl: 'https://api.weather.gov',
      userAgent: DEFAULT_USER_AGENT,
      timeoutMs: 10_000,
      retryDelayMs: 250,
      maxResponseBytes: 8 * 1024 * 1024,
    });
    assert.match(DEFAULT_USER_AGENT, /^mcp-gateway-functions\/\S+ \(.*contact/);
  });

  it('keeps given values', () => {
    const options = {
      baseUrl: 'http://127.0.0.1:8080',
      userAgent: 'me (me@example.com)',
      timeoutMs: 500,
      retryDelayMs: 0,
      maxResponseBytes: 4096,
    };
    assert.deepEqual(schema.parse(options), options);
  });

  it('rejects bad values, naming each', () => {
    const cases: Array<[unknown, string]> = [
      [{ unknown: 1 }, ''],
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ baseUrl: 'ftp://api.weather.gov' }, 'baseUrl'],
      [{ baseUrl: 'https://api.weather.gov/?x=1' }, 'baseUrl'],
      [{ userAgent: '' }, 'userAgent'],
      [{ userAgent: '   ' }, 'userAgent'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ timeoutMs: -5 }, 'timeoutMs'],
      [{ timeoutMs: 1.5 }, 'timeoutMs'],
      [{ timeoutMs: '1000' }, 'timeoutMs'],
      [{ retryDelayMs: -1 }, 'retryDelayMs'],
      [{ maxResponseBytes: 0 }, 'maxResponseBytes'],
      [{ maxResponseBytes: 1.5 }, 'maxResponseBytes'],
      [null, ''],
    ];
    for (const [input, key] of cases) {
      const result = schema.safeParse(input);
      assert.equal(result.success, false, JSON.stringify(input));
      assert.equal(result.error?.issues[0]?.path.join('.'), key, JSON.stringify(input));
    }
  });

  it('reports every problem at once', () => {
    const result = schema.safeParse({ baseUrl: 'nope', timeoutMs: 0, extra: true });
    assert.equal(result.success, false);
    assert.equal(result.error?.issues.length, 3);
  });

  it('takes the default base URL from NWS_BASE_URL', () => {
    assert.equal(createOptionsSchema({ NWS_BASE_URL: 'http://127.0.0.1:9999' }).parse({}).baseUrl, 'http://127.0.0.1:9999');
    assert.equal(createOptionsSchema({ NWS_BASE_URL: '' }).parse({}).baseUrl, DEFAULT_NWS_BASE_URL);
    const explicit = createOptionsSchema({ NWS_BASE_URL: 'http://127.0.0.1:9999' }).parse({ baseUrl: 'https://mirror.example' });
    assert.equal(explicit.baseUrl, 'https://mirror.example', 'an explicit option wins');
    const bad = createOptionsSchema({ NWS_BASE_URL: 'localhost:8080' }).safeParse({});
    assert.equal(bad.success, false, 'a bad variable fails like a bad option');
    assert.equal(bad.error?.issues[0]?.path.join('.'), 'baseUrl');
  });

  it('the exported schema reads NWS_BASE_URL from the environment when parsing, and the server uses it', async () => {
    const nws = await startFakeNws();
    const saved = process.env.NWS_BASE_URL;
    process.env.NWS_BASE_URL = nws.url;
    try {
      const options = optionsSchema.parse({ retryDelayMs: 0 });
      assert.equal(options.baseUrl, nws.url);
      const server = createServer({
        route: 'weather',
        options,
        fetch: globalThis.fetch,
        logger: pino({ level: 'silent' }),
        ...UNIT_CONTEXT,
      });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const client = new Client({ name: 'weather-options-test', version: '0.0.0' });
      await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
      const result = (await client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } })) as CallToolResult;
      await client.close();
      await server.close();
      assert.equal(result.isError, undefined);
      assert.deepEqual(
        nws.requests.map((request) => request.path + request.search),
        ['/alerts/active?area=PA'],
      );
    } finally {
      if (saved === undefined) delete process.env.NWS_BASE_URL;
      else process.env.NWS_BASE_URL = saved;
      await nws.close();
    }
  });
});
