/**
 * The emulated Functions host (test/helpers/functions-host.ts) against a small fake custom
 * handler, so that the e2e tests can trust it: start-up, forwarding, keys, streaming, stop.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAuthorized, listDeployedFiles, parseFuncignore, startFunctionsHost, type FunctionsHost } from '../helpers/functions-host.js';

const KEY = 'test-function-key';

// A custom handler in miniature: echoes what it receives, streams SSE on demand.
const FAKE_HANDLER = String.raw`
import http from 'node:http';
const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT);
if (process.env.FAKE_MODE === 'crash') {
  console.error('boom: cannot start');
  process.exit(3);
}
let release;
const released = new Promise((resolve) => (release = resolve));
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://handler');
  if (url.pathname === '/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: one\ndata: 1\n\n');
    released.then(() => res.end('event: two\ndata: 2\n\n'));
    return;
  }
  if (url.pathname === '/release') {
    release();
    res.end('released');
    return;
  }
  if (url.pathname === '/echo-stream') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    req.on('data', (chunk) => res.write(chunk));
    req.on('end', () => res.end());
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    res.writeHead(207, { 'content-type': 'application/json', 'x-handler': 'fake' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body, port, cwd: process.cwd() }));
  });
});
setTimeout(() => server.listen(port, '127.0.0.1'), Number(process.env.FAKE_LISTEN_DELAY ?? 0));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
`;

async function makeApp(extra: (dir: string) => Promise<void> = async () => {}): Promise<string> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'functions-host-')));
  await writeFile(path.join(dir, 'handler.mjs'), FAKE_HANDLER);
  await writeFile(
    path.join(dir, 'host.json'),
    JSON.stringify({
      version: '2.0',
      configurationProfile: 'mcp-custom-handler',
      customHandler: { description: { defaultExecutablePath: process.execPath, arguments: ['handler.mjs'] } },
    }),
  );
  await extra(dir);
  return dir;
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  port: number;
  cwd: string;
}

// Bounded: a proxy that buffered would leave the streaming tests waiting forever.
describe('startFunctionsHost', { timeout: 30_000 }, () => {
  let appRoot: string;
  let host: FunctionsHost;

  before(async () => {
    appRoot = await makeApp();
    // The handler listens only after a while: the host must keep polling GET /.
    host = await startFunctionsHost({ appRoot, functionKeys: [KEY], env: { FAKE_LISTEN_DELAY: '300' } });
  });
  after(async () => {
    await host?.stop();
    await rm(appRoot, { recursive: true, force: true });
  });

  it('starts the handler in the app root with FUNCTIONS_CUSTOMHANDLER_PORT set', async () => {
    const res = await fetch(`${host.url}/anything`, { headers: { 'x-functions-key': KEY } });
    const echo = (await res.json()) as Echo;
    assert.equal(echo.port, host.handlerPort);
    assert.equal(echo.cwd, appRoot);
  });

  it('forwards method, path, query, headers and body unchanged, and the response back', async () => {
    const res = await fetch(`${host.url}/mcp/time/deep/path?a=1&b=two&code=${KEY}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'mcp-session-id': 's-1', authorization: 'Bearer t', 'x-custom': 'v' },
      body: '{"jsonrpc":"2.0"}',
    });
    assert.equal(res.status, 207);
    assert.equal(res.headers.get('x-handler'), 'fake');
    const echo = (await res.json()) as Echo;
    assert.equal(echo.method, 'PATCH');
    assert.equal(echo.url, `/mcp/time/deep/path?a=1&b=two&code=${KEY}`, 'no /api prefix, code not stripped');
    assert.equal(echo.body, '{"jsonrpc":"2.0"}');
    assert.equal(echo.headers['mcp-session-id'], 's-1');
    assert.equal(echo.headers.authorization, 'Bearer t');
    assert.equal(echo.headers['x-custom'], 'v');
    assert.equal(echo.headers['content-type'], 'application/json');
  });

  it('rewrites Host to the handler address as YARP does, keeping the original in X-Forwarded-Host', async () => {
    const res = await fetch(`${host.url}/`, { headers: { 'x-functions-key': KEY } });
    const echo = (await res.json()) as Echo;
    assert.equal(echo.headers.host, `127.0.0.1:${host.handlerPort}`);
    assert.equal(echo.headers['x-forwarded-host'], new URL(host.url).host);
    assert.equal(echo.headers['x-forwarded-proto'], 'http');
    assert.match(echo.headers['x-ms-invocation-id'] ?? '', /^[0-9a-f-]{36}$/);
  });

  it('answers 401 without a key or with a wrong one', async () => {
    for (const init of [{}, { headers: { 'x-functions-key': 'wrong' } }]) {
      const res = await fetch(`${host.url}/mcp/time`, { method: 'POST', body: '{}', ...init });
      assert.equal(res.status, 401);
      assert.equal(await res.text(), '');
    }
    assert.equal((await fetch(`${host.url}/mcp/time?code=wrong`)).status, 401);
  });

  it('takes the key from x-functions-key before ?code=', async () => {
    const res = await fetch(`${host.url}/?code=${KEY}`, { headers: { 'x-functions-key': 'wrong' } });
    assert.equal(res.status, 401);
  });

  it('streams server-sent events one by one', async () => {
    const res = await fetch(`${host.url}/events`, { headers: { 'x-functions-key': KEY, accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    // The handler holds the second event back until /release: the first must arrive alone.
    while (!received.includes('data: 1\n\n')) received += (await reader.read()).value ?? '';
    assert.ok(!received.includes('data: 2'));
    await (await fetch(`${host.url}/release`, { headers: { 'x-functions-key': KEY } })).text();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value;
    assert.equal(received, 'event: one\ndata: 1\n\nevent: two\ndata: 2\n\n');
  });

  it('streams the request body to the handler while the response streams back', async () => {
    const req = http.request(`${host.url}/echo-stream?code=${KEY}`, { method: 'POST', headers: { 'content-type': 'text/plain' } });
    req.write('first;');
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.setEncoding('utf8');
    const [firstEcho] = (await once(res, 'data')) as [string];
    assert.equal(firstEcho, 'first;', 'echoed before the request body ended');
    req.end('second;');
    let rest = '';
    for await (const chunk of res) rest += chunk as string;
    assert.equal(rest, 'second;');
  });
});

describe('startFunctionsHost failures', { timeout: 30_000 }, () => {
  it('reports the handler stderr when it exits before answering', async () => {
    const appRoot = await makeApp();
    try {
      await assert.rejects(
        startFunctionsHost({ appRoot, env: { FAKE_MODE: 'crash' } }),
        /exited before answering GET \/[\s\S]*boom: cannot start/,
      );
    } finally {
      await rm(appRoot, { recursive: true, force: true });
    }
  });

  it('gives up when GET / gets no answer in time', async () => {
    const appRoot = await makeApp();
    try {
      await assert.rejects(
        startFunctionsHost({ appRoot, env: { FAKE_LISTEN_DELAY: '5000' }, startTimeout: 200 }),
        /did not answer GET http:\/\/127\.0\.0\.1:\d+\/ within 200 ms/,
      );
    } finally {
      await rm(appRoot, { recursive: true, force: true });
    }
  });

  it('refuses an app that also has function.json files', async () => {
    const appRoot = await makeApp(async (dir) => {
      await mkdir(path.join(dir, 'HttpTrigger'));
      await writeFile(path.join(dir, 'HttpTrigger', 'function.json'), '{}');
    });
    try {
      await assert.rejects(startFunctionsHost({ appRoot }), /function\.json/);
    } finally {
      await rm(appRoot, { recursive: true, force: true });
    }
  });

  it('stops the handler and the proxy', async () => {
    const appRoot = await makeApp();
    try {
      const host = await startFunctionsHost({ appRoot });
      assert.equal((await fetch(`${host.url}/`)).status, 207, 'no keys given: nothing enforced, as under func start');
      await host.stop();
      assert.ok(host.child.exitCode !== null || host.child.signalCode !== null, 'handler exited');
      await assert.rejects(fetch(`${host.url}/`));
    } finally {
      await rm(appRoot, { recursive: true, force: true });
    }
  });
});

describe('isAuthorized', () => {
  const request = (url: string, headers: http.IncomingHttpHeaders = {}) => ({ url, headers }) as http.IncomingMessage;
  const keys = new Set(['k1', 'k2']);

  it('accepts any of the keys from the header or the code parameter', () => {
    assert.equal(isAuthorized(request('/', { 'x-functions-key': 'k2' }), keys), true);
    assert.equal(isAuthorized(request('/mcp/x?code=k1'), keys), true);
    assert.equal(isAuthorized(request('/mcp/x?code=k3'), keys), false);
    assert.equal(isAuthorized(request('/'), keys), false);
  });

  it('lets everything through when no keys are configured', () => {
    assert.equal(isAuthorized(request('/'), new Set()), true);
  });
});

describe('parseFuncignore', () => {
  const ignored = parseFuncignore(['# comment', 'node_modules/', '*.md', '/docs', 'a/**/b.txt', '!keep.md', ''].join('\n'));

  it('follows gitignore rules', () => {
    assert.equal(ignored('node_modules', true), true);
    assert.equal(ignored('node_modules', false), false, 'a trailing / matches directories only');
    assert.equal(ignored('servers/weather/README.md', false), true, 'no slash: any depth');
    assert.equal(ignored('keep.md', false), false, '! re-includes');
    assert.equal(ignored('docs', true), true);
    assert.equal(ignored('src/docs', true), false, 'a leading / anchors at the root');
    assert.equal(ignored('a/x/y/b.txt', false), true);
    assert.equal(ignored('a/b.txt', false), true, '** matches zero folders');
  });

  it('lists the deployed files of a folder without entering ignored folders', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'funcignore-'));
    try {
      await writeFile(path.join(dir, '.funcignore'), 'test/\n*.log\n');
      await mkdir(path.join(dir, 'test'));
      await mkdir(path.join(dir, 'src'));
      await writeFile(path.join(dir, 'test', 'a.ts'), '');
      await writeFile(path.join(dir, 'src', 'b.ts'), '');
      await writeFile(path.join(dir, 'debug.log'), '');
      assert.deepEqual(await listDeployedFiles(dir), ['.funcignore', 'src/b.ts']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
