import { z } from 'zod';

/** The public NWS API. */
export const DEFAULT_NWS_BASE_URL = 'https://api.weather.gov';

/**
 * NWS blocks requests without a User-Agent and asks that it name the application and a contact
 * (https://www.weather.gov/documentation/services-web-api, "Authentication"), so it can reach the
 * operator instead of blocking a misbehaving client. Deployers should set their own.
 */
export const DEFAULT_USER_AGENT = 'mcp-gateway-functions/0.1 (+https://github.com/; set options.userAgent to include your contact)';

/** Environment variable that, when set, replaces the default `baseUrl`. */
export const NWS_BASE_URL_ENV = 'NWS_BASE_URL';

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://api.weather.gov' })
  .refine(hasNoQueryOrFragment, 'must not have a query or fragment');

function hasNoQueryOrFragment(value: string): boolean {
  try {
    const url = new URL(value);
    return !url.search && !url.hash;
  } catch {
    return true; // not a URL at all: the check above has said so already
  }
}

/**
 * The options schema, reading `NWS_BASE_URL` from `env` when `baseUrl` is not given.
 * Exported for tests; the module exports {@link optionsSchema}, bound to `process.env`.
 *
 * @example
 * ```ts
 * createOptionsSchema({ NWS_BASE_URL: 'http://127.0.0.1:8080' }).parse({}).baseUrl
 * // 'http://127.0.0.1:8080'
 * ```
 */
export function createOptionsSchema(env: Readonly<Record<string, string | undefined>>) {
  return z
    .object({
      /**
       * Root of the NWS API, without a trailing path beyond a prefix. Default: `$NWS_BASE_URL` when
       * set and not empty, else https://api.weather.gov. An explicit value wins over the variable.
       * `prefault` runs the default through the URL check too, so a bad variable fails at start.
       */
      baseUrl: httpUrl.prefault(() => env[NWS_BASE_URL_ENV] || DEFAULT_NWS_BASE_URL),
      /** `User-Agent` sent to NWS: name your deployment and a contact (URL or e-mail). */
      userAgent: z
        .string()
        .trim()
        .min(1)
        .max(256)
        // fetch refuses other header values on every request, which would read as NWS unreachable
        // (and count against its host in the cache's backoff) instead of stopping the start.
        .regex(/^[\x20-\x7E]+$/, 'must be printable ASCII (it is sent as an HTTP header): write é as e, — as -')
        .default(DEFAULT_USER_AGENT),
      /** Milliseconds to wait for each upstream answer, body included. Default 10 000. */
      timeoutMs: z.number().int().positive().max(120_000).default(10_000),
      /**
       * Milliseconds to wait before the one retry after a 5xx or a network error. Default 250.
       * Mostly for tests, which set it near 0.
       */
      retryDelayMs: z.number().int().min(0).max(10_000).default(250),
      /**
       * Most bytes of one NWS body read (after content decoding); a larger or endless one is cut
       * off there and the tool call fails, naming this limit. Default 8 MiB (a state's active
       * alerts on a busy day run to a few MiB; a forecast is well under 1 MiB).
       */
      maxResponseBytes: z
        .number()
        .int()
        .min(1024)
        .max(256 * 1024 * 1024)
        .default(8 * 1024 * 1024),
    })
    .strict();
}

/**
 * Options of the weather server (`options` of its `gateway.yaml` entry).
 *
 * - `baseUrl`: NWS API root; default `$NWS_BASE_URL`, else https://api.weather.gov.
 * - `userAgent`: sent with every request; NWS policy wants the app and a contact in it.
 * - `timeoutMs`: per-request timeout (default 10 000).
 * - `retryDelayMs`: pause before the single retry on 5xx or network errors (default 250).
 * - `maxResponseBytes`: most bytes of one NWS body read (default 8 MiB).
 */
export const optionsSchema = createOptionsSchema(process.env);

/** The validated options. */
export type WeatherOptions = z.output<ReturnType<typeof createOptionsSchema>>;
