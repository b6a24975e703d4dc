/**
 * Whether and where the gateway exports telemetry, read from the environment by a pure function.
 * Off unless configured, and then by the standards: OpenTelemetry's own variables for any OTLP
 * collector, Application Insights' for Azure Monitor. Every problem is reported at once, naming
 * the variable, and the gateway does not start with a telemetry setting it cannot honour.
 *
 * Variables (see the README's Telemetry section):
 * - `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
 *   `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`): turns OTLP export on. The exporters read the endpoint,
 *   headers, timeout and compression variables themselves.
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` (and the `_TRACES_` / `_METRICS_` ones): `http/protobuf` (the
 *   default, as the specification says) or `http/json`. `grpc` is not supported.
 * - `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`: `otlp` (default) or `none`; `none` also
 *   keeps that signal from Azure Monitor.
 * - `OTEL_SDK_DISABLED=true`: everything off, whatever else is set.
 * - `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT`: milliseconds (60000, 30000).
 * - `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`:
 *   read by the SDK itself.
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING`: turns Azure Monitor export on.
 *   `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (`Authorization=AAD;ClientId=<guid>`) sends with
 *   a managed identity (Entra ingestion), as the infra configures.
 *   `APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL=true` (or the exporter's own
 *   `APPLICATION_INSIGHTS_NO_STATSBEAT=true`) turns off the exporter's reports about itself.
 * - `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`: the opt-in for tool arguments and
 *   results (and resource URIs) on spans. Off by default: they may hold anything a user typed.
 */
import { isHttpUrl } from '../config/config.js';

/** The OTLP encodings over HTTP the gateway can send. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** Where one signal goes over OTLP; undefined when it does not. */
export interface OtlpSettings {
  readonly traces: OtlpProtocol | undefined;
  readonly metrics: OtlpProtocol | undefined;
}

export interface AzureMonitorSettings {
  readonly connectionString: string;
  /** Entra ingestion with a managed identity (user-assigned when `clientId` is set); else none. */
  readonly credential: { readonly kind: 'managedIdentity'; readonly clientId?: string } | undefined;
  /** The exporter's reports about itself ("statsbeat"), sent to Microsoft's own endpoints. */
  readonly statsbeat: boolean;
  readonly traces: boolean;
  readonly metrics: boolean;
}

export type TelemetrySettings =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly otlp: OtlpSettings | undefined;
      readonly azureMonitor: AzureMonitorSettings | undefined;
      /** Tool arguments and results on spans (opt-in). */
      readonly captureContent: boolean;
      readonly metricExportIntervalMs: number;
      readonly metricExportTimeoutMs: number;
    };

export const TELEMETRY_OFF: TelemetrySettings = Object.freeze({ enabled: false });

export class TelemetrySettingsError extends Error {
  readonly code = 'invalid_telemetry_settings';
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid telemetry settings (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p}`).join('\n'),
    );
    this.name = 'TelemetrySettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The telemetry settings `env` asks for. Throws a {@link TelemetrySettingsError} listing every
 * variable it cannot honour.
 *
 * @example
 * telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
 * // { enabled: true, otlp: { traces: 'http/json', metrics: 'http/json' }, azureMonitor: undefined, … }
 */
export function telemetrySettings(env: Env): TelemetrySettings {
  const problems: string[] = [];
  if (flag(env, 'OTEL_SDK_DISABLED', problems)) return TELEMETRY_OFF;

  const traces = exporterChoice(env, 'OTEL_TRACES_EXPORTER', problems);
  const metrics = exporterChoice(env, 'OTEL_METRICS_EXPORTER', problems);
  const otlp = otlpSettings(env, traces, metrics, problems);
  const azureMonitor = azureMonitorSettings(env, traces, metrics, problems);
  const metricExportIntervalMs = milliseconds(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, problems);
  const metricExportTimeoutMs = milliseconds(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000, problems);
  const captureContent = flag(env, 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', problems);
  if (problems.length > 0) throw new TelemetrySettingsError(problems);
  if (!otlp && !azureMonitor) return TELEMETRY_OFF;
  return Object.freeze({ enabled: true, otlp, azureMonitor, captureContent, metricExportIntervalMs, metricExportTimeoutMs });
}

function otlpSettings(env: Env, traces: boolean, metrics: boolean, problems: string[]): OtlpSettings | undefined {
  const general = value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracesOn = traces && (general !== undefined || value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined);
  const metricsOn = metrics && (general !== undefined || value(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') !== undefined);
  if (!tracesOn && !metricsOn) return undefined;
  const fallback = protocol(env, 'OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf', problems);
  return Object.freeze({
    traces: tracesOn ? protocol(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', fallback, problems) : undefined,
    metrics: metricsOn ? protocol(env, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', fallback, problems) : undefined,
  });
}

function azureMonitorSettings(env: Env, traces: boolean, metrics: boolean, problems: string[]): AzureMonitorSettings | undefined {
  const connectionString = value(env, 'APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (connectionString === undefined || (!traces && !metrics)) return undefined;
  const fields = parsePairs(connectionString);
  const key = fields.get('instrumentationkey');
  if (key === undefined) {
    problems.push(
      'APPLICATIONINSIGHTS_CONNECTION_STRING: no InstrumentationKey (copy the connection string from the Application Insights resource)',
    );
  } else if (!GUID.test(key)) {
    problems.push('APPLICATIONINSIGHTS_CONNECTION_STRING: InstrumentationKey is not a GUID');
  }
  const ingestion = fields.get('ingestionendpoint');
  if (ingestion !== undefined && !isHttpUrl(ingestion)) {
    problems.push('APPLICATIONINSIGHTS_CONNECTION_STRING: IngestionEndpoint is not an http(s) URL');
  }
  const credential = authentication(env, problems);
  const statsbeat = !(
    flag(env, 'APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL', problems) || flag(env, 'APPLICATION_INSIGHTS_NO_STATSBEAT', problems)
  );
  return Object.freeze({ connectionString, credential, statsbeat, traces, metrics });
}

/** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, as Application Insights defines it: `Authorization=AAD` and an optional `ClientId`. */
function authentication(env: Env, problems: string[]): AzureMonitorSettings['credential'] {
  const name = 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING';
  const text = value(env, name);
  if (text === undefined) return undefined;
  const fields = parsePairs(text);
  if (fields.get('authorization')?.toLowerCase() !== 'aad') {
    problems.push(`${name}: must say Authorization=AAD (e.g. "Authorization=AAD;ClientId=<client id of the managed identity>")`);
    return undefined;
  }
  const clientId = fields.get('clientid');
  if (clientId !== undefined && !GUID.test(clientId)) problems.push(`${name}: ClientId is not a GUID`);
  for (const field of fields.keys())
    if (field !== 'authorization' && field !== 'clientid') problems.push(`${name}: unknown field ${field}`);
  return Object.freeze(clientId === undefined ? { kind: 'managedIdentity' as const } : { kind: 'managedIdentity' as const, clientId });
}

/** `Key=Value;Key=Value`, keys case-insensitive, as connection strings are. */
function parsePairs(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

/** `otlp` (default) or `none`, for one signal; a comma-separated list as the specification allows. */
function exporterChoice(env: Env, name: string, problems: string[]): boolean {
  const text = value(env, name);
  if (text === undefined) return true;
  const choices = text.split(',').map((s) => s.trim().toLowerCase());
  const unknown = choices.filter((c) => c !== 'otlp' && c !== 'none');
  if (unknown.length > 0) problems.push(`${name}: ${unknown.join(', ')} is not supported (otlp or none)`);
  return !choices.includes('none');
}

function protocol(env: Env, name: string, fallback: OtlpProtocol, problems: string[]): OtlpProtocol {
  const text = value(env, name);
  if (text === undefined) return fallback;
  if (text === 'http/protobuf' || text === 'http/json') return text;
  problems.push(`${name}: ${JSON.stringify(text)} is not supported (http/protobuf or http/json${text === 'grpc' ? '; grpc is not' : ''})`);
  return fallback;
}

function milliseconds(env: Env, name: string, fallback: number, problems: string[]): number {
  const text = value(env, name);
  if (text === undefined) return fallback;
  const ms = Number(text);
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    problems.push(`${name}: must be a positive whole number of milliseconds, got ${JSON.stringify(text)}`);
    return fallback;
  }
  return ms;
}

/** A boolean variable as OpenTelemetry reads them: `true` (any case) is true, `false` or unset false. */
function flag(env: Env, name: string, problems: string[]): boolean {
  const text = value(env, name)?.toLowerCase();
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  problems.push(`${name}: must be true or false, got ${JSON.stringify(env[name])}`);
  return false;
}

/** A variable's value, trimmed; unset and blank are the same (app settings cannot be unset per slot). */
function value(env: Env, name: string): string | undefined {
  const text = env[name]?.trim();
  return text ? text : undefined;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
