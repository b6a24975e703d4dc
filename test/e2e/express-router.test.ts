/**
 * The gateway mounted in an express app with `createGatewayRouter`: the README's example run as
 * written, then apps with their own routes and middleware, the body parser before the router or
 * after it, answering exactly as the standalone edge does on the gateway's paths and leaving every
 * other path to the app.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import ts from 'typescript';
import { parseConfig } from '../../src/gateway/config/config.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { createGatewayRouter, type GatewayRouterOptions } from '../../src/gateway/http/express-router.js';
import { createLogger } from '../../src/gateway/logger.js';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  shippedModule,
  startInProcessGateway,
  type InProcessGateway,
  rawRequest,
  type RawAnswer,
  textOf,
} from '../helpers/gateway.js';
import { PROJECT_ROOT } from '../helpers/project.js';
import { readmeBlockAfter } from '../helpers/readme.js';
import { until } from '../helpers/until.js';

const KEY = 'express-router-key-0123456789abcdef';
const YAML = `
servers:
  time:
    module: ${shippedModule('time')}
  keyed:
    module: ${shippedModule('time')}
    auth: { kind: apiKey, keys: ["\${KEY}"] }
allowedHosts: [app.example.com]
allowedOrigins: [https://app.example.com]
maxBodySize: 64KiB
`;

type Answer = RawAnswer;

interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request over a fresh connection with exactly these headers (fetch cannot set Host). */
function send(base: string, { method = 'POST', path: target, headers = MCP_POST_HEADERS, body }: RawRequest): Promise<Answer> {
  return rawRequest(`${base}${target}`, {
    method,
    headers: { host: 'localhost', ...headers },
    ...(body === undefined ? {} : { body }),
    agent: false,
  });
}

/** `body` gzip'd, POSTed to /mcp/time with its compressed length. */
function gzipRequest(base: string, body: string): Promise<Answer> {
  return rawRequest(`${base}/mcp/time`, {
    headers: { ...MCP_POST_HEADERS, host: 'localhost', 'content-encoding': 'gzip' },
    body: gzipSync(body),
    agent: false,
  });
}

/** What must be the same whoever serves the request: all of it, but the date and the app's own headers. */
function comparable({ status, headers, body }: Answer): Answer {
  const { date: _date, 'x-powered-by': _poweredBy, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
  return { status, headers: rest, body };
}

const init = JSON.stringify(initializeBody());
const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
/** A well-formed body past the 64 KiB maxBodySize, and within express.json()'s 100 KB. */
const large = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: { pad: 'x'.repeat(70_000) } } });

/** Requests the gateway refuses, each in its own way: the answers must match the standalone edge's. */
const REFUSED: ReadonlyArray<[string, RawRequest]> = [
  ['a foreign Host', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, host: 'evil.example' }, body: init }],
  ['a foreign X-Forwarded-Host', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, 'x-forwarded-host': 'evil.example' }, body: init }],
  ['no API key', { path: '/mcp/keyed', body: init }],
  ['a wrong API key', { path: '/mcp/keyed', headers: { ...MCP_POST_HEADERS, 'x-api-key': `${KEY}-not` }, body: init }],
  ['a request without a session', { path: '/mcp/time', body: toolsList }],
  ['an allowed Host from gateway.yaml', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, host: 'app.example.com' }, body: toolsList }],
  ['an escaped name and a trailing slash', { path: '/mcp/%74ime/', body: toolsList }],
  ['an unknown session id', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, 'mcp-session-id': 'not-a-session' }, body: toolsList }],
  ['a body that is not JSON-RPC', { path: '/mcp/time', body: '{"jsonrpc":"2.0"}' }],
  ['initialize as a notification', { path: '/mcp/time', body: JSON.stringify({ ...initializeBody(), id: undefined }) }],
  ['Content-Type text/plain', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, 'content-type': 'text/plain' }, body: init }],
  ['an Accept without text/event-stream', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, accept: 'application/json' }, body: init }],
  ['a GET without Accept: text/event-stream', { method: 'GET', path: '/mcp/time', headers: {} }],
  ['PUT', { method: 'PUT', path: '/mcp/time', headers: {} }],
  ['the metadata of a route without OAuth', { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp/time', headers: {} }],
  ['a CORS preflight of the metadata', { method: 'OPTIONS', path: '/.well-known/oauth-protected-resource/mcp/keyed', headers: {} }],
  ['a foreign Origin', { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, origin: 'https://evil.example' }, body: init }],
  [
    'a CORS preflight from an origin of gateway.yaml',
    { method: 'OPTIONS', path: '/mcp/keyed', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } },
  ],
  [
    'no API key, from an origin of gateway.yaml',
    { path: '/mcp/keyed', headers: { ...MCP_POST_HEADERS, origin: 'https://app.example.com' }, body: init },
  ],
];

/** The refusals whose answer is the app's once its body parser runs first (README: Mount in an express app). */
const PARSED_BY_THE_APP: ReadonlyArray<[string, RawRequest]> = [
  ['malformed JSON', { path: '/mcp/time', body: '{"jsonrpc": "2.0", "id": 1, "method": ' }],
  ['a body past maxBodySize', { path: '/mcp/time', body: large }],
];

interface ExpressApp {
  url: string;
  gateway: Gateway;
  logs: Array<Record<string, unknown>>;
  /** Errors that reached the app's error handler. */
  errors: Error[];
  server: Server;
  close(): Promise<void>;
}

/** An express app of its own (a body parser, `/hello`, an error handler) with the gateway's router mounted by `mount`. */
async function startExpressApp(
  mount: (app: express.Express, router: express.Router) => void,
  options: GatewayRouterOptions = {},
  yaml = YAML,
): Promise<ExpressApp> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = parseConfig(yaml, path.join(PROJECT_ROOT, 'test-gateway.yaml'), { KEY });
  const gateway = await createGateway({ config, logger: createLogger({ level: 'debug', destination }) });
  const app = express();
  const errors: Error[] = [];
  mount(app, createGatewayRouter(gateway, options));
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(error);
    res
      .status((error as { status?: number }).status ?? 500)
      .type('text/plain')
      .send(`the app's error handler: ${error.message}`);
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    logs,
    errors,
    server,
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const hello = (_req: Request, res: Response) => {
  res.json({ hello: 'world' });
};

/** The two places an app may put its JSON parser. */
const ORDERS = {
  'express.json() before the router': (app: express.Express, router: express.Router) => {
    app.use(express.json());
    app.get('/hello', hello);
    app.use(router);
  },
  'the router before express.json()': (app: express.Express, router: express.Router) => {
    app.use(router);
    app.use(express.json());
    app.get('/hello', hello);
  },
};

let standalone: InProcessGateway;
before(async () => {
  standalone = await startInProcessGateway(YAML, { env: { KEY }, allowedHosts: ['app.example.com'] });
});
after(async () => {
  await standalone?.close();
});

describe('README: Mount in an express app', () => {
  const dir = path.join(PROJECT_ROOT, 'dist');
  const file = path.join(dir, 'readme-express-app.js');
  after(() => rmSync(file, { force: true }));

  it('serves /mcp/time through the app, and the app its own /hello and 404', async () => {
    const source = readmeBlockAfter('## Mount in an express app', 'ts');
    const { outputText, diagnostics } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      reportDiagnostics: true,
    });
    assert.deepEqual(diagnostics, []);
    // In dist/, its `./src/gateway/…` imports are the compiled gateway, as they are the sources from the project root.
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, outputText);
    const child = spawn(process.execPath, [file], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let partial = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          const split = (partial + chunk).split('\n');
          partial = split.pop()!;
          for (const line of split) {
            const entry = JSON.parse(line) as { msg?: string; address?: AddressInfo };
            lines.push(entry);
            if (entry.msg === 'app listening') resolve(entry.address!.port);
          }
        });
        child.once('exit', (code) => reject(new Error(`the example exited (${code}):\n${stderr}`)));
      });
      assert.equal(stderr, '');
      const base = `http://127.0.0.1:${port}`;

      const { client } = await connectClient(`${base}/mcp/time`);
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'Asia/Tokyo' } });
      assert.equal((result.structuredContent as { timezone: string }).timezone, 'Asia/Tokyo');
      assert.deepEqual(
        (await client.listTools()).tools.map((tool) => tool.name),
        ['get_current_time', 'convert_time'],
      );
      await client.close();

      const helloAnswer = await fetch(`${base}/hello`);
      assert.equal(helloAnswer.status, 200);
      assert.deepEqual(await helloAnswer.json(), { hello: 'world' });

      for (const target of ['/nope', '/mcp/nope', '/status.json']) {
        const missing = await fetch(`${base}${target}`);
        assert.equal(missing.status, 404, target);
        // express's own 404, not the gateway's JSON `not_found` / `route_not_found`.
        assert.match(missing.headers.get('content-type') ?? '', /^text\/html/, target);
        assert.match(await missing.text(), new RegExp(`Cannot GET ${target}`), target);
      }
      assert.ok(lines.some((line) => (line.http as { path?: string } | undefined)?.path === '/mcp/time' && line.rpc === 'tools/call'));
    } finally {
      child.kill('SIGTERM');
    }
  });
});

for (const [order, mount] of Object.entries(ORDERS)) {
  describe(`createGatewayRouter, ${order}`, () => {
    let app: ExpressApp;
    before(async () => {
      app = await startExpressApp(mount);
    });
    after(async () => {
      await app?.close();
    });

    it('serves an SDK client on /mcp/time and on a route with an API key, and logs each request', async () => {
      const { client } = await connectClient(`${app.url}/mcp/time`);
      const result = await client.callTool({
        name: 'convert_time',
        arguments: { source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Kolkata' },
      });
      assert.equal((result.structuredContent as { time_difference: string }).time_difference, '+5.5h');
      await client.close();
      const keyed = await fetch(`${app.url}/mcp/keyed`, { method: 'POST', headers: { ...MCP_POST_HEADERS, 'x-api-key': KEY }, body: init });
      assert.equal(keyed.status, 200);
      assert.ok(keyed.headers.get('mcp-session-id'));
      await keyed.arrayBuffer();
      const line = app.logs.find((entry) => entry.msg === 'request' && entry.rpc === 'tools/call');
      assert.deepEqual(line?.http, { method: 'POST', path: '/mcp/time', status: 200 });
      assert.equal(line?.route, 'time');
    });

    for (const [what, request] of REFUSED) {
      it(`answers ${what} exactly as the standalone gateway`, async () => {
        const expected = comparable(await send(standalone.url, request));
        assert.ok(expected.status >= 200, what);
        assert.deepEqual(comparable(await send(app.url, request)), expected);
      });
    }

    it('leaves every other path to the app: its routes, its 404, /mcp/<a name the gateway does not mount>, the status page', async () => {
      assert.deepEqual(await (await fetch(`${app.url}/hello`)).json(), { hello: 'world' });
      for (const target of [
        '/nope',
        '/mcp',
        '/mcp/',
        '/mcp/nope',
        '/.well-known/oauth-protected-resource/mcp/nope',
        '/',
        '/status.json',
        '/healthz',
      ]) {
        const answer = await send(app.url, { method: 'GET', path: target, headers: {} });
        assert.equal(answer.status, 404, target);
        assert.match(answer.body, /Cannot GET/, target);
      }
    });
  });
}

describe('createGatewayRouter and bodies', () => {
  it('answers bodies it reads itself as the standalone gateway when mounted before the parser', async () => {
    const app = await startExpressApp(ORDERS['the router before express.json()']);
    try {
      for (const [what, request] of PARSED_BY_THE_APP) {
        const expected = comparable(await send(standalone.url, request));
        assert.deepEqual(comparable(await send(app.url, request)), expected, what);
      }
    } finally {
      await app.close();
    }
  });

  it('leaves the bodies an earlier parser refuses to the app: express passes its error to error handlers only', async () => {
    const app = await startExpressApp(ORDERS['express.json() before the router']);
    try {
      const [[, malformed]] = PARSED_BY_THE_APP as [[string, RawRequest]];
      const refused = await send(app.url, malformed);
      assert.equal(refused.status, 400);
      assert.match(refused.body, /^the app's error handler: /);
      assert.equal((app.errors[0] as { type?: string }).type, 'entity.parse.failed');
    } finally {
      await app.close();
    }
  });

  it("applies maxBodySize to a body an earlier parser read within its own limit: declared, chunked or gzip'd", async () => {
    const app = await startExpressApp(ORDERS['express.json() before the router']);
    try {
      // 70 KB: past the gateway's 64 KiB, within express.json()'s 100 KB.
      const [, [, past]] = PARSED_BY_THE_APP as [unknown, [string, RawRequest]];
      const chunked = { ...past, headers: { ...MCP_POST_HEADERS, 'transfer-encoding': 'chunked' } };
      const expected = comparable(await send(standalone.url, past));
      assert.equal(expected.status, 413);
      assert.deepEqual(comparable(await send(app.url, past)), expected, 'declared');
      assert.deepEqual(comparable(await send(app.url, chunked)), comparable(await send(standalone.url, chunked)), 'chunked');
      const gzipped = await gzipRequest(app.url, past.body!);
      assert.equal(gzipped.status, 413, gzipped.body);
      assert.equal(JSON.parse(gzipped.body).error.data.code, 'body_too_large');
      assert.deepEqual(app.errors, []);
      // Within the limit, as before.
      const opened = await send(app.url, { path: '/mcp/time', body: init });
      assert.equal(opened.status, 200, opened.body);
    } finally {
      await app.close();
    }
  });
});

describe('createGatewayRouter after middleware that read the body otherwise', () => {
  const PARSERS = {
    'express.text() for every type': express.text({ type: '*/*' }),
    'express.raw() for JSON': express.raw({ type: 'application/json' }),
  };
  for (const [what, parser] of Object.entries(PARSERS)) {
    it(`takes the text or Buffer that ${what} left in req.body as the JSON body, within maxBodySize`, async () => {
      const app = await startExpressApp((expressApp, router) => {
        expressApp.use(parser);
        expressApp.use(router);
      });
      try {
        const opened = await send(app.url, { path: '/mcp/time', body: init });
        assert.equal(opened.status, 200, opened.body);
        assert.ok(opened.headers['mcp-session-id']);
        // What the standalone gateway answers to the same bytes: the parse error, and its own limit.
        for (const [problem, request] of PARSED_BY_THE_APP) {
          assert.deepEqual(comparable(await send(app.url, request)), comparable(await send(standalone.url, request)), problem);
        }
        assert.deepEqual(app.errors, []);
      } finally {
        await app.close();
      }
    });
  }

  it('answers 500 internal_error, not a client error, when a middleware consumed the body and left none', async () => {
    const app = await startExpressApp((expressApp, router) => {
      expressApp.use((req: Request, _res: Response, next: NextFunction) => {
        req.on('data', () => undefined).on('end', () => next());
      });
      expressApp.use(router);
    });
    try {
      const answer = await send(app.url, { path: '/mcp/time', body: init });
      assert.equal(answer.status, 500);
      assert.equal(JSON.parse(answer.body).error.data.code, 'internal_error');
      const line = app.logs.find((entry) => entry.msg === 'request failed');
      assert.match(
        String((line?.err as { message?: string } | undefined)?.message),
        /the request body was read before the gateway's router and not left in req\.body/,
      );
    } finally {
      await app.close();
    }
  });
});

describe('createGatewayRouter options and mounting', () => {
  it('serves the status page, /status.json and /healthz with status: true', async () => {
    const app = await startExpressApp(ORDERS['express.json() before the router'], { status: true });
    try {
      const page = await send(app.url, { method: 'GET', path: '/', headers: {} });
      assert.equal(page.status, 200);
      assert.match(page.headers['content-type'] ?? '', /^text\/html/);
      const status = JSON.parse((await send(app.url, { method: 'GET', path: '/status.json', headers: {} })).body);
      assert.deepEqual(
        status.routes.map((route: { path: string }) => route.path),
        ['/mcp/time', '/mcp/keyed'],
      );
      const healthz = { method: 'GET', path: '/healthz', headers: {} };
      assert.deepEqual(comparable(await send(app.url, healthz)), comparable(await send(standalone.url, healthz)));
      assert.equal((await send(app.url, { method: 'GET', path: '/hello', headers: {} })).status, 200);
    } finally {
      await app.close();
    }
  });

  it('accepts the Host names passed as allowedHosts besides those of gateway.yaml', async () => {
    const app = await startExpressApp(ORDERS['express.json() before the router'], { allowedHosts: ['Other.Example.com'] });
    try {
      for (const host of ['other.example.com', 'app.example.com:8443']) {
        const answer = await send(app.url, { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, host }, body: toolsList });
        assert.equal(JSON.parse(answer.body).error.data.code, 'session_required', host);
      }
      const foreign = await send(app.url, { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, host: 'evil.example' }, body: toolsList });
      assert.equal(JSON.parse(foreign.body).error.data.code, 'invalid_host');
    } finally {
      await app.close();
    }
  });

  it('accepts the origins passed as allowedOrigins besides those of gateway.yaml', async () => {
    const app = await startExpressApp(ORDERS['express.json() before the router'], { allowedOrigins: ['https://other.example.com'] });
    try {
      for (const origin of ['https://other.example.com', 'https://app.example.com']) {
        const answer = await send(app.url, { path: '/mcp/time', headers: { ...MCP_POST_HEADERS, origin }, body: toolsList });
        assert.equal(JSON.parse(answer.body).error.data.code, 'session_required', origin);
        assert.equal(answer.headers['access-control-allow-origin'], origin);
      }
      const foreign = await send(app.url, {
        path: '/mcp/time',
        headers: { ...MCP_POST_HEADERS, origin: 'https://evil.example' },
        body: toolsList,
      });
      assert.equal(JSON.parse(foreign.body).error.data.code, 'invalid_origin');
    } finally {
      await app.close();
    }
  });

  it("keeps the Vary an app's middleware set before the router, adding Origin to it", async () => {
    const app = await startExpressApp((express_, router) => {
      express_.use((_req, res, next) => {
        res.vary('Accept-Encoding');
        next();
      });
      express_.use(router);
    });
    try {
      const answer = await send(app.url, {
        path: '/mcp/time',
        headers: { ...MCP_POST_HEADERS, origin: 'https://app.example.com' },
        body: init,
      });
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.headers['access-control-allow-origin'], 'https://app.example.com');
      const vary = String(answer.headers.vary)
        .toLowerCase()
        .split(/\s*,\s*/);
      assert.ok(vary.includes('accept-encoding') && vary.includes('origin'), `Vary: ${vary.join(', ')}`);
    } finally {
      await app.close();
    }
  });

  it('passes a request that reaches it under a prefix on as an error, and serves nothing there', async () => {
    const app = await startExpressApp((expressApp, router) => {
      expressApp.use(express.json());
      expressApp.use('/gateway', router);
    });
    try {
      const answer = await send(app.url, { path: '/gateway/mcp/time', body: init });
      assert.equal(answer.status, 500);
      assert.match(answer.body, /mount the router at the root of the app \(app\.use\(router\)\), not under \/gateway/);
      assert.equal(app.gateway.routes.get('time')!.sessions.size, 0);
    } finally {
      await app.close();
    }
  });
});

describe('createGatewayRouter and gateway.drain()', () => {
  it(
    'lets calls in flight of both eras finish, answers new requests 503 shutting_down, and leaves no socket open',
    { timeout: 30_000 },
    async () => {
      const app = await startExpressApp(
        ORDERS['express.json() before the router'],
        {},
        `servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`,
      );
      try {
        const legacy = await connectClient(`${app.url}/mcp/echo`);
        const modern = await connectClient(`${app.url}/mcp/echo`, 'modern', { era: 'auto' });
        // Streams a drain must end: the session's GET stream (the SDK client opens it) and a listen.
        const listening = await modern.client.listen({ toolsListChanged: true });
        const route = app.gateway.routes.get('echo')!;
        const before = route.inFlight;
        const calls = [legacy, modern].map(({ client }, i) => client.callTool({ name: 'slow', arguments: { ms: 500, text: `call ${i}` } }));
        await until(() => route.inFlight >= before + 2, 'both calls to be in flight');
        const drained = app.gateway.drain(AbortSignal.timeout(10_000));

        const refused = await send(app.url, { path: '/mcp/echo', body: init });
        assert.equal(refused.status, 503);
        assert.equal(refused.headers['retry-after'], '1');
        assert.equal(JSON.parse(refused.body).error.data.code, 'shutting_down');
        assert.deepEqual(await (await fetch(`${app.url}/hello`)).json(), { hello: 'world' }, "the app's own routes still answer");

        assert.deepEqual(
          (await Promise.all(calls)).map((result) => textOf(result)),
          ['call 0', 'call 1'],
        );
        const report = await drained;
        assert.equal(report.answered, 0, 'no call had to be cut short');
        await listening.close();
        // No closeAllConnections: the gateway holds no socket open once drained.
        await new Promise<void>((resolve, reject) => app.server.close((error) => (error ? reject(error) : resolve())));
        assert.deepEqual(app.errors, []);
        for (const { client } of [legacy, modern]) await client.close();
      } finally {
        await app.close().catch(() => undefined);
      }
    },
  );
});
