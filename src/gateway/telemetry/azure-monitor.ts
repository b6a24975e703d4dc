/**
 * Azure Monitor (Application Insights) as one more destination of the gateway's OpenTelemetry
 * pipeline: Microsoft's exporter package, not its distro, so that the gateway keeps one SDK set up
 * once (the distro would set up its own providers and instrument modules besides). SERVER spans
 * land in the `requests` table, CLIENT spans in `dependencies`, metrics in `customMetrics`. The
 * distro's live metrics are not part of the exporter, so there are none.
 *
 * With `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` the exporter sends with a managed identity
 * (Entra ingestion: the infra disables local auth and grants the identity *Monitoring Metrics
 * Publisher*). The spans get copies of two attributes the exporter would drop (app-insights-spans.ts).
 * Loaded only when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, and
 * `@azure/identity` only when an identity is asked for.
 */
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { withAppInsightsAttributes } from './app-insights-spans.js';
import type { AzureMonitorSettings } from './telemetry-settings.js';

export interface AzureMonitorExporters {
  readonly traces: SpanExporter | undefined;
  readonly metrics: PushMetricExporter | undefined;
}

/** The variable through which the exporter alone can be told not to send its statsbeat. */
const NO_STATSBEAT = 'APPLICATION_INSIGHTS_NO_STATSBEAT';

export async function createAzureMonitorExporters(settings: AzureMonitorSettings, env: NodeJS.ProcessEnv): Promise<AzureMonitorExporters> {
  // The exporter reads this variable itself, at construction, and has no option for it.
  if (!settings.statsbeat) env[NO_STATSBEAT] = 'true';
  const { AzureMonitorTraceExporter, AzureMonitorMetricExporter } = await import('@azure/monitor-opentelemetry-exporter');
  const options: NonNullable<ConstructorParameters<typeof AzureMonitorTraceExporter>[0]> = { connectionString: settings.connectionString };
  if (settings.credential) {
    const { ManagedIdentityCredential } = await import('@azure/identity');
    const { clientId } = settings.credential;
    options.credential = clientId ? new ManagedIdentityCredential(clientId) : new ManagedIdentityCredential();
  }
  return {
    traces: settings.traces ? withAppInsightsAttributes(new AzureMonitorTraceExporter(options)) : undefined,
    metrics: settings.metrics ? new AzureMonitorMetricExporter(options) : undefined,
  };
}
