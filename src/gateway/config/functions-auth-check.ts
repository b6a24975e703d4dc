/**
 * The Functions host checks function keys before the gateway sees a request, for the whole app
 * (host.json `customHandler.http.defaultAuthorizationLevel`, or the app setting that overrides it).
 * That level and the routes' own `auth` can contradict each other; this says how, so the start-up
 * log tells the deployer.
 */
import { authOf, type GatewayConfig } from './config.js';

/** The app setting that overrides host.json's level (`infra/` sets it from `hostAuthorizationLevel`). */
export const AUTH_LEVEL_SETTING = 'AzureFunctionsJobHost__customHandler__http__defaultAuthorizationLevel';

/** The host's level: the overriding app setting, else host.json's, else the host's default `anonymous`. */
export function hostAuthorizationLevel(hostJson: unknown, env: NodeJS.ProcessEnv = {}): string {
  const override = env[AUTH_LEVEL_SETTING]?.trim();
  if (override) return override.toLowerCase();
  const level = (hostJson as { customHandler?: { http?: { defaultAuthorizationLevel?: unknown } } } | null)?.customHandler?.http
    ?.defaultAuthorizationLevel;
  return typeof level === 'string' ? level.toLowerCase() : 'anonymous';
}

/**
 * Warnings for a gateway running behind the Functions host with this host.json.
 *
 * @example
 * functionsAuthWarnings(config, JSON.parse(readFileSync('host.json', 'utf8')), process.env).forEach((w) => logger.warn(w));
 */
export function functionsAuthWarnings(
  config: Pick<GatewayConfig, 'servers' | 'auth'>,
  hostJson: unknown,
  env: NodeJS.ProcessEnv = {},
): string[] {
  const level = hostAuthorizationLevel(hostJson, env);
  const source = env[AUTH_LEVEL_SETTING]?.trim() ? `The app setting ${AUTH_LEVEL_SETTING} sets` : 'host.json sets';
  const routes = Object.entries(config.servers).filter(([, entry]) => entry.enabled);
  const kinds = (kind: string) => routes.filter(([, entry]) => authOf(config, entry).kind === kind).map(([name]) => `/mcp/${name}`);
  const warnings: string[] = [];
  const oauth = kinds('oauth');
  const open = kinds('none');
  if (level !== 'anonymous' && oauth.length > 0) {
    warnings.push(
      `${source} defaultAuthorizationLevel "${level}": the Functions host refuses requests without a function key before the gateway sees them, so OAuth clients cannot reach ${oauth.join(', ')}; set it to "anonymous" (azd: HOST_AUTHORIZATION_LEVEL) and give every route its own auth`,
    );
  }
  if (level === 'anonymous' && open.length > 0) {
    warnings.push(
      `${source} defaultAuthorizationLevel "anonymous" and ${open.join(', ')} ${open.length === 1 ? 'has' : 'have'} auth: none: anyone who can reach the app can call ${open.length === 1 ? 'it' : 'them'}`,
    );
  }
  return warnings;
}
