/**
 * DNS rebinding protection: a browser page on evil.example that resolves its name to 127.0.0.1
 * still sends `Host: evil.example`. Requests must name an allowed host. Behind the Functions host
 * the Host header is rewritten to 127.0.0.1 and the client's one arrives as `X-Forwarded-Host`, so
 * both are checked (under `func start` a rebinding page would otherwise pass as 127.0.0.1).
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { fieldCount, repeatedHeader } from '../protocol/headers.js';

/** Names that are always accepted: the machine itself. */
export const LOCAL_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

/** The hostname of a Host-style value (`name:port`, `[v6]:port`), lowercased; undefined if malformed. */
export function hostnameOf(value: string): string | undefined {
  try {
    return new URL(`http://${value.trim()}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * A check that throws `invalid_host` for a request whose Host or X-Forwarded-Host names a host not
 * in the list (port ignored), and `invalid_header` for one with more than one Host field.
 *
 * @example
 * const checkHost = hostCheck(['gateway.example.com']);
 * checkHost(req); // throws GatewayError('invalid_host', …) for Host: evil.example
 */
export function hostCheck(extraHostnames: readonly string[] = []): (req: IncomingMessage) => void {
  const allowed = new Set([...LOCAL_HOSTNAMES, ...extraHostnames.map((h) => h.toLowerCase())]);
  // Clients send the same Host on every request: remember the verdicts (bounded: values are input).
  const verdicts = new Map<string, boolean>();
  const isAllowed = (value: string): boolean => {
    let verdict = verdicts.get(value);
    if (verdict === undefined) {
      const hostname = hostnameOf(value);
      verdict = hostname !== undefined && allowed.has(hostname);
      if (verdicts.size < 1000) verdicts.set(value, verdict);
    }
    return verdict;
  };
  return function checkHost(req) {
    // RFC 9112 §3.2: a server MUST answer 400 to more than one Host field. Node keeps the first in
    // req.headers and says nothing, so a second name (checked by nobody) would pass as well.
    const hosts = fieldCount(req, 'host');
    if (hosts > 1) throw repeatedHeader('Host', hosts);
    const forwarded = req.headers['x-forwarded-host'];
    const candidates = [req.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
    for (const value of candidates) {
      if (value === undefined || !isAllowed(value)) {
        throw new GatewayError(
          'invalid_host',
          `Invalid Host: ${value ?? '(none)'} is not an allowed host name; add it to allowedHosts in gateway.yaml`,
        );
      }
    }
  };
}
