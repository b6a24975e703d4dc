/**
 * Origin validation and CORS for /mcp/<name>. The MCP Streamable HTTP transport says servers MUST
 * validate the Origin header (a page on another site must not drive a gateway it can reach, the
 * other half of DNS rebinding protection with the Host check). Browsers send Origin on every
 * cross-origin request and on same-origin POSTs; other clients send none, so none passes.
 *
 * Accepted without configuration: loopback origins (a local Inspector or web client on any port)
 * and the gateway's own origin (its Host, X-Forwarded-Host behind the Functions host, or
 * `publicUrl`). `allowedOrigins` adds exact origins; the single value `*` accepts any.
 *
 * The own origin's scheme is known only sometimes: a TLS connection, `X-Forwarded-Proto: https`, or
 * an https `publicUrl` naming the request's host say https, and then the `http:` origin of that
 * host is refused (a page served in clear text, which anyone on its path may rewrite, must not
 * drive the https gateway). A plain connection that says nothing (the Functions host talks http
 * to its handler whatever the client used) accepts both.
 */
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cutForMessage, GatewayError } from '../errors.js';
import { LOCAL_HOSTNAMES } from './host-validation.js';

export interface OriginCheckOptions {
  /** Exact origins (`https://app.example.com`) accepted besides loopback and the gateway's own; `['*']`: any. */
  allowedOrigins?: readonly string[];
  /** The gateway's public origin (gateway.yaml `publicUrl`), accepted as its own. */
  publicUrl?: string;
}

/**
 * The origin to answer CORS for, undefined without Origin; throws `invalid_origin`. With
 * `ownOrigin: false` the request's Host is not the gateway's (a refused Host): only loopback,
 * configured origins (allowedOrigins, publicUrl) and `*` pass.
 */
export type OriginCheck = (req: IncomingMessage, options?: { ownOrigin?: boolean }) => string | undefined;

/** The value of `allowedOrigins` that accepts every origin: for public servers without authentication. */
export const ANY_ORIGIN = '*';

/** The serialized origin of an http(s) origin (`https://Host:443/` is `https://host`); undefined for anything else. */
export function normalizeOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const bare = (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash && !value.includes('#') && !url.username;
  return bare && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : undefined;
}

/**
 * A check of a request's Origin header. Returns the origin to answer CORS for, or undefined when
 * the request has no Origin (no CORS headers then); throws `invalid_origin` for an origin not
 * accepted. Bad options throw when the check is built.
 *
 * @example
 * const checkOrigin = originCheck({ allowedOrigins: ['https://app.example.com'] });
 * checkOrigin(req); // 'https://app.example.com'; throws GatewayError('invalid_origin', …) for Origin: https://evil.example
 * checkOrigin(req, { ownOrigin: false }); // the same, but the request's own host is no origin of the gateway's
 */
export function originCheck({ allowedOrigins = [], publicUrl }: OriginCheckOptions = {}): OriginCheck {
  const any = allowedOrigins.includes(ANY_ORIGIN);
  if (any && allowedOrigins.length > 1) throw new RangeError(`allowedOrigins: "${ANY_ORIGIN}" must be the only value when it is used`);
  const allowed = new Set<string>();
  for (const value of any ? [] : allowedOrigins) {
    const origin = normalizeOrigin(value);
    if (!origin)
      throw new RangeError(
        `allowedOrigins: ${JSON.stringify(value)} is not an origin (scheme://host[:port], e.g. https://app.example.com)`,
      );
    allowed.add(origin);
  }
  const own = publicUrl === undefined ? undefined : normalizeOrigin(publicUrl);
  if (own) allowed.add(own);
  /** publicUrl's host when it is https: the gateway is served over https under that name. */
  const httpsHost = own?.startsWith('https:') ? new URL(own).host : undefined;

  // Browsers send the same Origin (and Host) on every request: remember the verdicts (bounded:
  // values are input). The key holds what the gateway's own origin depends on: the host, whether
  // the request says it came over https, and whether the own-origin rule applies at all.
  const verdicts = new Map<string, boolean>();
  const isAllowed = (origin: string, host: string | undefined, secure: boolean): boolean => {
    const key = `${secure ? 's' : '-'}${host ?? ''} ${origin}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      verdict = judge(origin, host, secure);
      if (verdicts.size < 1000) verdicts.set(key, verdict);
    }
    return verdict;
  };
  const judge = (origin: string, host: string | undefined, secure: boolean): boolean => {
    if (allowed.has(origin)) return true;
    // Only an origin exactly as browsers serialize it: anything else (`null`, two joined, a path) is refused.
    if (normalizeOrigin(origin) !== origin) return false;
    const url = new URL(origin);
    if ((LOCAL_HOSTNAMES as readonly string[]).includes(url.hostname)) return true;
    // The gateway's own origin: its host:port is the request's (the default port of its scheme omitted),
    if (host === undefined || url.host !== hostOf(url.protocol, host)) return false;
    // in the scheme it is served in, when the gateway can tell (else either).
    return url.protocol === 'https:' || !(secure || (httpsHost !== undefined && httpsHost === hostOf('https:', host)));
  };

  return function checkOrigin(req, { ownOrigin = true } = {}) {
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    if (any) return origin;
    let host: string | undefined;
    let secure = false;
    if (ownOrigin) {
      const forwarded = req.headers['x-forwarded-host'];
      host = (typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : undefined) || req.headers.host;
      secure = arrivedOverHttps(req);
    }
    if (isAllowed(origin, host, secure)) return origin;
    throw new GatewayError(
      'invalid_origin',
      `Invalid Origin: ${cutForMessage(origin)} is not an allowed origin; add it to allowedOrigins in gateway.yaml`,
    );
  };
}

/** Whether the client reached the gateway over https: TLS to it, or a proxy in front that says so (its first value). */
function arrivedOverHttps(req: IncomingMessage): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  if (typeof proto !== 'string') return false;
  const comma = proto.indexOf(',');
  return (comma === -1 ? proto : proto.slice(0, comma)).trim().toLowerCase() === 'https';
}

/** A Host-style value as the `host` of a URL of that scheme (lowercase, default port omitted); undefined if malformed. */
function hostOf(protocol: string, host: string): string | undefined {
  try {
    return new URL(`${protocol}//${host.trim()}`).host;
  } catch {
    return undefined;
  }
}

/** The request headers a browser-based MCP client sends, which a preflight must allow. */
const MCP_REQUEST_HEADERS = [
  'Content-Type',
  'Accept',
  'Authorization',
  'Mcp-Session-Id',
  'MCP-Protocol-Version',
  'Last-Event-ID',
  // 2026-07-28 requests mirror their method and name in headers (SEP-2243).
  'Mcp-Method',
  'Mcp-Name',
];

/** How long a browser may reuse a preflight's answer, in seconds. */
export const PREFLIGHT_MAX_AGE = 600;

/**
 * A SEP-2243 parameter header (`Mcp-Param-Region`): a 2026-07-28 `tools/call` mirrors each argument
 * whose schema says `x-mcp-header` in one, so its names are the tools' and no fixed list holds them.
 */
const MCP_PARAM_HEADER = /^mcp-param-[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/**
 * The headers of a preflight's answer, for a route whose API key comes in `apiKeyHeader` (if any),
 * to a preflight whose `Access-Control-Request-Headers` is `requested`: of those, the `Mcp-Param-*`
 * ones are allowed too (an accepted origin may send any; other names it asks for are not added).
 *
 * @example
 * res.writeHead(204, preflightHeaders('x-api-key', req.headers['access-control-request-headers'])).end();
 */
export function preflightHeaders(apiKeyHeader?: string, requested?: string): Record<string, string> {
  const params = (requested ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => MCP_PARAM_HEADER.test(name));
  return {
    'Access-Control-Allow-Methods': 'GET, POST, DELETE',
    'Access-Control-Allow-Headers': [...MCP_REQUEST_HEADERS, ...(apiKeyHeader ? [apiKeyHeader] : []), ...params].join(', '),
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE),
    // The allowed headers depend on the ones asked for: a cache must not answer another preflight with these.
    Vary: 'Origin, Access-Control-Request-Headers',
  };
}

/**
 * Marks every answer to a request from `origin` as readable by it, whoever writes the answer: the
 * edge's own (errors, 401 with WWW-Authenticate) and the SDK transport's (JSON, SSE) alike, as
 * `writeHead` keeps headers set before it. Exposed: what a client must read (the session id, the
 * negotiated version, the OAuth challenge, and when to retry a 503 or 429: none is CORS-safelisted).
 */
export function allowOrigin(res: ServerResponse, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin);
  // Added to what is there: an app the router is mounted in may have set its own (Accept-Encoding).
  const vary = [res.getHeader('Vary') ?? []].flat().join(', ');
  if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) res.setHeader('Vary', vary ? `${vary}, Origin` : 'Origin');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
}

const EXPOSED_HEADERS = 'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, Retry-After';
