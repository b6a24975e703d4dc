/**
 * A bridged route's upstream tools by name, as last listed by any of its clients. A 2026-07-28
 * request gets a bridge server of its own, which has seen no `tools/list`, yet needs the tool's
 * schemas before it forwards a call: the input schema for the SEP-2243 `Mcp-Param-*` header
 * checks the SDK's HTTP entry runs before dispatch (the upstream, on stdio, never sees headers),
 * and the output schema to shape the result as the SDK shapes a module's.
 *
 * Listing them is a request to the upstream like a forwarded one: it asks the route's backoff
 * before it goes (a remote backing off is not asked) and tells it what it came to, so that its
 * answer settles a probe as a call's does: a child started for a 2026-07-28 `server/discover` may
 * be asked nothing else.
 */
import type { Tool } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import { outcomeOf, type BridgeOptions } from './bridge.js';
import type { UpstreamConnection } from './connection.js';

export class ToolIndex {
  private readonly tools = new Map<string, Tool>();
  private listed = false;
  private listing: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  get(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  /** A page of `tools/list` that went through the bridge. */
  record(tools: readonly Tool[] | undefined): void {
    for (const tool of tools ?? []) this.tools.set(tool.name, tool);
    this.listed = true;
  }

  /** The upstream said its tools changed: the next 2026-07-28 request lists them again. */
  invalidate(): void {
    this.tools.clear();
    this.listed = false;
  }

  /**
   * Lists the upstream's tools through `connection` unless they are known (once at a time). A
   * listing that fails or is refused leaves them unknown: the request goes on without them.
   */
  async ensure(connection: UpstreamConnection, backoff?: BridgeOptions['backoff']): Promise<void> {
    if (this.listed) return;
    this.listing ??= this.list(connection, backoff).finally(() => (this.listing = undefined));
    await this.listing;
  }

  private async list(connection: UpstreamConnection, backoff: BridgeOptions['backoff']): Promise<void> {
    try {
      // Throws a fast upstream_unavailable while the upstream is left alone.
      const told = backoff?.pass();
      try {
        const { tools } = await connection.client.listTools();
        told?.({ kind: 'answered' });
        this.record(tools);
      } catch (error) {
        told?.(outcomeOf(error));
        throw error;
      }
    } catch (error) {
      this.log.debug({ err: error }, 'could not list the upstream tools');
    }
  }
}
