/** The weather module on its own: a real SDK Client over an in-memory link, pointed at the fake NWS. */
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { pino, type Logger } from 'pino';
import type { FetchLike } from '../../src/gateway/module-contract.js';
import { createServer } from '../../servers/weather/index.js';
import { createOptionsSchema } from '../../servers/weather/options.js';
import type { FakeNws } from './fake-nws.js';
import { UNIT_CONTEXT } from './module-context.js';

export interface WeatherConnection {
  client: Client;
  close(): Promise<void>;
}

/** Quick retries and a short timeout, so failure cases stay fast. */
export async function connectWeather(
  nws: FakeNws,
  {
    options = {},
    fetch = globalThis.fetch,
    logger = pino({ level: 'silent' }),
  }: { options?: Record<string, unknown>; fetch?: FetchLike; logger?: Logger } = {},
): Promise<WeatherConnection> {
  const parsed = createOptionsSchema({}).parse({ baseUrl: nws.url, retryDelayMs: 1, timeoutMs: 2000, ...options });
  const server = createServer({ route: 'weather', options: parsed, fetch, logger, ...UNIT_CONTEXT });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'weather-test', version: '0.0.0' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return { client, close: async () => void (await client.close(), await server.close()) };
}

/** Every text part of a tool result, joined by newlines. */
export function allText(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}
