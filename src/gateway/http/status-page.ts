/**
 * The HTML status page at `/`: each route, its URL, its tools, live sessions, the cache and the
 * state of each upstream host. The same data is served as JSON at `/status.json`. Nothing secret
 * is on it.
 */
import type { GatewayStatus, RouteStatus } from '../gateway.js';
import type { UpstreamStatus } from '../cache/upstream-cache.js';

const escape = (text: unknown): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A command or url route's upstream: its processes (connections), starts and restarts. */
function describeRouteUpstream(upstream: RouteStatus['upstream']): string | undefined {
  if (upstream.kind === 'module') return undefined;
  const one = upstream.open === 1;
  const what = upstream.kind === 'command' ? (one ? 'server process' : 'server processes') : one ? 'connection' : 'connections';
  const running = `${upstream.open} ${what} running`;
  const parts = [
    upstream.kind === 'command' ? `stdio command, ${running} (max ${upstream.max})` : `remote server, ${running}`,
    `isolation ${upstream.isolation}`,
    `${upstream.started} started, ${upstream.restarts} restart${upstream.restarts === 1 ? '' : 's'}`,
  ];
  if (upstream.serverInfo) parts.push(`${upstream.serverInfo.name} ${upstream.serverInfo.version}`);
  if (upstream.retryInSeconds !== undefined) parts.push(`failing: next try in ${upstream.retryInSeconds} s`);
  return parts.join(' · ');
}

export function renderStatusPage(status: GatewayStatus): string {
  const routes = status.routes
    .map((route) => {
      const sessions = route.sessions
        ? `${route.sessions.active} live session${route.sessions.active === 1 ? '' : 's'} (max ${route.sessions.max}, idle timeout ${route.sessions.idleTimeoutSeconds} s)`
        : 'stateless: no sessions';
      const tools = route.toolsError
        ? `<p class="error">tools unavailable: ${escape(route.toolsError)}</p>`
        : route.toolsPending
          ? '<p>listing tools…</p>'
          : `<ul>${route.tools.map((t) => `<li><code>${escape(t.name)}</code> ${escape(t.description)}</li>`).join('')}</ul>`;
      const upstream = describeRouteUpstream(route.upstream);
      return `<section><h2>${escape(route.name)}</h2><p><code>${escape(route.url)}</code> · ${escape(describeAuth(route.auth))} · ${escape(sessions)}</p>${upstream ? `<p>${escape(upstream)}</p>` : ''}${tools}</section>`;
    })
    .join('\n');
  const c = status.cache;
  const upstreams =
    c.upstreams.length === 0
      ? ''
      : `<ul>${c.upstreams.map((u) => `<li><code>${escape(u.origin)}</code> ${escape(describeUpstream(u))}</li>`).join('')}</ul>`;
  const refresh = status.routes.some((route) => route.toolsPending) ? '<meta http-equiv="refresh" content="1">\n' : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCP gateway</title>
${refresh}<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}section{border-top:1px solid #ddd;margin-top:1rem}
.error{color:#b00}small{color:#666}</style></head>
<body><h1>MCP gateway <small>v${escape(status.version)}</small></h1>
<p>Up ${escape(formatUptime(status.uptimeSeconds))} · ${status.routes.length} route${status.routes.length === 1 ? '' : 's'} · <a href="/status.json">status.json</a></p>
${routes}
<section><h2>Upstream cache</h2><p>${c.enabled ? 'on' : 'off'} · ${c.entries} entries, ${c.bytes} bytes · ${c.hits} hits, ${c.misses} misses, ${c.coalesced} coalesced, ${c.staleServed} stale served, ${c.upstreamErrors} upstream errors, ${c.backedOff} answered from backoff</p>${upstreams}</section>
</body></html>`;
}

/** What a caller needs, in words; the same facts as `auth` in status.json. */
function describeAuth(auth: RouteStatus['auth']): string {
  switch (auth.kind) {
    case 'none':
      return 'no authentication by the gateway';
    case 'apiKey':
      return `API key (${auth.header} header or Authorization: Bearer)`;
    case 'oauth':
      return `OAuth bearer token from ${auth.issuer}${auth.scopes.length > 0 ? `, scopes ${auth.scopes.join(' ')}` : ''}`;
  }
}

/** A host's state in words, e.g. "backing off: next attempt in 8 s (interval 16 s) · 5 consecutive failures · last error 503". */
function describeUpstream(upstream: UpstreamStatus): string {
  const state =
    upstream.state === 'ok'
      ? 'ok'
      : upstream.state === 'probing'
        ? `probing: one request is trying it (interval ${upstream.intervalSeconds} s)`
        : `backing off: next attempt in ${upstream.retryInSeconds} s (interval ${upstream.intervalSeconds} s)`;
  const failures = `${upstream.consecutiveFailures} consecutive failure${upstream.consecutiveFailures === 1 ? '' : 's'}`;
  return [state, failures, ...(upstream.lastError ? [`last error ${upstream.lastError}`] : [])].join(' · ');
}

function formatUptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}
