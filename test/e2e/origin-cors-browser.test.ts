/**
 * A browser-based MCP client in a real browser: Debian's Chromium driven by playwright-core
 * (test/helpers/chromium.ts), a page served from a second loopback server at
 * http://app.test:<port> (a name Chromium maps to 127.0.0.1, so an origin the gateway does not
 * accept unconfigured), calling the real gateway with fetch. With that origin in allowedOrigins the
 * preflight passes, initialize answers, the page reads Mcp-Session-Id and lists tools with it;
 * without, the browser's fetch fails and the gateway logged invalid_origin. Chromium is installed
 * by .ci/run (`apt-get install chromium`); without it the test fails saying so.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { shippedModule, startInProcessGateway, type InProcessGateway } from '../helpers/gateway.js';

let page: http.Server;
let appOrigin: string;
let allowing: InProcessGateway;
let refusing: InProcessGateway;
let browser: Browser;

before(async () => {
  page = http.createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!doctype html><title>web MCP client</title><script>${CLIENT_SCRIPT}</script>`);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  appOrigin = `http://app.test:${(page.address() as AddressInfo).port}`;
  const servers = `servers:\n  time:\n    module: ${shippedModule('time')}\n`;
  allowing = await startInProcessGateway(`${servers}allowedOrigins: [${appOrigin}]\n`);
  refusing = await startInProcessGateway(servers);
  browser = await launchChromium('a browser-based MCP client', ['--host-resolver-rules=MAP app.test 127.0.0.1']);
});

after(async () => {
  await browser?.close();
  await allowing?.close();
  await refusing?.close();
  page?.closeAllConnections();
  await new Promise<void>((resolve) => (page ? page.close(() => resolve()) : resolve()));
});

/** What the page's fetch-based client got: tool names and the session id it read, or the fetch error. */
interface PageOutcome {
  sessionId?: string | null;
  tools?: string[];
  error?: string;
}

/** The web client the page at appOrigin carries: a minimal 2025 session over fetch. */
const CLIENT_SCRIPT = `
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
async function message(response) {
  const text = await response.text();
  const json = text.startsWith('{') ? text : text.split('\\n').findLast((line) => line.startsWith('data: ')).slice(6);
  return JSON.parse(json);
}
function post(url, body, extra = {}) {
  return fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body), signal: AbortSignal.timeout(10000) });
}
window.runClient = async (url) => {
  try {
    const opened = await post(url, {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'web-client', version: '1.0.0' } },
    });
    await message(opened);
    const sessionId = opened.headers.get('mcp-session-id');
    if (!sessionId) return { sessionId };
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    const listed = await message(await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, session));
    return { sessionId, tools: listed.result.tools.map((tool) => tool.name) };
  } catch (error) {
    return { error: String(error) };
  }
};
`;

/** Loads the page at appOrigin and runs its client against `mcpUrl`. */
async function runClientInPage(mcpUrl: string): Promise<PageOutcome> {
  const tab = await browser.newPage();
  try {
    await tab.goto(`${appOrigin}/`);
    assert.equal(await tab.evaluate(() => location.origin), appOrigin);
    return await tab.evaluate((url) => (window as unknown as { runClient(url: string): Promise<PageOutcome> }).runClient(url), mcpUrl);
  } finally {
    await tab.close();
  }
}

describe('a browser-based MCP client in Chromium', () => {
  it('opens a session and lists tools from an origin in allowedOrigins, reading Mcp-Session-Id', async () => {
    const outcome = await runClientInPage(`${allowing.url}/mcp/time`);
    assert.equal(outcome.error, undefined);
    assert.match(outcome.sessionId ?? '', /.+/, 'the page can read the session id (exposed)');
    assert.ok(outcome.tools?.includes('get_current_time'), JSON.stringify(outcome));
    const preflight = allowing.logs.find((line) => line.msg === 'request' && (line.http as { method: string }).method === 'OPTIONS');
    assert.equal((preflight?.http as { status?: number } | undefined)?.status, 204, 'the browser sent a preflight, answered 204');
  });

  it('fails in the browser from an origin not allowed, and the gateway logs invalid_origin', async () => {
    const outcome = await runClientInPage(`${refusing.url}/mcp/time`);
    assert.match(outcome.error ?? '', /TypeError: Failed to fetch/, JSON.stringify(outcome));
    const refused = refusing.logs.filter((line) => line.msg === 'request' && line.error === 'invalid_origin');
    assert.ok(refused.length > 0, 'the preflight (or the request) was refused as invalid_origin');
    assert.ok(!refusing.logs.some((line) => line.msg === 'request' && line.rpc === 'initialize'), 'no initialize reached the route');
  });
});
