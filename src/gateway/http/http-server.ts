/**
 * The `node:http` server the edge runs on, with the gateway's timeouts. Not listening yet: the
 * entry point (or a test) listens.
 *
 * Stalled requests are Node's to find: its request timeout covers the headers and the body, and
 * costs nothing per request (one periodic check of the open connections, where a timer per
 * request cost the MCP path several percent of its throughput in `npm run bench`). The answer is
 * the gateway's: a JSON-RPC `request_timeout` error instead of Node's bare 408.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Milliseconds } from '../config/units.js';

export interface HttpServerOptions {
  /**
   * Headers and body must have arrived within this (found within a tenth of it, at most 3 s,
   * later); then the request is answered 408 and its connection closed. Responses, streams
   * included, are not limited.
   */
  requestTimeout: Milliseconds;
  /** Where a request refused before it reached the edge (timed out, malformed) is logged. */
  logger: Logger;
}

/**
 * The last response each connection was given (Node answers a connection's requests one at a time):
 * whether it has begun to be written tells a stall in a new request from one in a response.
 */
const answering = new WeakMap<Duplex, Answering>();

interface Answering {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** The CORS headers a browser needs to read an answer written on the socket: those the edge set on the response (origin-policy.ts `allowOrigin`). */
const CORS_HEADERS = ['access-control-allow-origin', 'vary', 'access-control-expose-headers'] as const;

/**
 * The CORS header lines (`Name: value\r\n` each) for an answer Node's server writes on the socket
 * itself while a request's body is still arriving (it stalled, or its framing broke): the ones the
 * edge set on that request's response when it accepted its Origin, before reading the body. None
 * before a request's headers are all read (no Origin is known), nor once its body is in (the
 * bytes at fault are the next request's).
 */
function corsOf(current: Answering | undefined): string {
  if (!current || current.req.complete || current.res.headersSent || !current.res.hasHeader(CORS_HEADERS[0])) return '';
  return CORS_HEADERS.flatMap((name) => {
    const value = current.res.getHeader(name);
    return value === undefined ? [] : [`${name}: ${[value].flat().join(', ')}\r\n`];
  }).join('');
}

/** How long Node waits for the headers at most, whatever requestTimeout says. */
const MAX_HEADERS_TIMEOUT: Milliseconds = 60_000;

export function createHttpServer(listener: RequestListener, { requestTimeout, logger }: HttpServerOptions): Server {
  const server = createServer(
    {
      // How often Node looks for connections past their timeouts (default 30 s, too coarse here).
      connectionsCheckingInterval: Math.min(3_000, Math.max(100, requestTimeout / 10)),
    },
    (req, res) => {
      // The response a connection is on now, for the answer to a request that stalls (below).
      answering.set(req.socket, { req, res });
      listener(req, res);
    },
  );
  server.headersTimeout = Math.min(requestTimeout, MAX_HEADERS_TIMEOUT);
  server.requestTimeout = requestTimeout;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const status = answerClientError(error, socket, requestTimeout);
    logger.info(
      { http: { status }, error: error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : error.code },
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request timed out' : 'request refused by the HTTP parser',
    );
  });
  // Longer than the load balancers' idle timeouts in front (Azure's is about 4 minutes for the
  // client side; the Functions host reuses its connections to the handler).
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * What Node would answer to a request it could not hand to the listener (with a 'clientError'
 * listener it answers nothing itself), with the gateway's JSON-RPC body for a timeout.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, requestTimeout: Milliseconds): number | undefined {
  // Something of the connection's response now was already written (an answer under way): all
  // that is left is to close. An earlier request's answer, all written, is no reason not to answer:
  // the Functions host sends request after request on the connections it keeps to the handler.
  const current = answering.get(socket);
  const response = rawResponse(error, current, requestTimeout);
  const status = Number(response.slice(9, 12));
  // The parser refused what came after a whole request still being answered (a body the request
  // did not declare): that request's answer goes out first, then the refusal.
  if (current && current.req.complete && !current.res.writableFinished && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
    const refuse = () => {
      if (socket.writable) socket.write(response);
      socket.destroy(error);
    };
    current.res.once('finish', refuse);
    current.res.once('close', refuse);
    return status;
  }
  if (!socket.writable || (current !== undefined && !current.res.writableFinished && current.res.headersSent)) {
    socket.destroy(error);
    return undefined;
  }
  socket.write(response);
  socket.destroy(error);
  return status;
}

function rawResponse(error: NodeJS.ErrnoException, current: Answering | undefined, requestTimeout: Milliseconds): string {
  const cors = corsOf(current);
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': {
      const timeout = new GatewayError('request_timeout', `Request Timeout: the request did not arrive within ${requestTimeout / 1000} s`);
      const body = JSON.stringify(timeout.toJsonRpcBody());
      return (
        `HTTP/1.1 408 Request Timeout\r\n${cors}Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
      );
    }
    case 'HPE_HEADER_OVERFLOW':
      return `HTTP/1.1 431 Request Header Fields Too Large\r\n${cors}Connection: close\r\n\r\n`;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return `HTTP/1.1 413 Payload Too Large\r\n${cors}Connection: close\r\n\r\n`;
    default:
      return `HTTP/1.1 400 Bad Request\r\n${cors}Connection: close\r\n\r\n`;
  }
}
