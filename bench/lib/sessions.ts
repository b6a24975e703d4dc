/**
 * Sessions in bulk: opening many with autocannon (initialize only) and asking a gateway child how
 * many it holds.
 */
import type { Child } from './child.js';
import { runLoad } from './load.js';
import { initializeBody } from './mcp.js';

/** Opens `count` sessions on `url` (initialize only) and returns their ids. */
export async function issueIds(url: string, count: number, connections = 10): Promise<string[]> {
  const ids: string[] = [];
  const result = await runLoad({
    url,
    connections,
    amount: count,
    body: initializeBody,
    onResponse: (_status, _body, headers) => {
      const id = headerValue(headers, 'mcp-session-id');
      if (id) ids.push(id);
    },
  });
  if (ids.length !== count) throw new Error(`opened ${ids.length} of ${count} sessions at ${url} (${result.failed} failed)`);
  return ids;
}

/** Live sessions on the child's first route, from /status.json. */
export async function activeSessions(child: Child): Promise<number> {
  const status = (await (await fetch(`${child.base}/status.json`)).json()) as { routes: Array<{ sessions: { active: number } | null }> };
  return status.routes[0]?.sessions?.active ?? 0;
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}
