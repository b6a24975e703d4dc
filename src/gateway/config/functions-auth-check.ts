/**
 * The Functions host checks function keys before the gateway sees a request, for the whole app
 * (host.json `customHandler.http.defaultAuthorizationLevel`, or the app setting that overrides it).
 * That level and the routes' own `auth` can contradict each other; this says how, so the start-up
 * log tells the deployer.
 *
 * When neither sets the level, the check does not guess the host's default: Microsoft's page on
 * self-hosted MCP servers gives it as `function` in its table of `customHandler.http` properties,
 * while its example of the settings the `mcp-custom-handler` profile is equivalent to shows
 * `anonymous`. It warns that the level is unstated instead.
 */
import { authOf, type GatewayConfig } from './config.js';

/** The app setting that overrides host.json's level (`infra/` sets it from `hostAuthorizationLevel`). */
export const AUTH_LEVEL_SETTING = 'AzureFunctionsJobHost__customHandler__http__defaultAuthorizationLevel';

/** The `.vscode/mcp.json` input a client asks the function key with (the generated file's remote entries, the status page in Azure). */
export const FUNCTIONS_KEY_INPUT = Object.freeze({
  type: 'promptString',
  id: 'functions-key',
  description: 'Function key (portal: Function App > App keys > default)',
  password: true,
});

/** The level and where it was stated. */
export interface HostAuthorizationLevel {
  level: string;
  source: 'app setting' | 'host.json';
}

/** A key of a host.json object, matched without regard to case, as the host reads its configuration. */
function property(object: unknown, key: string): unknown {
  if (typeof object !== 'object' || object === null) return undefined;
  const found = Object.keys(object).find((name) => name.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : (object as Record<string, unknown>)[found];
}

/** The host's level: the overriding app setting, else host.json's; undefined when neither states it. */
export function hostAuthorizationLevel(hostJson: unknown, env: NodeJS.ProcessEnv = {}): HostAuthorizationLevel | undefined {
  const override = env[AUTH_LEVEL_SETTING]?.trim();
  if (override) return { level: override.toLowerCase(), source: 'app setting' };
  const level = property(property(property(hostJson, 'customHandler'), 'http'), 'defaultAuthorizationLevel');
  return typeof level === 'string' && level.trim() ? { level: level.trim().toLowerCase(), source: 'host.json' } : undefined;
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
  const stated = hostAuthorizationLevel(hostJson, env);
  if (!stated) {
    return [
      `neither host.json nor the app setting ${AUTH_LEVEL_SETTING} sets customHandler.http.defaultAuthorizationLevel, so the Functions host applies its default (documented as "function": a function key on every request) and the routes' auth cannot be checked against it; set it in host.json to "function" or "anonymous"`,
    ];
  }
  const { level } = stated;
  const source = stated.source === 'app setting' ? `The app setting ${AUTH_LEVEL_SETTING} sets` : 'host.json sets';
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
