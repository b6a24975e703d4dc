/**
 * The reference of the stdio bridge benchmarks: the SDK's own `Client` talking to a stdio server
 * it spawned itself (`StdioClientTransport`), with no HTTP and no gateway in between, and load
 * from such clients (there is no URL to point autocannon at): each client sends one request at a
 * time, as an autocannon connection does.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { canPin } from './child.js';
import { summarize, type LoadResult } from './load.js';

export interface DirectClient {
  readonly client: Client;
  /** The server process's pid. */
  readonly pid: number;
  /** Closes the client; the server exits when its stdin closes. */
  close(): Promise<void>;
}

/**
 * Spawns `node <entry>` (pinned to `cpu` when `taskset` exists, as the servers under test are) and
 * connects to it with the SDK's defaults: the 2025 `initialize` handshake, which a v1-SDK server
 * needs anyway (`versionNegotiation: 'auto'` would first spawn a second, throwaway process to
 * probe for 2026-07-28).
 */
export async function connectDirect(entry: string, cpu: number | undefined): Promise<DirectClient> {
  const [command, args] =
    canPin && cpu !== undefined ? ['taskset', ['-c', String(cpu), process.execPath, entry]] : [process.execPath, [entry]];
  const transport = new StdioClientTransport({ command, args, stderr: 'ignore' });
  const client = new Client({ name: 'mcp-gateway-bench-direct', version: '1.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid!, close: () => client.close() };
}

export interface ClientLoadOptions {
  readonly clients: readonly Client[];
  /** Seconds to run; ignored when `amount` is set. */
  readonly duration?: number;
  /** Requests to send in all, then stop. */
  readonly amount?: number;
  /** One request on `client`; its answer (or failure) ends it. */
  readonly request: (client: Client) => Promise<unknown>;
}

/** Every client sends its requests one after another until the time or the count is up. */
export async function runClientLoad(options: ClientLoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  const started = performance.now();
  const until = started + (options.duration ?? 5) * 1000;
  const more = () => (options.amount !== undefined ? sent < options.amount : performance.now() < until);
  let lastAnswer = started;
  await Promise.all(
    options.clients.map(async (client) => {
      while (more()) {
        sent++;
        const at = performance.now();
        try {
          await options.request(client);
          lastAnswer = performance.now();
          latencies.push(lastAnswer - at);
        } catch {
          lastAnswer = performance.now();
          failed++;
        }
      }
    }),
  );
  return summarize(latencies, failed, (lastAnswer - started) / 1000);
}
