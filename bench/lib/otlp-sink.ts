/**
 * A loopback OTLP/HTTP endpoint for the telemetry benchmark: it reads each export, counts it and
 * answers as a collector does, keeping nothing, so that what is measured is the gateway's cost of
 * exporting (spans and metrics encoded and sent), not a collector's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** The value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Exports received, by path (`/v1/traces`, `/v1/metrics`), and their bytes. */
  readonly received: { exports: Record<string, number>; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const received = { exports: {} as Record<string, number>, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (received.bytes += chunk.length));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.exports[path] = (received.exports[path] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
