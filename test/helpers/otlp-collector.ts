/**
 * A loopback OTLP/HTTP collector for tests: a node:http server on 127.0.0.1 that accepts
 * `POST /v1/traces` and `POST /v1/metrics` in both encodings (JSON, and protobuf decoded by
 * otlp-protobuf.ts), answers as a collector does, and keeps what it received: the spans and
 * metric points, normalized, and every raw body, so that a test can look for what must not be
 * in them (session ids, keys, tool arguments).
 *
 * @example
 * ```ts
 * const collector = await startOtlpCollector();
 * const gw = await startGatewayProcess(yaml, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
 * // … drive it, then stop it: the drain flushes what is pending …
 * await gw.stop();
 * const span = collector.spans.find((s) => s.name === 'tools/call get_current_time');
 * await collector.close();
 * ```
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeMetricsRequest, decodeTraceRequest } from './otlp-protobuf.js';

export type AttributeMap = Record<string, string | number | boolean | unknown[]>;

export interface CollectedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  readonly attributes: AttributeMap;
  readonly status: { readonly code: 'unset' | 'ok' | 'error'; readonly message?: string };
  /** Nanoseconds since the epoch (as a double: to about a quarter of a microsecond). */
  readonly startTimeUnixNano: number;
  readonly endTimeUnixNano: number;
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>;
  readonly resource: AttributeMap;
  readonly scope: string;
}

export interface CollectedPoint {
  readonly attributes: AttributeMap;
  /** Sums and gauges. */
  readonly value?: number;
  /** Histograms. */
  readonly count?: number;
  readonly sum?: number;
}

export interface CollectedMetric {
  readonly name: string;
  readonly unit: string;
  readonly type: 'histogram' | 'sum' | 'gauge';
  readonly points: readonly CollectedPoint[];
  readonly resource: AttributeMap;
}

export interface OtlpCollector {
  /** `http://127.0.0.1:<port>`: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: CollectedSpan[];
  /** Every metric of every export, in arrival order (cumulative points repeat across exports). */
  readonly metrics: CollectedMetric[];
  /** Every request body as received (protobuf as latin1 text), and its path and content type. */
  readonly requests: Array<{ readonly path: string; readonly contentType: string; readonly body: string }>;
  /** The last export's points of a metric, or undefined. */
  lastMetric(name: string): CollectedMetric | undefined;
  /**
   * From now on, answer every export as a failing collector does: with `status` and `body` (kept
   * nothing of it), or never (`'hang'`: the request is read and left open); undefined: as a
   * collector again.
   */
  fail(fault: { readonly status: number; readonly body: string } | 'hang' | undefined): void;
  close(): Promise<void>;
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUS = ['unset', 'ok', 'error'] as const;

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const metrics: CollectedMetric[] = [];
  const requests: OtlpCollector['requests'] = [];
  let fault: Parameters<OtlpCollector['fail']>[0];
  const server = createServer((req, res) => {
    if (fault === 'hang') {
      req.resume();
      return;
    }
    if (fault) {
      const { status, body } = fault;
      req.resume().on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end(body));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const contentType = req.headers['content-type'] ?? '';
      const path = req.url ?? '/';
      requests.push({ path, contentType, body: contentType.includes('json') ? body.toString('utf8') : body.toString('latin1') });
      const json = contentType.includes('json');
      try {
        if (path === '/v1/traces') {
          spans.push(...normalizeSpans(json ? JSON.parse(body.toString('utf8')) : decodeTraceRequest(body)));
        } else if (path === '/v1/metrics') {
          metrics.push(...normalizeMetrics(json ? JSON.parse(body.toString('utf8')) : decodeMetricsRequest(body)));
        } else {
          res.writeHead(404).end();
          return;
        }
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      // An empty ExportServiceResponse: `{}` in JSON, zero bytes in protobuf.
      if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    requests,
    lastMetric: (name) => metrics.findLast((m) => m.name === name),
    fail(next) {
      fault = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

function normalizeSpans(request: Json): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const resourceSpans of list(request.resourceSpans)) {
    const resource = attributesOf((resourceSpans.resource as Json | undefined)?.attributes);
    for (const scopeSpans of list(resourceSpans.scopeSpans)) {
      const scope = String((scopeSpans.scope as Json | undefined)?.name ?? '');
      for (const span of list(scopeSpans.spans)) {
        const status = (span.status ?? {}) as Json;
        out.push({
          traceId: String(span.traceId ?? ''),
          spanId: String(span.spanId ?? ''),
          parentSpanId: String(span.parentSpanId ?? ''),
          name: String(span.name),
          kind: KINDS[Number(span.kind ?? 0)] ?? 'unspecified',
          attributes: attributesOf(span.attributes),
          status: {
            code: STATUS[Number(status.code ?? 0)] ?? 'unset',
            ...(typeof status.message === 'string' && status.message ? { message: status.message } : {}),
          },
          startTimeUnixNano: Number(span.startTimeUnixNano ?? 0),
          endTimeUnixNano: Number(span.endTimeUnixNano ?? 0),
          links: list(span.links).map((link) => ({ traceId: String(link.traceId), spanId: String(link.spanId) })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function normalizeMetrics(request: Json): CollectedMetric[] {
  const out: CollectedMetric[] = [];
  for (const resourceMetrics of list(request.resourceMetrics)) {
    const resource = attributesOf((resourceMetrics.resource as Json | undefined)?.attributes);
    for (const scopeMetrics of list(resourceMetrics.scopeMetrics)) {
      for (const metric of list(scopeMetrics.metrics)) {
        const type = metric.histogram ? 'histogram' : metric.sum ? 'sum' : 'gauge';
        const data = (metric[type] ?? {}) as Json;
        const points = list(data.dataPoints).map((point): CollectedPoint => {
          const attributes = attributesOf(point.attributes);
          if (type === 'histogram') return { attributes, count: Number(point.count), sum: Number(point.sum) };
          return { attributes, value: Number(point.asInt ?? point.asDouble ?? 0) };
        });
        out.push({ name: String(metric.name), unit: String(metric.unit ?? ''), type, points, resource });
      }
    }
  }
  return out;
}

function attributesOf(value: unknown): AttributeMap {
  const out: AttributeMap = {};
  for (const { key, value: any } of list(value) as Array<{ key: string; value: Json }>) out[key] = anyValue(any);
  return out;
}

function anyValue(value: Json | undefined): string | number | boolean | unknown[] {
  if (!value) return '';
  if ('stringValue' in value) return String(value.stringValue);
  if ('boolValue' in value) return Boolean(value.boolValue);
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return list((value.arrayValue as Json).values).map((v) => anyValue(v));
  return JSON.stringify(value);
}
