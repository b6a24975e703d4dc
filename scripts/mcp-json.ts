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
import { defaultConfigPath, loadConfig } from '../src/gateway/config/config.js';

/** The port `func start` listens on (local.settings.json `Host.LocalHttpPort`) and `npm start`'s default. */
export const LOCAL_PORT = 7071;

/** Where the generated file lives, relative to the project root. */
export const MCP_JSON_PATH = path.join('.vscode', 'mcp.json');

/**
 * The text of `.vscode/mcp.json` for these routes, in this order. Pure.
 *
 * @example
 * renderMcpJson(['time']); // '{ "inputs": [...], "servers": { "time-local": ..., "time-remote": ... } }\n'
 */
export function renderMcpJson(routeNames: readonly string[]): string {
  const servers: Record<string, unknown> = {};
  for (const name of routeNames) {
    servers[`${name}-local`] = { type: 'http', url: `http://localhost:${LOCAL_PORT}/mcp/${name}` };
    servers[`${name}-remote`] = {
      type: 'http',
      url: `https://\${input:functionapp-domain}/mcp/${name}`,
      headers: { 'x-functions-key': '${input:functions-key}' },
    };
  }
  const file = {
    inputs: [
      {
        type: 'promptString',
        id: 'functionapp-domain',
        description: 'Host name of the function app (azd output AZURE_FUNCTION_APP_HOSTNAME)',
      },
      {
        type: 'promptString',
        id: 'functions-key',
        description: 'Function key (portal: Function App > App keys > default)',
        password: true,
      },
    ],
    servers,
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** The enabled routes of a gateway.yaml, in file order. */
export async function enabledRoutes(configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const config = await loadConfig(configFile, env);
  return Object.entries(config.servers)
    .filter(([, server]) => server.enabled)
    .map(([name]) => name);
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
