/**
 * What the public status page and `/status.json` show of routes that require authentication: to
 * anyone, a protected route's name, URL, auth, health, sessions and aggregate traffic; its tools,
 * per-tool rows, upstream server's name and version and last error texts only to a request to
 * `/status.json` that carries credentials the route accepts. Open routes show everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { fixtureModule, shippedModule, startInProcessGateway, type InProcessGateway } from '../helpers/gateway.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { fixturePath } from '../helpers/project.js';
import { rawExchange } from '../helpers/raw-http.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const KEY = 'status-details-key-0123456789abcdef';
const DOWN_KEY = 'status-details-down-key-0123456789';
const AUDIENCE = 'api://status-details';
const PROBE = fixturePath('stdio', 'probe-server.mjs');

interface ShownRoute {
  name: string;
  details: 'full' | 'withheld';
  tools?: Array<{ name: string; description?: string }>;
  toolsError?: string;
  auth: { kind: string };
  inFlight: number;
  sessions: unknown;
  upstream: {
    kind: string;
    serverInfo?: { name: string; version: string };
    protocolVersion?: string;
    backoff?: { state: string; consecutiveFailures: number; lastError?: string };
  };
  traffic: { requests: number; errors: number; perMinute: unknown[]; operations: Array<{ method: string; target?: string }> };
}

let idp: OidcIssuer;
let gw: InProcessGateway;

before(async () => {
  idp = await startOidcIssuer({ audience: AUDIENCE });
  gw = await startInProcessGateway(
    [
      'servers:',
      '  open:',
      `    module: ${fixtureModule('echo')}`,
      '  keyed:',
      `    command: ${process.execPath}`,
      `    args: [${JSON.stringify(PROBE)}]`,
      `    auth: { kind: apiKey, keys: ["${KEY}"] }`,
      '  keyed-down:',
      '    command: sh',
      '    args: ["-c", "exec 0<&-; exit 1"]',
      `    auth: { kind: apiKey, keys: ["${DOWN_KEY}"], header: x-down-key }`,
      '  signed:',
      `    module: ${fixtureModule('authinfo')}`,
      `    auth: { kind: oauth, issuer: "${idp.issuer}", audience: ${AUDIENCE}, scopes: [status.read] }`,
      '',
    ].join('\n'),
  );
  // Traffic on the protected route, tools/call rows included, as its callers make it.
  const client = new Client({ name: 'status-details', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/keyed`), { requestInit: { headers: { 'x-api-key': KEY } } }),
  );
  await client.callTool({ name: 'remember', arguments: { value: 'x' } });
  await client.close();
  // The failing route's listing fails (its server exits), leaving an error text behind.
  await status();
});

after(async () => {
  await gw?.close();
  await idp?.close();
});

async function status(headers: Record<string, string> = {}): Promise<{ raw: string; routes: Record<string, ShownRoute> }> {
  const response = await fetch(`${gw.url}/status.json`, { headers });
  assert.equal(response.status, 200, 'credentials never make /status.json fail');
  const raw = await response.text();
  const routes = Object.fromEntries((JSON.parse(raw).routes as ShownRoute[]).map((route) => [route.name, route]));
  return { raw, routes };
}

/** The view of a route whose details are withheld: no tools, no server identity, no error texts, no per-tool rows. */
function assertWithheld(route: ShownRoute): void {
  assert.equal(route.details, 'withheld', route.name);
  assert.equal(route.tools, undefined, `${route.name}: no tool list`);
  assert.equal(route.toolsError, undefined, `${route.name}: no listing error text`);
  assert.equal(route.upstream.serverInfo, undefined, `${route.name}: no server name or version`);
  assert.equal(route.upstream.protocolVersion, undefined, `${route.name}: no server protocol version`);
  assert.equal(route.upstream.backoff?.lastError, undefined, `${route.name}: no last error text`);
  assert.deepEqual(
    route.traffic.operations.filter((o) => o.target !== undefined),
    [],
    `${route.name}: no per-tool rows`,
  );
}

const KEYED_TOOLS = ['remember', 'recall', 'subscriptions'];

describe('/status.json for routes with authentication', () => {
  it('without credentials withholds a protected route’s tools, server and last error, and shows what it needs, its health and traffic', async () => {
    const { raw, routes } = await status();
    for (const name of ['keyed', 'keyed-down', 'signed']) assertWithheld(routes[name]!);
    for (const tool of [...KEYED_TOOLS, 'whoami_auth', 'probe-server', 'exited with code'])
      assert.ok(!raw.includes(tool), `${tool} is on /status.json`);

    const keyed = routes.keyed!;
    assert.deepEqual(keyed.auth, { kind: 'apiKey', header: 'x-api-key' });
    assert.equal(keyed.upstream.kind, 'command');
    assert.equal(keyed.upstream.backoff?.state, 'ok');
    assert.ok(keyed.traffic.requests >= 2, 'the aggregate numbers are shown');
    assert.ok(keyed.traffic.perMinute.length > 0, 'and the chart');
    assert.ok(
      keyed.traffic.operations.some((o) => o.method === 'initialize'),
      'per-request-type rows (protocol methods) are shown',
    );
    // That the failing route is in an error state shows; what the error said does not.
    const down = routes['keyed-down']!;
    assert.ok(down.upstream.backoff!.consecutiveFailures > 0);

    // The open route: everything, as anyone can call it.
    const open = routes.open!;
    assert.equal(open.details, 'full');
    assert.ok(open.tools!.some((t) => t.name === 'echo'));
  });

  it('with the key the route accepts shows that route’s details, and only that route’s', async () => {
    for (const headers of [{ 'x-api-key': KEY }, { authorization: `Bearer ${KEY}` }] as Array<Record<string, string>>) {
      const { routes } = await status(headers);
      const keyed = routes.keyed!;
      assert.equal(keyed.details, 'full', JSON.stringify(headers));
      assert.deepEqual(
        KEYED_TOOLS.filter((name) => keyed.tools!.some((t) => t.name === name)),
        KEYED_TOOLS,
      );
      assert.equal(keyed.upstream.serverInfo?.name, 'probe-server');
      assert.ok(keyed.traffic.operations.some((o) => o.method === 'tools/call' && o.target === 'remember'));
      assertWithheld(routes['keyed-down']!);
      assertWithheld(routes.signed!);
    }
    const down = (await status({ 'x-down-key': DOWN_KEY })).routes['keyed-down']!;
    assert.equal(down.details, 'full');
    assert.match(down.toolsError!, /exited with code 1/);
    assert.equal(down.upstream.backoff?.lastError, 'exited with code 1');
  });

  it('with a wrong key withholds, as without one', async () => {
    for (const headers of [
      { 'x-api-key': 'not-the-key-0123456789abcdef' },
      { authorization: 'Bearer not-the-key-0123456789' },
      { 'x-api-key': DOWN_KEY },
    ] as Array<Record<string, string>>) {
      const { routes } = await status(headers);
      assertWithheld(routes.keyed!);
    }
  });

  it('with the key header sent twice withholds, and still answers 200 (an MCP request would get invalid_header)', async () => {
    const { port } = new URL(gw.url);
    const { response } = await rawExchange(
      Number(port),
      `GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${KEY}\r\nx-api-key: ${KEY}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 200 /);
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { routes: ShownRoute[] };
    assertWithheld(body.routes.find((route) => route.name === 'keyed')!);
  });

  it('with a token the OAuth route accepts shows it; a token it refuses withholds', async () => {
    const good = await idp.sign({ sub: 'alice', scp: 'status.read' });
    const signed = (await status({ authorization: `Bearer ${good}` })).routes.signed!;
    assert.equal(signed.details, 'full');
    assert.deepEqual(
      signed.tools!.map((t) => t.name),
      ['whoami_auth'],
    );
    const noScope = await idp.sign({ sub: 'alice', scp: 'other' });
    const expired = await idp.sign({ sub: 'alice', scp: 'status.read' }, { expiresIn: -3600 });
    for (const token of [noScope, expired, 'not.a.jwt'])
      assertWithheld((await status({ authorization: `Bearer ${token}` })).routes.signed!);
  });
});

describe('the status page for routes with authentication', () => {
  it('never shows a protected route’s tools, server or last error, and says how to see them', async () => {
    await status({ 'x-api-key': KEY }); // every listing is done
    const page = await (await fetch(`${gw.url}/`, { headers: { 'x-api-key': KEY } })).text();
    for (const text of [...KEYED_TOOLS, 'whoami_auth', 'probe-server', 'exited with code'])
      assert.ok(!page.includes(text), `${text} is on the page`);
    for (const name of ['keyed', 'keyed-down', 'signed']) {
      const section = page.slice(
        page.indexOf(`<section id="route-${name}"`),
        page.indexOf('</section>', page.indexOf(`<section id="route-${name}"`)),
      );
      assert.match(section, /tools and server details are shown to callers of this route: send its credentials to \/status\.json/i, name);
      assert.match(section, /<details id="connect-/, `${name}: the connect snippets stay`);
    }
    assert.match(page, /<dt>Server health<\/dt><dd><span[^>]*>[^<]*· [1-9]\d* consecutive failures?<\/span>/, 'the error state shows');
    assert.match(page, /tr data-operation="echo"|<code>echo<\/code>/, 'the open route’s tools are shown');
  });
});

/** A gateway whose one module route, `weather`, uses the cache against the fake NWS, which fails: the cache's host has an error text. */
async function weatherGateway(nws: FakeNws, auth: string): Promise<InProcessGateway> {
  return startInProcessGateway(
    [
      'servers:',
      '  weather:',
      `    module: ${shippedModule('weather')}`,
      `    options: { baseUrl: "${nws.url}", retryDelayMs: 1 }`,
      `    auth: ${auth}`,
      '',
    ].join('\n'),
  );
}

/** One failed weather call (the request and its retry get a reset connection): the host is backing off, with a last error. */
async function failOneCall(local: InProcessGateway, nws: FakeNws, headers: Record<string, string>): Promise<void> {
  const client = new Client({ name: 'status-cache', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${local.url}/mcp/weather`), { requestInit: { headers } }));
  nws.failAll('reset');
  await client.callTool({ name: 'get_alerts', arguments: { state: 'MA' } });
  await client.close();
}

interface ShownCache {
  details: 'full' | 'withheld';
  hits: number;
  misses: number;
  entries: number;
  upstreamErrors: number;
  upstreams?: Array<{ origin: string; state: string; lastError?: string }>;
  traffic: { requests: number; origins?: Array<{ origin: string; requests: number }> };
}

describe('the upstream cache on the status page and /status.json', () => {
  let nws: FakeNws;
  before(async () => {
    nws = await startFakeNws();
  });
  after(async () => {
    await nws?.close();
  });

  it('withholds the upstream hosts and their errors when the only module route using it is protected, and shows them to its callers', async () => {
    const local = await weatherGateway(nws, `{ kind: apiKey, keys: ["${KEY}"] }`);
    try {
      await failOneCall(local, nws, { 'x-api-key': KEY });
      const host = new URL(nws.url).host;

      const raw = await (await fetch(`${local.url}/status.json`)).text();
      assert.ok(!raw.includes(host), 'the upstream host is not named without credentials');
      const withheld = (JSON.parse(raw) as { cache: ShownCache }).cache;
      assert.equal(withheld.upstreams, undefined, 'no host list');
      assert.equal(withheld.traffic.origins, undefined, 'no per-host traffic');
      assert.equal(withheld.details, 'withheld');
      assert.ok(withheld.upstreamErrors > 0 && withheld.traffic.requests > 0, 'the aggregate counters stay');

      const keyed = await fetch(`${local.url}/status.json`, { headers: { 'x-api-key': KEY } });
      const full = ((await keyed.json()) as { cache: ShownCache }).cache;
      assert.equal(full.details, 'full');
      const upstream = full.upstreams!.find((u) => u.origin === nws.url)!;
      assert.equal(upstream.state, 'backingOff');
      assert.ok(upstream.lastError, 'a real upstream failure left an error text');
      assert.ok(!raw.includes(upstream.lastError!), 'which /status.json without credentials does not show');

      for (const page of [
        await (await fetch(`${local.url}/`)).text(),
        await (await fetch(`${local.url}/`, { headers: { 'x-api-key': KEY } })).text(),
      ]) {
        const section = page.slice(page.indexOf('<section id="upstreams">'));
        assert.ok(!page.includes(host), 'the page names no upstream host');
        assert.ok(!page.includes(upstream.lastError!), 'nor its error text');
        assert.match(section, /upstream errors/, 'the counters stay on the page');
        assert.match(section, /withheld: upstream hosts and their errors are shown to callers of a route that uses the cache/);
      }
    } finally {
      nws.recover();
      await local.close();
    }
  });

  it('shows the upstream hosts and their errors to everyone when a module route using it is open', async () => {
    const local = await weatherGateway(nws, 'none');
    try {
      await failOneCall(local, nws, {});
      const cache = ((await (await fetch(`${local.url}/status.json`)).json()) as { cache: ShownCache }).cache;
      assert.equal(cache.details, 'full');
      const upstream = cache.upstreams!.find((u) => u.origin === nws.url)!;
      assert.ok(upstream.lastError);
      // Telemetry is off here: the per-host traffic still has the origin, without a span's attributes.
      assert.deepEqual(
        cache.traffic.origins!.map((o) => o.origin),
        [nws.url],
        'the traffic of its upstream requests is by origin',
      );
      assert.ok(cache.traffic.origins![0]!.requests > 0);
      const page = await (await fetch(`${local.url}/`)).text();
      assert.ok(page.includes(`<code>${nws.url}</code> backing off`), 'the page names the host and its state');
      assert.ok(page.includes(`last error ${upstream.lastError}`), 'and its last error');
      assert.ok(!page.includes('withheld'));
    } finally {
      nws.recover();
      await local.close();
    }
  });
});

/** The request log line of the next request to `/status.json` that `send` makes, once its response has closed. */
async function statusLogLine(local: InProcessGateway, send: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const isStatusLine = (line: Record<string, unknown>) =>
    line.msg === 'request' && (line.http as { path?: string })?.path === '/status.json';
  const before = local.logs.filter(isStatusLine).length;
  await send();
  // The line is written when the response closes, which may come a turn after the body is read.
  for (let turn = 0; turn < 100 && local.logs.filter(isStatusLine).length === before; turn++) await new Promise((r) => setImmediate(r));
  const line = local.logs.filter(isStatusLine)[before];
  assert.ok(line, 'the request was logged');
  return line;
}

describe('the request log of /status.json', () => {
  it('records why credentials that no route accepts were refused, as a 401 on /mcp does, never the key or token', async () => {
    const wrongKey = 'not-the-key-0123456789abcdef';
    const keyLine = await statusLogLine(gw, () => status({ 'x-api-key': wrongKey }));
    assert.deepEqual(keyLine.auth, { reason: 'invalid', detail: 'the API key is not valid for this route' });
    const tokenLine = await statusLogLine(gw, () => status({ authorization: 'Bearer not.a.jwt' }));
    assert.equal((tokenLine.auth as { reason?: string })?.reason, 'invalid');
    const expired = await idp.sign({ sub: 'alice', scp: 'status.read' }, { expiresIn: -3600 });
    const expiredLine = await statusLogLine(gw, () => status({ authorization: `Bearer ${expired}` }));
    assert.equal((expiredLine.auth as { reason?: string })?.reason, 'invalid');
    const text = JSON.stringify(gw.logs);
    for (const secret of [wrongKey, 'not.a.jwt', expired]) assert.ok(!text.includes(secret), 'no key or token in the log');

    // On /mcp the same key is refused with the same field and words.
    const mcp = await fetch(`${gw.url}/mcp/keyed`, { method: 'POST', headers: { 'x-api-key': wrongKey } });
    assert.equal(mcp.status, 401);
    await mcp.text();
    for (let turn = 0; turn < 100 && !gw.logs.some((l) => l.route === 'keyed' && l.error === 'unauthorized'); turn++)
      await new Promise((r) => setImmediate(r));
    const refused = gw.logs.findLast((l) => l.msg === 'request' && l.route === 'keyed' && l.error === 'unauthorized');
    assert.deepEqual(refused?.auth, keyLine.auth);
  });

  it('records nothing new without credentials, or with credentials one route accepts', async () => {
    assert.equal((await statusLogLine(gw, () => status())).auth, undefined);
    // The key of `keyed` comes as a bearer token too, which `keyed-down` and `signed` refuse: only
    // credentials no route accepts are a refusal.
    assert.equal((await statusLogLine(gw, () => status({ authorization: `Bearer ${KEY}` }))).auth, undefined);
    assert.equal((await statusLogLine(gw, () => status({ 'x-down-key': DOWN_KEY }))).auth, undefined);
  });
});

describe('/status.json while an OAuth issuer cannot be reached', () => {
  it('logs the outage once per request, naming every route it affected, however many routes share the issuer', async () => {
    const down = await startOidcIssuer({ audience: AUDIENCE });
    const oauth = `{ kind: oauth, issuer: "${down.issuer}", audience: ${AUDIENCE} }`;
    const local = await startInProcessGateway(
      [
        'servers:',
        '  first:',
        `    module: ${fixtureModule('authinfo')}`,
        `    auth: ${oauth}`,
        '  second:',
        `    module: ${fixtureModule('authinfo')}`,
        `    auth: ${oauth}`,
        '',
      ].join('\n'),
    );
    try {
      const token = await down.sign({ sub: 'alice' });
      await down.close();
      const warnings = () => local.logs.filter((line) => line.msg === 'authorization server unavailable');
      for (const round of [1, 2]) {
        const line = await statusLogLine(local, () =>
          fetch(`${local.url}/status.json`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text()),
        );
        assert.equal(warnings().length, round, 'one warning per request');
        assert.equal((line.auth as { reason?: string })?.reason, 'unavailable', 'and the request line says why nothing was shown');
      }
      const warning = warnings()[0]!;
      assert.deepEqual(warning.routes, ['first', 'second']);
      assert.equal(warning.issuer, down.issuer);
      assert.ok(typeof warning.detail === 'string' && warning.detail.length > 0);
      assert.ok(!JSON.stringify(local.logs).includes(token));
    } finally {
      await local.close();
    }
  });
});
