/**
 * A bridged route's upstream tools by name, as last listed by any of its clients. A 2026-07-28
 * request gets a bridge server of its own, which has seen no `tools/list`, yet needs the tool's
 * schemas before it forwards a call: the input schema for the SEP-2243 `Mcp-Param-*` header
 * checks the SDK's HTTP entry runs before dispatch (the upstream, on stdio, never sees headers),
 * and the output schema to shape the result as the SDK shapes a module's.
 */
import type { Tool } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
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

  /** Lists the upstream's tools through `connection` unless they are known (once at a time). */
  async ensure(connection: UpstreamConnection): Promise<void> {
    if (this.listed) return;
    this.listing ??= connection.client
      .listTools()
      .then(({ tools }) => this.record(tools))
      .catch((error: unknown) => this.log.debug({ err: error }, 'could not list the upstream tools'))
      .finally(() => (this.listing = undefined));
    await this.listing;
  }
}
