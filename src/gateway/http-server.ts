/**
 * The `node:http` server the edge runs on, with the gateway's timeouts. Not listening yet: the
 * entry point (or a test) listens.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Milliseconds } from './units.js';

export interface HttpServerOptions {
  /**
   * Headers and body must have arrived within this (the edge answers a stalled body with a JSON
   * 408 at this point; Node itself answers stalled headers). Responses, streams included, are
   * not limited.
   */
  requestTimeout: Milliseconds;
}

/** How long Node waits for the headers at most, whatever requestTimeout says. */
const MAX_HEADERS_TIMEOUT: Milliseconds = 60_000;
/**
 * Node's own request timeout is the backstop for what the edge does not read (a GET or DELETE
 * body): a little later than the edge's, so that a stalled POST gets the edge's JSON answer.
 */
const BACKSTOP_MARGIN: Milliseconds = 2_000;

export function createHttpServer(listener: RequestListener, { requestTimeout }: HttpServerOptions): Server {
  const server = createServer(
    {
      // How often Node looks for connections past their timeouts (default 30 s, too coarse here).
      connectionsCheckingInterval: Math.min(30_000, Math.max(500, requestTimeout / 10)),
    },
    listener,
  );
  server.headersTimeout = Math.min(requestTimeout, MAX_HEADERS_TIMEOUT);
  server.requestTimeout = requestTimeout + BACKSTOP_MARGIN;
  // Longer than the load balancers' idle timeouts in front (Azure's is about 4 minutes for the
  // client side; the Functions host reuses its connections to the handler).
  server.keepAliveTimeout = 65_000;
  return server;
}
