/**
 * The status page in a real browser: Debian's Chromium driven by playwright-core, against the real
 * gateway in this process. It renders every route, counts a tool call made just before, refreshes
 * in place with a call made after, shows its numbers with JavaScript off too, withholds the tools
 * of a route that requires a key, and logs no console error. Chromium is installed by .ci/run
 * (`apt-get install chromium`); without it the test fails saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { connectClient, shippedModule, startInProcessGateway, type InProcessGateway } from '../helpers/gateway.js';

const ROUTES = ['time', 'weather', 'time-stateless', 'keyed'];

let nws: FakeNws;
let gw: InProcessGateway;
let browser: Browser;

before(async () => {
  nws = await startFakeNws();
  gw = await startInProcessGateway(
    `servers:\n` +
      `  time:\n    module: ${shippedModule('time')}\n` +
      `  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n      userAgent: "browser-test (test@example.com)"\n` +
      `  time-stateless:\n    module: ${shippedModule('time')}\n    sessions: stateless\n` +
      `  keyed:\n    module: ${shippedModule('time')}\n    auth:\n      kind: apiKey\n      keys: ["browser-test-key-0123456789abcdef"]\n`,
  );
  await gw.gateway.status(gw.url); // the tools are listed before the page is first loaded
  browser = await launchChromium('the status page');
});

after(async () => {
  await browser?.close();
  await gw?.close();
  await nws?.close();
});

async function callTime(): Promise<void> {
  const { client } = await connectClient(`${gw.url}/mcp/time`);
  await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
  await client.close();
}

describe('the status page in Chromium', () => {
  it('renders every route, counts a call made just before, refreshes in place, and logs no console error', async () => {
    await callTime();
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    await client.callTool({ name: 'get_forecast', arguments: { latitude: 41.967, longitude: -71.189 } });
    await client.close();

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${gw.url}/`);

    for (const route of ROUTES) assert.equal(await page.locator(`section[data-route="${route}"] h2`).textContent(), route);
    const calls = page.locator('section[data-route="time"] tr[data-operation="get_current_time"] td[data-stat="calls"]');
    assert.equal(await calls.textContent(), '1');
    assert.equal(
      await page.locator('section[data-route="time"] .totals [data-stat="requests"]').textContent(),
      '2',
      'initialize and tools/call (notifications are no requests)',
    );
    assert.equal(
      await page.locator('section[data-route="weather"] tr[data-operation="get_forecast"] td[data-stat="calls"]').textContent(),
      '1',
    );
    assert.equal(await page.locator('#upstreams tbody tr td[data-stat="requests"]').first().textContent(), '2', 'points and forecast');
    assert.equal(await page.locator('section[data-route="time"] svg.chart rect.ok').count(), 1, 'one minute with requests');

    // A route that requires a key shows what it needs and its numbers, not its tools (http/status-view.ts).
    assert.equal(await page.locator('section[data-route="keyed"] tr[data-operation="get_current_time"]').count(), 0);
    assert.match(
      (await page.locator('section[data-route="keyed"]').textContent())!,
      /Detailswithheld: tools and server details are shown to callers of this route: send its credentials to \/status\.json/,
    );

    // The ways to connect.
    await page.locator('#connect-keyed summary').click();
    const install = await page.locator('#connect-keyed a[href^="vscode:mcp/install?"]').getAttribute('href');
    assert.deepEqual(JSON.parse(decodeURIComponent(install!.slice('vscode:mcp/install?'.length))), {
      name: 'keyed',
      type: 'http',
      url: `${gw.url}/mcp/keyed`,
    });
    assert.match((await page.locator('#mcp-json-keyed').textContent())!, /"x-api-key": "\$\{input:keyed-api-key\}"/);
    assert.match((await page.locator('#inspector-time').textContent())!, new RegExp(`--cli ${gw.url}/mcp/time --transport http`));
    assert.ok(!(await page.content()).includes('browser-test-key-0123456789abcdef'));

    // A call made now shows without a reload: the page refreshes itself when it regains focus.
    await callTime();
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          document.addEventListener('status-refreshed', () => resolve(), { once: true });
          window.dispatchEvent(new Event('focus'));
        }),
    );
    assert.equal(await calls.textContent(), '2');
    assert.equal(await page.locator('#connect-keyed').getAttribute('open'), '', 'an open section stays open');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('shows the numbers with JavaScript off', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${gw.url}/`);
    assert.match(
      (await page.locator('section[data-route="time"] tr[data-operation="get_current_time"] td[data-stat="calls"]').textContent())!,
      /^\d+$/,
    );
    assert.equal(await page.locator('section').count(), ROUTES.length + 1);
    await context.close();
  });
});
