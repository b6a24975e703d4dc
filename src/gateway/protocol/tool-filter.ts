/**
 * A route's `tools: { allow, deny }` lists, applied on the wire between transport and server, so
 * modules need no cooperation and hidden tools cannot be reached by any method: `tools/list`
 * answers leave them out and `tools/call` for them is answered here, as the SDK answers an
 * unknown tool, without reaching the server.
 */
import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { ForwardingTransport } from './forwarding-transport.js';

export interface ToolLists {
  allow?: readonly string[] | undefined;
  deny?: readonly string[] | undefined;
}

/** Whether `name` is visible on a route with these lists. */
export function isToolVisible(name: string, { allow, deny }: ToolLists): boolean {
  if (allow && !allow.includes(name)) return false;
  return !deny?.includes(name);
}

/** The transport itself when there is nothing to filter, else a wrapper that filters. */
export function filterTools<T extends Transport>(transport: T, lists: ToolLists | undefined): Transport {
  if (!lists || (!lists.allow && !lists.deny)) return transport;
  return new ToolFilteringTransport(transport, lists);
}

class ToolFilteringTransport extends ForwardingTransport {
  /** Ids of tools/list requests in flight, whose answers must be filtered. */
  private readonly listRequests = new Set<string | number>();

  constructor(
    inner: Transport,
    private readonly lists: ToolLists,
  ) {
    super(inner);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions) {
    if ('id' in message && 'result' in message && this.listRequests.delete(message.id)) {
      const result = message.result as { tools?: Array<{ name: string }> };
      if (Array.isArray(result.tools)) {
        message = { ...message, result: { ...result, tools: result.tools.filter((t) => isToolVisible(t.name, this.lists)) } };
      }
    } else if ('id' in message && 'error' in message && message.id !== undefined) {
      this.listRequests.delete(message.id);
    }
    return super.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo) {
    if ('method' in message && 'id' in message) {
      if (message.method === 'tools/list') this.listRequests.add(message.id);
      if (message.method === 'tools/call') {
        const name = String((message.params as { name?: unknown } | undefined)?.name);
        if (!isToolVisible(name, this.lists)) {
          // The SDK's own answer for a tool it does not have (v2: an Invalid params error).
          void this.inner.send({ jsonrpc: '2.0', id: message.id, error: { code: -32602, message: `Tool ${name} not found` } });
          return;
        }
      }
    }
    super.receive(message, extra);
  }
}
