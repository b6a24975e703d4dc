/**
 * Decodes OTLP/HTTP protobuf export requests (traces and metrics) into the shape OTLP/JSON has,
 * for the test collector. OpenTelemetry's JS packages encode OTLP but decode only the responses,
 * so this reads the protobuf wire format with the field numbers of opentelemetry-proto
 * (collector/trace/v1, collector/metrics/v1, trace/v1, metrics/v1, common/v1, resource/v1), the
 * subset the tests look at. Checked against the SDK's own encoder in test/unit/otlp-protobuf.test.ts.
 */

type FieldType =
  'string' | 'hex' | 'varint' | 'bool' | 'int64' | 'fixed64' | 'sfixed64' | 'double' | 'fixed32' | 'packedFixed64' | 'packedDouble';
/** field number → [JSON name, type or nested message, repeated]. */
interface Schema {
  readonly [field: number]: readonly [string, FieldType | (() => Schema), boolean?];
}

const AnyValue = (): Schema => ({
  1: ['stringValue', 'string'],
  2: ['boolValue', 'bool'],
  3: ['intValue', 'int64'],
  4: ['doubleValue', 'double'],
  5: ['arrayValue', () => ({ 1: ['values', AnyValue, true] })],
  6: ['kvlistValue', () => ({ 1: ['values', KeyValue, true] })],
  7: ['bytesValue', 'hex'],
});
const KeyValue = (): Schema => ({ 1: ['key', 'string'], 2: ['value', AnyValue] });
const Resource = (): Schema => ({ 1: ['attributes', KeyValue, true] });
const Scope = (): Schema => ({ 1: ['name', 'string'], 2: ['version', 'string'], 3: ['attributes', KeyValue, true] });
const Link = (): Schema => ({
  1: ['traceId', 'hex'],
  2: ['spanId', 'hex'],
  3: ['traceState', 'string'],
  4: ['attributes', KeyValue, true],
});
const Status = (): Schema => ({ 2: ['message', 'string'], 3: ['code', 'varint'] });
const Span = (): Schema => ({
  1: ['traceId', 'hex'],
  2: ['spanId', 'hex'],
  3: ['traceState', 'string'],
  4: ['parentSpanId', 'hex'],
  5: ['name', 'string'],
  6: ['kind', 'varint'],
  7: ['startTimeUnixNano', 'fixed64'],
  8: ['endTimeUnixNano', 'fixed64'],
  9: ['attributes', KeyValue, true],
  13: ['links', Link, true],
  15: ['status', Status],
  16: ['flags', 'fixed32'],
});
const TraceRequest = (): Schema => ({
  1: [
    'resourceSpans',
    () => ({ 1: ['resource', Resource], 2: ['scopeSpans', () => ({ 1: ['scope', Scope], 2: ['spans', Span, true] }), true] }),
    true,
  ],
});
const NumberDataPoint = (): Schema => ({
  7: ['attributes', KeyValue, true],
  2: ['startTimeUnixNano', 'fixed64'],
  3: ['timeUnixNano', 'fixed64'],
  4: ['asDouble', 'double'],
  6: ['asInt', 'sfixed64'],
});
const HistogramDataPoint = (): Schema => ({
  9: ['attributes', KeyValue, true],
  2: ['startTimeUnixNano', 'fixed64'],
  3: ['timeUnixNano', 'fixed64'],
  4: ['count', 'fixed64'],
  5: ['sum', 'double'],
  6: ['bucketCounts', 'packedFixed64'],
  7: ['explicitBounds', 'packedDouble'],
  11: ['min', 'double'],
  12: ['max', 'double'],
});
const Metric = (): Schema => ({
  1: ['name', 'string'],
  2: ['description', 'string'],
  3: ['unit', 'string'],
  5: ['gauge', () => ({ 1: ['dataPoints', NumberDataPoint, true] })],
  7: ['sum', () => ({ 1: ['dataPoints', NumberDataPoint, true], 2: ['aggregationTemporality', 'varint'], 3: ['isMonotonic', 'bool'] })],
  9: ['histogram', () => ({ 1: ['dataPoints', HistogramDataPoint, true], 2: ['aggregationTemporality', 'varint'] })],
});
const MetricsRequest = (): Schema => ({
  1: [
    'resourceMetrics',
    () => ({ 1: ['resource', Resource], 2: ['scopeMetrics', () => ({ 1: ['scope', Scope], 2: ['metrics', Metric, true] }), true] }),
    true,
  ],
});

/** An `ExportTraceServiceRequest` as OTLP/JSON writes it (ids as hex). */
export function decodeTraceRequest(bytes: Uint8Array): Record<string, unknown> {
  return decode(bytes, TraceRequest());
}

/** An `ExportMetricsServiceRequest` as OTLP/JSON writes it. */
export function decodeMetricsRequest(bytes: Uint8Array): Record<string, unknown> {
  return decode(bytes, MetricsRequest());
}

function decode(bytes: Uint8Array, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = bytes[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    let raw: bigint | Uint8Array;
    if (wire === 0) raw = varint();
    else if (wire === 1) raw = bytes.subarray(pos, (pos += 8));
    else if (wire === 2) {
      const length = Number(varint());
      raw = bytes.subarray(pos, (pos += length));
    } else if (wire === 5) raw = bytes.subarray(pos, (pos += 4));
    else throw new Error(`unsupported wire type ${wire}`);
    const spec = schema[field];
    if (!spec) continue;
    const [name, type, repeated] = spec;
    const value = typeof type === 'function' ? decode(raw as Uint8Array, type()) : scalar(type, raw);
    if (!repeated) out[name] = value;
    else if (Array.isArray(out[name])) out[name].push(value);
    else out[name] = [value];
  }
  return out;
}

function scalar(type: FieldType, raw: bigint | Uint8Array): unknown {
  const bytes = raw instanceof Uint8Array ? raw : undefined;
  const view = bytes ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
  switch (type) {
    case 'string':
      return new TextDecoder().decode(bytes);
    case 'hex':
      return Buffer.from(bytes!).toString('hex');
    case 'varint':
      return Number(raw as bigint);
    case 'bool':
      return (raw as bigint) !== 0n;
    case 'int64':
      return Number(BigInt.asIntN(64, raw as bigint));
    case 'fixed64':
      return Number(view!.getBigUint64(0, true));
    case 'sfixed64':
      return Number(view!.getBigInt64(0, true));
    case 'double':
      return view!.getFloat64(0, true);
    case 'fixed32':
      return view!.getUint32(0, true);
    case 'packedFixed64':
      return Array.from({ length: bytes!.length / 8 }, (_, i) => Number(view!.getBigUint64(i * 8, true)));
    case 'packedDouble':
      return Array.from({ length: bytes!.length / 8 }, (_, i) => view!.getFloat64(i * 8, true));
  }
}
