/**
 * A Node request's header as the protocol layer reads it. Node gives a repeated field as an array;
 * the gateway's own checks take its first value, and the SDK's rules (which read a web Request's
 * `Headers.get`) see the values joined with `, `.
 */
import type { IncomingMessage } from 'node:http';

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
