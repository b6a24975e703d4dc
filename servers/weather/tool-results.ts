/**
 * Pieces every weather tool result shares.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Present in `structuredContent` when the data came from the gateway cache's expired copy. */
export const staleSchema = z
  .object({
    ageSeconds: z.number().nonnegative().optional().describe('Age of the copy in seconds, when known'),
    notice: z.string().describe('Why and how the data may be out of date, for the user'),
  })
  .describe('Set when NWS was failing and an older cached copy was used');

/** A tool-level failure: the model sees the message, the session goes on. */
export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}
