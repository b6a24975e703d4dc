/**
 * The entry point: reads the environment, listens, sweeps idle sessions, handles signals. Run by
 * `npm start`, and by the Azure Functions host as the custom handler (host.json).
 *
 * Environment:
 * - `FUNCTIONS_CUSTOMHANDLER_PORT` (set by the Functions host), else `PORT`, else 7071; 0 picks a free port.
 * - `HOST`: address to bind, default 127.0.0.1.
 * - `GATEWAY_CONFIG`: path of gateway.yaml, default the project root's.
 * - `GATEWAY_SESSION_SECRET` (+ `_PREVIOUS` while rotating): the key of resumable session ids.
 * - `WEBSITE_HOSTNAME` (set by Azure): accepted as a Host header besides localhost and `allowedHosts`.
 * - `LOG_LEVEL`: default info.
 * - Telemetry: `OTEL_EXPORTER_OTLP_ENDPOINT` and OpenTelemetry's other variables, and/or
 *   `APPLICATIONINSIGHTS_CONNECTION_STRING` (telemetry/telemetry-settings.ts). Off when unset.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { processSettings, type ProcessSettings } from './config/environment.js';
import { createLogger } from './logger.js';
// Only these two of the gateway's own modules are imported before the signal handlers are in
// place; the rest (about half a second of imports, more on a busy instance) is loaded in main().

/** Idle sessions are looked for this often at most; expiry is also checked on every access. */
const MAX_SWEEP_INTERVAL_MS = 30_000;
/** After the drain, connections still open this long are cut (their responses have all ended). */
const CLOSE_GRACE_MS = 1_000;
/** At exit, telemetry still being exported after this long is dropped (the platform's stop window is short). */
const TELEMETRY_FLUSH_MS = 5_000;

const env = process.env;
let settings: ProcessSettings;
try {
  // Before the logger, which LOG_LEVEL configures: a bad value is a line naming it, not pino's stack.
  settings = processSettings(env);
} catch (error) {
  process.stderr.write(`gateway failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}
const logger = createLogger({ level: settings.logLevel });

/**
 * What a SIGTERM or SIGINT does: set once the gateway serves (the drain). Until then there is
 * nothing to drain, and the default action would kill the process by the signal (not exit 0), so
 * the handlers are in place from the first line and a start that is stopped ends at once.
 */
let onStop = (signal: string): void => {
  logger.info({ signal }, 'gateway stopped before it was ready');
  process.exit(0);
};
// `on`, not `once`: with no listener left, a second SIGTERM (the platform may repeat it) would
// kill the process mid-drain, cutting the calls the drain is letting finish.
process.on('SIGTERM', () => onStop('SIGTERM'));
process.on('SIGINT', () => onStop('SIGINT'));
// Modules run in this process: a promise one of them leaves rejected with nobody to handle it (a
// fire-and-forget refresh, a notification sent after its request ended) would otherwise end the
// process, and every session and call of every route with it. Logged; nothing else is disturbed.
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled promise rejection (a server module, or the gateway, did not handle it)');
});

async function main(): Promise<void> {
  const [
    { createApp },
    { defaultConfigPath, loadConfig, PROJECT_ROOT },
    { functionsAuthWarnings, hostAuthorizationLevel },
    { createGateway, GATEWAY_VERSION },
    { createHttpServer },
    { sessionKeyringFromEnv },
    { startTelemetry },
  ] = await Promise.all([
    import('./http/app.js'),
    import('./config/config.js'),
    import('./config/functions-auth-check.js'),
    import('./gateway.js'),
    import('./http/http-server.js'),
    import('./sessions/session-keys.js'),
    import('./telemetry/start-telemetry.js'),
  ]);
  // First: the exporters (if any) are in place before anything serves. No module is patched (the
  // spans are the gateway's own), so nothing has to be imported after this.
  const telemetry = await startTelemetry(env, { logger, serviceVersion: GATEWAY_VERSION });
  const config = await loadConfig(defaultConfigPath(env), env);
  const { keyring, ephemeral } = sessionKeyringFromEnv(env);
  if (ephemeral) {
    logger.warn(
      'GATEWAY_SESSION_SECRET is not set: session ids use a random key made now, so sessions will not survive a restart or reach other instances',
    );
  }
  const gateway = await createGateway({ config, logger, keyring, telemetry });
  let functionKey = false;
  if (env.FUNCTIONS_CUSTOMHANDLER_PORT) {
    // Under the Functions host (func start, Azure): its key check and the routes' auth must agree.
    const hostJson = await readFile(path.join(PROJECT_ROOT, 'host.json'), 'utf8').then(JSON.parse, () => undefined);
    for (const warning of functionsAuthWarnings(config, hostJson, env)) logger.warn(warning);
    // In Azure (func start checks no keys), at the function level, every request needs a key.
    functionKey = env.WEBSITE_HOSTNAME !== undefined && hostAuthorizationLevel(hostJson, env)?.level === 'function';
  }
  const allowedHosts = [...config.allowedHosts, ...(env.WEBSITE_HOSTNAME ? [env.WEBSITE_HOSTNAME] : [])].map((h) => h.toLowerCase());
  const app = createApp(gateway, { allowedHosts, allowedOrigins: config.allowedOrigins, functionKey });

  const { port, host } = settings;
  const server = createHttpServer(app, { requestTimeout: config.requestTimeout, logger }).listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port, settings.portFrom ?? 'PORT')));
  });

  let inFlight = 0;
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, config: config.file, routes: [...gateway.routes.keys()].map((name) => `${url}/mcp/${name}`) }, 'gateway listening');

  // Short idle timeouts (tests, demos) get a sweep soon after a session's time is up.
  const sweepEvery = Math.max(250, Math.min(MAX_SWEEP_INTERVAL_MS, config.sessions.idleTimeout / 4));
  const sweeper = setInterval(() => gateway.sweep(), sweepEvery);
  sweeper.unref();

  // Flex Consumption stops instances whenever it scales in or redeploys. The listener stays open
  // while draining, so new requests get a clear 503 `shutting_down` (and the client retries
  // elsewhere) rather than a refused connection.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.info({ signal }, 'gateway already draining; the signal changes nothing');
      return;
    }
    stopping = true;
    const started = performance.now();
    const calls = [...gateway.routes.values()].reduce((sum, route) => sum + route.inFlight, 0);
    logger.info({ signal, graceMs: config.shutdownGrace, inFlight: calls }, 'gateway draining');
    clearInterval(sweeper);
    const report = await gateway.drain(AbortSignal.timeout(config.shutdownGrace));
    logger.info(
      { signal, ...report, finished: report.inFlight - report.answered, durationMs: Math.round(performance.now() - started) },
      report.answered > 0 ? 'gateway drained: calls still running at the end of the grace were answered shutting_down' : 'gateway drained',
    );
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Every response has ended or is ending; what is left are idle keep-alive connections, and
    // responses still flushing their last bytes, which get a moment.
    const reaper = setInterval(() => inFlight === 0 && server.closeAllConnections(), 25);
    const forced = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    forced.unref();
    await closed;
    clearInterval(reaper);
    // Last: the spans of the calls the drain let finish go out before the instance is gone.
    const flushed = await Promise.race([
      telemetry.shutdown().then(() => true),
      new Promise<false>((resolve) => setTimeout(resolve, TELEMETRY_FLUSH_MS, false).unref()),
    ]);
    if (!flushed) logger.warn({ timeoutMs: TELEMETRY_FLUSH_MS }, 'telemetry: export did not finish before exit');
    logger.info('gateway stopped');
    process.exit(0);
  };
  onStop = (signal) => void stop(signal);
}

/** A port or address the gateway cannot listen on: what to do about it, not a stack. */
class ListenError extends Error {
  override readonly name = 'ListenError';
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number, portFrom: string): Error {
  const where = `${host} port ${port}`;
  if (error.code === 'EADDRINUSE')
    return new ListenError(`${where} is in use by another process: stop it, or set ${portFrom} to a free port`, { cause: error });
  if (error.code === 'EADDRNOTAVAIL')
    return new ListenError(`${host} is not an address of this machine: set HOST to one of its addresses (or leave it unset: 127.0.0.1)`, {
      cause: error,
    });
  if (error.code === 'EACCES')
    return new ListenError(`${where} needs privileges this process does not have: set ${portFrom} to 1024 or above`, { cause: error });
  return error;
}

main().catch(async (error: unknown) => {
  // Humans read this at start-up: the plain message (for configuration, the list of problems).
  process.stderr.write(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  // Loaded already, unless loading is what failed (then the error is no configuration's).
  const expected = await Promise.all([import('./config/config.js'), import('./telemetry/telemetry-settings.js')]).then(
    ([{ ConfigError }, { TelemetrySettingsError }]) => error instanceof ConfigError || error instanceof TelemetrySettingsError,
    () => false,
  );
  if (!expected && !(error instanceof ListenError)) logger.fatal({ err: error }, 'gateway failed to start');
  process.exit(1);
});
