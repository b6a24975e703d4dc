/**
 * `npm run check`: validates gateway.yaml, imports every module, builds each server once and
 * prints each route with its tools, without serving. Exits 1 listing every problem.
 */
import { ConfigError, defaultConfigPath, loadConfig } from './config/config.js';
import { createGateway } from './gateway.js';
import { createLogger } from './logger.js';

const file = process.argv[2] ?? defaultConfigPath();
try {
  const config = await loadConfig(file);
  const gateway = await createGateway({ config, logger: createLogger({ level: 'warn' }) });
  const status = await gateway.status('http://localhost:7071');
  const lines = [`${config.file}: ${status.routes.length} route${status.routes.length === 1 ? '' : 's'}`];
  let failed = false;
  for (const route of status.routes) {
    lines.push(`  ${route.path} (${route.mode})`);
    if (route.toolsError) {
      failed = true;
      lines.push(`    cannot build the server: ${route.toolsError}`);
    }
    for (const tool of route.tools) lines.push(`    ${tool.name}${tool.description ? ` - ${tool.description.split('\n')[0]}` : ''}`);
  }
  const disabled = Object.entries(config.servers).filter(([, entry]) => !entry.enabled);
  for (const [name] of disabled) lines.push(`  /mcp/${name} (disabled)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  await gateway.close();
  process.exit(failed ? 1 : 0);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}
