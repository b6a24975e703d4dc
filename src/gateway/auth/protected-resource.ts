/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), one document per route. MCP clients check that
 * `resource` is exactly the URL they called, path included, so a single document at the root
 * cannot describe several routes: each route gets its own at the path-suffixed well-known URL
 * (RFC 9728 §3.1), `/.well-known/oauth-protected-resource/mcp/<name>`.
 */
import type { OAuthProtectedResourceMetadata } from '@modelcontextprotocol/server';
import type { OAuthConfig } from './auth-config.js';

/** The well-known prefix; the resource's path follows it. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** The route's URL as clients call it: the resource identifier. `base` is an origin without a trailing slash. */
export function routeResourceUrl(base: string, route: string): string {
  return `${base}/mcp/${route}`;
}

/** Where the route's metadata document is served; named in every 401 (`resource_metadata`). */
export function resourceMetadataUrl(base: string, route: string): string {
  return `${base}${PROTECTED_RESOURCE_WELL_KNOWN}/mcp/${route}`;
}

/**
 * The metadata document of an OAuth route.
 *
 * @example
 * protectedResourceMetadata('https://mcp.example.com', 'weather', auth)
 * // { resource: 'https://mcp.example.com/mcp/weather', authorization_servers: [auth.issuer], scopes_supported: [...], bearer_methods_supported: ['header'], … }
 */
export function protectedResourceMetadata(
  base: string,
  route: string,
  auth: Pick<OAuthConfig, 'issuer' | 'scopes'>,
): OAuthProtectedResourceMetadata {
  return {
    resource: routeResourceUrl(base, route),
    authorization_servers: [auth.issuer],
    ...(auth.scopes.length > 0 ? { scopes_supported: [...auth.scopes] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: `MCP server "${route}"`,
  };
}
