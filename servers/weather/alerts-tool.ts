/**
 * `get_alerts`: active NWS alerts for a US state or territory.
 */
import type { McpServer, CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { cacheJsonSchema } from '../../src/gateway/module-contract.js';
import { findStateTerritory, VALID_AREAS_HINT } from './areas.js';
import { describeFailure } from './failures.js';
import { alertRecordSchema, formatAlert, toAlertRecord } from './format.js';
import { staleNotice } from './freshness.js';
import type { NwsClient } from './nws-client.js';
import { alertCollectionSchema } from './nws-schemas.js';
import { errorResult, staleSchema } from './tool-results.js';

// Built once, at load, their JSON Schema too: the gateway builds a server for every 2026-07-28 request.
const inputSchema = cacheJsonSchema(
  z.object({
    state: z
      .string()
      .max(100)
      .describe('Two-letter USPS code of a US state or territory, e.g. "CA", "pa" (any case); DC, AS, GU, PR and VI too'),
  }),
);

const outputSchema = cacheJsonSchema(
  z.object({
    state: z.string().describe('The code asked for, upper case'),
    count: z.number().int().nonnegative(),
    alerts: z.array(alertRecordSchema),
    stale: staleSchema.optional(),
  }),
);

export function registerAlertsTool(server: McpServer, nws: NwsClient): void {
  server.registerTool(
    'get_alerts',
    {
      title: 'Active weather alerts',
      description:
        'Active watches, warnings and advisories from the US National Weather Service for one US state or ' +
        'territory: event, area, severity, urgency, headline, description and instructions.',
      inputSchema,
      outputSchema,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async ({ state }): Promise<CallToolResult> => {
      const area = findStateTerritory(state);
      if (!area) {
        return errorResult(`${JSON.stringify(state)} is not a US state or territory code. ${VALID_AREAS_HINT}`);
      }
      const result = await nws.get(`/alerts/active?area=${area.code}`, alertCollectionSchema);
      if (!result.ok) return errorResult(describeFailure(result.failure, { subject: `active alerts for ${area.code}` }));

      const alerts = result.data.features.map((feature) => toAlertRecord(feature.properties));
      const stale = staleNotice('this list of alerts', [result.stale]);
      const heading =
        alerts.length === 0
          ? `No active alerts for ${area.code}.`
          : `${alerts.length} active alert${alerts.length === 1 ? '' : 's'} for ${area.name} (${area.code}):`;
      const blocks = alerts.map(formatAlert).join('\n\n---\n\n');
      const text = [stale?.notice, heading, blocks].filter(Boolean).join('\n\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { state: area.code, count: alerts.length, alerts, ...(stale ? { stale } : {}) },
      };
    },
  );
}
