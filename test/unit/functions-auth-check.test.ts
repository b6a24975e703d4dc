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
  it("reads the project's host.json level as function", () => {
    assert.equal(hostAuthorizationLevel(JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'host.json'), 'utf8'))), 'function');
    assert.equal(hostAuthorizationLevel(hostJson()), 'anonymous', "the host's default");
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
    assert.equal(hostAuthorizationLevel(hostJson('function'), env), 'anonymous');
    assert.equal(hostAuthorizationLevel(hostJson('function'), { [AUTH_LEVEL_SETTING]: ' ' }), 'function', 'blank is no override');
    assert.deepEqual(functionsAuthWarnings(config(OAUTH), hostJson('function'), env), [
      `The app setting ${AUTH_LEVEL_SETTING} sets defaultAuthorizationLevel "anonymous" and /mcp/open has auth: none: anyone who can reach the app can call it`,
    ]);
    const [warning] = functionsAuthWarnings(config(OAUTH), hostJson('anonymous'), { [AUTH_LEVEL_SETTING]: 'function' });
    assert.match(warning!, /^The app setting \S+ sets defaultAuthorizationLevel "function": .* \(azd: HOST_AUTHORIZATION_LEVEL\)/);
  });
});
