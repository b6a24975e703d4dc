/**
 * The protocol versions the gateway speaks, and which era each belongs to. The 2025 era's are the
 * SDK's own list (`SUPPORTED_PROTOCOL_VERSIONS`, what its `initialize` negotiates and its transport
 * accepts in a header); the modern era's is the revision its `createMcpHandler` serves (the SDK
 * keeps that list internal). An era is decided from these known versions only: revisions are
 * dates and sort as strings, but so does any garbage (`'garbage' > '2026-07-28'`), and a header
 * that names no version belongs to no era.
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { IncomingMessage } from 'node:http';
import { cutForMessage, GatewayError } from '../errors.js';
import { headerValues, repeatedHeader } from './headers.js';

/** The first (and so far only) revision of the modern era. */
export const FIRST_MODERN_VERSION = '2026-07-28';

/** Every version the gateway speaks, newest first: the modern era's, then the SDK's 2025-era list. */
export const KNOWN_VERSIONS: readonly string[] = Object.freeze([FIRST_MODERN_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS]);

/** The era of a version the gateway speaks; undefined for any other string. */
export function eraOfVersion(version: string): 'modern' | 'legacy' | undefined {
  if (version === FIRST_MODERN_VERSION) return 'modern';
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version) ? 'legacy' : undefined;
}

/**
 * The request's `MCP-Protocol-Version`, trimmed as the SDK trims it; undefined when absent. Throws
 * `invalid_header` when it came more than once (Node joins repeated fields as `a, b`) and
 * `unsupported_protocol_version` when it names no version the gateway speaks: MCP's Streamable
 * HTTP transport answers an invalid or unsupported version with 400 Bad Request, in every era.
 */
export function requireKnownVersion(req: IncomingMessage): string | undefined {
  const values = headerValues(req, 'mcp-protocol-version');
  if (values === undefined) return undefined;
  if (values.length > 1) throw repeatedHeader('MCP-Protocol-Version', values.length);
  const version = values[0]!;
  if (eraOfVersion(version) === undefined) throw unsupportedVersion(version);
  return version;
}

export function unsupportedVersion(version: string): GatewayError {
  return new GatewayError(
    'unsupported_protocol_version',
    `Bad Request: Unsupported protocol version: ${version === '' ? '(empty)' : cutForMessage(version)} (supported versions: ${KNOWN_VERSIONS.join(', ')})`,
    { supported: [...KNOWN_VERSIONS] },
  );
}

/**
 * The refusal of a 2026-07-28 `MCP-Protocol-Version` on a request of a 2025 session (its GET
 * stream, its DELETE, a response or notification it sends): a session speaks what its
 * `initialize` negotiated, a 2025 version. The SDK's transport would refuse it too, without the
 * gateway's `data.code`.
 */
export function unsupportedOnSession(version: string): GatewayError {
  return new GatewayError(
    'unsupported_protocol_version',
    `Bad Request: a 2025 session does not speak protocol version ${cutForMessage(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    { supported: [...SUPPORTED_PROTOCOL_VERSIONS] },
  );
}
