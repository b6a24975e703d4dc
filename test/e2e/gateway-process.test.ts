/**
 * The built entry point as `npm start` and the Functions host run it: start-up with the shipped
 * gateway.yaml, refusal of bad configurations and modules, SIGTERM, `npm run check`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { promisify } from 'node:util';
import { connectClient, fixtureModule, runGatewayToExit, shippedModule, startGatewayProcess, textOf } from '../helpers/gateway.js';
import { startFakeNws } from '../helpers/fake-nws.js';
import { fixturePath, GATEWAY_ENTRY, PROJECT_ROOT } from '../helpers/project.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

describe('gateway process', () => {
  it('starts with the shipped gateway.yaml and serves both routes at once', async () => {
    const nws = await startFakeNws();
    const gateway = await startGatewayProcess(undefined, { NWS_BASE_URL: nws.url });
    try {
      const listening = gateway.stdout.map((l) => JSON.parse(l)).find((l) => l.msg === 'gateway listening');
      assert.deepEqual(listening.routes, [`${gateway.url}/mcp/weather`, `${gateway.url}/mcp/time`]);
      const [weather, time] = await Promise.all([connectClient(`${gateway.url}/mcp/weather`), connectClient(`${gateway.url}/mcp/time`)]);
      const [alerts, now] = await Promise.all([
        weather.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } }),
        time.client.callTool({ name: 'get_current_time', arguments: { timezone: 'Europe/Paris' } }),
      ]);
      assert.equal((alerts.structuredContent as { count: number }).count, 10);
      assert.equal((now.structuredContent as { timezone: string }).timezone, 'Europe/Paris');
      const ua = nws.requests[0]!.headers['user-agent'];
      assert.equal(ua, 'mcp-gateway-weather (ops@example.com)', 'gateway.yaml default User-Agent reaches NWS');
      await weather.client.close();
      await time.client.close();
    } finally {
      await gateway.stop();
      await nws.close();
    }
  });

  it('serves both eras of module routes without loading what only other routes or settings need', async () => {
    // Each of these is imported on first use (a command, url or SDK 1.x route, OAuth, telemetry on,
    // the express router, the status page's tool list): none is part of a cold start.
    const later = [
      '@modelcontextprotocol/client',
      '@modelcontextprotocol/sdk',
      'jose',
      'express',
      '@opentelemetry/sdk-trace-base',
      '@opentelemetry/sdk-metrics',
      '@azure/monitor-opentelemetry-exporter',
      '@azure/identity',
    ];
    const record = path.join(tempDir('gateway-imports'), 'imports.txt');
    const nws = await startFakeNws();
    const gateway = await startGatewayProcess(undefined, {
      NWS_BASE_URL: nws.url,
      NODE_OPTIONS: `--import ${new URL('../helpers/record-imports.js', import.meta.url).href}`,
      RECORD_IMPORTS_FILE: record,
    });
    try {
      const [weather, time] = await Promise.all([connectClient(`${gateway.url}/mcp/weather`), connectClient(`${gateway.url}/mcp/time`)]);
      assert.equal((await time.client.listTools()).tools.length, 2);
      await time.client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      await weather.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } });
      await Promise.all([weather.client.close(), time.client.close()]);
      const modern = new Client({ name: 'imports', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await modern.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/time`)));
      assert.equal((await modern.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } })).isError, undefined);
      await modern.close();
    } finally {
      await gateway.stop();
      await nws.close();
    }
    const packages = new Set(
      readFileSync(record, 'utf8')
        .split('\n')
        .map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1])
        .filter((name) => name !== undefined),
    );
    assert.ok(packages.has('@modelcontextprotocol/server'), `the recorder saw the gateway's imports: ${[...packages].join(', ')}`);
    assert.deepEqual(
      later.filter((name) => packages.has(name)),
      [],
      'loaded at start or by a module route',
    );
  });

  it("lets a child already stopping finish its stop (stdin's end, then SIGTERM) before exiting on SIGTERM", async () => {
    const marker = `lingering-${randomUUID()}`;
    const gateway = await startGatewayProcess(
      `servers:\n  raw:\n    command: ${process.execPath}\n    args: [${JSON.stringify(fixturePath('stdio', 'raw-server.mjs'))}, ${marker}]\n`,
    );
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/raw`));
    const client = new Client({ name: 'lingering', version: '1.0.0' });
    await client.connect(transport);
    // A child that outlives its stdin's end: its session's end stops it in 2 s, with a SIGTERM.
    assert.equal(textOf(await client.callTool({ name: 'linger', arguments: {} })), 'lingering');
    await transport.terminateSession();
    await client.close();
    assert.equal(processesWith(marker).length, 1, 'the child is still stopping');
    assert.equal(await gateway.stop('SIGTERM'), 0);
    assert.ok(
      gateway.stdout.some((line) => line.includes('raw-server got SIGTERM')),
      `the child got its SIGTERM, not the exit hook's SIGKILL:\n${gateway.stdout.join('')}`,
    );
    assert.deepEqual(processesWith(marker), [], 'and was gone before the gateway exited');
  });

  it('exits 0 on SIGTERM with a session and its stream open', async () => {
    const gateway = await startGatewayProcess(`servers:\n  time:\n    module: ${shippedModule('time')}\n`);
    const { client } = await connectClient(`${gateway.url}/mcp/time`);
    await client.ping();
    const started = Date.now();
    const code = await gateway.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5_000, 'stops within a few seconds');
    assert.ok(gateway.stdout.some((l) => l.includes('"gateway stopped"')));
    await client.close().catch(() => undefined);
  });

  /**
   * Starts the gateway with `node` options `execArgv` and `gateway.yaml`, sends SIGTERM once
   * `loading()` says the start is where the test wants it, and checks that it exits 0 at once.
   */
  async function stopWhileStarting(yaml: string, execArgv: string[], env: Record<string, string>, loading: (stdout: string) => boolean) {
    const dir = tempDir('gateway-slow-start');
    writeFileSync(path.join(dir, 'gateway.yaml'), yaml);
    const child = spawn(process.execPath, [...execArgv, GATEWAY_ENTRY], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, PORT: '0', GATEWAY_CONFIG: path.join(dir, 'gateway.yaml'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    await until(() => loading(stdout), 'the start to reach the point the signal is for');
    const started = Date.now();
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null], 'exits 0, not killed by the signal');
    assert.ok(Date.now() - started < 5_000, 'without waiting for the start (10 s) to finish');
    assert.match(stdout, /"gateway stopped before it was ready"/);
    assert.doesNotMatch(stdout, /"gateway listening"/);
  }

  it('exits 0 at once on SIGTERM while still starting (a module still loading)', async () => {
    const dir = tempDir('gateway-slow-module');
    // A module whose import takes 10 s, and says when it began: the signal comes while the gateway
    // loads it (by then the gateway's own code has loaded, however slowly on a busy machine).
    writeFileSync(
      path.join(dir, 'slow.mjs'),
      [
        'process.stdout.write("slow module loading\\n");',
        'await new Promise((resolve) => setTimeout(resolve, 10_000));',
        'export function createServer() { throw new Error("unused"); }',
        '',
      ].join('\n'),
    );
    await stopWhileStarting(`servers:\n  slow:\n    module: ${path.join(dir, 'slow.mjs')}\n`, [], {}, (stdout) =>
      stdout.includes('slow module loading\n'),
    );
  });

  it("exits 0 at once on SIGTERM while still loading the gateway's own code (its handlers come first)", async () => {
    // A loader hook holds the entry's import of gateway.js for 10 s, and says when it began.
    const mark = path.join(tempDir('gateway-slow-import'), 'mark');
    await stopWhileStarting(
      `servers:\n  time:\n    module: ${shippedModule('time')}\n`,
      ['--import', pathToFileURL(fixturePath('loader', 'slow-gateway-import.mjs')).href],
      { SLOW_IMPORT_MARK: mark },
      () => existsSync(mark),
    );
  });

  it('refuses to start on an invalid gateway.yaml, listing every problem at file:line:col', async () => {
    const yaml = [
      'servers:',
      '  Weather:',
      '    module: ./x',
      '  time:',
      '    modul: ./servers/time',
      'sessions:',
      '  idleTimeout: soon',
      '',
    ].join('\n');
    const { code, stderr } = await runGatewayToExit(yaml);
    assert.equal(code, 1);
    assert.match(stderr, /gateway\.yaml:2:3 servers\.Weather: invalid name "Weather"/);
    assert.match(stderr, /gateway\.yaml:5:5 servers\.time\.modul: unknown key "modul"/);
    assert.match(
      stderr,
      /gateway\.yaml:5:5 servers\.time: a server needs one of module \(in process\), command \(a stdio program\) or url/,
    );
    assert.match(stderr, /gateway\.yaml:7:16 sessions\.idleTimeout: invalid duration "soon"/);
  });

  it('refuses to start when modules fail, naming each route and module', async () => {
    const yaml = [
      'servers:',
      '  missing:',
      '    module: ./no/such/module',
      '  noexport:',
      `    module: ${fixtureModule('broken-no-factory')}`,
      '  throws:',
      `    module: ${fixtureModule('broken-import')}`,
      '  badopts:',
      `    module: ${shippedModule('time')}`,
      '    options:',
      '      localTimezone: Mars/Olympus',
      '      colour: red',
      '',
    ].join('\n');
    const { code, stderr } = await runGatewayToExit(yaml);
    assert.equal(code, 1);
    assert.match(stderr, /:3:13 servers\.missing\.module: route "missing" \(module \.\/no\/such\/module\): not found/);
    assert.match(stderr, /servers\.noexport\.module: route "noexport" .* does not export a createServer\(ctx\) function/);
    assert.match(stderr, /servers\.throws\.module: route "throws" .* failed to import: database password missing/);
    assert.match(stderr, /:11:22 servers\.badopts\.options\.localTimezone: route "badopts" .*Mars\/Olympus/);
    assert.match(stderr, /servers\.badopts\.options: route "badopts" .*unknown option colour/);
  });

  it('refuses to start on a PORT or LOG_LEVEL it cannot use, naming each variable in one line each', async () => {
    const yaml = `servers:\n  time:\n    module: ${shippedModule('time')}\n`;
    const { code, stderr } = await runGatewayToExit(yaml, { PORT: '70710', LOG_LEVEL: 'verbose' });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      [
        'gateway failed to start: invalid environment (2 problems):',
        '  PORT "70710" is not a port: use a whole number from 0 to 65535 (0 picks a free port)',
        '  LOG_LEVEL "verbose" is not a level: use one of trace, debug, info, warn, error, fatal, silent',
        '',
      ].join('\n'),
    );
  });

  it('says what to do when its port is taken or its HOST is no address of the machine, in one line and without a stack', async () => {
    const yaml = `servers:\n  time:\n    module: ${shippedModule('time')}\n`;
    const taken = createNetServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as AddressInfo;
    try {
      const inUse = await runGatewayToExit(yaml, { PORT: String(port) });
      assert.equal(inUse.code, 1);
      assert.equal(
        inUse.stderr,
        `gateway failed to start: 127.0.0.1 port ${port} is in use by another process: stop it, or set PORT to a free port\n`,
      );
      assert.doesNotMatch(inUse.stdout, /"level":"fatal"|\bat \w+ \(/, 'no fatal line with a stack: the reason is the whole story');
    } finally {
      taken.close();
    }
    // TEST-NET-1 (RFC 5737): no machine's own address.
    const elsewhere = await runGatewayToExit(yaml, { HOST: '192.0.2.1' });
    assert.equal(elsewhere.code, 1);
    assert.equal(
      elsewhere.stderr,
      'gateway failed to start: 192.0.2.1 is not an address of this machine: set HOST to one of its addresses (or leave it unset: 127.0.0.1)\n',
    );
  });

  it('refuses a missing ${VAR} with its position, and expands ${VAR:-default}', async () => {
    const yaml = `servers:\n  time:\n    module: ${shippedModule('time')}\n    options:\n      localTimezone: "\${ZONE}"\n`;
    const { stderr } = await runGatewayToExit(yaml);
    assert.match(stderr, /:5:22 servers\.time\.options\.localTimezone: environment variable ZONE is not set/);
    const gateway = await startGatewayProcess(yaml, { ZONE: 'Asia/Tokyo' });
    const { client } = await connectClient(`${gateway.url}/mcp/time`);
    const { tools } = await client.listTools();
    assert.match(tools[0]!.description!, /Asia\/Tokyo/);
    await client.close();
    await gateway.stop();
  });
});

describe('a module from a package', () => {
  it('imports one installed beside gateway.yaml as import() would, an ESM-only package (exports with the import condition alone) too', async () => {
    const dir = tempDir('esm-only-package');
    const packageDir = path.join(dir, 'node_modules', 'esm-only-echo');
    mkdirSync(packageDir, { recursive: true });
    writeFileSync(
      path.join(packageDir, 'package.json'),
      JSON.stringify({ name: 'esm-only-echo', version: '1.0.0', type: 'module', exports: { '.': { import: './index.js' } } }),
    );
    // The echo fixture, as its package's one module.
    const echo = pathToFileURL(path.join(PROJECT_ROOT, 'dist', 'test', 'fixtures', 'servers', 'echo', 'index.js')).href;
    writeFileSync(path.join(packageDir, 'index.js'), `export * from ${JSON.stringify(echo)};\n`);
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, 'servers:\n  echo:\n    module: esm-only-echo\n');
    const gateway = await startGatewayProcess(undefined, { GATEWAY_CONFIG: file });
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/echo`);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'from a package' } })), 'from a package');
      await client.close();
    } finally {
      await gateway.stop();
    }
  });

  it('says which package it could not find', async () => {
    const dir = tempDir('missing-package');
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, 'servers:\n  gone:\n    module: no-such-mcp-package\n');
    const { code, stderr } = await runGatewayToExit(undefined, { GATEWAY_CONFIG: file });
    assert.equal(code, 1);
    assert.match(stderr, /servers\.gone\.module: route "gone" \(module no-such-mcp-package\)/);
    assert.match(stderr, /no-such-mcp-package/);
  });
});

describe('npm run check', () => {
  it('prints each route with its tools without serving', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/gateway/check.js')], {
      cwd: PROJECT_ROOT,
    });
    assert.match(stdout, /\/mcp\/weather \(stateful\)\n {4}get_alerts - /);
    assert.match(stdout, /\/mcp\/time \(stateful\)\n {4}get_current_time - /);
  });

  it('warns of a tools.allow or tools.deny name that no tool of the server has', async () => {
    const file = path.join(tempDir('check-filter'), 'gateway.yaml');
    writeFileSync(
      file,
      `servers:\n  time:\n    module: ${shippedModule('time')}\n    tools:\n      allow: [get_curent_time, convert_time]\n      deny: [convert_tim]\n`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/gateway/check.js'), file], {
      cwd: PROJECT_ROOT,
    });
    const warning = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => String(line.msg).startsWith('tools.allow or tools.deny names a tool the server does not have'));
    assert.ok(warning, stdout);
    assert.deepEqual([warning.route, warning.names], ['time', ['get_curent_time', 'convert_tim']]);
    // What the filter lets through is listed as before.
    assert.match(stdout, /\/mcp\/time \(stateful\)\n {4}convert_time - /);
  });

  it('exits 1 with the problems of a bad file', async () => {
    const run = promisify(execFile)(process.execPath, [
      path.join(PROJECT_ROOT, 'dist/src/gateway/check.js'),
      path.join(PROJECT_ROOT, 'no-such.yaml'),
    ]);
    await assert.rejects(
      run,
      (error: { code: number; stderr: string }) => error.code === 1 && /no-such\.yaml:1:1: file not found/.test(error.stderr),
    );
  });
});

describe('a stateful route answering through the process', () => {
  it('calls a tool', async () => {
    const gateway = await startGatewayProcess(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const { client } = await connectClient(`${gateway.url}/mcp/echo`);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })), 'hi');
    await client.close();
    await gateway.stop();
  });
});
