import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/gateway/config/config.js';
import { AUTH_LEVEL_SETTING, functionsAuthWarnings, hostAuthorizationLevel } from '../../src/gateway/config/functions-auth-check.js';
import { PROJECT_ROOT } from '../helpers/project.js';

const config = (auth: string) =>
  parseConfig(
    `servers:\n  open:\n    module: x\n  guarded:\n    module: y\n    auth:\n${auth}\n  off:\n    module: z\n    enabled: false\n`,
    'gateway.yaml',
    {},
  );
const OAUTH = '      kind: oauth\n      issuer: https://login.example.com/tenant/v2.0\n      audience: [api://app]';
const API_KEY = '      kind: apiKey\n      keys: ["0123456789abcdef0123"]';
const hostJson = (level?: string) => ({ version: '2.0', customHandler: { http: level ? { defaultAuthorizationLevel: level } : {} } });

describe('functionsAuthWarnings', () => {
  it("reads the project's host.json level as function, stated explicitly", () => {
    assert.deepEqual(hostAuthorizationLevel(JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'host.json'), 'utf8'))), {
      level: 'function',
      source: 'host.json',
    });
  });

  it('assumes no default when neither host.json nor the app setting states the level, and warns', () => {
    // Microsoft's self-hosted MCP page gives the default as "function" in its table and shows
    // "anonymous" in its example of the profile's settings: the check does not pick one.
    assert.equal(hostAuthorizationLevel(hostJson()), undefined);
    assert.equal(hostAuthorizationLevel({ version: '2.0' }), undefined);
    assert.equal(hostAuthorizationLevel(undefined), undefined, 'no host.json at all');
    assert.equal(hostAuthorizationLevel(hostJson(' ')), undefined, 'blank is unstated');
    for (const auth of [OAUTH, API_KEY]) {
      const [warning, ...rest] = functionsAuthWarnings(config(auth), hostJson());
      assert.match(warning!, /^neither host\.json nor the app setting \S+ sets customHandler\.http\.defaultAuthorizationLevel/);
      assert.match(warning!, /documented as "function".*set it in host\.json to "function" or "anonymous"$/);
      assert.deepEqual(rest, [], 'no guess about which routes the default opens or closes');
    }
  });

  it('reads host.json keys regardless of case, as the host does', () => {
    const capitalized = { version: '2.0', CustomHandler: { Http: { DefaultAuthorizationLevel: 'Anonymous' } } };
    assert.deepEqual(hostAuthorizationLevel(capitalized), { level: 'anonymous', source: 'host.json' });
    assert.deepEqual(functionsAuthWarnings(config(OAUTH), capitalized), [
      'host.json sets defaultAuthorizationLevel "anonymous" and /mcp/open has auth: none: anyone who can reach the app can call it',
    ]);
  });

  it('warns that OAuth routes cannot be reached behind function keys', () => {
    const [warning, ...rest] = functionsAuthWarnings(config(OAUTH), hostJson('function'));
    assert.match(warning!, /OAuth clients cannot reach \/mcp\/guarded; set it to "anonymous"/);
    assert.deepEqual(rest, []);
  });

  it('warns that auth: none routes are open when the host checks no keys', () => {
    assert.deepEqual(functionsAuthWarnings(config(OAUTH), hostJson('anonymous')), [
      'host.json sets defaultAuthorizationLevel "anonymous" and /mcp/open has auth: none: anyone who can reach the app can call it',
    ]);
  });

  it('is quiet when the two agree', () => {
    assert.deepEqual(functionsAuthWarnings(config(API_KEY), hostJson('function')), []);
  });

  it('takes the level from the app setting that overrides host.json, and says where it came from', () => {
    const env = { [AUTH_LEVEL_SETTING]: 'Anonymous' };
    assert.deepEqual(hostAuthorizationLevel(hostJson('function'), env), { level: 'anonymous', source: 'app setting' });
    assert.deepEqual(hostAuthorizationLevel(hostJson(), env), { level: 'anonymous', source: 'app setting' }, 'host.json silent');
    assert.deepEqual(
      hostAuthorizationLevel(hostJson('function'), { [AUTH_LEVEL_SETTING]: ' ' }),
      { level: 'function', source: 'host.json' },
      'blank is no override',
    );
    assert.deepEqual(functionsAuthWarnings(config(OAUTH), hostJson('function'), env), [
      `The app setting ${AUTH_LEVEL_SETTING} sets defaultAuthorizationLevel "anonymous" and /mcp/open has auth: none: anyone who can reach the app can call it`,
    ]);
    const [warning] = functionsAuthWarnings(config(OAUTH), hostJson('anonymous'), { [AUTH_LEVEL_SETTING]: 'function' });
    assert.match(warning!, /^The app setting \S+ sets defaultAuthorizationLevel "function": .* \(azd: HOST_AUTHORIZATION_LEVEL\)/);
  });
});
