/**
 * The run as Markdown: `docs/benchmarks.md` (with the method and notes around it) and the tables
 * printed on stdout.
 */
import { median, type LoadResult } from '../lib/load.js';
import type { Method, Target } from '../suites/throughput.js';
import { UPSTREAM_LATENCY_MS, WEATHER_CONNECTIONS } from '../suites/weather.js';
import { ABANDON_IDLE_TIMEOUT_S } from '../suites/memory.js';
import { RESUME_CONNECTIONS } from '../suites/resume.js';
import { bridgeCell, bridgeConcurrencies, cell, goals, type BenchResults } from './results.js';
import { mib, ms, ratio, rps, signedMs, table, type Align } from './table.js';

const METHODS: readonly Method[] = ['tools/call', 'tools/list'];

/** The tables of a run, each under a heading (what stdout shows). */
export function renderTables(results: BenchResults): string {
  return [runSection(results), goalSection(results), ...sections(results)].filter(Boolean).join('\n\n');
}

/** The whole of docs/benchmarks.md. */
export function renderDocument(results: BenchResults, notes: string): string {
  return [
    '# Benchmarks',
    '<!-- Written by `npm run bench` (bench/main.ts) from its last full run; edit bench/report/, not this file. -->',
    INTRO,
    runSection(results),
    goalSection(results),
    ...sections(results),
    notes.trim(),
  ]
    .filter(Boolean)
    .join('\n\n')
    .concat('\n');
}

const INTRO = `Every number below was measured side by side in one run of \`npm run bench\` on the machine
described, against references running on the same machine in the same run: a minimal stateful
server written the way the SDK's examples write one (\`bench/reference/minimal-sdk-server.ts\`:
\`createMcpExpressApp\`, one session map, a \`StreamableHTTPServerTransport\` and \`McpServer\` per
session, serving the same time server), the same server on \`node:http\` without express
(\`bench/reference/minimal-node-server.ts\`), the same again exporting a span and a metric point per
request as the gateway does (\`bench/reference/otel-instrument.ts\`), a minimal SDK v2 server speaking MCP
2026-07-28 (\`bench/reference/minimal-v2-server.ts\`: \`createMcpHandler\` on \`node:http\`, the
same tools), and a raw \`node:http\` server answering a fixed JSON-RPC body
(\`bench/reference/raw-ceiling.ts\`), the ceiling of this machine's HTTP stack. Bridged routes
(\`command:\` and \`url:\`) are measured against [supergateway](https://github.com/supercorp-ai/supergateway)
4.0.0 in front of the same stdio server (\`bench/reference/stdio-echo-server.ts\`), an SDK client
talking to that server directly over stdio, and the SDK v2 reference called directly and through
a pass-through HTTP proxy (\`bench/reference/passthrough-proxy.ts\`, the floor of any HTTP hop in
front of it). Read the ratios; the absolute times belong to this (small, shared) machine.

How: each server is its own child process, pinned to one CPU when \`taskset\` exists, with the
load generator ([autocannon](https://github.com/mcollina/autocannon)) in the benchmark process on
the other. Clients open their sessions up front (initialize and \`notifications/initialized\`), then
spread requests over them, each with a fresh JSON-RPC id; responses are the SDK's default SSE
answers. The 2026-07-28 rows have no sessions: every request carries its own version, capabilities
and headers, and is answered with JSON. Latencies are per response, from autocannon. Throughput
cells are the best of the rounds (the targets take turns, in a different order each round), since
noise on a shared machine only slows things down. The gateway logs one line per request at \`info\`, as deployed, to a file.

\`npm run bench\` builds (the gateway, then \`tsc -p bench/tsconfig.json\`) and runs everything,
writing this file and \`benchmarks.svg\`; \`npm run bench -- --quick\` takes about two minutes and
only prints; \`--only=throughput,weather,resume,cold-start,memory,bridge,bridge-sessions\` picks
sections; \`--targets=<target>,…\` picks the servers the throughput section measures
(\`--only=throughput --targets=gateway-modern,minimal-v2\` is the modern-era table alone);
\`--write\` writes the docs from a quick or partial run too; \`--cpu-prof\` writes CPU profiles of
the gateway children.`;

function runSection({ info }: BenchResults): string {
  const facts: Array<[string, string]> = [
    ['date', info.date],
    ['command', `\`${info.command}\``],
    ['machine', `${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB, ${info.os}`],
    ['Node.js', info.node],
    ['MCP SDK', info.sdk],
    ['MCP SDK v2 (the v2 reference)', info.sdkV2],
    ['autocannon', info.autocannon],
    ['placement', info.placement],
    [
      'load average (1 min)',
      `${info.loadStart.toFixed(2)} at the start, ${info.loadEnd?.toFixed(2) ?? '?'} at the end (the machine is shared)`,
    ],
    ['duration', info.seconds === undefined ? '?' : `${Math.round(info.seconds)} s`],
  ];
  return `## This run

${facts.map(([what, value]) => `- **${what}**: ${value}`).join('\n')}`;
}

function goalSection(results: BenchResults): string {
  const list = goals(results);
  if (list.length === 0) return '';
  return `## Goals

${table(
  ['goal', 'measured', 'met'],
  list.map((g) => [g.goal, g.measured, g.met ? 'met' : '**not met**']),
)}`;
}

function sections(results: BenchResults): string[] {
  return [
    throughputSection(results),
    statelessSection(results),
    requestLogSection(results),
    telemetrySection(results),
    frameworkSection(results),
    modernEraSection(results),
    cpuSection(results),
    weatherSection(results),
    resumeSection(results),
    coldStartSection(results),
    memorySection(results),
    bridgeStdioSection(results),
    bridgeRemoteSection(results),
    bridgeSessionsSection(results),
  ];
}

function throughputSection(results: BenchResults): string {
  if (!results.throughput) return '';
  const rows: string[][] = [];
  for (const method of METHODS) {
    for (const connections of concurrencies(results)) {
      const gateway = cell(results, 'gateway', method, connections)?.result;
      const minimal = cell(results, 'minimal', method, connections)?.result;
      const ceiling = cell(results, 'ceiling', method, connections)?.result;
      if (!gateway || !minimal || !ceiling) continue;
      rows.push([
        method,
        String(connections),
        rps(gateway.rps),
        ms(gateway.p50),
        ms(gateway.p99),
        rps(minimal.rps),
        ms(minimal.p50),
        ms(minimal.p99),
        `**${ratio(gateway.rps / minimal.rps)}**`,
        rps(ceiling.rps),
        ratio(gateway.rps / ceiling.rps),
        failures(gateway.failed + minimal.failed + ceiling.failed),
      ]);
    }
  }
  return `## Throughput and latency: time server, gateway vs minimal SDK server vs ceiling

Requests/s and latency (ms) of \`tools/call get_current_time\` and \`tools/list\` on the gateway's
\`/mcp/time\` (stateful), the minimal SDK server and the raw ceiling, by concurrent connections.

${table(
  [
    'method',
    'conn.',
    'gateway req/s',
    'p50',
    'p99',
    'minimal req/s',
    'p50',
    'p99',
    'gateway / minimal',
    'ceiling req/s',
    'gateway / ceiling',
    'errors',
  ],
  rows,
  'numbers',
)}

![Requests/s against concurrent connections: gateway, minimal SDK server, ceiling](benchmarks.svg)`;
}

function statelessSection(results: BenchResults): string {
  if (!results.throughput) return '';
  const rows = rowsPerCell(results, ['gateway', 'gateway-stateless'], ([stateful, stateless]) => [
    rps(stateful.rps),
    ms(stateful.p50),
    rps(stateless.rps),
    ms(stateless.p50),
    ms(stateless.p99),
    ratio(stateless.rps / stateful.rps),
  ]);
  return `## Stateful vs stateless routes

The same time module mounted twice in one gateway: \`/mcp/time\` (a session per client) and
\`/mcp/time-stateless\` (\`sessions: stateless\`: a new \`McpServer\` and transport for every request).

${table(['method', 'conn.', 'stateful req/s', 'p50', 'stateless req/s', 'p50', 'p99', 'stateless / stateful'], rows, 'numbers')}`;
}

function requestLogSection(results: BenchResults): string {
  const rows = rowsPerCell(results, ['gateway', 'gateway-quiet', 'minimal'], ([gateway, quiet, minimal]) => [
    rps(gateway.rps),
    rps(quiet.rps),
    ratio(quiet.rps / gateway.rps),
    ratio(quiet.rps / minimal.rps),
  ]);
  if (rows.length === 0) return '';
  return `## The request log

The gateway writes one JSON line per request at \`info\` (the default, and what the rows above
measure). The same gateway with \`LOG_LEVEL=warn\`, measured in the same rounds, shows what that
line costs.

${table(['method', 'conn.', 'gateway req/s', 'LOG_LEVEL=warn req/s', 'warn / info', 'warn / minimal'], rows, 'numbers')}`;
}

function telemetrySection(results: BenchResults): string {
  const floor = (method: Method, connections: number) => {
    const off = cell(results, 'minimal-node', method, connections)?.result;
    const on = cell(results, 'minimal-node-otel', method, connections)?.result;
    return off && on ? [rps(off.rps), rps(on.rps), ratio(on.rps / off.rps)] : ['–', '–', '–'];
  };
  const previous = (method: Method, connections: number, off: LoadResult) => {
    const before = cell(results, 'gateway-previous', method, connections)?.result;
    return before ? [rps(before.rps), `**${ratio(off.rps / before.rps)}**`] : ['–', '–'];
  };
  const carried = (method: Method, connections: number, off: LoadResult) => {
    const on = cell(results, 'gateway-otel-carried', method, connections)?.result;
    return on ? [rps(on.rps), ratio(on.rps / off.rps)] : ['–', '–'];
  };
  const rows = rowsPerCell(results, ['gateway', 'gateway-otel'], ([off, on], method, connections) => [
    rps(off.rps),
    ms(off.p50),
    rps(on.rps),
    ms(on.p50),
    ms(on.p99),
    `**${ratio(on.rps / off.rps)}**`,
    ...carried(method, connections, off),
    ...floor(method, connections),
    ...previous(method, connections, off),
  ]);
  if (rows.length === 0) return '';
  return `## Telemetry on vs off

The same gateway exporting its traces and metrics with \`OTEL_EXPORTER_OTLP_ENDPOINT\` set
(OTLP/HTTP protobuf, the default encoding; the SDK's batch span processor with its default
settings) to a loopback endpoint in the benchmark process that reads and drops each export
(\`bench/lib/otlp-sink.ts\`), measured in the same rounds as the gateway with telemetry off (the
default, which still keeps the status page's numbers). Goal: at least 0.9x.

This gateway mounts only the time module, which makes no requests of its own, so a request's span
is current only while the gateway's code runs synchronously (telemetry/context-on-demand.ts). The
next two columns are the same gateway with a weather route mounted as well (and one session opened
on it, never called): its module takes \`ctx.fetch\`, so from then on every request's span follows
it through its awaits (AsyncLocalStorage, whose hook runs for every promise of the process), as in
a deployment of the default gateway.yaml; measured on its time route.

The three after them are the floor under all this: the minimal SDK server on \`node:http\` (the
"Without express" table's) with and without what the gateway exports per request, one SERVER
span with the same attributes and one \`mcp.server.operation.duration\` point, made by the same
SDK packages with the same settings and exported to the same endpoint, and nothing else
(\`bench/reference/otel-instrument.ts\`): what OpenTelemetry's JS SDK itself costs a server that
answers in a fifth of a millisecond.

The last two: the previous release, main as it last landed before telemetry
(${results.previousRelease ? `\`${results.previousRelease.slice(0, 12)}\`` : 'not built in this run'}, \`bench/lib/previous-release.ts\`), built for this run and measured
in the same rounds, and the gateway with telemetry off over it (goal: within noise, at least
0.95x). Telemetry off still keeps the status page's numbers, which the previous release did not.

${table(['method', 'conn.', 'off req/s', 'p50', 'on req/s', 'p50', 'p99', 'on / off', 'carried req/s', 'carried / off', 'minimal off req/s', 'minimal on req/s', 'minimal on / off', 'previous release req/s', 'off / previous'], rows, 'numbers')}`;
}

function frameworkSection(results: BenchResults): string {
  const rows = rowsPerCell(results, ['gateway', 'minimal', 'minimal-node'], ([gateway, minimal, bare]) => [
    rps(gateway.rps),
    rps(minimal.rps),
    rps(bare.rps),
    ratio(bare.rps / minimal.rps),
    ratio(gateway.rps / bare.rps),
  ]);
  if (rows.length === 0) return '';
  return `## Without express

The minimal server as the SDK's examples write it runs on express. The same server on \`node:http\`
directly (\`bench/reference/minimal-node-server.ts\`: same session map, transport and time server,
the body read by hand), measured in the same rounds, separates what express costs from what the
SDK's transport costs, and so shows what the gateway (which has no web framework) adds to the
transport itself: Host check, authentication, JSON-RPC checks, the session store, the log line.

${table(
  ['method', 'conn.', 'gateway req/s', 'minimal req/s', 'minimal on node:http req/s', 'node:http / express', 'gateway / node:http'],
  rows,
  'numbers',
)}`;
}

/** Servers of the modern-era table that are not measured yet, and why. */
function modernEraSection(results: BenchResults): string {
  const rows: string[][] = [];
  for (const method of METHODS) {
    for (const connections of concurrencies(results)) {
      const reference = cell(results, 'minimal-v2', method, connections)?.result;
      const modern = cell(results, 'gateway-modern', method, connections)?.result;
      if (!reference || !modern) continue;
      const sessions = cell(results, 'gateway', method, connections)?.result;
      rows.push([
        method,
        String(connections),
        rps(modern.rps),
        ms(modern.p50),
        ms(modern.p99),
        rps(reference.rps),
        ms(reference.p50),
        ms(reference.p99),
        `**${ratio(modern.rps / reference.rps)}**`,
        sessions ? ratio(modern.rps / sessions.rps) : '–',
        failures(modern.failed + reference.failed),
      ]);
    }
  }
  if (rows.length === 0) return '';
  return `## Modern era (2026-07-28): gateway vs the SDK v2 reference

MCP 2026-07-28 has no \`initialize\` and no sessions: every request carries its protocol version and
the client's capabilities in \`_meta\`, and the SEP-2243 headers \`MCP-Protocol-Version\`,
\`Mcp-Method\` and (for \`tools/call\`) \`Mcp-Name\`, as SDK v2's \`Client\` pinned to that revision
sends them. The gateway serves them on \`/mcp/time\` (the same process and route as the first
table's 2025 sessions) through the SDK's \`createMcpHandler\`; the v2 reference
(\`bench/reference/minimal-v2-server.ts\`: \`createMcpHandler\` on \`node:http\` through
\`toNodeHandler\`, the time server's tools) is what a user of the SDK writes. Both build an
\`McpServer\` for every request. The last columns but one: the gateway's requests/s over the
reference's (goal 1.0x), and over its own 2025-era sessions at the same method and connections.

${table(
  [
    'method',
    'conn.',
    'gateway req/s',
    'p50',
    'p99',
    'v2 reference req/s',
    'p50',
    'p99',
    'gateway / reference',
    'modern / 2025 sessions',
    'errors',
  ],
  rows,
  'numbers',
)}`;
}

/** CPU time per request of the servers the goals compare, and what it makes of their ratios. */
function cpuSection(results: BenchResults): string {
  const us = (target: Target, method: Method, connections: number) => cell(results, target, method, connections)?.cpuUsPerRequest;
  const rows: string[][] = [];
  for (const method of METHODS) {
    for (const connections of concurrencies(results)) {
      const [gateway, minimal, modern, v2, traced] = (['gateway', 'minimal', 'gateway-modern', 'minimal-v2', 'gateway-otel'] as const).map(
        (target) => us(target, method, connections),
      );
      if (gateway === undefined && modern === undefined) continue;
      const micros = (value: number | undefined) => (value === undefined ? '–' : Math.round(value).toString());
      const over = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '–' : ratio(a / b));
      const added = gateway !== undefined && traced !== undefined ? `+${Math.round(traced - gateway)}` : '–';
      rows.push([
        method,
        String(connections),
        micros(gateway),
        micros(minimal),
        over(minimal, gateway),
        micros(modern),
        micros(v2),
        `**${over(v2, modern)}**`,
        micros(traced),
        added,
        `**${over(gateway, traced)}**`,
      ]);
    }
  }
  if (rows.length === 0) return '';
  return `## CPU per request

Requests/s on this shared machine move by several per cent from run to run, and the best round of
one server can meet a worse round of another. A second measure of the same runs: the CPU time
each server process spends per response (user and system time of all its threads, read from
\`/proc/<pid>/stat\` around each measured run, divided by the responses; the median of the
rounds). It leaves out time spent waiting for the CPU, but not the cache misses a busy neighbour
causes, so it moves from run to run too (by up to about 10% per cell on this machine); what it
adds is a second reading of each cell, and what a requests/s ratio would be if both servers were
held to the same CPU. The ratio columns
are the reference's CPU per request over the measured server's (above 1.0x: the measured server
does more with the same CPU). In µs per request, at the same methods and connections as the
tables above; at one connection a server also pays for waking up for every request.

${table(
  [
    'method',
    'conn.',
    'gateway (2025 sessions)',
    'minimal',
    'minimal / gateway',
    'gateway, 2026-07-28',
    'v2 reference',
    'reference / gateway',
    'telemetry on',
    'added',
    'off / on',
  ],
  rows,
  'numbers',
)}`;
}

/**
 * One row per method and concurrency at which every one of `targets` was measured: the method, the
 * connections, then what `columns` makes of their results (in the order of `targets`).
 */
function rowsPerCell<const T extends readonly Target[]>(
  results: BenchResults,
  targets: T,
  columns: (measured: { [K in keyof T]: LoadResult }, method: Method, connections: number) => string[],
): string[][] {
  const rows: string[][] = [];
  for (const method of METHODS) {
    for (const connections of concurrencies(results)) {
      const measured = targets.map((target) => cell(results, target, method, connections)?.result);
      if (measured.some((result) => result === undefined)) continue;
      rows.push([method, String(connections), ...columns(measured as { [K in keyof T]: LoadResult }, method, connections)]);
    }
  }
  return rows;
}

function weatherSection(results: BenchResults): string {
  if (!results.weather) return '';
  return `## Weather: upstream cache warm vs off

\`get_forecast\` (one recorded point) at ${WEATHER_CONNECTIONS} connections against the fake NWS with
${UPSTREAM_LATENCY_MS} ms of latency per upstream request; a forecast takes two upstream requests
(\`/points\`, then the grid forecast). Upstream requests are the fake's count during the measurement.
The same gateway mounts the time server too; its \`tools/call\` at ${WEATHER_CONNECTIONS} connections, measured right
after, is the reference in the last columns.

${table(
  ['cache', 'req/s', 'p50', 'p99', 'upstream requests', 'upstream / tool call', 'time tools/call p50', 'p50 / time p50'],
  results.weather.map((w) => [
    w.cache,
    rps(w.result.rps),
    ms(w.result.p50),
    ms(w.result.p99),
    w.upstreamRequests.toLocaleString('en-US'),
    (w.upstreamRequests / Math.max(1, w.result.ok)).toFixed(2),
    ms(w.timeReference.p50),
    ratio(w.result.p50 / w.timeReference.p50),
  ]),
  'numbers',
)}`;
}

function resumeSection(results: BenchResults): string {
  const resume = results.resume;
  if (!resume) return '';
  const row = (what: string, r: typeof resume.resumeSequential) => [what, r.ok.toLocaleString('en-US'), rps(r.rps), ms(r.p50), ms(r.p99)];
  return `## Session resume

Two gateway instances with the same \`GATEWAY_SESSION_SECRET\`: A issues the session ids
(initialize), B never saw them. The first \`tools/call\` for each id on B recreates the session from
the id; the same request again is served by the session B now holds.

${table(
  ['request on instance B', 'requests', 'req/s', 'p50', 'p99'],
  [
    row('first (resumes), 1 connection', resume.resumeSequential),
    row('again (warm), 1 connection', resume.warmSequential),
    row(`first (resumes), ${RESUME_CONNECTIONS} connections`, resume.resumeRate),
    row(`again (warm), ${RESUME_CONNECTIONS} connections`, resume.warmRate),
  ],
  'numbers',
)}

Resume / warm latency (p50, 1 connection): **${ratio(resume.resumeSequential.p50 / resume.warmSequential.p50)}**;
resumes/s at ${RESUME_CONNECTIONS} connections: **${rps(resume.resumeRate.rps)}** (${ratio(resume.resumeRate.rps / resume.warmRate.rps)} the warm rate).`;
}

function coldStartSection(results: BenchResults): string {
  if (!results.coldStart) return '';
  const minimal = results.coldStart.find((c) => c.target === 'minimal');
  return `## Cold start

From \`spawn\` to the first \`tools/list\` answered (initialize first, retried until the port
accepts): the gateway with the project's own \`gateway.yaml\` (weather and time), the minimal SDK
server, and the raw ceiling (Node's own start-up, the floor). Spawns alternate between them.

${samplesTable(['server', 'median ms', 'spawns (ms)', 'vs minimal'], results.coldStart, minimal)}`;
}

function memorySection(results: BenchResults): string {
  const memory = results.memory;
  if (!memory) return '';
  const a = memory.abandon;
  const base = (target: 'gateway' | 'minimal') =>
    `${mib(memory.baselines[target].rssKiB)} MiB RSS, ${mib(memory.baselines[target].heapUsedKiB)} MiB heap`;
  return `## Memory

Per idle session on one route: sessions opened with \`initialize\` only; RSS (VmRSS) and the V8 heap in
use read after a full GC (a \`--expose-gc\` hook preloaded into the child; the gateway has none),
minus the same after start with one session (gateway ${base('gateway')}; minimal ${base('minimal')}).

${table(
  ['server', 'sessions', 'RSS MiB', 'RSS KiB per session', 'heap KiB per session'],
  memory.perSession.map((m) => [
    m.target,
    m.sessions.toLocaleString('en-US'),
    mib(m.rssKiB),
    m.perSessionKiB.toFixed(1),
    m.heapPerSessionKiB.toFixed(1),
  ]),
  'numbers',
)}

Opened and abandoned: ${a.sessions.toLocaleString('en-US')} sessions (initialize only, at 10 connections:
${Math.round(a.sessions / a.openSeconds)}/s, ${Math.round(a.openSeconds)} s in all) on a gateway route with \`idleTimeout: ${ABANDON_IDLE_TIMEOUT_S}s\` and
\`maxPerRoute: 200000\`. At half way and at the end: once the route reported no live session and a few seconds
more had passed, RSS, then RSS and heap after a forced GC. Baseline, read on a warm gateway (after its status
page was read once and ${a.warmUpSessions.toLocaleString('en-US')} sessions were opened and expired, so the session path's compiled code is in it):
${mib(a.baseline.rssKiB)} MiB RSS,
${mib(a.baseline.heapUsedKiB)} MiB heap; peak RSS while opening: ${mib(a.peakKiB)} MiB.

${table(
  ['opened', 'RSS MiB before GC', 'RSS MiB after GC', 'RSS / baseline', 'heap MiB', 'heap / baseline', 'sessions left'],
  a.checkpoints.map((c) => [
    c.opened.toLocaleString('en-US'),
    mib(c.rssBeforeGcKiB),
    mib(c.rssKiB),
    ratio(c.rssKiB / a.baseline.rssKiB),
    mib(c.heapUsedKiB),
    ratio(c.heapUsedKiB / a.baseline.heapUsedKiB),
    String(c.leftActive),
  ]),
  ['right', 'right', 'right', 'right', 'right', 'right', 'right'],
)}`;
}

function concurrencies(results: BenchResults): number[] {
  return [...new Set((results.throughput ?? []).map((c) => c.connections))].sort((a, b) => a - b);
}

function bridgeStdioSection(results: BenchResults): string {
  const rows: string[][] = [];
  const logged: string[][] = [];
  for (const connections of bridgeConcurrencies(results)) {
    const gateway = bridgeCell(results, 'gateway', connections)?.result;
    const peer = bridgeCell(results, 'supergateway', connections)?.result;
    const direct = bridgeCell(results, 'direct', connections)?.result;
    const module = bridgeCell(results, 'gateway-module', connections)?.result;
    if (!gateway || !peer || !direct) continue;
    rows.push([
      String(connections),
      rps(gateway.rps),
      ms(gateway.p50),
      ms(gateway.p99),
      rps(peer.rps),
      ms(peer.p50),
      ms(peer.p99),
      rps(direct.rps),
      ms(direct.p50),
      ms(direct.p99),
      `**${ratio(gateway.rps / peer.rps)}**`,
      `**${signedMs(gateway.p50 - direct.p50)}**`,
      module ? ms(module.p50) : '–',
      failures(gateway.failed + peer.failed + direct.failed + (module?.failed ?? 0)),
    ]);
    const info = bridgeCell(results, 'supergateway-logged', connections)?.result;
    if (info) logged.push([String(connections), rps(info.rps), ms(info.p50), ratio(info.rps / peer.rps), ratio(gateway.rps / info.rps)]);
  }
  if (rows.length === 0) return '';
  const cpu = bridgeCpuRows(results);
  const versions = results.bridge?.protocolVersions.stdio;
  return `## Bridged stdio routes: gateway vs supergateway vs a direct client

\`tools/call echo\` on one stdio server (\`bench/reference/stdio-echo-server.ts\`: \`McpServer\` and
\`StdioServerTransport\` of the v1 SDK, as most published servers are written) three ways: through
the gateway's \`command:\` route (\`isolation: session\`, the default, so a child per session),
through [supergateway](https://github.com/supercorp-ai/supergateway) 4.0.0
(\`--stdio … --outputTransport streamableHttp --stateful --logLevel none\`, also a child per
session), and from the SDK v2 \`Client\` talking to its own child over \`StdioClientTransport\`,
no HTTP (requests one at a time per client, timed in the benchmark process). Each connection
has its own session, so its own child; the bridges and their children share one CPU, the direct
clients' children run on that CPU too. The gateway's client negotiated ${versions ?? 'a 2025 revision'} with
the server (it first asks \`server/discover\`, which a v1 server does not know). Columns: the
gateway over supergateway (goal 1.5x), the gateway's p50 minus the direct client's (goal at most
0.5 ms at 1 connection), and the p50 of the same tool served by the same gateway as a module
(\`bench/reference/echo-module.ts\`, measured in the same rounds): what HTTP and the gateway cost
without a bridge, so the gateway's p50 minus that one is what the bridge adds (the SDK \`Client\`,
the pipe and the child).

${table(
  [
    'conn.',
    'gateway req/s',
    'p50',
    'p99',
    'supergateway req/s',
    'p50',
    'p99',
    'direct req/s',
    'p50',
    'p99',
    'gateway / supergateway',
    'added p50 ms',
    'as a module p50',
    'errors',
  ],
  rows,
  'numbers',
)}

CPU time per answered request in the same runs (the rounds kept above), from \`/proc/<pid>/stat\`
(user + system time of all of a process's threads, in clock ticks of 1/\`CLK_TCK\` s, 10 ms on
Linux's usual 100) read just before and just after each run: the bridge process's own, and that of
every process it started (its sessions' children, and the shell supergateway starts each one
with), found anew at each reading, with the time of any that ended meanwhile (the kernel adds it
to its parent's); for the direct clients, their children's. "as a module" is the same gateway
serving the tool with no bridge and no child: its own cost of a request. "CPU used" is the two
together times the requests/s: near 100% the run was bound by that one CPU (below, the CPU was
idle or busy with something else part of the time: at 1 connection while the load generator
sends the next request, and on a shared machine with other work). The bridge's
own CPU is the part a bridge can change; the children's is the same stdio server's under any
bridge, and it grows with the connections for every bridge alike (more processes taking turns on
one CPU, each finding the caches cold after the others ran). Where both runs are bound by the
CPU, two bridges' requests/s are in about the inverse ratio of their "together" columns, which
both include the children's: 1.5x supergateway's needs the gateway's together under two thirds
of supergateway's, so its own CPU under two thirds of supergateway's together minus its
children's. "isolation: shared" is a second \`command:\` route of the same gateway on the same
server, one child for every session (for servers that keep no state per client; supergateway has
no such mode): what the same bridge costs when no child per session shares the CPU. Without /proc
(not Linux) these columns are –.

${table(['conn.', 'target', 'req/s', 'bridge CPU µs/req', 'children CPU µs/req', 'together µs/req', 'CPU used'], cpu, CPU_COLUMNS)}${
    logged.length === 0
      ? ''
      : `

supergateway at its default log level (\`info\`, which logs every message both ways; to a file here), measured in the same rounds:

${table(['conn.', 'req/s', 'p50', 'vs --logLevel none', 'gateway / this'], logged, 'numbers')}`
  }`;
}

/** The stdio section's CPU table: per connection count, each bridge's CPU per answered request, its own and its children's. */
function bridgeCpuRows(results: BenchResults): string[][] {
  const targets = [
    ['gateway', 'gateway'],
    ['gateway-module', 'gateway, as a module'],
    ['gateway-shared', 'gateway, isolation: shared'],
    ['supergateway', 'supergateway'],
    ['supergateway-logged', 'supergateway, info log'],
    ['direct', 'direct client'],
  ] as const;
  return bridgeConcurrencies(results).flatMap((connections) =>
    targets.flatMap(([target, label]) => {
      const measured = bridgeCell(results, target, connections);
      if (!measured) return [];
      const { bridgeUs, childrenUs } = measured.cpu ?? {};
      // The direct clients have no bridge process (their client is the benchmark process, on another CPU): no sum.
      const together = bridgeUs === undefined || childrenUs === undefined ? undefined : bridgeUs + childrenUs;
      return [
        [
          String(connections),
          label,
          rps(measured.result.rps),
          micros(bridgeUs),
          micros(childrenUs),
          micros(together),
          together === undefined ? '–' : `${Math.round((measured.result.rps * together) / 1e4)}%`,
        ],
      ];
    }),
  );
}

/** The CPU table's columns: the target's name left, numbers right. */
const CPU_COLUMNS: readonly Align[] = ['right', 'left', 'right', 'right', 'right', 'right', 'right'];

/** Whole µs, or – when not measured. */
const micros = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? '–' : Math.round(value).toLocaleString('en-US');

function bridgeRemoteSection(results: BenchResults): string {
  const rows: string[][] = [];
  const eras = [
    ['2025 sessions', 'remote'],
    ['2026-07-28', 'remote-modern'],
  ] as const;
  for (const [era, target] of eras) {
    for (const connections of bridgeConcurrencies(results)) {
      const remote = bridgeCell(results, target, connections)?.result;
      const upstream = bridgeCell(results, 'upstream', connections)?.result;
      const proxy = bridgeCell(results, 'upstream-proxy', connections)?.result;
      const client = bridgeCell(results, 'upstream-client', connections)?.result;
      if (!remote || !upstream) continue;
      rows.push([
        era,
        String(connections),
        rps(remote.rps),
        ms(remote.p50),
        ms(remote.p99),
        rps(upstream.rps),
        ms(upstream.p50),
        ms(upstream.p99),
        `**${ratio(remote.p50 / upstream.p50)}**`,
        proxy ? ms(proxy.p50) : '–',
        proxy ? `**${ratio(proxy.p50 / upstream.p50)}**` : '–',
        signedMs(remote.p50 - upstream.p50),
        client ? ms(client.p50) : '–',
        failures(remote.failed + upstream.failed + (proxy?.failed ?? 0) + (client?.failed ?? 0)),
      ]);
    }
  }
  if (rows.length === 0) return '';
  const version = results.bridge?.protocolVersions.remote;
  return `## Remote routes: gateway in front of the SDK v2 reference vs calling it directly

\`tools/call get_current_time\` on a \`url:\` route whose upstream is the SDK v2 reference
(\`bench/reference/minimal-v2-server.ts\`) on loopback, from 2025 sessions (the gateway keeps
one upstream connection per session) and from 2026-07-28 requests (no session: one connection
per caller), against the same 2026-07-28 requests sent to the upstream directly (its rows repeat
in each era). The gateway's client negotiated ${version ?? '?'} with it. Gateway and upstream share one
CPU. Then the route's p50 over the upstream's (goal at most 1.3x at 1 connection), and next to
it the floor of that ratio: the same requests sent through a pass-through HTTP proxy
(\`bench/reference/passthrough-proxy.ts\`: \`node:http\` forwarding method, path, headers and body
over a keep-alive agent and streaming the answer back, with no MCP and no parsing), on the same
CPU as the upstream, its p50 and its p50 over the upstream's. Any \`url:\` route is such a hop and
more (an MCP server downstream, an SDK client upstream), so no route can be under the proxy's
ratio on this machine: where the proxy's alone is above 1.3x, the goal is out of reach of any
gateway, and the route's ratio over the proxy's is what this one's own work adds. Then the
route's added p50; the load generator is autocannon for all three. The last column is the p50 of
SDK v2 \`Client\`s (\`StreamableHTTPClientTransport\`, as the bridge uses) calling the upstream
directly from the benchmark process: the part of the difference that is the SDK client's own cost
of a request, which the bridge pays too.

${table(
  [
    'client era',
    'conn.',
    'route req/s',
    'p50',
    'p99',
    'upstream req/s',
    'p50',
    'p99',
    'p50 / upstream',
    'proxy p50',
    'proxy / upstream',
    'added p50 ms',
    'SDK client to upstream p50',
    'errors',
  ],
  rows,
  'numbers',
)}`;
}

function bridgeSessionsSection(results: BenchResults): string {
  const sessions = results.bridgeSessions;
  if (!sessions) return '';
  const directChild = sessions.memory.find((m) => m.target === 'direct');
  const directCold = sessions.cold.find((c) => c.target === 'direct');
  return `## Bridged sessions: memory and cold start

The same echo server, one child per session. Memory: ${sessions.memory[0]?.sessions ?? '?'} sessions
held open at once, each after one \`tools/call\`; each session's processes' RSS (VmRSS: its
server, and the shell supergateway starts it with, where that shell stays), and the bridge
process's own RSS growth per session after a full GC, over its RSS with one session open.
The direct row is the same server spawned by an SDK client, for comparison.

${table(
  ['target', 'sessions', 'processes per session', 'child RSS MiB (median)', 'bridge RSS MiB', 'bridge KiB per session', 'vs direct child'],
  sessions.memory.map((m) => [
    m.target,
    String(m.sessions),
    m.processesPerSession.toFixed(0),
    mib(median(m.childKiB)),
    m.bridge ? mib(m.bridge.baselineKiB) : '–',
    m.bridge ? m.bridge.perSessionKiB.toFixed(0) : '–',
    directChild ? ratio(median(m.childKiB) / median(directChild.childKiB)) : '–',
  ]),
  'numbers',
)}

Cold session: from the \`initialize\` of a new session (when the bridge spawns its child) through
\`notifications/initialized\` to the first \`tools/call\` answered, on a running, warm bridge; for the
direct client, from spawning the server to the same answer. Sessions alternate between the
targets; each is closed, and its child gone, before the next.

${samplesTable(['target', 'median ms', 'sessions (ms)', 'vs direct'], sessions.cold, directCold)}`;
}

/** Timed samples per target: the median, every sample, and the median over the reference's. */
function samplesTable(
  header: readonly string[],
  rows: ReadonlyArray<{ target: string; median: number; samples: readonly number[] }>,
  reference: { median: number } | undefined,
): string {
  return table(
    header,
    rows.map((r) => [
      r.target,
      ms(r.median),
      r.samples.map((x) => Math.round(x)).join(', '),
      reference ? ratio(r.median / reference.median) : '–',
    ]),
    ['left', 'right', 'left', 'right'],
  );
}

const failures = (count: number) => (count === 0 ? '0' : `**${count}**`);
