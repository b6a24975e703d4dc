/**
 * A Node request's header as the protocol layer reads it. Node joins a repeated field into one
 * string (`a, b`; only `set-cookie` stays an array, and a few singletons such as `authorization`
 * keep their first value), as a web Request's `Headers.get` does, which is what the SDK's rules
 * read.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/** The first value of a header, as the gateway's own checks read it. */
export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A header as the SDK reads it from a web Request (`Headers.get`): repeated fields joined with `, `. */
export function joinedHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A single-valued header's values, each trimmed: undefined when absent, `['']` when empty, more
 * than one when it came as several fields or as one with commas in it (Node's join of repeated
 * fields, or a proxy's). Only for headers whose values never hold a comma: MCP-Protocol-Version,
 * Mcp-Session-Id.
 */
export function headerValues(req: IncomingMessage, name: string): string[] | undefined {
  // The joined value Node already keeps: `headersDistinct` would build arrays of every header of
  // every request to learn the same (repeated fields are joined with `, ` and split back here).
  return joinedHeader(req, name)
    ?.split(',')
    .map((value) => value.trim());
}

/**
 * How many fields named `name` (lowercase) the request has: for the singletons Node keeps the first
 * of (Host, Content-Type, Authorization), whose repeats only `rawHeaders` still shows. One pass
 * over the raw fields, names compared only when of the same length.
 */
export function fieldCount(req: IncomingMessage, name: string): number {
  if (req.headers[name] === undefined) return 0;
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) count++;
  return count;
}

/** The refusal of a single-valued header that came more than once (`invalid_header`). */
export function repeatedHeader(name: string, times: number): GatewayError {
  return new GatewayError('invalid_header', `Bad Request: the ${name} header came ${times} times; send it once`, { header: name });
}

/**
 * `response` without a `Connection` header, so that Node decides it per request as it does for
 * every other answer. The SDK's event-stream answers name `Connection: keep-alive`, and Node takes
 * a `Connection` the handler set as the server's choice: a client that asked for `Connection:
 * close` (or spoke HTTP/1.0) had its socket kept open after the answer, until the keep-alive
 * timeout. The connection is hop-by-hop, the server's and not a route's to choose.
 */
export function leaveConnectionToNode(response: Response): Response {
  if (response.headers.has('connection')) response.headers.delete('connection');
  return response;
}
