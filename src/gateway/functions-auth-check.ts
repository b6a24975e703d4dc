/**
 * The Functions host checks function keys before the gateway sees a request, for the whole app
 * (host.json `customHandler.http.defaultAuthorizationLevel`). That level and the routes' own `auth`
 * can contradict each other; this says how, so the start-up log tells the deployer.
 */
import { authOf, type GatewayConfig } from './config.js';

/** The host's level as host.json states it (`anonymous` is the host's default). */
export function hostAuthorizationLevel(hostJson: unknown): string {
  const level = (hostJson as { customHandler?: { http?: { defaultAuthorizationLevel?: unknown } } } | null)?.customHandler?.http
    ?.defaultAuthorizationLevel;
  return typeof level === 'string' ? level : 'anonymous';
}

/**
 * Warnings for a gateway running behind the Functions host with this host.json.
 *
 * @example
 * functionsAuthWarnings(config, JSON.parse(readFileSync('host.json', 'utf8'))).forEach((w) => logger.warn(w));
 */
export function functionsAuthWarnings(config: Pick<GatewayConfig, 'servers' | 'auth'>, hostJson: unknown): string[] {
  const level = hostAuthorizationLevel(hostJson);
  const routes = Object.entries(config.servers).filter(([, entry]) => entry.enabled);
  const kinds = (kind: string) => routes.filter(([, entry]) => authOf(config, entry).kind === kind).map(([name]) => `/mcp/${name}`);
  const warnings: string[] = [];
  const oauth = kinds('oauth');
  const open = kinds('none');
  if (level !== 'anonymous' && oauth.length > 0) {
    warnings.push(
      `host.json sets defaultAuthorizationLevel "${level}": the Functions host refuses requests without a function key before the gateway sees them, so OAuth clients cannot reach ${oauth.join(', ')}; set it to "anonymous" and give every route its own auth`,
    );
  }
  if (level === 'anonymous' && open.length > 0) {
    warnings.push(
      `host.json sets defaultAuthorizationLevel "anonymous" and ${open.join(', ')} ${open.length === 1 ? 'has' : 'have'} auth: none: anyone who can reach the app can call ${open.length === 1 ? 'it' : 'them'}`,
    );
  }
  return warnings;
}
