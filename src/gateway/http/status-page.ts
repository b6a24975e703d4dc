/**
 * The HTML status page at `/`, a live dashboard of this instance: per route its calls, errors and
 * latency over the last minutes (per tool, and a chart per minute), its sessions, tools, the
 * health of its server (a command or url route's backoff) and the ways to connect to it (a VS
 * Code install link, an `mcp.json` entry, an Inspector command); the upstream cache and each
 * upstream host's health. Everything comes from {@link GatewayStatus} (the same data as
 * `/status.json`, and the same numbers telemetry exports) and is rendered on the server, so the
 * numbers need no JavaScript. A small script only refreshes the page in place while it is
 * visible, and adds copy buttons. Nothing secret is on it, and of a route that requires
 * authentication nothing more than anyone may know: the page is public, and shows such a route's
 * details withheld (http/status-view.ts).
 *
 * A route's facts are rows of {@link ROUTE_FACTS}: a new per-route field of RouteStatus is shown
 * by adding one row there.
 */
import type { RouteTraffic, UpstreamTraffic } from '../gateway.js';
import type { ShownCacheStatus, ShownRouteStatus, ShownStatus } from './status-view.js';
import type { BackoffState } from '../backoff-schedule.js';
import type { ListenStreamsStatus } from '../upstreams/listen-reopening.js';
import { CANCELLED } from '../telemetry/telemetry.js';
import { FUNCTIONS_KEY_INPUT } from '../config/functions-auth-check.js';
import { AUTH_REFUSAL_REASONS, type AuthRefusalCounts, type AuthRefusalReason } from '../auth/refusals.js';

const escape = (text: unknown): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line of a route's facts: a label, and its value as HTML (undefined leaves the row out). */
interface RouteFact {
  readonly label: string;
  readonly html: (route: ShownRouteStatus) => string | undefined;
}

export const ROUTE_FACTS: readonly RouteFact[] = [
  { label: 'URL', html: (route) => `<code>${escape(route.url)}</code>` },
  { label: 'Authentication', html: (route) => escape(describeAuth(route.auth)) },
  { label: 'Refused since start', html: (route) => (route.authRefusals ? escape(describeRefusals(route.authRefusals)) : undefined) },
  {
    label: 'Sessions',
    html: (route) =>
      route.sessions
        ? `<b>${route.sessions.active}</b> live (max ${route.sessions.max}, ${route.sessions.maxPerPrincipal} per caller, idle timeout ${route.sessions.idleTimeoutSeconds} s)`
        : 'stateless: no sessions',
  },
  { label: 'Server', html: (route) => describeRouteUpstream(route.upstream) },
  {
    label: 'Server health',
    html: ({ upstream }) => {
      if (upstream.kind === 'module') return undefined;
      // A command route's probe is a child started for it; a url route's, one request.
      const health = describeBackoff(upstream.backoff, upstream.kind === 'command' ? 'one new server process' : 'one request');
      const streams = describeListenStreams(upstream.listenStreams);
      return `<span${upstream.backoff.state === 'ok' ? '' : ' class="error"'}>${escape(health)}</span>${
        streams ? ` · <span${upstream.listenStreams.waiting > 0 ? ' class="error"' : ''}>${escape(streams)}</span>` : ''
      }`;
    },
  },
  {
    label: 'Details',
    html: (route) =>
      route.details === 'withheld'
        ? 'withheld: tools and server details are shown to callers of this route: send its credentials to /status.json'
        : undefined,
  },
  { label: 'In flight', html: (route) => String(route.inFlight) },
  { label: 'Served since start', html: (route) => `${route.served.legacy} on 2025 sessions · ${route.served.modern} in 2026-07-28` },
];

/** A command or url route's upstream: its processes (connections), starts and restarts; nothing for a module. */
function describeRouteUpstream(upstream: ShownRouteStatus['upstream']): string | undefined {
  if (upstream.kind === 'module') return undefined;
  const one = upstream.open === 1;
  const what = upstream.kind === 'command' ? (one ? 'server process' : 'server processes') : one ? 'connection' : 'connections';
  const running = `<b>${upstream.open}</b> ${what} running`;
  const parts = [
    upstream.kind === 'command' ? `stdio command, ${running} (max ${upstream.max})` : `remote server, ${running}`,
    `isolation ${escape(upstream.isolation)}`,
    `${upstream.started} started, ${plural(upstream.restarts, 'restart')}`,
  ];
  if ('serverInfo' in upstream && upstream.serverInfo) parts.push(escape(`${upstream.serverInfo.name} ${upstream.serverInfo.version}`));
  return parts.join(' · ');
}

/** What the page knows of the gateway's place beyond its status. */
export interface StatusPageOptions {
  /**
   * The Functions host in front asks every request for a function key (in Azure, with
   * `defaultAuthorizationLevel: function`): the ways to connect send one, as the generated
   * `.vscode/mcp.json`'s remote entries do (but on OAuth routes, whose clients sign in instead).
   */
  readonly functionKey?: boolean;
}

export function renderStatusPage(status: ShownStatus, options: StatusPageOptions = {}): string {
  const refresh = status.routes.some((route) => route.details === 'full' && route.toolsPending)
    ? '<meta http-equiv="refresh" content="1">\n'
    : '';
  const exporters = status.telemetry.exporters;
  const telemetry = exporters.length > 0 ? `telemetry exported to ${escape(exporters.join(' and '))}` : 'telemetry not exported';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCP gateway</title><link rel="icon" href="data:,">
${refresh}<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body><main>
<h1>MCP gateway <small>v${escape(status.version)}</small></h1>
<p>Up ${escape(formatUptime(status.uptimeSeconds))} · ${plural(status.routes.length, 'route')} · ${telemetry} · <a href="/status.json">status.json</a></p>
<p><small>The numbers are this instance's, over the last ${status.routes[0]?.traffic.windowMinutes ?? 5} minutes; latencies are estimates within about 12%.</small></p>
${status.routes.map((route) => renderRoute(route, options)).join('\n')}
${renderUpstreams(status.cache)}
</main>
<script>${SCRIPT}</script>
</body></html>`;
}

function renderRoute(route: ShownRouteStatus, options: StatusPageOptions): string {
  const facts = ROUTE_FACTS.flatMap(({ label, html }) => {
    const value = html(route);
    return value === undefined ? [] : [`<dt>${escape(label)}</dt><dd>${value}</dd>`];
  }).join('');
  const traffic = route.traffic;
  return `<section id="route-${escape(route.name)}" data-route="${escape(route.name)}">
<h2>${escape(route.name)}</h2>
<div class="summary">${renderTotals(traffic, 'call')}${chart(traffic.perMinute, `Requests per minute to ${route.name}, last ${traffic.perMinute.length} minutes`)}</div>
<dl>${facts}</dl>
${renderTools(route)}
${renderOtherRequests(traffic)}
${renderConnect(route, options)}
</section>`;
}

/** The `error.type`s that are errors: all but `cancelled`. */
const errorEntries = (types: Record<string, number>) => Object.entries(types).filter(([type]) => type !== CANCELLED);

/** `12 calls · 1 error (tool_error 1) · 2 cancelled · p50 1.2 ms · p95 4 ms`. */
function renderTotals(
  totals: Pick<RouteTraffic, 'requests' | 'errors' | 'p50Ms' | 'p95Ms'> & { errorTypes?: Record<string, number> },
  noun: 'call' | 'request',
): string {
  const types =
    totals.errorTypes && totals.errors > 0
      ? ` (${errorEntries(totals.errorTypes)
          .map(([type, n]) => `${escape(type)} ${n}`)
          .join(', ')})`
      : '';
  const errors = `<span${totals.errors > 0 ? ' class="error"' : ''}>${plural(totals.errors, 'error')}${types}</span>`;
  // Calls whose client went away before the answer: neither errors nor latencies of the server.
  const gone = totals.errorTypes?.[CANCELLED] ? ` · ${totals.errorTypes[CANCELLED]} cancelled` : '';
  return `<p class="totals"><b data-stat="requests">${totals.requests}</b> ${totals.requests === 1 ? noun : `${noun}s`} · ${errors}${gone} · p50 ${formatMs(totals.p50Ms)} · p95 ${formatMs(totals.p95Ms)}</p>`;
}

function renderTools(route: ShownRouteStatus): string {
  // Withheld: the Details row says so, and the other requests' table keeps the per-method rows.
  if (route.details === 'withheld') return '';
  if (route.toolsError) return `<p class="error">tools unavailable: ${escape(route.toolsError)}</p>`;
  if (route.toolsPending) return '<p>listing tools…</p>';
  const calls = new Map(route.traffic.operations.filter((o) => o.method === 'tools/call').map((o) => [o.target ?? '', o]));
  const rows = route.tools.map((tool) => {
    const seen = calls.get(tool.name);
    calls.delete(tool.name);
    return operationRow(`<code>${escape(tool.name)}</code> <small>${escape(cut(tool.description, 140))}</small>`, seen, tool.name);
  });
  // Calls to names the route does not list (unknown tools count as `_OTHER`).
  for (const [name, seen] of calls) rows.push(operationRow(`<code>${escape(name)}</code> <small>not a listed tool</small>`, seen, name));
  return `<table><thead><tr><th>tool</th><th>calls</th><th>errors</th><th>p50</th><th>p95</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function renderOtherRequests(traffic: RouteTraffic): string {
  const others = traffic.operations.filter((o) => o.method !== 'tools/call');
  if (others.length === 0) return '';
  const rows = others.map((o) =>
    operationRow(`<code>${escape(o.target ? `${o.method} ${o.target}` : o.method)}</code>`, o, `${o.method} ${o.target ?? ''}`),
  );
  return `<table><thead><tr><th>other requests</th><th>count</th><th>errors</th><th>p50</th><th>p95</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function operationRow(label: string, seen: RouteTraffic['operations'][number] | undefined, key: string): string {
  const errors =
    seen && seen.errors > 0
      ? `<span class="error" title="${escape(
          errorEntries(seen.errorTypes)
            .map(([t, n]) => `${t}: ${n}`)
            .join(', '),
        )}">${seen.errors}</span>`
      : '0';
  return `<tr data-operation="${escape(key.trim())}"><td>${label}</td><td data-stat="calls">${seen?.requests ?? 0}</td><td>${errors}</td><td>${formatMs(seen?.p50Ms ?? null)}</td><td>${formatMs(seen?.p95Ms ?? null)}</td></tr>`;
}

/** A VS Code install link, the `.vscode/mcp.json` entry, and an MCP Inspector command for the route. */
function renderConnect(route: ShownRouteStatus, options: StatusPageOptions): string {
  const header = route.auth.kind === 'apiKey' ? route.auth.header : undefined;
  const functionKey = options.functionKey === true && route.auth.kind !== 'oauth';
  const input = `${route.name}-api-key`;
  const headers: Record<string, string> = {
    ...(functionKey ? { 'x-functions-key': '${input:functions-key}' } : {}),
    ...(header ? { [header]: `\${input:${input}}` } : {}),
  };
  const inputs = [
    ...(functionKey ? [FUNCTIONS_KEY_INPUT] : []),
    ...(header ? [{ type: 'promptString', id: input, description: `API key for ${route.name}`, password: true }] : []),
  ];
  const server: Record<string, unknown> = { type: 'http', url: route.url };
  if (Object.keys(headers).length > 0) server.headers = headers;
  const mcpJson = JSON.stringify({ servers: { [route.name]: server }, ...(inputs.length > 0 ? { inputs } : {}) }, null, 2);
  const install = `vscode:mcp/install?${encodeURIComponent(JSON.stringify({ name: route.name, type: 'http', url: route.url }))}`;
  const sent = [...(functionKey ? ['x-functions-key: <function key>'] : []), ...(header ? [`${header}: <key>`] : [])];
  const inspector = `npx @modelcontextprotocol/inspector --cli ${route.url} --transport http --method tools/list${sent.map((h) => ` --header "${h}"`).join('')}`;
  const keys = [functionKey ? 'the function key' : '', header ? 'the API key' : ''].filter(Boolean).join(' and ');
  return `<details id="connect-${escape(route.name)}"><summary>Connect</summary>
<p><a href="${escape(install)}">Install in VS Code</a>${keys ? ` (then add the header${sent.length > 1 ? 's' : ''} of ${keys} below)` : ''} · or add to <code>.vscode/mcp.json</code>:</p>
<pre id="mcp-json-${escape(route.name)}" data-copy>${escape(mcpJson)}</pre>
<p>MCP Inspector (<code>npx @modelcontextprotocol/inspector</code> without <code>--cli</code> opens its UI):</p>
<pre id="inspector-${escape(route.name)}" data-copy>${escape(inspector)}</pre>
</details>`;
}

function renderUpstreams(cache: ShownCacheStatus): string {
  const c = cache;
  const counters = `<div class="summary">${renderTotals(c.traffic, 'request')}${chart(c.traffic.perMinute, `Upstream requests per minute, last ${c.traffic.perMinute.length} minutes`)}</div>
<p>${c.enabled ? 'on' : 'off'} · ${c.entries} entries, ${c.bytes} bytes · ${c.hits} hits, ${c.misses} misses, ${c.coalesced} coalesced, ${c.staleServed} stale served, ${c.upstreamErrors} upstream errors, ${c.revalidated} revalidated, ${c.backedOff} answered from backoff</p>`;
  if (c.details === 'withheld') {
    return `<section id="upstreams"><h2>Upstream cache</h2>
${counters}
<p>withheld: upstream hosts and their errors are shown to callers of a route that uses the cache: send its credentials to /status.json</p></section>`;
  }
  const traffic = new Map(c.traffic.origins.map((o) => [o.origin, o]));
  const origins = [...new Set([...c.upstreams.map((u) => u.origin), ...traffic.keys()])];
  const states = new Map(c.upstreams.map((u) => [u.origin, u]));
  const rows = origins.map((origin) => {
    const state = states.get(origin);
    const seen = traffic.get(origin);
    const outcomes = seen
      ? Object.entries(seen.outcomes)
          .map(([outcome, n]) => `${escape(outcome)} ${n}`)
          .join(', ')
      : '';
    const health = state
      ? `<code>${escape(origin)}</code> ${escape(describeBackoff(state, 'one request'))}`
      : `<code>${escape(origin)}</code>`;
    return `<tr class="${state && state.state !== 'ok' ? 'error' : ''}"><td>${health}</td><td data-stat="requests">${seen?.requests ?? 0}</td><td>${outcomes}</td><td>${seen?.errors ?? 0}</td><td>${formatMs(seen?.p50Ms ?? null)}</td><td>${formatMs(seen?.p95Ms ?? null)}</td></tr>`;
  });
  const table =
    rows.length === 0
      ? ''
      : `<table><thead><tr><th>upstream host</th><th>requests</th><th>by cache outcome</th><th>errors</th><th>p50</th><th>p95</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<p><small>Latency counts the answers that went to the network (misses and bypasses).</small></p>`;
  return `<section id="upstreams"><h2>Upstream cache</h2>
${counters}
${table}</section>`;
}

/** Bars of requests per minute (errors in red), oldest first; each bar says its numbers on hover. */
function chart(perMinute: UpstreamTraffic['perMinute'], label: string): string {
  const width = 6;
  const height = 32;
  const max = Math.max(1, ...perMinute.map((m) => m.requests));
  const bars = perMinute
    .map((m, i) => {
      const x = i * (width + 2);
      const h = m.requests === 0 ? 0 : Math.max(1, Math.round((m.requests / max) * height));
      const e = m.errors === 0 ? 0 : Math.max(1, Math.round((m.errors / max) * height));
      const ago = perMinute.length - 1 - i;
      const title = `${ago === 0 ? 'this minute' : `${ago} min ago`}: ${plural(m.requests, 'request')}, ${plural(m.errors, 'error')}`;
      return `<g><title>${title}</title><rect x="${x}" y="0" width="${width}" height="${height}" class="slot"/>${h > 0 ? `<rect x="${x}" y="${height - h}" width="${width}" height="${h}" class="ok"/>` : ''}${e > 0 ? `<rect x="${x}" y="${height - e}" width="${width}" height="${e}" class="bad"/>` : ''}</g>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${escape(label)}" width="${perMinute.length * (width + 2)}" height="${height}" viewBox="0 0 ${perMinute.length * (width + 2)} ${height}">${bars}</svg>`;
}

/** A route's refusals for credentials, in words: `3 refused: 2 without credentials, 1 invalid`. */
function describeRefusals(refusals: AuthRefusalCounts): string {
  const total = AUTH_REFUSAL_REASONS.reduce((sum, reason) => sum + refusals[reason], 0);
  if (total === 0) return 'none';
  const parts = AUTH_REFUSAL_REASONS.filter((reason) => refusals[reason] > 0).map(
    (reason) => `${refusals[reason]} ${REFUSAL_WORDS[reason]}`,
  );
  return `${total}: ${parts.join(', ')}`;
}

const REFUSAL_WORDS: Readonly<Record<AuthRefusalReason, string>> = {
  missing: 'without credentials (401)',
  invalid: 'with invalid credentials (401)',
  insufficient_scope: 'without a required scope (403)',
  unavailable: 'while the issuer could not be reached (503)',
};

/** What a caller needs, in words; the same facts as `auth` in status.json. */
function describeAuth(auth: ShownRouteStatus['auth']): string {
  switch (auth.kind) {
    case 'none':
      return 'no authentication by the gateway';
    case 'apiKey':
      return `API key (${auth.header} header or Authorization: Bearer)`;
    case 'oauth':
      return `OAuth bearer token from ${auth.issuer}${auth.scopes.length > 0 ? `, scopes ${auth.scopes.join(' ')}` : ''}`;
  }
}

/**
 * An upstream host's or a route's server's backoff in words, e.g. "backing off: next attempt in
 * 8 s (interval 16 s) · 5 consecutive failures · last error 503"; `probe` says what is trying it
 * while it is probed.
 */
function describeBackoff(upstream: BackoffState, probe: string): string {
  const state =
    upstream.state === 'ok'
      ? 'ok'
      : upstream.state === 'probing'
        ? `probing: ${probe} is trying it (interval ${upstream.intervalSeconds} s)`
        : `backing off: next attempt in ${upstream.retryInSeconds} s (interval ${upstream.intervalSeconds} s)`;
  const failures = `${upstream.consecutiveFailures} consecutive failure${upstream.consecutiveFailures === 1 ? '' : 's'}`;
  return [state, failures, ...(upstream.lastError ? [`last error ${upstream.lastError}`] : [])].join(' · ');
}

/**
 * A 2026-07-28 upstream's listen streams in words, once it has any or has ended one, e.g. "2 listen
 * streams open, 1 waiting to be opened again (the server ended 5, the gateway opened 4 again)".
 */
function describeListenStreams(streams: ListenStreamsStatus): string | undefined {
  if (streams.open === 0 && streams.waiting === 0 && streams.ended === 0) return undefined;
  const waiting = streams.waiting > 0 ? `, ${streams.waiting} waiting to be opened again` : '';
  const ends = streams.ended > 0 ? ` (the server ended ${streams.ended}, the gateway opened ${streams.reopened} again)` : '';
  return `${plural(streams.open, 'listen stream')} open${waiting}${ends}`;
}

function cut(text: string | undefined, max: number): string {
  if (text === undefined || text.length <= max) return text ?? '';
  return `${text.slice(0, max).replace(/\s+\S*$/, '')}…`;
}

function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  return ms >= 1000 ? `${Number((ms / 1000).toPrecision(3))} s` : `${ms} ms`;
}

function formatUptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px}section{border-top:1px solid #ddd;margin-top:1.25rem}
.error{color:#b00}small{color:#666}dl{display:grid;grid-template-columns:max-content 1fr;gap:0 1rem;margin:.5rem 0}dt{color:#666}dd{margin:0}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{text-align:left;padding:.15rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th:not(:first-child),td:not(:first-child){text-align:right;white-space:nowrap}.summary{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
.chart .slot{fill:#f3f3f3}.chart .ok{fill:#4a7ebb}.chart .bad{fill:#c33}pre{background:#f6f6f6;padding:.5rem;overflow:auto;position:relative}
pre button{position:absolute;top:.25rem;right:.25rem;font-size:12px}summary{cursor:pointer;color:#245}`;

/**
 * Progressive enhancement only: while the page is visible, fetch it again every 5 s (and when it
 * comes back into view) and swap the new numbers in, keeping open sections open; copy buttons on
 * the snippets. Without JavaScript the page is complete as served.
 */
const SCRIPT = `(() => {
  const addCopyButtons = (root) => {
    if (!navigator.clipboard) return;
    for (const pre of root.querySelectorAll('pre[data-copy]')) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Copy';
      button.addEventListener('click', () => navigator.clipboard.writeText(pre.firstChild.textContent).then(() => { button.textContent = 'Copied'; }, () => {}));
      pre.append(button);
    }
  };
  let busy = false;
  const refresh = async () => {
    if (document.hidden || busy) return;
    busy = true;
    try {
      const response = await fetch(location.pathname, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!response.ok) return;
      const next = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('main');
      const current = document.querySelector('main');
      if (!next || !current) return;
      for (const open of current.querySelectorAll('details[open][id]')) next.querySelector('#' + CSS.escape(open.id))?.setAttribute('open', '');
      addCopyButtons(next);
      current.replaceWith(next);
      document.dispatchEvent(new CustomEvent('status-refreshed'));
    } catch {
      // Offline or stopping: the page stays as it is and the next round tries again.
    } finally {
      busy = false;
    }
  };
  addCopyButtons(document);
  setInterval(refresh, 5000);
  document.addEventListener('visibilitychange', refresh);
  window.addEventListener('focus', refresh);
})();`;
