/**
 * The `auth:` block of gateway.yaml: defaults, the top-level default, and every problem reported
 * at its position without ever printing a key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authOf, ConfigError, parseConfig } from '../../src/gateway/config/config.js';

const KEY = 'k3y-0123456789-abcdef';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'gateway.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => `${p.line}:${p.col} ${p.keyPath}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('auth configuration', () => {
  it('defaults to none, for every server and at the top level', () => {
    const config = parseConfig('servers:\n  time:\n    module: x\n', 'g.yaml');
    assert.deepEqual(config.auth, { kind: 'none' });
    assert.deepEqual(authOf(config, config.servers.time!), { kind: 'none' });
    assert.equal(config.publicUrl, undefined);
  });

  it('applies the top-level auth to servers without their own, and accepts `auth: none` per server', () => {
    const config = parseConfig(
      [
        'servers:',
        '  a:',
        '    module: x',
        '  b:',
        '    module: x',
        '    auth: none',
        '  c:',
        '    module: x',
        '    auth: { kind: apiKey, keys: ["${C_KEY}"] }',
        'auth:',
        '  kind: oauth',
        '  issuer: https://login.microsoftonline.com/tenant-id/v2.0',
        '  audience: api://gateway',
        '  scopes: [api://gateway/weather.read]',
      ].join('\n'),
      'g.yaml',
      { C_KEY: KEY },
    );
    assert.deepEqual(authOf(config, config.servers.a!), {
      kind: 'oauth',
      issuer: 'https://login.microsoftonline.com/tenant-id/v2.0',
      audience: ['api://gateway'],
      scopes: ['api://gateway/weather.read'],
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'],
      clockTolerance: 60_000,
    });
    assert.deepEqual(authOf(config, config.servers.b!), { kind: 'none' });
    assert.deepEqual(authOf(config, config.servers.c!), { kind: 'apiKey', keys: [KEY], header: 'x-api-key' });
  });

  it('ignores empty keys (an unset ${OLD:-}), trims and lowercases the header name', () => {
    const config = parseConfig(
      'servers:\n  w:\n    module: x\n    auth:\n      kind: apiKey\n      keys: ["${NEW}", "${OLD:-}"]\n      header: X-Weather-Key\n',
      'g.yaml',
      { NEW: `${KEY}\n` },
    );
    assert.deepEqual(config.servers.w!.auth, { kind: 'apiKey', keys: [KEY], header: 'x-weather-key' });
  });

  it('takes the origin of publicUrl, normalized', () => {
    const config = parseConfig('servers:\n  t:\n    module: x\npublicUrl: https://MCP.example.com:443/\n', 'g.yaml');
    assert.equal(config.publicUrl, 'https://mcp.example.com');
  });

  it('reports every auth problem with its position, never a key', () => {
    const problems = problemsOf(
      [
        'servers:', //                                                                       1
        '  a:', //                                                                            2
        '    module: x', //                                                                   3
        '    auth: { kind: apiKey, keys: ["${A_KEY:-}", "${A_OLD:-}"] }', //                   4
        '  b:', //                                                                            5
        '    module: x', //                                                                   6
        '    auth: { kind: apiKey, keys: [short-secret], header: Authorization }', //           7
        '  c:', //                                                                            8
        '    module: x', //                                                                   9
        '    auth:', //                                                                       10
        '      kind: oauth', //                                                               11
        '      issuer: http://login.example.com/tenant', //                                   12
        '      audience: []', //                                                              13
        '      algorithms: [RS256, HS256, none]', //                                          14
        '      clockTolerance: 1h', //                                                        15
        '  d:', //                                                                            16
        '    module: x', //                                                                   17
        '    auth: { kind: oauth, issuer: "not a url", audience: x, jwksUri: "https://k.example/keys#x", extra: 1 }', // 18
        '  e:', //                                                                            19
        '    module: x', //                                                                   20
        '    auth: { kind: basic }', //                                                       21
        'publicUrl: https://gw.example.com/base', //                                          22
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      '4:33 servers.a.auth.keys: at least one non-empty key is required (is its environment variable or app setting set?)',
      '7:33 servers.b.auth.keys: every key must be at least 16 characters (generate one with: openssl rand -base64 32)',
      '7:57 servers.b.auth.header: keys are always accepted as Authorization: Bearer <key>; header names another header',
      '12:15 servers.c.auth.issuer: issuer must use https (http only on localhost, 127.0.0.1 or [::1])',
      '13:17 servers.c.auth.audience: list at least one audience',
      '14:27 servers.c.auth.algorithms.1: algorithms are RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (no none, no HS*)',
      '14:34 servers.c.auth.algorithms.2: algorithms are RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (no none, no HS*)',
      '15:23 servers.c.auth.clockTolerance: clockTolerance must be at most 5m',
      '18:34 servers.d.auth.issuer: issuer must be an absolute URL, e.g. https://login.example.com/tenant/v2.0',
      '18:69 servers.d.auth.jwksUri: jwksUri must not have a query or fragment',
      '18:97 servers.d.auth.extra: unknown key "extra": see "auth" in the gateway.yaml reference (kind none, apiKey or oauth)',
      '21:19 servers.e.auth.kind: auth.kind must be none, apiKey or oauth',
      '22:12 publicUrl: publicUrl must be an origin: scheme, host and optional port, no path (e.g. https://mcp.example.com)',
    ]);
    assert.ok(!problems.join('\n').includes('short-secret'));
  });

  it('reports an unset key variable once, as the variable', () => {
    const problems = problemsOf('servers:\n  a:\n    module: x\n    auth: { kind: apiKey, keys: ["${A_KEY}"] }\n');
    assert.deepEqual(problems, [
      '4:34 servers.a.auth.keys: environment variable A_KEY is not set (write ${A_KEY:-default} to give a default)',
    ]);
  });

  it('accepts http issuers on loopback only (development and tests)', () => {
    for (const issuer of ['http://127.0.0.1:8080/t', 'http://localhost/t', 'http://[::1]:9/t']) {
      const config = parseConfig(`servers:\n  a:\n    module: x\n    auth: { kind: oauth, issuer: "${issuer}", audience: a }\n`, 'g.yaml');
      assert.equal((config.servers.a!.auth as { issuer: string }).issuer, issuer);
    }
  });
});
