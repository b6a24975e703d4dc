/**
 * Turning an upstream failure into the sentence a tool result shows: what happened, in terms of
 * what the user asked, and whether trying again can help.
 */
import { formatDuration } from './freshness.js';
import type { NwsFailure } from './nws-client.js';

/** What the failed request was for, in the user's terms. */
export interface FailureContext {
  /** e.g. "the forecast for 41.967,-71.189" or "active alerts for PA". */
  readonly subject: string;
  /** The coordinates asked for, when the request was about a point. */
  readonly point?: string;
}

/**
 * @example
 * ```ts
 * describeFailure({ kind: 'unavailable', path: '/points/1,2', status: 503 }, { subject: 'the forecast for 1,2' })
 * // 'NWS is unavailable (503) and could not provide the forecast for 1,2; try again shortly.'
 * describeFailure({ kind: 'backingOff', path: '/points/1,2', retryAfterSeconds: 8 }, { subject: 'the forecast for 1,2' })
 * // 'NWS is unavailable (backing off after repeated failures) and could not provide the forecast for 1,2;
 * //  the gateway will try it again in 8 s.'
 * ```
 */
export function describeFailure(failure: NwsFailure, context: FailureContext): string {
  switch (failure.kind) {
    case 'timeout':
      return `NWS did not answer within ${failure.timeoutMs / 1000} s when asked for ${context.subject}; try again shortly.`;
    case 'unreachable':
      return `NWS could not be reached (${failure.cause}) for ${context.subject}; try again shortly.`;
    case 'unavailable':
      return `NWS is unavailable (${failure.status}) and could not provide ${context.subject}; try again shortly.`;
    case 'backingOff':
      return (
        `NWS is unavailable (backing off after repeated failures) and could not provide ${context.subject}; ` +
        `the gateway will try it again in ${formatDuration(failure.retryAfterSeconds)}.`
      );
    case 'redirected':
      return `NWS answered the request for ${context.subject} with a redirect (${failure.status}), which this server does not follow.`;
    case 'tooLarge':
      return (
        `NWS sent more than ${formatBytes(failure.limitBytes)} for ${context.subject}, more than this server reads ` +
        `(options.maxResponseBytes); the answer was not used.`
      );
    case 'malformed':
      return `NWS returned a malformed response for ${context.subject} (${failure.reason}).`;
    case 'rejected': {
      const nws = failure.problem?.detail ?? failure.problem?.title;
      const quoted = nws ? ` (NWS: ${nws})` : '';
      if (failure.problem?.type?.endsWith('/InvalidPoint') && context.point) {
        return `NWS has no forecast for ${context.point}: only US locations are covered${quoted}.`;
      }
      if (failure.status === 429) {
        const wait =
          failure.retryAfterSeconds === undefined
            ? 'try again in a minute'
            : `it asks to wait ${formatDuration(failure.retryAfterSeconds)} before trying again`;
        return `NWS is limiting how often it is asked (429) and refused ${context.subject}; ${wait}.`;
      }
      return `NWS refused the request for ${context.subject} (${failure.status})${quoted}.`;
    }
  }
}

/** `8 MiB`, `64 KiB`, `1500 bytes`: whole binary units when the size is one, else bytes. */
function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
