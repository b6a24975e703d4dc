/**
 * The address a request came from, for per-caller limits on routes without authentication.
 *
 * Under the Functions host (func start, Azure) every request arrives from 127.0.0.1: the host
 * proxies it and appends the address it was called from to `X-Forwarded-For`. So a request from
 * a loopback peer is attributed to the last entry of `X-Forwarded-For` (the one the nearest proxy
 * wrote; entries before it are the client's own say and could be anything), with any port cut
 * off. Requests from other peers are attributed to the peer: a header cannot move them into
 * someone else's share.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!isLoopback(peer)) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const chain = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
  if (!chain) return peer;
  const last = withoutPort(chain.slice(chain.lastIndexOf(',') + 1).trim());
  return isIP(last) ? last : peer;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** `203.0.113.7:51234` → `203.0.113.7`, `[2001:db8::1]:443` → `2001:db8::1`; bare addresses unchanged. */
function withoutPort(entry: string): string {
  if (entry.startsWith('[')) return entry.slice(1, entry.indexOf(']'));
  const colon = entry.indexOf(':');
  return colon !== -1 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}
