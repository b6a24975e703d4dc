import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { telemetrySettings, TelemetrySettingsError } from '../../src/gateway/telemetry/telemetry-settings.js';

const KEY = '0a1b2c3d-0000-4000-8000-123456789abc';
const CLIENT = '9f8e7d6c-0000-4000-8000-abcdefabcdef';

function problems(env: Record<string, string>): readonly string[] {
  try {
    telemetrySettings(env);
  } catch (error) {
    assert.ok(error instanceof TelemetrySettingsError);
    return error.problems;
  }
  assert.fail('expected a TelemetrySettingsError');
}

describe('telemetrySettings', () => {
  it('is off with nothing set, or with blank values', () => {
    assert.deepEqual(telemetrySettings({}), { enabled: false });
    assert.deepEqual(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ', APPLICATIONINSIGHTS_CONNECTION_STRING: '' }), {
      enabled: false,
    });
  });

  it('turns OTLP on with the endpoint, in http/protobuf unless asked for http/json, per signal', () => {
    assert.deepEqual(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), {
      enabled: true,
      otlp: { traces: 'http/protobuf', metrics: 'http/protobuf' },
      azureMonitor: undefined,
      captureContent: false,
      metricExportIntervalMs: 60_000,
      metricExportTimeoutMs: 30_000,
    });
    const json = telemetrySettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
    });
    assert.ok(json.enabled);
    assert.deepEqual(json.otlp, { traces: 'http/json', metrics: 'http/protobuf' });
    assert.equal(json.metricExportIntervalMs, 5000);
    const tracesOnly = telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' });
    assert.ok(tracesOnly.enabled);
    assert.deepEqual(tracesOnly.otlp, { traces: 'http/protobuf', metrics: undefined });
    const noMetrics = telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' });
    assert.ok(noMetrics.enabled);
    assert.deepEqual(noMetrics.otlp, { traces: 'http/protobuf', metrics: undefined });
  });

  it('is off with OTEL_SDK_DISABLED=true whatever else is set', () => {
    assert.deepEqual(telemetrySettings({ OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), { enabled: false });
  });

  it('reads Azure Monitor from the connection string, with a managed identity from the authentication string', () => {
    const settings = telemetrySettings({
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/`,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${CLIENT};Authorization=AAD`,
      OTEL_TRACES_EXPORTER: 'none',
    });
    assert.ok(settings.enabled);
    assert.equal(settings.otlp, undefined);
    assert.deepEqual(settings.azureMonitor, {
      connectionString: `InstrumentationKey=${KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/`,
      credential: { kind: 'managedIdentity', clientId: CLIENT },
      statsbeat: true,
      traces: false,
      metrics: true,
    });
    const systemAssigned = telemetrySettings({
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${KEY}`,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
    });
    assert.ok(systemAssigned.enabled);
    assert.deepEqual(systemAssigned.azureMonitor?.credential, { kind: 'managedIdentity' });
    assert.equal(systemAssigned.azureMonitor?.statsbeat, false);
  });

  it('lists every setting it cannot honour, by variable', () => {
    assert.deepEqual(
      problems({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_EXPORTER: 'console',
        OTEL_METRIC_EXPORT_INTERVAL: '10s',
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'yes',
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=abc;IngestionEndpoint=ftp://x',
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=x;Secret=y',
      }),
      [
        'OTEL_TRACES_EXPORTER: console is not supported (otlp or none)',
        'OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported (http/protobuf or http/json; grpc is not)',
        'APPLICATIONINSIGHTS_CONNECTION_STRING: InstrumentationKey is not a GUID',
        'APPLICATIONINSIGHTS_CONNECTION_STRING: IngestionEndpoint is not an http(s) URL',
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING: ClientId is not a GUID',
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING: unknown field secret',
        'OTEL_METRIC_EXPORT_INTERVAL: must be a positive whole number of milliseconds, got "10s"',
        'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: must be true or false, got "yes"',
      ],
    );
  });
});
