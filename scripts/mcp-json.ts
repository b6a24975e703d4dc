/**
 * Writes `.vscode/mcp.json` from gateway.yaml: for every enabled server, a `<name>-local` entry
 * (`func start` or `npm start` on port 7071) and a `<name>-remote` entry (the deployed function
 * app, with its function key). `--check` writes nothing and fails when the file is out of date.
 *
 * @example
 * ```sh
 * npm run mcp-json            # regenerate after editing gateway.yaml
 * npm run mcp-json -- --check # in CI
 * ```
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { authOf, defaultConfigPath, loadConfig } from '../src/gateway/config/config.js';
import { FUNCTIONS_KEY_INPUT } from '../src/gateway/config/functions-auth-check.js';

/** The port `func start` listens on (local.settings.json `Host.LocalHttpPort`) and `npm start`'s default. */
export const LOCAL_PORT = 7071;

/** Where the generated file lives, relative to the project root. */
export const MCP_JSON_PATH = path.join('.vscode', 'mcp.json');

/** A route as `.vscode/mcp.json` needs it: its name, and what its callers must send. */
export interface McpJsonRoute {
  readonly name: string;
  readonly auth: { readonly kind: 'none' } | { readonly kind: 'apiKey'; readonly header: string } | { readonly kind: 'oauth' };
}

/**
 * The text of `.vscode/mcp.json` for these routes, in this order. Pure. An apiKey route's entries
 * send its key in its header, asked once per route as a password; an oauth route's remote entry
 * has no function key (VS Code signs in after the route's 401, and OAuth routes need the host's
 * level at anonymous).
 *
 * @example
 * renderMcpJson(['time']); // '{ "inputs": [...], "servers": { "time-local": ..., "time-remote": ... } }\n'
 */
export function renderMcpJson(routes: ReadonlyArray<string | McpJsonRoute>): string {
  const servers: Record<string, unknown> = {};
  const keyInputs: Array<Record<string, unknown>> = [];
  for (const route of routes) {
    const { name, auth } = typeof route === 'string' ? { name: route, auth: { kind: 'none' as const } } : route;
    const keyHeader: Record<string, string> = {};
    if (auth.kind === 'apiKey') {
      keyHeader[auth.header] = `\${input:${name}-api-key}`;
      keyInputs.push({
        type: 'promptString',
        id: `${name}-api-key`,
        description: `API key of /mcp/${name} (${auth.header})`,
        password: true,
      });
    }
    const withHeaders = (entry: Record<string, unknown>, headers: Record<string, string>) =>
      Object.keys(headers).length > 0 ? { ...entry, headers } : entry;
    servers[`${name}-local`] = withHeaders({ type: 'http', url: `http://localhost:${LOCAL_PORT}/mcp/${name}` }, keyHeader);
    servers[`${name}-remote`] = withHeaders(
      { type: 'http', url: `https://\${input:functionapp-domain}/mcp/${name}` },
      auth.kind === 'oauth' ? {} : { 'x-functions-key': '${input:functions-key}', ...keyHeader },
    );
  }
  const file = {
    inputs: [
      {
        type: 'promptString',
        id: 'functionapp-domain',
        description: 'Host name of the function app (azd output AZURE_FUNCTION_APP_HOSTNAME)',
      },
      FUNCTIONS_KEY_INPUT,
      ...keyInputs,
    ],
    servers,
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** The enabled routes of a gateway.yaml, in file order, with what their callers must send. */
export async function enabledRoutes(configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<McpJsonRoute[]> {
  const config = await loadConfig(configFile, env);
  return Object.entries(config.servers)
    .filter(([, server]) => server.enabled)
    .map(([name, server]): McpJsonRoute => {
      const auth = authOf(config, server);
      return { name, auth: auth.kind === 'apiKey' ? { kind: 'apiKey', header: auth.header } : { kind: auth.kind } };
    });
}

/** The folder holding package.json, from this file in scripts/ or dist/scripts/. */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const root = projectRoot();
  const target = path.join(root, MCP_JSON_PATH);
  const expected = renderMcpJson(await enabledRoutes(defaultConfigPath()));
  const actual = existsSync(target) ? await readFile(target, 'utf8') : undefined;

  if (argv.includes('--check')) {
    if (actual === expected) return 0;
    console.error(`${MCP_JSON_PATH} is out of date with gateway.yaml: run \`npm run mcp-json\``);
    return 1;
  }
  if (actual !== expected) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, expected);
  }
  console.log(`${MCP_JSON_PATH}: ${actual === expected ? 'up to date' : 'written'}`);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
