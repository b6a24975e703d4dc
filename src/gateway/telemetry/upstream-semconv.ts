/**
 * OpenTelemetry's HTTP client conventions for the requests modules make through the upstream
 * cache (`ctx.fetch`), plus `mcp.gateway.cache`: what the cache did with the request. Plain data,
 * no SDK.
 *
 * A URL can carry a secret (user info, an API key in the query), so `url.full` is redacted as the
 * conventions ask: user info and the values of query parameters whose names say key, token,
 * secret, signature, password, code or auth become `REDACTED`.
 */
import type { Attributes } from './mcp-semconv.js';

/** What the cache did with one request: `x-gateway-cache` (module-contract.ts). */
export type CacheOutcome = 'hit' | 'miss' | 'revalidated' | 'stale' | 'bypass' | 'backoff';

export interface UpstreamDescription {
  /** The HTTP method: client span names are the method alone (URLs are high cardinality). */
  readonly spanName: string;
  /** The origin (`https://api.weather.gov`), for per-host numbers; undefined when the URL is not http(s). */
  readonly origin: string | undefined;
  readonly attributes: Attributes;
}

const SECRET_PARAM = /key|token|secret|sig|password|passwd|code|auth|credential|session/i;

/**
 * The origin of an upstream request's URL (`https://api.weather.gov`), or undefined when it is not
 * an http(s) URL: what the status page's per-host numbers need, without the span's attributes.
 */
export function upstreamOrigin(input: string | URL): string | undefined {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : input;
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

/** The span name and request attributes of one upstream request. */
export function describeUpstream(method: string, input: string | URL): UpstreamDescription {
  const spanName = method.toUpperCase();
  const attributes: Attributes = { 'http.request.method': spanName };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { spanName, origin: undefined, attributes };
  }
  attributes['url.full'] = redactUrl(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { spanName, origin: undefined, attributes };
  attributes['server.address'] = url.hostname;
  attributes['server.port'] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { spanName, origin: url.origin, attributes };
}

/** What an answer adds: the status, the cache's outcome, `error.type` for a 5xx. */
export function upstreamResponseAttributes(status: number, cache: CacheOutcome | undefined, coalesced: boolean): Attributes {
  const attributes: Attributes = { 'http.response.status_code': status };
  if (cache) attributes['mcp.gateway.cache'] = cache;
  if (coalesced) attributes['mcp.gateway.cache.coalesced'] = true;
  if (status >= 500) attributes['error.type'] = String(status);
  return attributes;
}

/** `error.type` of a request that got no answer: a timeout, an abort, or the error's code or name. */
export function upstreamErrorType(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'aborted';
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (typeof code === 'string') return code;
  return typeof name === 'string' ? name : '_OTHER';
}

/** The URL with user info and secret-looking query values replaced by `REDACTED`, and no fragment. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username) copy.username = 'REDACTED';
  if (copy.password) copy.password = 'REDACTED';
  copy.hash = '';
  if (copy.search) {
    const params = new URLSearchParams(copy.search);
    let changed = false;
    for (const name of new Set(params.keys())) {
      if (SECRET_PARAM.test(name)) {
        params.set(name, 'REDACTED');
        changed = true;
      }
    }
    if (changed) copy.search = params.toString();
  }
  return copy.href;
}
