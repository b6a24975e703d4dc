/**
 * The Azure Functions packaging, checked without Azure: host.json, local.settings.json and
 * azure.yaml against their published schemas and the custom-handler contract; the Bicep files
 * structurally (Bicep itself cannot be installed here); .funcignore; .vscode/mcp.json.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type AnySchemaObject } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import ajvFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { LOCAL_PORT, enabledRoutes, renderMcpJson } from '../../scripts/mcp-json.js';
import { STAGE_DIR } from '../../scripts/stage-deployment.js';
import { parseFuncignore } from '../helpers/functions-host.js';
import { LOG_LEVELS } from '../../src/gateway/config/environment.js';

// ajv-formats is CommonJS: under NodeNext its default import is the plugin function itself.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default;

const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const SCHEMAS = path.join(ROOT, 'test', 'fixtures', 'schemas');

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

const read = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');
const readJson = <T = Record<string, unknown>>(relative: string) => JSON.parse(read(relative)) as T;
const schema = (file: string) => JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8')) as AnySchemaObject;

function validate(ajv: Ajv, schemaObject: AnySchemaObject, data: unknown, what: string): void {
  const check = ajv.compile(schemaObject);
  const ok = check(data);
  assert.ok(ok, `${what} does not match its schema:\n${JSON.stringify(check.errors, null, 2)}`);
}

interface HostJson {
  version: string;
  configurationProfile: string;
  customHandler: {
    description: { defaultExecutablePath: string; arguments: string[] };
    http: { defaultAuthorizationLevel: string };
    port: unknown;
  };
}

describe('schema fixtures', () => {
  it('are the byte-for-byte copies listed in SCHEMAS-SOURCES.md', () => {
    const sources = read('test/fixtures/SCHEMAS-SOURCES.md');
    const rows = [...sources.matchAll(/^\| ([\w.-]+\.schema\.json) \| (\d+) \| ([0-9a-f]{64}) \|/gm)];
    assert.equal(rows.length, 3, 'SCHEMAS-SOURCES.md lists the three schemas');
    for (const [, file, bytes, sha256] of rows) {
      const content = readFileSync(path.join(SCHEMAS, file!));
      assert.equal(content.length, Number(bytes), `${file}: size`);
      assert.equal(createHash('sha256').update(content).digest('hex'), sha256, `${file}: sha256`);
    }
  });
});

describe('package.json', () => {
  it('pins every dependency to one exact version, so the deployment installs what was tested', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    for (const group of ['dependencies', 'devDependencies']) {
      for (const [name, version] of Object.entries(pkg[group] ?? {})) {
        assert.match(version, /^\d+\.\d+\.\d+(-[\w.]+)?$/, `${group} ${name}: ${version}`);
        assert.equal(lock.packages[`node_modules/${name}`]?.version, version, `${name} in package-lock.json`);
      }
    }
  });
});

describe('host.json', () => {
  const hostJson = readJson<HostJson>('host.json');

  it("matches SchemaStore's host.json schema", () => {
    validate(new Ajv({ allErrors: true }), schema('host.json.schema.json'), hostJson, 'host.json');
  });

  it('selects the mcp-custom-handler profile and function-level keys', () => {
    assert.equal(hostJson.version, '2.0');
    assert.equal(hostJson.configurationProfile, 'mcp-custom-handler');
    assert.equal(hostJson.customHandler.http.defaultAuthorizationLevel, 'function');
  });

  it('starts the compiled gateway, the same file as npm start', () => {
    const { defaultExecutablePath, arguments: args } = hostJson.customHandler.description;
    assert.equal(defaultExecutablePath, 'node');
    const tsconfig = readJson<{ compilerOptions: { outDir: string; rootDir: string } }>('tsconfig.json');
    assert.equal(tsconfig.compilerOptions.rootDir, '.');
    const entry = `${tsconfig.compilerOptions.outDir}/src/gateway/main.js`;
    assert.deepEqual(args, [entry]);
    assert.ok(existsSync(path.join(ROOT, 'src/gateway/main.ts')), `${entry} is built from src/gateway/main.ts`);
    const start = readJson<{ scripts: Record<string, string> }>('package.json').scripts.start ?? '';
    assert.match(start, new RegExp(`node ${entry.replace(/[.]/g, '\\.')}`), 'npm start runs the same entry point');
  });

  it('sets functionTimeout unbounded: an execution past it restarts the handler, and event streams outlive 30 minutes', () => {
    // The host's default on Flex Consumption is 30 minutes; an execution past it "restarts the
    // language worker process", here the gateway, with every call in flight on the instance. The
    // gateway's event streams stay open as long as clients keep them (README, Timeouts).
    assert.equal((hostJson as unknown as { functionTimeout?: unknown }).functionTimeout, '-1');
  });

  it('gives the handler an integer port apart from the 7071 of func start', () => {
    const { port } = hostJson.customHandler;
    assert.ok(Number.isInteger(port), 'customHandler.port is an integer (SchemaStore rejects strings)');
    assert.notEqual(port, LOCAL_PORT, 'func start itself listens on 7071');
  });
});

describe('local.settings.json', () => {
  const settings = readJson<{ IsEncrypted: boolean; Values: Record<string, string>; Host?: { LocalHttpPort?: number } }>(
    'local.settings.json',
  );

  it("matches SchemaStore's local.settings.json schema (draft-04, read as draft-07)", () => {
    const draft04 = schema('local.settings.schema.json');
    assert.ok(!/"exclusiveM(in|ax)imum"/.test(JSON.stringify(draft04)), 'no keyword whose meaning changed after draft-04');
    const { $schema: _dialect, id, ...rest } = draft04;
    validate(new Ajv({ allErrors: true }), { ...rest, $id: id as string }, settings, 'local.settings.json');
  });

  it('runs the node runtime with the MCP custom handler feature flag', () => {
    assert.equal(settings.IsEncrypted, false);
    assert.equal(settings.Values.FUNCTIONS_WORKER_RUNTIME, 'node');
    assert.match(read('infra/app/function-app.bicep'), /runtime: \{\s*name: 'node'/, 'the same runtime as in Azure');
    const flags = (settings.Values.AzureWebJobsFeatureFlags ?? '').split(',').map((flag) => flag.trim());
    assert.ok(flags.includes('EnableMcpCustomHandlerPreview'));
  });

  it('serves func start on the port the local entries of mcp.json use', () => {
    assert.equal(settings.Host?.LocalHttpPort, LOCAL_PORT);
  });

  it('holds no secrets (it is committed)', () => {
    for (const name of Object.keys(settings.Values)) {
      assert.doesNotMatch(name, /SECRET|PASSWORD|CONNECTION_STRING|_KEY$/i, `${name} does not belong in a committed file`);
    }
  });
});

describe('azure.yaml', () => {
  const azureYaml = parseYaml(read('azure.yaml')) as {
    services: Record<
      string,
      {
        project: string;
        language: string;
        host: string;
        dist: string;
        remoteBuild: boolean;
        hooks: { prepackage: { posix: { shell: string; run: string }; windows: { shell: string; run: string } } };
      }
    >;
    hooks: { preprovision: { posix: { run: string }; windows: { run: string } } };
  };

  it("matches azd's azure.yaml schema (draft 2019-09)", () => {
    const azdSchema = schema('azure.yaml.schema.json');
    // strictTypes only lints how a schema is written (azd's trips it in a dozen places); it does not
    // change what validates. Off, so the run is not flooded with warnings.
    const ajv = new Ajv2019({ allErrors: true, strictTypes: false });
    addFormats(ajv);
    ajv.addKeyword('comment'); // azd writes notes as "comment" (not "$comment"): an annotation, no check
    // The schemas of azd extensions (host: azure.ai.*) are referred to by URL; with no network
    // they are stood in for by accept-anything schemas. A function service never reaches them.
    const external = new Set([...JSON.stringify(azdSchema).matchAll(/"\$ref":"(https?:[^"#]+)/g)].map((match) => match[1]!));
    external.delete(String(azdSchema.$id));
    for (const url of external) ajv.addSchema({ $id: url });
    validate(ajv, azdSchema, azureYaml, 'azure.yaml');
  });

  it('deploys one function service, built here and uploaded as built: no remote build, whose npm install would add devDependencies', () => {
    // Microsoft's "Build and deploy TypeScript apps in Azure Functions": a remote build "installs
    // both dependencies and devDependencies"; azd's schema: with remoteBuild false "the package is
    // deployed as-is".
    assert.deepEqual(Object.keys(azureYaml.services), ['api']);
    const { hooks, ...service } = azureYaml.services.api!;
    assert.deepEqual(service, { project: '.', language: 'ts', host: 'function', dist: STAGE_DIR, remoteBuild: false });
    assert.match(read('infra/main.bicep'), /var serviceName = 'api'/, 'the Bicep tags the app with the same service name');
    // azd runs the service's prepackage hook before it zips `dist`, on POSIX and Windows alike.
    assert.deepEqual(hooks.prepackage, { posix: { shell: 'sh', run: 'npm run stage' }, windows: { shell: 'pwsh', run: 'npm run stage' } });
    const scripts = readJson<{ scripts: Record<string, string> }>('package.json').scripts;
    // A build into an emptied dist/: one never cleaned keeps the output of files since moved or deleted.
    assert.equal(scripts.stage, `npm run clean && npm run build && node dist/scripts/stage-deployment.js ${STAGE_DIR}`);
    assert.match(scripts.clean ?? '', /rmSync\('dist'/);
    assert.ok(existsSync(path.join(ROOT, 'scripts/stage-deployment.ts')));
  });

  it('leaves node_modules to .funcignore, as azd requires with remoteBuild: false', () => {
    // azd (service_target_functionapp.go) refuses "'remoteBuild: false' cannot be used when
    // '.funcignore' excludes node_modules"; the staging script never copies it, it installs its own.
    assert.equal(parseFuncignore(read('.funcignore'))('node_modules', true), false);
  });

  it('creates the session secret in a preprovision hook, on POSIX and Windows', () => {
    const { posix, windows } = azureYaml.hooks.preprovision;
    for (const script of [posix.run, windows.run]) {
      assert.ok(existsSync(path.join(ROOT, script)), `${script} exists`);
      assert.match(read(script), /azd env set GATEWAY_SESSION_SECRET/);
    }
  });
});

describe('function.json', () => {
  it('exists nowhere: with the mcp-custom-handler profile it is a startup error', () => {
    const found: string[] = [];
    const walk = (relative: string) => {
      for (const entry of readdirSync(path.join(ROOT, relative), { withFileTypes: true })) {
        if (entry.name === 'node_modules' || entry.name === '.git') continue;
        const child = path.join(relative, entry.name);
        if (entry.isDirectory()) walk(child);
        else if (entry.name === 'function.json') found.push(child);
      }
    };
    walk('');
    assert.deepEqual(found, []);
  });
});

describe('infra (Bicep, checked structurally)', () => {
  const main = read('infra/main.bicep');
  const functionApp = read('infra/app/function-app.bicep');
  const parameters = readJson<{ parameters: Record<string, { value: unknown }> }>('infra/main.parameters.json').parameters;

  it('declares every parameter of main.parameters.json, and gets every required one from it', () => {
    const declared = bicepParams(main);
    for (const name of Object.keys(parameters)) assert.ok(declared.has(name), `param ${name} is declared in main.bicep`);
    for (const [name, { hasDefault }] of declared) {
      if (!hasDefault) assert.ok(name in parameters, `required param ${name} is in main.parameters.json`);
    }
  });

  it('takes the session secrets as @secure() parameters fed from the azd environment', () => {
    assert.match(main, /@secure\(\)\n(@[^\n]*\n)*param gatewaySessionSecret string/);
    assert.match(main, /@secure\(\)\n(@[^\n]*\n)*param gatewaySessionSecretPrevious string/);
    assert.equal(parameters.gatewaySessionSecret?.value, '${GATEWAY_SESSION_SECRET}');
    assert.match(functionApp, /@secure\(\)\s*param gatewaySessionSecret string/, 'still secure inside the module');
  });

  it('sets the app settings the host and the gateway read', () => {
    for (const setting of [
      "AzureWebJobsFeatureFlags: 'EnableMcpCustomHandlerPreview'",
      'GATEWAY_SESSION_SECRET: gatewaySessionSecret',
      'GATEWAY_SESSION_SECRET_PREVIOUS: gatewaySessionSecretPrevious',
      'LOG_LEVEL: logLevel',
      'AzureFunctionsJobHost__customHandler__http__defaultAuthorizationLevel: hostAuthorizationLevel',
      "AzureWebJobsStorage__credential: 'managedidentity'",
      'AzureWebJobsStorage__clientId: identityClientId',
      'AzureWebJobsStorage__blobServiceUri:',
      'APPLICATIONINSIGHTS_CONNECTION_STRING:',
      "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'",
    ]) {
      assert.ok(functionApp.includes(setting), `function-app.bicep sets ${setting}`);
    }
  });

  it('allows exactly the log levels the gateway accepts (was without silent, so azd refused LOG_LEVEL=silent)', () => {
    const allowed = /@allowed\(\[([^\]]*)\]\)\n@description\([^\n]*\)\nparam logLevel string/.exec(main)?.[1];
    assert.ok(allowed, 'logLevel has an @allowed list');
    const levels = allowed.split(',').map((level) => level.trim().replace(/^'|'$/g, ''));
    assert.deepEqual([...levels].sort(), [...LOG_LEVELS].sort());
  });

  it("passes NWS_USER_AGENT from the azd environment to the app, which the README's weather section asks deployers to set", () => {
    assert.match(main, /param nwsUserAgent string = ''/);
    assert.equal(parameters.nwsUserAgent?.value, '${NWS_USER_AGENT=}');
    assert.match(main, /nwsUserAgent: nwsUserAgent/, 'passed to the function app module');
    // Unset, no setting: gateway.yaml's `${NWS_USER_AGENT:-…}` default applies (an empty one would too, but say nothing).
    assert.ok(
      functionApp.includes('empty(nwsUserAgent) ? {} : { NWS_USER_AGENT: nwsUserAgent }'),
      'function-app.bicep sets NWS_USER_AGENT',
    );
    assert.match(read('README.md'), /azd env set NWS_USER_AGENT/);
  });

  it("sets no platform CORS, which would answer preflights before the gateway's allowedOrigins (README: Browser clients)", () => {
    for (const file of [main, functionApp]) assert.doesNotMatch(file, /\bcors\s*:/i);
    assert.match(read('README.md'), /leave the Function App's platform CORS \(`siteConfig\.cors`/);
  });

  it('sets none of the app settings Flex Consumption rejects or that would bypass the identity', () => {
    // Flex takes the runtime, scale and package from functionAppConfig; these settings are
    // deprecated there (the deployment fails or ignores them). AzureWebJobsStorage as a connection
    // string needs the shared keys the account turns off.
    for (const name of [
      'FUNCTIONS_EXTENSION_VERSION',
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_WORKER_RUNTIME_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTSHARE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'SCM_DO_BUILD_DURING_DEPLOYMENT',
      'ENABLE_ORYX_BUILD',
      'AzureWebJobsStorage',
    ]) {
      for (const file of bicepFiles()) assert.doesNotMatch(read(file), new RegExp(`\\b${name}:`), `${file} sets ${name}`);
    }
  });

  it("overrides host.json's authorization level from an azd variable, function keys by default", () => {
    assert.match(main, /@allowed\(\['function', 'anonymous'\]\)\n(@[^\n]*\n)*param hostAuthorizationLevel string = 'function'/);
    assert.equal(parameters.hostAuthorizationLevel?.value, '${HOST_AUTHORIZATION_LEVEL=function}');
    assert.match(main, /hostAuthorizationLevel: hostAuthorizationLevel/, 'passed to the function app module');
  });

  it('runs on Flex Consumption (FC1, Linux) with Node 22, scale settings as parameters', () => {
    assert.match(main, /name: 'FC1'\s*tier: 'FlexConsumption'/);
    assert.match(main, /reserved: true/);
    assert.match(functionApp, /kind: 'functionapp,linux'/);
    assert.match(functionApp, /runtime: \{\s*name: 'node'\s*version: '22'/);
    assert.match(functionApp, /maximumInstanceCount: maximumInstanceCount\s*instanceMemoryMB: instanceMemoryMB/);
    assert.match(functionApp, /type: 'blobContainer'/, 'deploys from the blob container');
  });

  it('uses identity-based storage with shared keys off, and the roles the identity needs', () => {
    assert.match(main, /allowSharedKeyAccess: false/);
    assert.match(main, /disableLocalAuth: true/);
    const rbac = read('infra/app/rbac.bicep');
    assert.match(rbac, /b7e6dc6d-f1e8-4753-8033-0f276bb0955b/, 'Storage Blob Data Owner');
    assert.match(rbac, /3913510d-42f4-4e42-8a64-420c390055eb/, 'Monitoring Metrics Publisher');
  });

  it('tags the resources for azd', () => {
    assert.match(main, /'azd-env-name': environmentName/);
    assert.match(main, /'azd-service-name': serviceName/);
  });

  it('pins every Azure Verified Module to a version', () => {
    for (const file of bicepFiles()) {
      for (const [, reference] of read(file).matchAll(/module \w+ '(br\/public:[^']+)'/g)) {
        assert.match(reference!, /^br\/public:avm\/(res|ptn|utl)\/[\w/-]+:\d+\.\d+\.\d+$/, `${file}: ${reference}`);
      }
    }
  });

  it('passes local modules only parameters they declare, and every one they require', () => {
    for (const file of bicepFiles()) {
      for (const call of localModuleCalls(read(file))) {
        const modulePath = path.join(path.dirname(file), call.path);
        assert.ok(existsSync(path.join(ROOT, modulePath)), `${file}: ${call.path} exists`);
        const declared = bicepParams(read(modulePath));
        for (const name of call.params) assert.ok(declared.has(name), `${modulePath} declares param ${name}`);
        for (const [name, { hasDefault }] of declared) {
          if (!hasDefault) assert.ok(call.params.includes(name), `${file} passes ${name} to ${call.path}`);
        }
        const outputs = new Set([...read(modulePath).matchAll(/^output (\w+)/gm)].map((m) => m[1]));
        for (const [, used] of read(file).matchAll(new RegExp(`\\b${call.symbol}\\.outputs\\.(\\w+)`, 'g'))) {
          assert.ok(outputs.has(used), `${modulePath} has output ${used}`);
        }
      }
    }
  });

  it('has every output that the README lists', () => {
    // The table after "Outputs, also stored in" (other tables list environment variables).
    const outputsTable = read('README.md').split('Outputs, also stored in')[1]!.split('\n\n')[1]!;
    const documented = [...outputsTable.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
    assert.ok(documented.includes('AZURE_FUNCTION_APP_HOSTNAME'), 'the docs list the outputs in a table');
    const outputs = new Set([...main.matchAll(/^output (\w+) /gm)].map((m) => m[1]));
    for (const name of documented) assert.ok(outputs.has(name), `main.bicep has output ${name}`);
  });
});

describe('.funcignore', () => {
  const ignored = parseFuncignore(read('.funcignore'));
  // Deployed = neither the file nor a folder above it is ignored (git does not look inside those).
  const deployed = (file: string) => {
    const parts = file.split('/');
    for (let i = 1; i < parts.length; i++) if (ignored(parts.slice(0, i).join('/'), true)) return false;
    return !ignored(file, false);
  };

  it('keeps what the deployed app runs: the build output, host.json, gateway.yaml, package*.json', () => {
    for (const file of [
      'package.json',
      'package-lock.json',
      'host.json',
      'gateway.yaml',
      'dist/src/gateway/main.js',
      'dist/src/gateway/config/config.js',
      'dist/servers/time/index.js',
    ]) {
      assert.ok(deployed(file), `${file} is deployed`);
    }
  });

  it('leaves out sources, tests, local files, the build of tests and scripts, and the staging folder itself', () => {
    for (const file of [
      'src/gateway/config/config.ts',
      'servers/time/index.ts',
      'scripts/mcp-json.ts',
      'scripts/create-session-secret.sh',
      'tsconfig.json',
      'tsconfig.build.json',
      'dist/test/unit/azure-files.test.js',
      'dist/bench/main.js',
      'dist/scripts/mcp-json.js',
      'dist/readme-walkthrough/gateway.yaml',
      'dist/tsconfig.tsbuildinfo',
      'dist/src/gateway/main.js.map',
      `${STAGE_DIR}/host.json`,
      'test/unit/azure-files.test.ts',
      'test/fixtures/nws/points.json',
      'local.settings.json',
      '.vscode/mcp.json',
      '.azure/dev/.env',
      '.git/HEAD',
      '.gitignore',
      '.ci/run',
      'docs/benchmarks.md',
      'infra/main.bicep',
      'bench/main.ts',
      'bench/tsconfig.json',
      'eslint.config.js',
      '.prettierrc.json',
      '.prettierignore',
      'azure.yaml',
    ]) {
      assert.ok(!deployed(file), `${file} is not deployed`);
    }
  });
});

describe('.vscode/mcp.json', () => {
  it('is what `npm run mcp-json` generates from gateway.yaml', async () => {
    const expected = renderMcpJson(await enabledRoutes(path.join(ROOT, 'gateway.yaml')));
    const actual = existsSync(path.join(ROOT, '.vscode/mcp.json')) ? read('.vscode/mcp.json') : '(missing)';
    assert.equal(actual, expected, '.vscode/mcp.json is out of date with gateway.yaml: run `npm run mcp-json`');
  });

  it('has a local and a remote entry per route, the key read from a password prompt', () => {
    const rendered = JSON.parse(renderMcpJson(['time', 'weather'])) as {
      inputs: Array<{ id: string; type: string; password?: boolean }>;
      servers: Record<string, { type: string; url: string; headers?: Record<string, string> }>;
    };
    assert.deepEqual(Object.keys(rendered.servers), ['time-local', 'time-remote', 'weather-local', 'weather-remote']);
    assert.deepEqual(rendered.servers['weather-local'], { type: 'http', url: 'http://localhost:7071/mcp/weather' });
    assert.deepEqual(rendered.servers['weather-remote'], {
      type: 'http',
      url: 'https://${input:functionapp-domain}/mcp/weather',
      headers: { 'x-functions-key': '${input:functions-key}' },
    });
    assert.deepEqual(
      rendered.inputs.map(({ id, type, password }) => ({ id, type, password })),
      [
        { id: 'functionapp-domain', type: 'promptString', password: undefined },
        { id: 'functions-key', type: 'promptString', password: true },
      ],
    );
  });
});

describe('renderMcpJson', () => {
  it("gives an apiKey route's entries its header, from a password prompt per route, and an oauth route no function key", () => {
    const rendered = JSON.parse(
      renderMcpJson([
        { name: 'time', auth: { kind: 'none' } },
        { name: 'weather', auth: { kind: 'apiKey', header: 'x-weather-key' } },
        { name: 'reports', auth: { kind: 'oauth' } },
      ]),
    ) as {
      inputs: Array<{ id: string; type: string; password?: boolean }>;
      servers: Record<string, { type: string; url: string; headers?: Record<string, string> }>;
    };
    assert.deepEqual(rendered.servers['weather-local'], {
      type: 'http',
      url: 'http://localhost:7071/mcp/weather',
      headers: { 'x-weather-key': '${input:weather-api-key}' },
    });
    assert.deepEqual(rendered.servers['weather-remote']!.headers, {
      'x-functions-key': '${input:functions-key}',
      'x-weather-key': '${input:weather-api-key}',
    });
    // VS Code signs in after the route's 401; OAuth routes need the host at anonymous (no function key).
    assert.deepEqual(rendered.servers['reports-local'], { type: 'http', url: 'http://localhost:7071/mcp/reports' });
    assert.deepEqual(rendered.servers['reports-remote'], { type: 'http', url: 'https://${input:functionapp-domain}/mcp/reports' });
    assert.deepEqual(
      rendered.inputs.map(({ id, password }) => ({ id, password })),
      [
        { id: 'functionapp-domain', password: undefined },
        { id: 'functions-key', password: true },
        { id: 'weather-api-key', password: true },
      ],
    );
  });
});

// ---- Bicep, read as text ----

function bicepFiles(): string[] {
  const files: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(ROOT, relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.bicep')) files.push(child);
    }
  };
  walk('infra');
  return files;
}

/** `param name type [= default]` declarations. */
function bicepParams(source: string): Map<string, { hasDefault: boolean }> {
  const params = new Map<string, { hasDefault: boolean }>();
  for (const [, name, rest] of source.matchAll(/^param (\w+) ([^\n]*)$/gm)) {
    params.set(name!, { hasDefault: rest!.includes('=') });
  }
  return params;
}

/** Calls of local modules (`module x 'app/y.bicep' = … { params: { … } }`) and the keys they pass. */
function localModuleCalls(source: string): Array<{ symbol: string; path: string; params: string[] }> {
  const calls: Array<{ symbol: string; path: string; params: string[] }> = [];
  const lines = source.split('\n');
  lines.forEach((line, index) => {
    const header = /^module (\w+) '([^':]+\.bicep)'/.exec(line);
    if (!header) return;
    const params: string[] = [];
    let depth = 0;
    let inParams = false;
    for (const inner of lines.slice(index)) {
      if (/^\s*params: \{\s*$/.test(inner) && depth === 1) {
        inParams = true;
        depth++;
        continue;
      }
      if (inParams && depth === 2) {
        const key = /^\s*(\w+):/.exec(inner);
        if (key) params.push(key[1]!);
      }
      depth += (inner.match(/[{[]/g) ?? []).length - (inner.match(/[}\]]/g) ?? []).length;
      if (inParams && depth < 2) inParams = false;
      if (depth === 0 && inner.includes('}')) break;
    }
    calls.push({ symbol: header[1]!, path: header[2]!, params });
  });
  return calls;
}
