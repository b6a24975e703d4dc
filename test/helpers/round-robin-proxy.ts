/**
 * A load balancer without affinity, as Flex Consumption routes requests: each request goes to the
 * next backend in turn. Bodies stream both ways (SSE included). Backends can be replaced while it
 * runs, as instances stop and start.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  url: string;
  /** The backends, in turn (base URLs such as http://127.0.0.1:1234). */
  backends: string[];
  /** Which backend served each request, in order. */
  served: string[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: string[]): Promise<RoundRobinProxy> {
  let next = 0;
  const proxy: RoundRobinProxy = { url: '', backends: [...backends], served: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const backend = proxy.backends[next++ % proxy.backends.length]!;
    proxy.served.push(backend);
    const target = new URL(req.url ?? '/', backend);
    const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('backend unavailable');
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
