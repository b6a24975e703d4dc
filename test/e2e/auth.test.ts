/**
 * Per-route authentication over real HTTP: API keys, OAuth bearer tokens from a local OpenID
 * issuer, each route's RFC 9728 metadata and challenges, what reaches a tool, sessions bound to
 * their principal (on one instance and after a resume on another), an issuer that is down, the
 * status page, and logs without secrets.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { OAuthProtectedResourceMetadataSchema } from '@modelcontextprotocol/core';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';
import {
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  runGatewayToExit,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';
import { startV1Remote } from '../helpers/v1-remote.js';

const AUDIENCE = 'api://gateway-test';
const KEYS = {
  KEY_A: 'route-a-key-2026-0123456789abcdef',
  KEY_A_OLD: 'route-a-key-2025-fedcba9876543210',
  KEY_B: 'route-b-key-2026-00112233445566778899',
  KEY_DEFAULT: 'default-key-2026-aabbccddeeff0011',
};

const yamlFor = (issuer: string) => `
servers:
  open:
    module: ${fixtureModule('authinfo')}
    auth: none
  keyed-a:
    module: ${fixtureModule('authinfo')}
    auth: { kind: apiKey, keys: ["\${KEY_A}", "\${KEY_A_OLD:-}"] }
  keyed-b:
    module: ${fixtureModule('authinfo')}
    auth: { kind: apiKey, keys: ["\${KEY_B}"], header: x-tenant-key }
  defaulted:
    module: ${fixtureModule('authinfo')}
  weather:
    module: ${fixtureModule('authinfo')}
    auth:
      kind: oauth
      issuer: ${issuer}
      audience: [${AUDIENCE}, 00000000-0000-0000-0000-000000000001]
      scopes: [${AUDIENCE}/weather.read]
  tools:
    module: ${fixtureModule('authinfo')}
    auth: { kind: oauth, issuer: "${issuer}", audience: ${AUDIENCE}, scopes: [tools.use] }
  quick:
    module: ${fixtureModule('authinfo')}
    sessions: stateless
    auth: { kind: oauth, issuer: "${issuer}", audience: ${AUDIENCE} }
auth: { kind: apiKey, keys: ["\${KEY_DEFAULT}"] }
`;

let idp: OidcIssuer;
let gw: InProcessGateway;
/** Every token handed to the gateway, to make sure none is ever logged. */
const tokensUsed: string[] = [];

before(async () => {
  idp = await startOidcIssuer({ audience: AUDIENCE });
  gw = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, allowedHosts: ['gateway.example.com'] });
});
after(async () => {
  await gw?.close();
  await idp?.close();
});

async function token(claims: Record<string, unknown> = {}, options: Parameters<OidcIssuer['sign']>[1] = {}): Promise<string> {
  const signed = await idp.sign({ sub: 'alice', azp: 'vscode', scp: 'weather.read tools.use', ...claims }, options);
  tokensUsed.push(signed);
  return signed;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** A POST with node:http, which can repeat a header (fetch joins repeated values into one). */
function rawPost(url: string, body: unknown, headers: Record<string, string | string[]>) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers } }, (response) => {
      let text = '';
      response
        .setEncoding('utf8')
        .on('data', (chunk: string) => (text += chunk))
        .on('end', () => resolve({ status: response.statusCode!, text }));
    });
    request.on('error', reject).end(JSON.stringify(body));
  });
}

/** The JSON-RPC message of a POST answer, whether sent as JSON or as one SSE event. */
function messageOf(text: string): { result?: unknown; error?: { data?: { code?: string; reason?: string } } } {
  const data = text.split('\n').find((line) => line.startsWith('data: '));
  return JSON.parse(data ? data.slice('data: '.length) : text);
}

/** Initializes a session with raw HTTP; returns its id. */
async function openSession(url: string, headers: Record<string, string>): Promise<string> {
  const init = await post(url, initializeBody(), headers);
  assert.equal(init.status, 200, init.text);
  const id = init.headers.get('mcp-session-id')!;
  const initialized = await post(
    url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
  );
  assert.equal(initialized.status, 202);
  return id;
}

/** Calls `whoami_auth` on a session with raw HTTP. */
function whoami(url: string, sessionId: string, headers: Record<string, string>) {
  const body = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami_auth', arguments: {} } };
  return post(url, body, { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' });
}

/** What the authinfo fixture's tool reports it was given. */
interface Seen {
  route?: string;
  authInfo?: unknown;
  token?: string;
  clientId?: string;
  scopes?: string[];
  expiresAt?: number;
  extra: { kind?: string; subject?: string; issuer?: string };
}

function seenBy(text: string): Seen {
  return JSON.parse(textOf(messageOf(text).result));
}

/** The auth-params of a `WWW-Authenticate` value: scheme and name → value. */
function challenge(value: string | null): { scheme: string; params: Record<string, string> } {
  assert.ok(value, 'a WWW-Authenticate header');
  const [scheme, rest = ''] = value.split(/ (.*)/s) as [string, string?];
  const params = Object.fromEntries([...rest.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  return { scheme, params };
}

async function sdkClient(url: string, accessToken: string | undefined) {
  const client = new Client({ name: 'auth-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), accessToken ? { requestInit: { headers: bearer(accessToken) } } : {});
  await client.connect(transport);
  return { client, transport };
}

describe('API keys', () => {
  it('answers a request without a key with 401 and an ApiKey challenge naming the header', async () => {
    const r = await post(`${gw.url}/mcp/keyed-a`, initializeBody());
    assert.equal(r.status, 401);
    assert.equal(r.json().error.data.code, 'unauthorized');
    assert.equal(r.json().error.data.reason, 'missing');
    assert.equal(r.headers.get('www-authenticate'), 'ApiKey header="x-api-key"');
    assert.equal(
      r.json().error.message,
      'Unauthorized: an API key is required: send it in the x-api-key header or as Authorization: Bearer <key>',
    );
  });

  it('refuses a wrong key with 401 invalid', async () => {
    const r = await post(`${gw.url}/mcp/keyed-a`, initializeBody(), { 'x-api-key': 'not-the-key-0123456789' });
    assert.equal(r.status, 401);
    assert.equal(r.json().error.data.reason, 'invalid');
  });

  it('accepts the right key in the header or as a bearer token, and the old key while it is listed', async () => {
    for (const headers of [{ 'x-api-key': KEYS.KEY_A }, bearer(KEYS.KEY_A), { 'x-api-key': KEYS.KEY_A_OLD }]) {
      const id = await openSession(`${gw.url}/mcp/keyed-a`, headers);
      const seen = seenBy((await whoami(`${gw.url}/mcp/keyed-a`, id, headers)).text);
      assert.equal(seen.extra.kind, 'apiKey');
      assert.equal(seen.token, '', 'the key never reaches a tool');
    }
  });

  it('never lets an empty or blank header hide a valid key, and the session carries on', async () => {
    const id = await openSession(`${gw.url}/mcp/keyed-a`, { 'x-api-key': KEYS.KEY_A });
    const blankHides: Array<Record<string, string | string[]>> = [
      { 'x-api-key': '', ...bearer(KEYS.KEY_A) },
      { 'x-api-key': '   ', ...bearer(KEYS.KEY_A) },
    ];
    for (const headers of blankHides) {
      const init = await rawPost(`${gw.url}/mcp/keyed-a`, initializeBody(), headers);
      assert.equal(init.status, 200, `${JSON.stringify(headers)}: ${init.text}`);
      const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami_auth', arguments: {} } };
      const sessionHeaders = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
      const same = await rawPost(`${gw.url}/mcp/keyed-a`, call, { ...headers, ...sessionHeaders });
      assert.equal(same.status, 200, 'the same key in another place is the same principal');
      assert.equal(seenBy(same.text).extra.kind, 'apiKey');
    }
    const onlyBlank = await rawPost(`${gw.url}/mcp/keyed-a`, initializeBody(), { 'x-api-key': ' ', authorization: '' });
    assert.equal(onlyBlank.status, 401);
    assert.equal(JSON.parse(onlyBlank.text).error.data.reason, 'missing');
  });

  it('answers a key header or Authorization sent more than once with 400 invalid_header, before checking any, naming the header but no value (was: the first non-blank one used)', async () => {
    const id = await openSession(`${gw.url}/mcp/keyed-a`, { 'x-api-key': KEYS.KEY_A });
    const repeated: Array<[string, Record<string, string[]>, string, number]> = [
      ['keyed-a', { 'x-api-key': [KEYS.KEY_A, KEYS.KEY_A] }, 'x-api-key', 2],
      ['keyed-a', { 'x-api-key': ['', KEYS.KEY_A] }, 'x-api-key', 2],
      ['keyed-a', { 'x-api-key': ['not-the-key-0123456789', KEYS.KEY_A, KEYS.KEY_A_OLD] }, 'x-api-key', 3],
      ['keyed-a', { authorization: ['', `Bearer ${KEYS.KEY_A}`] }, 'Authorization', 2],
      ['keyed-a', { authorization: [`Bearer ${KEYS.KEY_A}`, `Bearer ${KEYS.KEY_A_OLD}`] }, 'Authorization', 2],
      ['keyed-b', { 'x-tenant-key': [KEYS.KEY_B, KEYS.KEY_B] }, 'x-tenant-key', 2],
      ['defaulted', { 'X-Api-Key': [KEYS.KEY_DEFAULT, 'wrong-key-0123456789abcdef'] }, 'x-api-key', 2],
    ];
    for (const [route, headers, name, times] of repeated) {
      const what = `${route} ${JSON.stringify(Object.keys(headers))}`;
      const sessionHeaders: Array<Record<string, string>> = [{}, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' }];
      for (const session of sessionHeaders) {
        const r = await rawPost(`${gw.url}/mcp/${route}`, initializeBody(), { ...headers, ...session });
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        const { error } = JSON.parse(r.text);
        assert.equal(error.data.code, 'invalid_header', what);
        assert.equal(error.data.header, name, what);
        assert.equal(error.message, `Bad Request: the ${name} header came ${times} times; send it once`, what);
        for (const value of Object.values(headers).flat()) if (value) assert.ok(!r.text.includes(value), `${what}: a value was echoed`);
      }
    }
    // One field with a comma in it is one value (a wrong key here), not two.
    const one = await rawPost(`${gw.url}/mcp/keyed-a`, initializeBody(), { 'x-api-key': `${KEYS.KEY_A}, ${KEYS.KEY_A}` });
    assert.equal(one.status, 401);
    assert.equal(JSON.parse(one.text).error.data.reason, 'invalid');
    // Each header once, in both places: the route's header counts, as before.
    const both = await rawPost(`${gw.url}/mcp/keyed-a`, initializeBody(), { 'x-api-key': KEYS.KEY_A, ...bearer(KEYS.KEY_A_OLD) });
    assert.equal(both.status, 200, both.text);
    // The same rule on an OAuth route, and an open route ignores Authorization altogether.
    const accessToken = await token();
    for (const authorization of [
      ['', `Bearer ${accessToken}`],
      [`Bearer ${accessToken}`, `Bearer ${accessToken}`],
    ]) {
      const r = await rawPost(`${gw.url}/mcp/weather`, initializeBody(), { authorization });
      assert.equal(r.status, 400, r.text);
      assert.equal(JSON.parse(r.text).error.data.header, 'Authorization');
      assert.ok(!r.text.includes(accessToken));
    }
    assert.equal((await rawPost(`${gw.url}/mcp/open`, initializeBody(), { authorization: ['Bearer a', 'Bearer b'] })).status, 200);
    assert.equal((await whoami(`${gw.url}/mcp/keyed-a`, id, { 'x-api-key': KEYS.KEY_A })).status, 200, 'the session is untouched');
    assert.ok(!gw.logs.some((line) => JSON.stringify(line).includes(KEYS.KEY_A)), 'no key in the logs');
  });

  it("never opens a route with another route's key (or the default key)", async () => {
    const refused: Array<[string, Record<string, string>]> = [
      ['keyed-b', { 'x-tenant-key': KEYS.KEY_A }],
      ['keyed-b', bearer(KEYS.KEY_A)],
      ['keyed-a', { 'x-api-key': KEYS.KEY_B }],
      ['keyed-a', bearer(KEYS.KEY_DEFAULT)],
      ['defaulted', { 'x-api-key': KEYS.KEY_A }],
      ['keyed-b', { 'x-api-key': KEYS.KEY_B }], // the right key in a header this route does not read
    ];
    for (const [route, headers] of refused) {
      const r = await post(`${gw.url}/mcp/${route}`, initializeBody(), headers);
      assert.equal(r.status, 401, `${route} ${JSON.stringify(Object.keys(headers))}`);
    }
    assert.equal((await post(`${gw.url}/mcp/keyed-b`, initializeBody(), { 'x-tenant-key': KEYS.KEY_B })).status, 200);
    assert.equal((await post(`${gw.url}/mcp/defaulted`, initializeBody(), { 'x-api-key': KEYS.KEY_DEFAULT })).status, 200);
  });

  it('checks the key on every request of a session, GET and DELETE included', async () => {
    const headers = { 'x-api-key': KEYS.KEY_A };
    const id = await openSession(`${gw.url}/mcp/keyed-a`, headers);
    const sessionHeaders = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    assert.equal((await whoami(`${gw.url}/mcp/keyed-a`, id, {})).status, 401);
    assert.equal((await fetch(`${gw.url}/mcp/keyed-a`, { headers: { accept: 'text/event-stream', ...sessionHeaders } })).status, 401);
    assert.equal((await fetch(`${gw.url}/mcp/keyed-a`, { method: 'DELETE', headers: sessionHeaders })).status, 401);
    assert.equal((await whoami(`${gw.url}/mcp/keyed-a`, id, headers)).status, 200, 'the session is untouched');
  });

  it('binds a session to its key: the other key of the same route gets 404', async () => {
    const id = await openSession(`${gw.url}/mcp/keyed-a`, { 'x-api-key': KEYS.KEY_A });
    const r = await whoami(`${gw.url}/mcp/keyed-a`, id, { 'x-api-key': KEYS.KEY_A_OLD });
    assert.equal(r.status, 404);
    assert.equal(r.json().error.data.reason, 'wrong_principal');
  });

  it('leaves routes with auth: none open', async () => {
    const id = await openSession(`${gw.url}/mcp/open`, {});
    assert.deepEqual(seenBy((await whoami(`${gw.url}/mcp/open`, id, {})).text), { route: 'open', authInfo: null });
  });
});

describe('OAuth metadata and challenges', () => {
  it('publishes one RFC 9728 document per route, whose resource is the exact route URL', async () => {
    const weather = await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/weather`);
    assert.equal(weather.status, 200);
    assert.equal(weather.headers.get('access-control-allow-origin'), '*');
    const document = OAuthProtectedResourceMetadataSchema.parse(await weather.json());
    assert.deepEqual(document, {
      resource: `${gw.url}/mcp/weather`,
      authorization_servers: [idp.issuer],
      scopes_supported: [`${AUDIENCE}/weather.read`],
      bearer_methods_supported: ['header'],
      resource_name: 'MCP server "weather"',
    });
    const tools = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/tools`)).json();
    assert.equal(tools.resource, `${gw.url}/mcp/tools`);
    assert.deepEqual(tools.scopes_supported, ['tools.use']);
    const quick = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/quick/`)).json();
    assert.equal(quick.resource, `${gw.url}/mcp/quick`);
    assert.equal('scopes_supported' in quick, false);
  });

  it('names the public host behind a proxy (X-Forwarded-Host, X-Forwarded-Proto)', async () => {
    const forwarded = { 'x-forwarded-host': 'gateway.example.com', 'x-forwarded-proto': 'https' };
    const document = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/weather`, { headers: forwarded })).json();
    assert.equal(document.resource, 'https://gateway.example.com/mcp/weather');
    const r = await post(`${gw.url}/mcp/weather`, initializeBody(), forwarded);
    assert.equal(
      challenge(r.headers.get('www-authenticate')).params.resource_metadata,
      'https://gateway.example.com/.well-known/oauth-protected-resource/mcp/weather',
    );
  });

  it('takes only http or https from X-Forwarded-Proto: no other value can name another origin', async () => {
    for (const proto of ['https://evil.example/?', 'https://evil.example#', 'javascript', 'HTTPS']) {
      const forwarded = { 'x-forwarded-host': 'gateway.example.com', 'x-forwarded-proto': proto };
      const expected = proto === 'HTTPS' ? 'https://gateway.example.com' : 'http://gateway.example.com';
      const document = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/weather`, { headers: forwarded })).json();
      assert.equal(document.resource, `${expected}/mcp/weather`, proto);
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), forwarded);
      assert.equal(
        challenge(r.headers.get('www-authenticate')).params.resource_metadata,
        `${expected}/.well-known/oauth-protected-resource/mcp/weather`,
        proto,
      );
      const status = await (await fetch(`${gw.url}/status.json`, { headers: forwarded })).json();
      assert.ok(
        status.routes.every((route: { url: string }) => route.url.startsWith(`${expected}/mcp/`)),
        proto,
      );
    }
  });

  it('has no document for routes without OAuth, unknown routes or the root', async () => {
    for (const path of ['/mcp/keyed-a', '/mcp/open', '/mcp/nope', '']) {
      const r = await fetch(`${gw.url}/.well-known/oauth-protected-resource${path}`);
      assert.equal(r.status, 404, path);
    }
  });

  it("answers a request without a token with 401 pointing at the route's own metadata, which a client can follow", async () => {
    for (const route of ['weather', 'tools']) {
      const r = await post(`${gw.url}/mcp/${route}`, initializeBody());
      assert.equal(r.status, 401);
      assert.equal(r.json().error.data.code, 'unauthorized');
      const { scheme, params } = challenge(r.headers.get('www-authenticate'));
      assert.equal(scheme, 'Bearer');
      assert.equal(params.resource_metadata, `${gw.url}/.well-known/oauth-protected-resource/mcp/${route}`);
      assert.equal(params.error, undefined, 'no error code when no token was sent (RFC 6750 §3.1)');
      assert.equal(params.scope, route === 'weather' ? `${AUDIENCE}/weather.read` : 'tools.use');
      const document = await (await fetch(params.resource_metadata!)).json();
      assert.equal(document.resource, `${gw.url}/mcp/${route}`);
    }
    const exact = await post(`${gw.url}/mcp/weather`, initializeBody());
    assert.equal(
      exact.headers.get('www-authenticate'),
      `Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp/weather", scope="${AUDIENCE}/weather.read"`,
    );
  });

  it('answers a refused token with 401 invalid_token and says why', async () => {
    const cases: Array<[string, string]> = [
      [await token({}, { expiresIn: -3600 }), 'the token has expired'],
      [await token({ aud: 'api://someone-else' }), 'the token is for another audience'],
      [await token({ iss: 'https://login.example.com/other/v2.0' }), 'the token is from another issuer'],
      [idp.unsigned({ sub: 'alice' }), "the token's signature algorithm is not accepted"],
      [await idp.signHs256WithPublicKey({ sub: 'alice' }), "the token's signature algorithm is not accepted"],
    ];
    for (const [refused, why] of cases) {
      tokensUsed.push(refused);
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(refused));
      assert.equal(r.status, 401, why);
      const { params } = challenge(r.headers.get('www-authenticate'));
      assert.equal(params.error, 'invalid_token');
      assert.equal(params.error_description, why);
      assert.equal(params.resource_metadata, `${gw.url}/.well-known/oauth-protected-resource/mcp/weather`);
      assert.equal(r.json().error.message, `Unauthorized: ${why}`);
    }
    // Another scheme is no attempt at a token (RFC 6750 §3.1): no error code, as with no credentials.
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Digest username="u"', 'negotiate']) {
      const other = await post(`${gw.url}/mcp/weather`, initializeBody(), { authorization });
      assert.equal(other.status, 401, authorization);
      const { scheme, params } = challenge(other.headers.get('www-authenticate'));
      assert.equal(scheme, 'Bearer');
      assert.equal(params.error, undefined, authorization);
      assert.equal(params.error_description, undefined, authorization);
      assert.equal(params.resource_metadata, `${gw.url}/.well-known/oauth-protected-resource/mcp/weather`);
      assert.equal(other.json().error.message, 'Unauthorized: the Authorization header must be Bearer <token>');
    }
  });

  it("answers a valid token without the route's scope with 403 insufficient_scope naming it", async () => {
    const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token({ scp: 'tools.use' })));
    assert.equal(r.status, 403);
    assert.equal(r.json().error.data.code, 'forbidden');
    assert.deepEqual(r.json().error.data.scopes, [`${AUDIENCE}/weather.read`]);
    const { scheme, params } = challenge(r.headers.get('www-authenticate'));
    assert.equal(scheme, 'Bearer');
    assert.equal(params.error, 'insufficient_scope');
    assert.equal(params.scope, `${AUDIENCE}/weather.read`);
    assert.equal(params.resource_metadata, `${gw.url}/.well-known/oauth-protected-resource/mcp/weather`);
  });

  it('answers a blank Authorization header as no token, and reads only Authorization', async () => {
    const accessToken = await token();
    const blank = await rawPost(`${gw.url}/mcp/weather`, initializeBody(), { authorization: '  ' });
    assert.equal(blank.status, 401);
    assert.equal(JSON.parse(blank.text).error.data.reason, 'missing');
    assert.equal((await rawPost(`${gw.url}/mcp/weather`, initializeBody(), { 'x-api-key': '', ...bearer(accessToken) })).status, 200);
  });

  it('accepts a token for either audience of the list (Entra: app ID URI or client id)', async () => {
    const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token({ aud: '00000000-0000-0000-0000-000000000001' })));
    assert.equal(r.status, 200);
  });
});

describe('OAuth through the SDK client', () => {
  it('completes initialize and a tool call that sees the caller in authInfo', async () => {
    const accessToken = await token({ sub: 'alice', azp: 'vscode-client-id' });
    const { client } = await sdkClient(`${gw.url}/mcp/weather`, accessToken);
    const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami_auth', arguments: {} })));
    assert.equal(seen.token, accessToken);
    assert.equal(seen.clientId, 'vscode-client-id');
    assert.deepEqual(seen.scopes, ['weather.read', 'tools.use']);
    assert.equal(typeof seen.expiresAt, 'number');
    assert.deepEqual(seen.extra, { kind: 'oauth', subject: 'alice', issuer: idp.issuer });
    await client.close();
  });

  it('fails to connect without a token', async () => {
    await assert.rejects(sdkClient(`${gw.url}/mcp/weather`, undefined), /401|Unauthorized/);
  });

  it('reaches tools on a stateless route too', async () => {
    const { client } = await sdkClient(`${gw.url}/mcp/quick`, await token({ sub: 'carol' }));
    const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami_auth', arguments: {} })));
    assert.equal(seen.extra.subject, 'carol');
    await client.close();
  });

  it("refuses another principal's session id with 404, and the owner's session carries on", async () => {
    const alice = await token({ sub: 'alice' });
    const { client, transport } = await sdkClient(`${gw.url}/mcp/weather`, alice);
    const id = transport.sessionId!;

    const bob = await whoami(`${gw.url}/mcp/weather`, id, bearer(await token({ sub: 'bob' })));
    assert.equal(bob.status, 404);
    assert.equal(bob.json().error.code, -32001);
    assert.equal(bob.json().error.data.reason, 'wrong_principal');

    // A fresh token of the same subject is the same principal.
    const again = await whoami(`${gw.url}/mcp/weather`, id, bearer(await token({ sub: 'alice', jti: 'second' })));
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(textOf(await client.callTool({ name: 'whoami_auth', arguments: {} }))).extra.subject, 'alice');
    await client.close();
  });

  it('keeps the binding when another instance resumes the session (shared keyring)', async () => {
    const keyring = createSessionKeyring(randomBytes(32));
    const first = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring });
    const second = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring });
    try {
      const alice = await token({ sub: 'alice' });
      const { client, transport } = await sdkClient(`${first.url}/mcp/weather`, alice);
      const id = transport.sessionId!;
      const secondRoute = second.gateway.routes.get('weather')!;

      const bob = await whoami(`${second.url}/mcp/weather`, id, bearer(await token({ sub: 'bob' })));
      assert.equal(bob.status, 404);
      assert.equal(bob.json().error.data.reason, 'wrong_principal');
      assert.equal(secondRoute.sessions.size, 0, 'nothing was resumed for the wrong principal');

      const resumed = await whoami(`${second.url}/mcp/weather`, id, bearer(alice));
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal(seenBy(resumed.text).extra.subject, 'alice');
      assert.equal(secondRoute.sessions.size, 1);

      const bobAfter = await whoami(`${second.url}/mcp/weather`, id, bearer(await token({ sub: 'bob' })));
      assert.equal(bobAfter.status, 404, 'and not once it is held there either');

      // Open routes resume as before: their ids carry no principal.
      const openId = await openSession(`${first.url}/mcp/open`, {});
      assert.equal((await whoami(`${second.url}/mcp/open`, openId, {})).status, 200);
      await client.close();
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe('principals', () => {
  /**
   * The principal logged for the next tools/call on `route` after log line `from`. The line is
   * written when the response closes, which may come a turn after the client has read it.
   */
  async function loggedPrincipal(instance: InProcessGateway, route: string, from: number): Promise<string> {
    for (let turn = 0; turn < 1000; turn++) {
      const line = instance.logs.slice(from).find((l) => l.msg === 'request' && l.route === route && l.rpc === 'tools/call');
      if (line) return line.principal as string;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.fail(`no tools/call line for ${route}`);
  }

  /** Calls whoami_auth on a session of `route` on `instance`: the answer, and the principal the log names. */
  async function call(instance: InProcessGateway, route: string, id: string, headers: Record<string, string>) {
    const from = instance.logs.length;
    const answer = await whoami(`${instance.url}/mcp/${route}`, id, headers);
    assert.equal(answer.status, 200, `${route}: ${answer.text}`);
    return { seen: seenBy(answer.text), principal: await loggedPrincipal(instance, route, from) };
  }

  /** Opens a session on `route` of `instance` and calls whoami_auth on it. */
  async function callerOn(instance: InProcessGateway, route: string, headers: Record<string, string>) {
    const id = await openSession(`${instance.url}/mcp/${route}`, headers);
    return { id, ...(await call(instance, route, id, headers)) };
  }

  it('are an HMAC keyed from the session secret: one name per caller on every instance of a deployment, another elsewhere', async () => {
    const keyring = createSessionKeyring(randomBytes(32));
    const first = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring });
    const second = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring });
    const elsewhere = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring: createSessionKeyring(randomBytes(32)) });
    try {
      const key = { 'x-api-key': KEYS.KEY_A };
      const alice = bearer(await token({ sub: 'alice' }));
      const [a1, a2, a3] = await Promise.all([
        callerOn(first, 'keyed-a', key),
        callerOn(second, 'keyed-a', key),
        callerOn(elsewhere, 'keyed-a', key),
      ]);
      const [o1, o2, o3] = await Promise.all([
        callerOn(first, 'weather', alice),
        callerOn(second, 'weather', alice),
        callerOn(elsewhere, 'weather', alice),
      ]);
      assert.match(a1.principal, /^apiKey:[A-Za-z0-9_-]{22}$/);
      assert.match(o1.principal, /^oauth:[A-Za-z0-9_-]{22}$/);
      assert.equal(a1.principal, a2.principal, 'the same keyring names the key alike');
      assert.equal(o1.principal, o2.principal, 'and the issuer and subject');
      assert.notEqual(a1.principal, a3.principal, 'another keyring names it otherwise');
      assert.notEqual(o1.principal, o3.principal);
      // Modules see the same name as the log (clientId, keyId), never the bare hash of the key.
      assert.equal(a1.seen.clientId, a1.principal);
      assert.equal((a1.seen.extra as { keyId?: string }).keyId, a1.principal.slice('apiKey:'.length));
      const bare = createHash('sha256').update(`mcp-gateway principal\0apiKey\0${KEYS.KEY_A}`).digest().subarray(0, 16);
      assert.notEqual(a1.principal, `apiKey:${bare.toString('base64url')}`);
      assert.ok(!JSON.stringify([first.logs, second.logs]).includes(bare.toString('base64url')), 'the bare hash is never logged');
    } finally {
      await Promise.all([first.close(), second.close(), elsewhere.close()]);
    }
  });

  it('change with a rotation of the session secret, and sessions opened before it still belong to their caller', async () => {
    const [oldSecret, newSecret] = [randomBytes(32), randomBytes(32)];
    const before = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring: createSessionKeyring(oldSecret) });
    // GATEWAY_SESSION_SECRET=new, GATEWAY_SESSION_SECRET_PREVIOUS=old.
    const after = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS, keyring: createSessionKeyring(newSecret, [oldSecret]) });
    try {
      const key = { 'x-api-key': KEYS.KEY_A };
      const alice = bearer(await token({ sub: 'alice' }));
      for (const [route, headers] of [
        ['keyed-a', key],
        ['weather', alice],
      ] as const) {
        const opened = await callerOn(before, route, headers);
        const resumed = await call(after, route, opened.id, headers);
        assert.match(resumed.principal, /^(apiKey|oauth):[A-Za-z0-9_-]{22}$/);
        assert.notEqual(resumed.principal, opened.principal, `${route}: a new principal under the new secret`);
      }
      const other = await whoami(`${after.url}/mcp/keyed-a`, (await callerOn(before, 'keyed-a', key)).id, { 'x-api-key': KEYS.KEY_A_OLD });
      assert.equal(other.status, 404, 'another caller still cannot use the session');
      assert.equal(other.json().error.data.reason, 'wrong_principal');
    } finally {
      await Promise.all([before.close(), after.close()]);
    }
  });
});

describe('an issuer that cannot be reached', () => {
  it('answers 503 auth_unavailable with Retry-After, logs why, and recovers once the issuer is back', async () => {
    const down = await startOidcIssuer({ audience: AUDIENCE });
    const clock = { offset: 0 };
    const local = await startInProcessGateway(
      `servers:\n  weather:\n    module: ${fixtureModule('authinfo')}\n    auth: { kind: oauth, issuer: "${down.issuer}", audience: ${AUDIENCE} }\n`,
      { wallClock: () => Date.now() + clock.offset },
    );
    try {
      down.failWith = 500;
      const accessToken = await down.sign({ sub: 'alice' });
      tokensUsed.push(accessToken);
      const r = await post(`${local.url}/mcp/weather`, initializeBody(), bearer(accessToken));
      assert.equal(r.status, 503);
      assert.equal(r.json().error.data.code, 'auth_unavailable');
      assert.equal(r.headers.get('retry-after'), '10');
      const warning = local.logs.find((line) => line.msg === 'authorization server unavailable');
      assert.match(String(warning?.detail), /openid-configuration answered HTTP 500/);

      // Start-up did not wait for the issuer, and it is not asked again before Retry-After.
      assert.equal(down.requests.discovery, 1);
      down.failWith = undefined;
      assert.equal((await post(`${local.url}/mcp/weather`, initializeBody(), bearer(accessToken))).status, 503);
      clock.offset += 10_000;
      assert.equal((await post(`${local.url}/mcp/weather`, initializeBody(), bearer(accessToken))).status, 200);
      assert.ok(!JSON.stringify(local.logs).includes(accessToken));
      // Both 503s are counted as such.
      const status = (await (await fetch(`${local.url}/status.json`)).json()) as { routes: Array<{ authRefusals: unknown }> };
      assert.deepEqual(status.routes[0]!.authRefusals, { missing: 0, invalid: 0, insufficient_scope: 0, unavailable: 2 });
    } finally {
      await local.close();
      await down.close();
    }
  });
});

describe('attacks on OAuth routes', () => {
  it('accepts no token or key in the query string (OAuth 2.1 forbids it), and never logs one', async () => {
    const accessToken = await token();
    for (const query of [`access_token=${accessToken}`, `token=${accessToken}`]) {
      const r = await post(`${gw.url}/mcp/weather?${query}`, initializeBody());
      assert.equal(r.status, 401, query.split('=')[0]);
      assert.equal(r.json().error.data.reason, 'missing');
    }
    for (const query of ['api_key', 'x-api-key', 'key', 'access_token'].map((name) => `${name}=${encodeURIComponent(KEYS.KEY_A)}`)) {
      const r = await post(`${gw.url}/mcp/keyed-a?${query}`, initializeBody());
      assert.equal(r.status, 401, query.split('=')[0]);
      assert.equal(r.json().error.data.reason, 'missing');
    }
    // The logs test below checks every token used, this one included, against every line.
    assert.ok(!JSON.stringify(gw.logs).includes(KEYS.KEY_A));
  });

  it('reads the Bearer scheme in any case (RFC 6750, RFC 9110 §11.1) and with extra spaces, for tokens and keys alike', async () => {
    const accessToken = await token();
    for (const authorization of [`bearer ${accessToken}`, `BEARER ${accessToken}`, `Bearer   ${accessToken}`, `Bearer ${accessToken}  `]) {
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), { authorization });
      assert.equal(r.status, 200, JSON.stringify(authorization.replace(accessToken, '<token>')));
    }
    assert.equal((await post(`${gw.url}/mcp/keyed-a`, initializeBody(), { authorization: `bEaReR ${KEYS.KEY_A}` })).status, 200);
    // A Bearer header that is not Bearer and one token is refused as a malformed credential, not read around.
    for (const authorization of [`Bearer ${accessToken} extra`, `Bearer\t${accessToken}`, `Bearer${accessToken}`, 'Bearer']) {
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), { authorization });
      assert.equal(r.status, 401);
      assert.equal(challenge(r.headers.get('www-authenticate')).params.error, 'invalid_token');
    }
  });

  it('refuses tokens signed with keys the issuer does not publish, fetching its JWKS at most once for many unknown kids', async () => {
    const rogue = await startOidcIssuer({ audience: AUDIENCE });
    try {
      assert.equal((await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token()))).status, 200, 'keys fetched');
      const fetched = idp.requests.jwks;
      for (let i = 0; i < 20; i++) {
        await rogue.rotate();
        const forged = await rogue.sign({ iss: idp.issuer, sub: 'mallory', scp: 'weather.read' });
        tokensUsed.push(forged);
        const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(forged));
        assert.equal(r.status, 401);
        assert.equal(
          challenge(r.headers.get('www-authenticate')).params.error_description,
          'the token is signed with a key the issuer does not publish',
        );
      }
      // jose refetches on an unknown kid at most every 30 s: 20 random kids cost the issuer one fetch at most.
      assert.ok(idp.requests.jwks - fetched <= 1, `${idp.requests.jwks - fetched} JWKS fetches`);
    } finally {
      await rogue.close();
    }
  });

  it('never takes a key from the token itself (jwk, jku, x5u headers)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: AUDIENCE, sub: 'mallory', scp: 'weather.read', iat: now, exp: now + 600 };
    const headers = [
      { alg: 'RS256', jwk },
      { alg: 'RS256', kid: idp.currentKid, jwk },
      { alg: 'RS256', kid: idp.currentKid, jku: 'http://127.0.0.1:9/keys' },
      { alg: 'RS256', kid: idp.currentKid, x5u: 'http://127.0.0.1:9/cert' },
    ];
    for (const header of headers) {
      const forged = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
      tokensUsed.push(forged);
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(forged));
      assert.equal(r.status, 401, Object.keys(header).join());
      assert.equal(challenge(r.headers.get('www-authenticate')).params.error_description, "the token's signature is not valid");
    }
  });

  it('tolerates the documented 60 s of clock skew on exp, nbf and iat, and not more', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[Record<string, number>, number]> = [
      [{ exp: now - 20 }, 200],
      [{ exp: now - 120 }, 401],
      [{ nbf: now + 20 }, 200],
      [{ nbf: now + 120 }, 401],
      // iat too: jose checks it only against a maximum age, the gateway on its own.
      [{ iat: now + 20 }, 200],
      [{ iat: now + 120 }, 401],
    ];
    for (const [claims, status] of cases) {
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token(claims)));
      assert.equal(r.status, status, JSON.stringify(claims));
    }
    const future = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token({ iat: now + 120 })));
    assert.equal(challenge(future.headers.get('www-authenticate')).params.error_description, 'the token was issued in the future');
    const garbled = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token({ iat: 'yesterday' })));
    assert.equal(garbled.status, 401);
    assert.equal(garbled.json().error.message, 'Unauthorized: the token\'s "iat" claim is not valid');
  });

  it('compares iss exactly (a trailing slash is another issuer), takes aud as a string or an array, and scopes from scope or scp', async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ iss: `${idp.issuer}/` }, 401],
      [{ aud: AUDIENCE }, 200],
      [{ aud: ['api://another', AUDIENCE] }, 200],
      [{ aud: ['api://another', 'api://third'] }, 401],
      [{ aud: `${gw.url}/mcp/weather` }, 401], // the route's URL is not one of its configured audiences
      [{ scp: undefined, scope: 'weather.read tools.use' }, 200],
      [{ scp: ['weather.read'] }, 200],
      [{ scp: undefined, scope: ['tools.use'] }, 403],
    ];
    for (const [claims, status] of cases) {
      const r = await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(await token(claims)));
      assert.equal(r.status, status, JSON.stringify(claims));
    }
  });

  it("refuses another principal a session's stream and its DELETE, and the session carries on", async () => {
    const alice = bearer(await token({ sub: 'alice' }));
    const bob = bearer(await token({ sub: 'bob' }));
    const id = await openSession(`${gw.url}/mcp/weather`, alice);
    const session = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    const stream = await fetch(`${gw.url}/mcp/weather`, { headers: { accept: 'text/event-stream', ...session, ...bob } });
    assert.equal(stream.status, 404);
    assert.equal((await stream.json()).error.data.reason, 'wrong_principal');
    const ended = await fetch(`${gw.url}/mcp/weather`, { method: 'DELETE', headers: { ...session, ...bob } });
    assert.equal(ended.status, 404);
    assert.equal((await whoami(`${gw.url}/mcp/weather`, id, alice)).status, 200);
  });
});

describe('tokens and routes (RFC 8707: a token opens the resource it was issued for)', () => {
  const sharedWarnings = (instance: InProcessGateway) =>
    instance.logs.filter((line) => line.msg === 'route takes tokens issued for another route');

  it('warns at start of an OAuth route that takes every token another route takes (same issuer, a shared audience, no scope of its own), as a token for /mcp/tools does open /mcp/quick', async () => {
    // What the warning is about: quick requires no scope, so any token for the shared audience opens it.
    const forTools = await token({ scp: 'tools.use' });
    assert.equal((await post(`${gw.url}/mcp/tools`, initializeBody(), bearer(forTools))).status, 200);
    assert.equal((await post(`${gw.url}/mcp/quick`, initializeBody(), bearer(forTools))).status, 200);
    // weather and tools each require a scope the other does not: a token for one does not open the other.
    assert.equal((await post(`${gw.url}/mcp/weather`, initializeBody(), bearer(forTools))).status, 403);
    const warnings = sharedWarnings(gw);
    assert.deepEqual(
      warnings.map((line) => [line.level, line.route, line.takesTokensOf]),
      [['warn', 'quick', ['weather', 'tools']]],
    );
    assert.match(String(warnings[0]!.detail), /give \/mcp\/quick an audience of its own .* or a scope of its own/);
  });

  it('gives no warning, and refuses a token for one route on another, when each route has an audience of its own (its URL, with publicUrl)', async () => {
    const base = 'https://mcp.example.com';
    const route = (name: string) =>
      `  ${name}:\n    module: ${fixtureModule('authinfo')}\n    auth: { kind: oauth, issuer: "${idp.issuer}", audience: "${base}/mcp/${name}" }\n`;
    const local = await startInProcessGateway(`publicUrl: ${base}\nservers:\n${route('first')}${route('second')}`, {
      allowedHosts: ['gateway.example.com'],
    });
    try {
      assert.deepEqual(sharedWarnings(local), []);
      const forFirst = await token({ aud: `${base}/mcp/first` });
      assert.equal((await post(`${local.url}/mcp/first`, initializeBody(), bearer(forFirst))).status, 200);
      const refused = await post(`${local.url}/mcp/second`, initializeBody(), bearer(forFirst));
      assert.equal(refused.status, 401);
      const { params } = challenge(refused.headers.get('www-authenticate'));
      assert.equal(params.error_description, 'the token is for another audience');
      // publicUrl names the resource and its metadata, whatever Host or X-Forwarded-Host say.
      assert.equal(params.resource_metadata, `${base}/.well-known/oauth-protected-resource/mcp/second`);
      const forwarded = { 'x-forwarded-host': 'gateway.example.com', 'x-forwarded-proto': 'http' };
      const document = await (await fetch(`${local.url}/.well-known/oauth-protected-resource/mcp/second`, { headers: forwarded })).json();
      assert.equal(document.resource, `${base}/mcp/second`);
    } finally {
      await local.close();
    }
  });
});

describe('a url: route behind OAuth or an API key', () => {
  it("never passes the caller's token or key on to the remote server (MCP forbids token passthrough)", async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const remote = await startV1Remote({
      register: (mcp) => mcp.registerTool('ping', { description: 'pong' }, async () => ({ content: [{ type: 'text', text: 'pong' }] })),
    });
    remote.intercept = (req) => {
      seen.push(req.headers);
      return false;
    };
    const local = await startInProcessGateway(
      [
        'servers:',
        '  signed:',
        `    url: ${remote.url}`,
        `    auth: { kind: oauth, issuer: "${idp.issuer}", audience: ${AUDIENCE} }`,
        '  keyed:',
        `    url: ${remote.url}`,
        '    auth: { kind: apiKey, keys: ["${KEY_A}"] }',
        '',
      ].join('\n'),
      { env: KEYS },
    );
    try {
      const accessToken = await token();
      const viaToken = await sdkClient(`${local.url}/mcp/signed`, accessToken);
      assert.equal(textOf(await viaToken.client.callTool({ name: 'ping', arguments: {} })), 'pong');
      await viaToken.client.close();
      const viaKey = new Client({ name: 'auth-test', version: '1.0.0' });
      await viaKey.connect(
        new StreamableHTTPClientTransport(new URL(`${local.url}/mcp/keyed`), { requestInit: { headers: { 'x-api-key': KEYS.KEY_A } } }),
      );
      assert.equal(textOf(await viaKey.callTool({ name: 'ping', arguments: {} })), 'pong');
      await viaKey.close();
      assert.ok(seen.length > 0, 'the remote was called');
      for (const headers of seen) {
        assert.equal(headers.authorization, undefined);
        assert.equal(headers['x-api-key'], undefined);
        assert.ok(!JSON.stringify(headers).includes(accessToken) && !JSON.stringify(headers).includes(KEYS.KEY_A));
      }
    } finally {
      await local.close();
      await remote.close();
    }
  });
});

describe('API keys that are not there', () => {
  it('stop the start when a key variable is unset, empty or blank, naming the variable, never matching any key or none', async () => {
    const yaml = `servers:\n  keyed:\n    module: ${fixtureModule('authinfo')}\n    auth: { kind: apiKey, keys: ["\${ROUTE_KEY}", "\${ROUTE_KEY_OLD:-}"] }\n`;
    for (const value of [undefined, '', '   ']) {
      const { code, stderr } = await runGatewayToExit(yaml, value === undefined ? {} : { ROUTE_KEY: value });
      assert.notEqual(code, 0);
      assert.match(stderr, value === '   ' ? /at least one non-empty key is required/ : /ROUTE_KEY/, JSON.stringify(value));
    }
  });
});

describe('status', () => {
  it('shows what each route requires, never a key or a token', async () => {
    const status = await (await fetch(`${gw.url}/status.json`)).json();
    const auth = Object.fromEntries(status.routes.map((r: { name: string; auth: unknown }) => [r.name, r.auth]));
    assert.deepEqual(auth, {
      open: { kind: 'none' },
      'keyed-a': { kind: 'apiKey', header: 'x-api-key' },
      'keyed-b': { kind: 'apiKey', header: 'x-tenant-key' },
      defaulted: { kind: 'apiKey', header: 'x-api-key' },
      weather: {
        kind: 'oauth',
        issuer: idp.issuer,
        scopes: [`${AUDIENCE}/weather.read`],
        resourceMetadata: `${gw.url}/.well-known/oauth-protected-resource/mcp/weather`,
      },
      tools: {
        kind: 'oauth',
        issuer: idp.issuer,
        scopes: ['tools.use'],
        resourceMetadata: `${gw.url}/.well-known/oauth-protected-resource/mcp/tools`,
      },
      quick: {
        kind: 'oauth',
        issuer: idp.issuer,
        scopes: [],
        resourceMetadata: `${gw.url}/.well-known/oauth-protected-resource/mcp/quick`,
      },
    });
    const page = await (await fetch(`${gw.url}/`)).text();
    assert.match(page, /API key \(x-tenant-key header or Authorization: Bearer\)/);
    assert.match(page, /OAuth bearer token from http:\/\/127\.0\.0\.1:\d+\/tenant\/v2\.0, scopes tools\.use/);
    for (const key of Object.values(KEYS)) {
      assert.ok(!JSON.stringify(status).includes(key));
      assert.ok(!page.includes(key));
    }
  });
});

describe('refusals', () => {
  it('are counted by route and reason on /status.json and the status page, MCP requests only', async () => {
    const own = await startInProcessGateway(yamlFor(idp.issuer), { env: KEYS });
    try {
      const url = (route: string) => `${own.url}/mcp/${route}`;
      const statuses = [
        (await post(url('keyed-a'), initializeBody())).status,
        (await post(url('keyed-a'), initializeBody(), { 'x-api-key': '' })).status,
        (await post(url('keyed-a'), initializeBody(), { 'x-api-key': 'wrong' })).status,
        (await post(url('keyed-a'), initializeBody(), { 'x-api-key': KEYS.KEY_A })).status,
        (await post(url('tools'), initializeBody(), bearer(await token({ scp: 'weather.read' })))).status,
        (await post(url('tools'), initializeBody(), bearer('not.a.token'))).status,
        (await post(url('open'), initializeBody())).status,
      ];
      assert.deepEqual(statuses, [401, 401, 401, 200, 403, 401, 200]);
      // A status request with credentials the route refuses is no MCP request: not counted.
      await (await fetch(`${own.url}/status.json`, { headers: { 'x-api-key': 'wrong' } })).body?.cancel();
      const status = (await (await fetch(`${own.url}/status.json`)).json()) as { routes: Array<{ name: string; authRefusals: unknown }> };
      const refusals = Object.fromEntries(status.routes.map((r) => [r.name, r.authRefusals]));
      const none = { missing: 0, invalid: 0, insufficient_scope: 0, unavailable: 0 };
      assert.deepEqual(refusals, {
        open: null,
        'keyed-a': { ...none, missing: 2, invalid: 1 },
        'keyed-b': none,
        defaulted: none,
        weather: none,
        tools: { ...none, invalid: 1, insufficient_scope: 1 },
        quick: none,
      });
      const page = await (await fetch(`${own.url}/`)).text();
      assert.match(page, /3: 2 without credentials \(401\), 1 with invalid credentials \(401\)/);
      assert.match(page, /2: 1 with invalid credentials \(401\), 1 without a required scope \(403\)/);
    } finally {
      await own.close();
    }
  });
});

describe('logs', () => {
  it('never contain a key or a token, and say who called or why not', () => {
    const text = JSON.stringify(gw.logs);
    assert.ok(tokensUsed.length > 10);
    for (const secret of [...Object.values(KEYS), ...tokensUsed])
      assert.ok(!text.includes(secret), `${secret.slice(0, 12)}… is in the log`);
    const requests = gw.logs.filter((line) => line.msg === 'request');
    assert.ok(requests.some((line) => typeof line.principal === 'string' && /^oauth:/.test(line.principal)));
    assert.ok(requests.some((line) => typeof line.principal === 'string' && /^apiKey:/.test(line.principal)));
    const refused = requests.find(
      (line) => line.error === 'unauthorized' && (line.auth as { detail?: string })?.detail === 'the token has expired',
    );
    assert.ok(refused, 'a refused request logs the reason');
  });
});
