/**
 * The Origin check of /mcp/<name> (MCP Streamable HTTP: servers must validate Origin): no Origin
 * passes, loopback and the gateway's own origin pass unconfigured, `allowedOrigins` adds exact
 * origins, `*` any; everything else, `null` included, is `invalid_origin`.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/gateway/errors.js';
import { originCheck } from '../../src/gateway/http/origin-policy.js';

const request = (headers: Record<string, string>, socket: { encrypted?: boolean } = {}) =>
  ({ headers: { host: '127.0.0.1:7071', ...headers }, socket }) as unknown as IncomingMessage;

function refusal(
  check: (req: IncomingMessage) => string | undefined,
  headers: Record<string, string>,
  socket?: { encrypted?: boolean },
): GatewayError {
  try {
    check(request(headers, socket));
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(headers)} to be refused`);
}

describe('originCheck', () => {
  it('lets a request without Origin through, with no origin to answer CORS for', () => {
    assert.equal(originCheck()(request({})), undefined);
  });

  it('accepts loopback origins, http or https, any port, unconfigured', () => {
    const check = originCheck();
    for (const origin of [
      'http://localhost:6274',
      'https://localhost',
      'http://127.0.0.1:3000',
      'http://[::1]:8080',
      'https://127.0.0.1:1',
    ]) {
      assert.equal(check(request({ origin })), origin);
    }
  });

  it('accepts the configured origins, normalized as browsers send them', () => {
    const check = originCheck({ allowedOrigins: ['https://App.Example.com:443/', 'http://tools.example.org:8080'] });
    assert.equal(check(request({ origin: 'https://app.example.com' })), 'https://app.example.com');
    assert.equal(check(request({ origin: 'http://tools.example.org:8080' })), 'http://tools.example.org:8080');
    assert.equal(refusal(check, { origin: 'http://tools.example.org' }).code, 'invalid_origin', 'another port is another origin');
    assert.equal(refusal(check, { origin: 'http://app.example.com' }).code, 'invalid_origin', 'another scheme is another origin');
  });

  it('refuses any other origin, and null, with invalid_origin naming it and the fix', () => {
    const check = originCheck({ allowedOrigins: ['https://app.example.com'] });
    const error = refusal(check, { origin: 'https://evil.example' });
    assert.equal(error.code, 'invalid_origin');
    assert.equal(error.status, 403);
    assert.match(error.message, /https:\/\/evil\.example/);
    assert.match(error.message, /add it to allowedOrigins in gateway\.yaml/);
    assert.equal(error.toJsonRpcBody().error.data?.code, 'invalid_origin');
    assert.equal(refusal(check, { origin: 'null' }).code, 'invalid_origin');
    // Two Origin fields arrive joined; a malformed value is no origin either.
    assert.equal(refusal(check, { origin: 'https://app.example.com, https://evil.example' }).code, 'invalid_origin');
    assert.equal(refusal(check, { origin: 'https://app.example.com/' }).code, 'invalid_origin');
    assert.equal(refusal(check, { origin: '' }).code, 'invalid_origin');
    assert.equal(refusal(check, { origin: 'http://localhost.evil.example' }).code, 'invalid_origin');
  });

  it("accepts the gateway's own origin: the request's X-Forwarded-Host, else Host, or publicUrl", () => {
    const check = originCheck({ publicUrl: 'https://mcp.example.com' });
    assert.equal(check(request({ host: 'gw.example.com', origin: 'https://gw.example.com' })), 'https://gw.example.com');
    assert.equal(check(request({ host: 'gw.example.com:443', origin: 'https://gw.example.com' })), 'https://gw.example.com');
    assert.equal(
      check(request({ host: '127.0.0.1:7071', 'x-forwarded-host': 'site.azurewebsites.net', origin: 'https://site.azurewebsites.net' })),
      'https://site.azurewebsites.net',
    );
    assert.equal(check(request({ origin: 'https://mcp.example.com' })), 'https://mcp.example.com');
    assert.equal(refusal(check, { host: 'gw.example.com', origin: 'https://gw.example.com:8443' }).code, 'invalid_origin');
    // Behind a proxy the Host is its own: the client's host is the forwarded one.
    assert.equal(
      refusal(check, { host: 'gw.example.com', 'x-forwarded-host': 'other.example', origin: 'https://gw.example.com' }).code,
      'invalid_origin',
    );
    // A verdict remembered for one host is not another host's.
    assert.equal(refusal(check, { host: 'other.example', origin: 'https://gw.example.com' }).code, 'invalid_origin');
  });

  it("refuses the http: origin of the gateway's own host when it knows it is served over https", () => {
    const check = originCheck();
    const host = { host: 'gw.example.com' };
    // TLS to the gateway itself.
    assert.equal(check(request({ ...host, origin: 'https://gw.example.com' }, { encrypted: true })), 'https://gw.example.com');
    assert.equal(refusal(check, { ...host, origin: 'http://gw.example.com' }, { encrypted: true }).code, 'invalid_origin');
    // A proxy in front that says so (its first value: the client's side).
    assert.equal(refusal(check, { ...host, 'x-forwarded-proto': 'https', origin: 'http://gw.example.com' }).code, 'invalid_origin');
    assert.equal(refusal(check, { ...host, 'x-forwarded-proto': 'HTTPS, http', origin: 'http://gw.example.com' }).code, 'invalid_origin');
    assert.equal(check(request({ ...host, 'x-forwarded-proto': 'https', origin: 'https://gw.example.com' })), 'https://gw.example.com');
    // The remembered verdict of a plain connection is not that of a TLS one, nor the other way round.
    assert.equal(check(request({ ...host, origin: 'http://gw.example.com' })), 'http://gw.example.com', 'cannot tell: both schemes');
    assert.equal(check(request({ ...host, origin: 'https://gw.example.com' })), 'https://gw.example.com', 'cannot tell: both schemes');
    assert.equal(check(request({ ...host, 'x-forwarded-proto': 'http, https', origin: 'http://gw.example.com' })), 'http://gw.example.com');
    // Loopback origins stay accepted in either scheme.
    assert.equal(check(request({ ...host, origin: 'http://localhost:6274' }, { encrypted: true })), 'http://localhost:6274');
  });

  it("refuses the http: origin of publicUrl's host when publicUrl is https, whatever the connection says", () => {
    const check = originCheck({ publicUrl: 'https://mcp.example.com' });
    assert.equal(refusal(check, { host: 'mcp.example.com', origin: 'http://mcp.example.com' }).code, 'invalid_origin');
    assert.equal(
      refusal(check, { host: '127.0.0.1:7071', 'x-forwarded-host': 'mcp.example.com', origin: 'http://mcp.example.com' }).code,
      'invalid_origin',
    );
    // Another host the gateway answers to, over a connection it cannot tell: both schemes, as before.
    assert.equal(check(request({ host: 'gw.example.com', origin: 'http://gw.example.com' })), 'http://gw.example.com');
    // Listed, it is accepted: the configuration says so.
    const listed = originCheck({ publicUrl: 'https://mcp.example.com', allowedOrigins: ['http://mcp.example.com'] });
    assert.equal(listed(request({ host: 'mcp.example.com', origin: 'http://mcp.example.com' })), 'http://mcp.example.com');
  });

  it('accepts any origin, null included, with the single value *', () => {
    const check = originCheck({ allowedOrigins: ['*'] });
    assert.equal(check(request({ origin: 'https://anyone.example' })), 'https://anyone.example');
    assert.equal(check(request({ origin: 'null' })), 'null');
  });

  it('refuses options that are not origins when it is built', () => {
    assert.throws(() => originCheck({ allowedOrigins: ['app.example.com'] }), /allowedOrigins: "app\.example\.com" is not an origin/);
    assert.throws(() => originCheck({ allowedOrigins: ['https://app.example.com/path'] }), /is not an origin/);
    assert.throws(() => originCheck({ allowedOrigins: ['*', 'https://app.example.com'] }), /"\*" must be the only value/);
  });
});
