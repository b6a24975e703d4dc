/**
 * The floor of a remote route: a pass-through HTTP proxy, the least any HTTP hop in front of an
 * upstream can cost. `node:http` forwards each request (method, path, headers, body) to the
 * upstream over a keep-alive `http.Agent` and streams the upstream's status, headers and body
 * back, and does nothing else: no MCP, no JSON parsing, no sessions, no log line. A `url:` route
 * does all that and more (it is an MCP server downstream and an SDK client upstream), so its p50
 * over the upstream's cannot be below this proxy's on the same machine: when the proxy alone is
 * already above a goal's ratio, the goal is out of reach for any gateway, not just this one.
 *
 * Run as its own process by the benchmarks:
 * `PORT=0 UPSTREAM_URL=http://127.0.0.1:<port> node dist/bench/reference/passthrough-proxy.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections (the path is the
 * upstream's: requests keep theirs).
 */
import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

const upstream = new URL(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:3000');

// Kept-alive sockets, as the gateway's own upstream client keeps them: the proxy pays no TCP
// handshake per request. An idle socket is closed after 4 s, before the upstream (Node's default
// keep-alive timeout, 5 s) closes it, so a socket left idle between runs is never reused as it closes.
const agent = new Agent({ keepAlive: true, timeout: 4_000 });

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, so a proxy does not forward them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) kept[name] = value;
  return kept;
}

const server = createServer((req, res) => {
  const forward = request(
    { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: endToEnd(req.headers) },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      answer.pipe(res);
    },
  );
  // An upstream that cannot be reached is a 502, which the load generator counts as a failure.
  forward.once('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(forward);
});
// Longer than a measured run: autocannon's connections stay open from its first request to its last.
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
