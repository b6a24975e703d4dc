/**
 * A loopback stand-in for Application Insights' ingestion endpoint, for tests: `POST …/track`
 * with a JSON array (or newline-separated JSON) of telemetry envelopes, gzipped or not, answered
 * as the service answers (`itemsReceived`, `itemsAccepted`). Point a connection string at it:
 * `InstrumentationKey=<guid>;IngestionEndpoint=<url>/;LiveEndpoint=<url>/`. Every other request
 * (live metrics would be one) is kept in {@link FakeAppInsights.others}.
 *
 * HTTPS only, as the exporter rewrites an `http://` endpoint to `https://`: the server uses a
 * certificate for 127.0.0.1 made by `openssl` for the run, which the process under test trusts
 * through `NODE_EXTRA_CA_CERTS=<caFile>`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Envelope {
  readonly name: string;
  readonly iKey?: string;
  readonly tags?: Record<string, string>;
  readonly data?: { readonly baseType?: string; readonly baseData?: Record<string, unknown> & { properties?: Record<string, string> } };
}

export interface FakeAppInsights {
  readonly url: string;
  readonly envelopes: Envelope[];
  /** Raw bodies of the track requests, for what must not be in them. */
  readonly bodies: string[];
  /** Requests to anything but a track path. */
  readonly others: string[];
  /** The server's certificate (its own CA), for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
  connectionString(instrumentationKey: string): string;
  close(): Promise<void>;
}

export async function startFakeAppInsights(): Promise<FakeAppInsights> {
  const envelopes: Envelope[] = [];
  const bodies: string[] = [];
  const others: string[] = [];
  const tls = loopbackCertificate();
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/track')) {
        others.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip' || (body[0] === 0x1f && body[1] === 0x8b)) body = gunzipSync(body);
      const text = body.toString('utf8');
      bodies.push(text);
      const items: Envelope[] = text.trimStart().startsWith('[')
        ? JSON.parse(text)
        : text
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line));
      envelopes.push(...items);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    envelopes,
    bodies,
    others,
    caFile: tls.caFile,
    connectionString: (key) => `InstrumentationKey=${key};IngestionEndpoint=${url}/;LiveEndpoint=${url}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}

/** A self-signed certificate for 127.0.0.1, valid for a day, from the machine's `openssl`. */
function loopbackCertificate(): { key: Buffer; cert: Buffer; caFile: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-app-insights-'));
  const keyFile = path.join(dir, 'key.pem');
  const caFile = path.join(dir, 'cert.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      caFile,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (result.error || result.status !== 0) {
    throw new Error(`could not make a test certificate with openssl (apt-get install openssl): ${result.error?.message ?? result.stderr}`);
  }
  return { key: readFileSync(keyFile), cert: readFileSync(caFile), caFile, dir };
}
