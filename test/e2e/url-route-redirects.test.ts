/**
 * `url:` routes and redirects: the route's headers (its credentials for the remote) go to the
 * URL's origin only. A loopback remote redirects to a second loopback server, on another port
 * (another origin), that records every request it gets: it must get none, neither from the SDK's
 * transport nor from the requests the gateway makes itself (the DELETE that ends an upstream session).
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { ProtocolError } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { FakeUpstream } from '../helpers/fake-upstream.js';
import { connectClient, startInProcessGateway, textOf } from '../helpers/gateway.js';
import { startV1Remote, type V1Remote } from '../helpers/v1-remote.js';
import { until } from '../helpers/until.js';

const HEADERS = '{ Authorization: "Bearer PARTNER-SECRET-TOKEN", X-Api-Key: "KEY-SECRET-123" }';

function startRemote(): Promise<V1Remote> {
  return startV1Remote({
    register: (mcp) =>
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] })),
  });
}

/** The gateway's code and message of a call or connection that failed. */
async function failure(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const error = await call.then(
    (value) => assert.fail(`expected an error, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ProtocolError || error instanceof Error, String(error));
  return { code: ((error as ProtocolError).data as { code?: string } | undefined)?.code, message: error.message };
}

describe('a url route whose remote server redirects to another origin', () => {
  test("follows no redirect there, for the SDK's requests or the gateway's own DELETE: the route's headers never reach it", async () => {
    const elsewhere = await FakeUpstream.start();
    const remote = await startRemote();
    /** What the remote answers while it redirects: a 307 (method and body kept), or a 302. */
    let redirect: 302 | 307 | undefined = 307;
    const methods: string[] = [];
    remote.intercept = (req, res) => {
      if (redirect === undefined) return false;
      methods.push(req.method!);
      res.writeHead(redirect, { location: `${elsewhere.origin}/mcp`, 'content-type': 'text/plain' }).end('moved');
      return true;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url}\n    headers: ${HEADERS}\n`);
    try {
      // From the first request: the connection is refused, and says where the remote pointed.
      const refused = await failure(connectClient(`${gw.url}/mcp/r`, 'redirects-test'));
      assert.match(
        refused.message,
        /the remote server of route \\"r\\" is unavailable: .*Redirect to http:\/\/127\.0\.0\.1:\d+\/mcp not followed/,
      );

      // Mid-session: the call fails, the session goes on once the remote stops redirecting.
      redirect = undefined;
      const { client, transport } = await connectClient(`${gw.url}/mcp/r`, 'redirects-test');
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'here' } })), 'here');
      redirect = 302;
      const call = await failure(client.callTool({ name: 'echo', arguments: { text: 'moved' } }));
      assert.equal(call.code, 'upstream_unavailable');
      assert.match(call.message, /Redirect to http:\/\/127\.0\.0\.1:\d+\/mcp not followed/);
      redirect = undefined;
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');

      // The gateway's own request: ending the upstream session when the client deletes its own.
      redirect = 307;
      await transport.terminateSession();
      await until(
        () => gw.logs.some((line) => line.msg === 'a remote session was ended' || line.msg === 'a remote session could not be ended'),
        'the DELETE upstream',
      );
      const ended = gw.logs.find((line) => line.msg === 'a remote session was ended');
      assert.equal(ended?.status, 307, 'the redirect was its answer');
      assert.ok(methods.includes('DELETE'));
      await client.close();

      assert.equal(elsewhere.total, 0, `the other origin got no request: ${JSON.stringify(elsewhere.headersSeen)}`);
      assert.ok(!JSON.stringify(gw.logs).includes('PARTNER-SECRET-TOKEN'));
    } finally {
      await gw.close();
      await remote.close();
      await elsewhere.stop();
    }
  });
});

describe('a url route whose remote server redirects within its origin', () => {
  test('follows it with the same method and headers, as the SDK does', async () => {
    const remote = await startRemote();
    const seen: IncomingHttpHeaders[] = [];
    remote.intercept = (req, res) => {
      if (req.url?.startsWith('/old')) {
        res.writeHead(308, { location: '/mcp' }).end();
        return true;
      }
      seen.push(req.headers);
      return false;
    };
    const gw = await startInProcessGateway(`servers:\n  r:\n    url: ${remote.url.replace(/\/mcp$/, '/old')}\n    headers: ${HEADERS}\n`);
    try {
      const { client } = await connectClient(`${gw.url}/mcp/r`, 'redirects-test');
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'followed' } })), 'followed');
      assert.ok(seen.length > 0);
      assert.ok(
        seen.every((headers) => headers.authorization === 'Bearer PARTNER-SECRET-TOKEN' && headers['x-api-key'] === 'KEY-SECRET-123'),
      );
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});
