/**
 * The whole gateway as an express router, for an existing express app: `app.use(router)` next to
 * the app's own routes and middleware. The gateway's paths go to the same edge the standalone
 * gateway runs (app.ts), so the Host check, authentication, body limits and every error answer are
 * its; any other path goes on to the app's next handlers.
 *
 * The standalone entry point (main.ts) does not use this: express's per-request work costs the MCP
 * path a third of its throughput (docs/benchmarks.md). Here the app has already paid it.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Gateway } from '../gateway.js';
import { createApp, type AppOptions } from './app.js';
import { decodeSegment, MCP_PATH, METADATA_PATH, STATUS_PATHS } from './paths.js';

export interface GatewayRouterOptions {
  /**
   * Host names accepted besides the localhost names and gateway.yaml's `allowedHosts` (DNS
   * rebinding protection): the app's public names.
   */
  allowedHosts?: AppOptions['allowedHosts'];
  /**
   * Browser origins accepted on /mcp/<name> besides loopback, the gateway's own and gateway.yaml's
   * `allowedOrigins`, with CORS: the origins of the app's pages on other hosts. `['*']`: any.
   */
  allowedOrigins?: AppOptions['allowedOrigins'];
  /**
   * Also serve the status page at `/`, `/status.json` and `/healthz`, as the standalone gateway
   * does. Default `false`: those paths are usually the app's own.
   */
  status?: boolean;
}

/**
 * An express router serving `/mcp/<name>` for each route of `gateway` and, for each of them, its
 * RFC 9728 metadata at `/.well-known/oauth-protected-resource/mcp/<name>`; with `status: true`, the
 * status page, `/status.json` and `/healthz` too. Other paths, `/mcp/<a name it does not mount>`
 * included, go to `next()`.
 *
 * Mount it at the root of the app: OAuth metadata, the status page and the request log name
 * origin-relative paths, so under a prefix they would be wrong, and a request that reaches it under
 * one is passed on as an error. A JSON body parser placed before it (`express.json()`) is fine:
 * the edge takes the body it parsed (body-parser, which the edge reads bodies with, passes over a
 * request whose body has been read), and still refuses one past `maxBodySize`. Bodies that parser
 * refuses (malformed JSON, past its own limit, 100 KB for `express.json()`) are answered by the
 * app's error handler, not the gateway: express hands a middleware's error to error handlers only;
 * mount the router before the parser for the gateway's own answers. Text or a Buffer a parser left in `req.body` (`express.text()`,
 * `express.raw()`) is parsed as the edge parses a body it reads (its limit, its errors).
 *
 * What the entry point does besides is the app's to do: call `gateway.sweep()` periodically (idle
 * sessions), `gateway.drain()` on shutdown, and serve with `createHttpServer(app, …)` for the
 * gateway's request timeout.
 *
 * @example
 * const app = express();
 * app.use(express.json());
 * app.get('/hello', (_req, res) => {
 *   res.json({ hello: 'world' });
 * });
 * app.use(createGatewayRouter(gateway, { allowedHosts: ['app.example.com'] }));
 * app.listen(3000, '127.0.0.1');
 */
export function createGatewayRouter(
  gateway: Gateway,
  { allowedHosts = [], allowedOrigins = [], status = false }: GatewayRouterOptions = {},
): Router {
  const origins = [...gateway.config.allowedOrigins, ...allowedOrigins];
  const edge = createApp(gateway, {
    allowedHosts: [...gateway.config.allowedHosts, ...allowedHosts],
    // `*` in either accepts every origin, and must then be the only value.
    allowedOrigins: origins.includes('*') ? ['*'] : origins,
  });
  const mounted = (match: RegExpExecArray | null) => match !== null && gateway.routes.has(decodeSegment(match[1]!));
  const serves = (path: string) => mounted(MCP_PATH.exec(path)) || mounted(METADATA_PATH.exec(path)) || (status && STATUS_PATHS.has(path));

  const router = express.Router();
  router.use(function mcpGateway(req: Request, res: Response, next: NextFunction) {
    if (!serves(req.path)) return next();
    if (req.baseUrl) {
      return next(
        new Error(
          `createGatewayRouter: mount the router at the root of the app (app.use(router)), not under ${req.baseUrl}: ` +
            'its OAuth metadata, status page and request log name paths from the root',
        ),
      );
    }
    edge(req, res);
  });
  return router;
}
