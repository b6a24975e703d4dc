/**
 * MCP over plain HTTP, the way a load generator speaks it: request bodies with fresh JSON-RPC ids,
 * and sessions opened up front with `fetch` (autocannon cannot run a handshake per connection).
 * For the 2026-07-28 era ("modern"), requests as SDK v2's `Client` pinned to that revision sends
 * them: no session, the version and the client's capabilities in every request's `_meta`, and
 * the SEP-2243 headers.
 */

/** The protocol version the benchmark clients negotiate (2025 era). */
export const PROTOCOL_VERSION = '2025-06-18';

/** The revision of the modern era: no `initialize`, no sessions. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const CLIENT_INFO = { name: 'mcp-gateway-bench', version: '1.0.0' };

export const POST_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});

/** Headers of a request in a session (none for a stateless route or the ceiling). */
export function sessionHeaders(sessionId: string | undefined): Record<string, string> {
  return sessionId === undefined
    ? { ...POST_HEADERS, 'mcp-protocol-version': PROTOCOL_VERSION }
    : { ...POST_HEADERS, 'mcp-protocol-version': PROTOCOL_VERSION, 'mcp-session-id': sessionId };
}

export const initializeBody = (id: number | string) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
  });

export const toolsListBody = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

export const toolCallBody = (name: string, args: Record<string, unknown>) => (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** `tools/call get_current_time {timezone: UTC}` on the time server. */
export const timeCallBody = toolCallBody('get_current_time', { timezone: 'UTC' });

/**
 * What every modern request carries in `params._meta`. SDK v2's server requires the version and
 * the capabilities (-32602 without them); the client sends its info too, and so does this.
 */
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * Headers of a modern request (SEP-2243): `MCP-Protocol-Version` and `Mcp-Method` always,
 * `Mcp-Name` for the methods that name a tool, prompt or resource. The server answers -32020
 * when one is missing or disagrees with the body.
 */
export function modernHeaders(method: string, name?: string): Record<string, string> {
  return {
    ...POST_HEADERS,
    'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
  };
}

export const modernToolsListBody = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: MODERN_META } });

/** `tools/call get_current_time {timezone: UTC}`, modern era (send with `modernHeaders('tools/call', 'get_current_time')`). */
export const modernTimeCallBody = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'get_current_time', arguments: { timezone: 'UTC' }, _meta: MODERN_META },
  });

/** Opens one session: initialize, then the initialized notification, as a client does. */
export async function openSession(url: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: POST_HEADERS, body: initializeBody(0) });
  const text = await response.text();
  const id = response.headers.get('mcp-session-id');
  if (!response.ok || !id || !text.includes('"result"'))
    throw new Error(`initialize at ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  const initialized = await fetch(url, {
    method: 'POST',
    headers: sessionHeaders(id),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.arrayBuffer();
  if (initialized.status !== 202) throw new Error(`notifications/initialized at ${url} answered ${initialized.status}`);
  return id;
}

export async function openSessions(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  // A few at a time: opening them is not what is measured.
  for (let i = 0; i < count; i += 10) {
    ids.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => openSession(url)))));
  }
  return ids;
}

/**
 * Sends one request and checks that it got a JSON-RPC result (not an error), so a load run never
 * measures the speed of an error answer.
 */
export async function expectResult(
  url: string,
  sessionId: string | undefined,
  body: string,
  headers: Record<string, string> = sessionHeaders(sessionId),
): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  if (!response.ok || !text.includes('"result"') || text.includes('"isError":true')) {
    throw new Error(`${url} answered ${response.status}: ${text.slice(0, 400)}`);
  }
  return text;
}

/**
 * Requests a gateway route answered with an error (a JSON-RPC error inside a 200 included), as the
 * gateway's own status page counts them over its window, from the route's URL (`…/mcp/<route>`).
 */
export async function routeErrors(routeUrl: string): Promise<number> {
  const url = new URL(routeUrl);
  const route = url.pathname.split('/').filter(Boolean).pop();
  const status = (await (await fetch(`${url.origin}/status.json`)).json()) as {
    routes: Array<{ name: string; traffic?: { errors?: number } }>;
  };
  return status.routes.find((r) => r.name === route)?.traffic?.errors ?? 0;
}

/** A run with the JSON-RPC errors the gateway counted meanwhile added to its failures. */
export async function withRouteErrors<T extends { failed: number }>(routeUrl: string | undefined, run: () => Promise<T>): Promise<T> {
  if (routeUrl === undefined) return run();
  const before = await routeErrors(routeUrl);
  const result = await run();
  return { ...result, failed: result.failed + Math.max(0, (await routeErrors(routeUrl)) - before) };
}
