/**
 * The paths the gateway serves, shared by the standalone edge (app.ts) and the express router
 * (express-router.ts), so the two can never disagree about which requests are the gateway's.
 */
import { PROTECTED_RESOURCE_WELL_KNOWN } from '../auth/protected-resource.js';

/** `/mcp/<name>`, with an optional trailing slash; the name percent-encoded as sent. */
export const MCP_PATH = /^\/mcp\/([^/]+)\/?$/;
/** RFC 9728 §3.1: the metadata of the resource `/mcp/<name>` is at the well-known prefix + its path. */
export const METADATA_PATH = new RegExp(`^${PROTECTED_RESOURCE_WELL_KNOWN}/mcp/([^/]+)/?$`);
/** The status page, its JSON and the probe. */
export const STATUS_PATHS: ReadonlySet<string> = new Set(['/', '/status.json', '/healthz']);

/** A percent-decoded path segment; a malformed one stays as sent (and matches no route). */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
