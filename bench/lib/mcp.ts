/**
 * MCP over plain HTTP, the way a load generator speaks it: request bodies with fresh JSON-RPC ids,
 * and sessions opened up front with `fetch` (autocannon cannot run a handshake per connection).
 */

/** The protocol version the benchmark clients negotiate. */
export const PROTOCOL_VERSION = '2025-06-18';

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
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'mcp-gateway-bench', version: '1.0.0' } },
  });

export const toolsListBody = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

export const toolCallBody = (name: string, args: Record<string, unknown>) => (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** `tools/call get_current_time {timezone: UTC}` on the time server. */
export const timeCallBody = toolCallBody('get_current_time', { timezone: 'UTC' });

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
export async function expectResult(url: string, sessionId: string | undefined, body: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: sessionHeaders(sessionId), body });
  const text = await response.text();
  if (!response.ok || !text.includes('"result"') || text.includes('"isError":true')) {
    throw new Error(`${url} answered ${response.status}: ${text.slice(0, 400)}`);
  }
  return text;
}
