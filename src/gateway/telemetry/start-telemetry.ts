/**
 * Telemetry as the environment asks for it, for the entry point. With export off nothing of
 * OpenTelemetry is imported (the SDK, the exporters and Azure's packages are loaded only when a
 * destination is configured), so the default costs neither start-up time nor memory.
 */
import type { Logger } from '../logger.js';
import { createTelemetry, type Telemetry } from './telemetry.js';
import { telemetrySettings } from './telemetry-settings.js';

export interface StartTelemetryOptions {
  readonly logger: Logger;
  readonly serviceVersion: string;
}

/**
 * Reads the settings from `env` (throwing a TelemetrySettingsError that lists every problem) and
 * starts exporting if they say so. Registers OpenTelemetry's globals: call it once, first.
 */
export async function startTelemetry(env: NodeJS.ProcessEnv, { logger, serviceVersion }: StartTelemetryOptions): Promise<Telemetry> {
  const settings = telemetrySettings(env);
  if (!settings.enabled) return createTelemetry();
  const { createOtelPipeline } = await import('./otel-pipeline.js');
  const pipeline = await createOtelPipeline(settings, { logger, serviceVersion, env, register: true });
  logger.info(
    {
      exporters: pipeline.exporters,
      otlp: settings.otlp,
      azureMonitor: settings.azureMonitor
        ? { credential: settings.azureMonitor.credential?.kind ?? 'none', statsbeat: settings.azureMonitor.statsbeat }
        : undefined,
      captureContent: settings.captureContent || undefined,
    },
    'telemetry exporting',
  );
  return createTelemetry({ pipeline, captureContent: settings.captureContent });
}
