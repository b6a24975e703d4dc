import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { authSchema } from '../../src/gateway/auth/auth-config.js';
import { ConfigError, configSchema, parseConfig } from '../../src/gateway/config/config.js';
import { describeSize, parseDuration, parseSize } from '../../src/gateway/config/units.js';
import { PROJECT_ROOT } from '../helpers/project.js';
import { readmeBlockAfter, readmeSection } from '../helpers/readme.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'gateway.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'invalid_config');
    return error.problems.map((p) => `${p.line}:${p.col} ${p.keyPath}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig', () => {
  it('applies the defaults of every section', () => {
    const config = parseConfig('servers:\n  time:\n    module: ./servers/time\n', '/srv/app/gateway.yaml');
    assert.deepEqual(config.servers.time, {
      kind: 'module',
      module: './servers/time',
      options: {},
      enabled: true,
      sessions: 'stateful',
      listTtl: 0,
      // What command and url servers use, defaulted alike so every entry has one shape.
      args: [],
      env: {},
      headers: {},
      isolation: 'session',
      maxProcesses: 20,
      maxMessageSize: 64 * 1024 * 1024,
      startTimeout: 30_000,
      callTimeout: 60_000,
    });
    assert.deepEqual(config.sessions, {
      idleTimeout: 1_800_000,
      maxPerRoute: 5000,
      maxPerPrincipal: 500,
      maxAge: 86_400_000,
      keepAlive: 15_000,
    });
    assert.equal(config.maxBodySize, 4 * 1024 * 1024);
    assert.equal(config.requestTimeout, 30_000);
    assert.equal(config.shutdownGrace, 10_000);
    assert.equal(config.cache.enabled, true);
    assert.equal(config.cache.notFoundTtl, 600_000);
    assert.deepEqual(config.allowedHosts, []);
    assert.deepEqual(config.allowedOrigins, []);
    assert.equal(config.dir, '/srv/app');
  });

  it('takes allowedOrigins as exact origins, normalized, or the single value *', () => {
    const config = parseConfig(
      'servers:\n  t:\n    module: x\nallowedOrigins: [https://App.example.com:443/, http://localhost:6274]\n',
      'g.yaml',
    );
    assert.deepEqual(config.allowedOrigins, ['https://app.example.com', 'http://localhost:6274']);
    assert.deepEqual(parseConfig('servers:\n  t:\n    module: x\nallowedOrigins: ["*"]\n', 'g.yaml').allowedOrigins, ['*']);
    assert.deepEqual(problemsOf('servers:\n  t:\n    module: x\nallowedOrigins: [app.example.com, "https://a.example/x", "*"]\n'), [
      '4:17 allowedOrigins: "*" (any origin) must be the only value of allowedOrigins',
      '4:18 allowedOrigins.0: "app.example.com" is not an origin: scheme, host and optional port, no path (e.g. https://app.example.com), or the single value "*"',
      '4:35 allowedOrigins.1: "https://a.example/x" is not an origin: scheme, host and optional port, no path (e.g. https://app.example.com), or the single value "*"',
    ]);
  });

  it('derives maxPerPrincipal from maxPerRoute, and refuses one above it', () => {
    const derived = parseConfig('servers:\n  t:\n    module: x\nsessions:\n  maxPerRoute: 25\n', 'g.yaml');
    assert.equal(derived.sessions.maxPerPrincipal, 3);
    const explicit = parseConfig('servers:\n  t:\n    module: x\nsessions:\n  maxPerRoute: 25\n  maxPerPrincipal: 25\n', 'g.yaml');
    assert.equal(explicit.sessions.maxPerPrincipal, 25);
    assert.deepEqual(problemsOf('servers:\n  t:\n    module: x\nsessions:\n  maxPerRoute: 25\n  maxPerPrincipal: 26\n'), [
      '6:20 sessions.maxPerPrincipal: maxPerPrincipal must not exceed maxPerRoute',
    ]);
    assert.deepEqual(problemsOf('servers:\n  t:\n    module: x\nrequestTimeout: 10ms\nshutdownGrace: soon\n'), [
      '4:17 requestTimeout: requestTimeout must be at least 1s',
      '5:16 shutdownGrace: invalid duration "soon": use e.g. 500ms, 90s, 30m, 24h, 7d',
    ]);
  });

  it('parses durations and sizes in the units people write', () => {
    const config = parseConfig(
      'servers:\n  t:\n    module: x\nsessions:\n  idleTimeout: 90s\n  maxAge: 7d\ncache:\n  maxBytes: 10MB\n  rules:\n    - path: /points/**\n      maxAge: 1h\nmaxBodySize: 512KiB\n',
      'g.yaml',
    );
    assert.equal(config.sessions.idleTimeout, 90_000);
    assert.equal(config.sessions.maxAge, 7 * 86_400_000);
    assert.equal(config.cache.maxBytes, 10_000_000);
    assert.deepEqual(config.cache.rules, [{ path: '/points/**', maxAge: 3_600_000 }]);
    assert.equal(config.maxBodySize, 512 * 1024);
  });

  it('refuses durations a Node timer cannot wait (over 2^31-1 ms, about 24.8 days), which would fire at once', () => {
    const problems = problemsOf(
      [
        'servers:',
        '  s:',
        '    command: node',
        '    startTimeout: 30d',
        '    callTimeout: 25d',
        'sessions:',
        '  idleTimeout: 30d',
        '  maxAge: 365d', // compared with a clock, never a timer: any length is fine
        'cache:',
        '  staleIfError: 30d',
        '  backoff: { initial: 30d, max: 30d }',
        'shutdownGrace: 2147483648',
        '',
      ].join('\n'),
    );
    const limit = 'must be at most 2147483647 ms (24.8d), the longest a Node timer waits (a longer one fires at once)';
    assert.deepEqual(problems, [
      `4:19 servers.s.startTimeout: startTimeout ${limit}`,
      `5:18 servers.s.callTimeout: callTimeout ${limit}`,
      `7:16 sessions.idleTimeout: idleTimeout ${limit}`,
      `11:23 cache.backoff.initial: initial ${limit}`,
      `11:33 cache.backoff.max: max ${limit}`,
      `12:16 shutdownGrace: shutdownGrace ${limit}`,
    ]);
    assert.equal(parseConfig('servers: { s: { command: node, callTimeout: 24d } }\n', 'g.yaml').servers.s!.callTimeout, 24 * 86_400_000);
  });

  it('reads the cache backoff, with its defaults and its problems', () => {
    const defaults = parseConfig('servers:\n  t:\n    module: x\n', 'g.yaml');
    assert.deepEqual(defaults.cache.backoff, { afterFailures: 2, initial: 1000, max: 30_000 });
    const set = parseConfig('servers:\n  t:\n    module: x\ncache:\n  backoff:\n    initial: 500ms\n    max: 2m\n', 'g.yaml');
    assert.deepEqual(set.cache.backoff, { afterFailures: 2, initial: 500, max: 120_000 });
    assert.deepEqual(
      problemsOf('servers:\n  t:\n    module: x\ncache:\n  backoff:\n    afterFailures: 0\n    initial: 0s\n    retries: 3\n'),
      [
        '6:20 cache.backoff.afterFailures: Too small: expected number to be >0',
        '7:14 cache.backoff.initial: initial must be more than 0',
        '8:5 cache.backoff.retries: unknown key "retries"',
      ],
    );
    assert.deepEqual(problemsOf('servers:\n  t:\n    module: x\ncache:\n  backoff:\n    initial: 1m\n'), [
      '5:3 cache.backoff.max: max must be at least initial',
    ]);
  });

  it('freezes the result', () => {
    const config = parseConfig('servers:\n  t:\n    module: x\n', 'g.yaml');
    assert.ok(Object.isFrozen(config.servers.t));
    assert.throws(() => {
      (config.sessions as { maxPerRoute: number }).maxPerRoute = 1;
    }, TypeError);
  });

  it('expands ${VAR}, ${VAR:-default} and $$ from the environment', () => {
    const config = parseConfig(
      'servers:\n  w:\n    module: x\n    options:\n      a: "${A}"\n      b: "${B:-fallback}"\n      c: "cost: $$5 ${A}"\n',
      'g.yaml',
      { A: 'from-env' },
    );
    assert.deepEqual(config.servers.w!.options, { a: 'from-env', b: 'fallback', c: 'cost: $5 from-env' });
  });

  it('reads a ${VAR} in a number, boolean, duration or size field as that type, and leaves every other value a string', () => {
    const text = [
      'servers:',
      '  s:',
      '    command: node',
      '    maxProcesses: ${N:-4}',
      '    enabled: ${FLAG:-true}',
      '    startTimeout: ${START}',
      '    callTimeout: "${CALL}"',
      '    env: { PIN: "${PIN}", FLAG: "${FLAG:-true}" }',
      '    auth: { kind: apiKey, keys: ["${KEY}"] }',
      '  m:',
      '    module: x',
      '    enabled: "${OFF}"',
      '    options: { depth: "${N:-4}" }',
      '  r:',
      '    url: https://mcp.example.com/mcp',
      '    headers: { X-Pin: "${PIN}" }',
      'sessions:',
      '  maxPerRoute: "${ROUTE_MAX}"',
      'cache:',
      '  enabled: ${CACHE:-false}',
      '  maxBytes: ${BYTES}',
      '  maxEntryBytes: ${ENTRY_BYTES}',
      'auth: ${AUTH:-none}', // a string the schema reads as an object
      '',
    ].join('\n');
    const env = {
      START: '45000',
      CALL: '2m',
      PIN: '0042',
      KEY: '1234567890123456',
      OFF: 'FALSE',
      ROUTE_MAX: '50',
      BYTES: '1048576',
      ENTRY_BYTES: '1MiB',
    };
    const config = parseConfig(text, 'g.yaml', env);
    const s = config.servers.s!;
    assert.deepEqual(
      [s.maxProcesses, s.enabled, s.startTimeout, s.callTimeout, s.env, s.auth],
      [4, true, 45_000, 120_000, { PIN: '0042', FLAG: 'true' }, { kind: 'apiKey', keys: ['1234567890123456'], header: 'x-api-key' }],
    );
    assert.equal(config.servers.m!.enabled, false);
    // A module's options are its own schema's business: they stay as written.
    assert.deepEqual(config.servers.m!.options, { depth: '4' });
    assert.deepEqual(config.servers.r!.headers, { 'X-Pin': '0042' });
    assert.deepEqual(
      [config.sessions.maxPerRoute, config.cache.enabled, config.cache.maxBytes, config.cache.maxEntryBytes],
      [50, false, 1_048_576, 1_048_576],
    );
    assert.deepEqual(config.auth, { kind: 'none' });
  });

  it("refuses a ${VAR} whose value is not of its field's type, naming the variable and the value", () => {
    const text = [
      'servers:',
      '  s:',
      '    command: node',
      '    maxProcesses: ${N}',
      '    enabled: "${FLAG}"',
      '    startTimeout: ${START}',
      '  t:',
      '    command: node',
      '    maxProcesses: "${ZERO:-0}"',
      'sessions:',
      '  maxPerRoute: ${EMPTY:-}',
      '',
    ].join('\n');
    assert.deepEqual(problemsOf(text, { N: 'abc', FLAG: 'yes', START: 'soon' }), [
      '4:19 servers.s.maxProcesses: ${N} expanded to "abc", which is not a number',
      '5:14 servers.s.enabled: ${FLAG} expanded to "yes", which is not true or false',
      '6:19 servers.s.startTimeout: invalid duration "soon": use e.g. 500ms, 90s, 30m, 24h, 7d',
      '9:19 servers.t.maxProcesses: Too small: expected number to be >0',
      '11:16 sessions.maxPerRoute: ${EMPTY:-} expanded to "", which is not a number',
    ]);
  });

  it('refuses a malformed ${ at its position: unclosed, nested, or without a variable name', () => {
    const text = [
      'servers:',
      '  w:',
      '    module: x',
      '    options:',
      '      unclosed: "${A"',
      '      nested: "${A:-${B}}"',
      '      unnamed: "${}"',
      '      operator: "${A-b}"',
      '      digit: "${1A}"',
      '      openDefault: "x ${A:-b"',
      '',
    ].join('\n');
    assert.deepEqual(problemsOf(text, { A: 'a', B: 'b' }), [
      '5:17 servers.w.options.unclosed: "${A" is not closed: write ${NAME} or ${NAME:-default} (or $${ for a literal ${)',
      '6:15 servers.w.options.nested: "${A:-${" nests a reference in a default, which is not supported: a default is plain text',
      '7:16 servers.w.options.unnamed: "${}" is not a variable reference: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ (or $${ for a literal ${)',
      '8:17 servers.w.options.operator: "${A-" is not a variable reference: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ (or $${ for a literal ${)',
      '9:14 servers.w.options.digit: "${1" is not a variable reference: write ${NAME} or ${NAME:-default}, NAME being letters, digits and _ (or $${ for a literal ${)',
      '10:20 servers.w.options.openDefault: "${A:-b" is not closed: write ${NAME} or ${NAME:-default} (or $${ for a literal ${)',
    ]);
  });

  it('refuses a bare $NAME, which a shell would expand and the gateway would send as written, saying how to write either meaning', () => {
    const text = [
      'servers:',
      '  r:',
      '    url: https://mcp.example.com/mcp',
      '    headers: { Authorization: "Bearer $TOKEN" }',
      '  w:',
      '    module: x',
      '    options: { ua: "${UA:-$HOME/agent}" }',
      '',
    ].join('\n');
    assert.deepEqual(problemsOf(text, { TOKEN: 't' }), [
      '4:31 servers.r.headers.Authorization: "$TOKEN" is not expanded: write ${TOKEN} for the environment variable, or $$TOKEN for a literal $',
      '7:20 servers.w.options.ua: "$HOME" is not expanded: write ${HOME} for the environment variable, or $$HOME for a literal $',
    ]);
  });

  it('keeps a $ that starts no reference, reads $$ as $ (in defaults too), and inserts values from the environment as they are', () => {
    const config = parseConfig(
      [
        'servers:',
        '  w:',
        '    module: x',
        '    options:',
        '      price: "costs $5, or 5$"',
        '      dash: "a $-b $ c $."',
        '      escaped: "$${NOT_A_VAR} $$TOKEN p$$ss"',
        '      defaulted: "${PASSWORD:-pa$$word}"',
        '      fromEnv: "${SECRET}"',
        '',
      ].join('\n'),
      'g.yaml',
      { SECRET: 'p$ss${X}$$w' },
    );
    assert.deepEqual(config.servers.w!.options, {
      price: 'costs $5, or 5$',
      dash: 'a $-b $ c $.',
      escaped: '${NOT_A_VAR} $TOKEN p$ss',
      defaulted: 'pa$word',
      fromEnv: 'p$ss${X}$$w',
    });
  });

  it('reads command and url servers, and refuses what does not fit their kind', () => {
    const config = parseConfig(
      'servers:\n  s:\n    command: node\n    args: [server.js]\n    env: { TOKEN: "${T}" }\n    isolation: shared\n    maxProcesses: 4\n    startTimeout: 5s\n  r:\n    url: https://mcp.example.com/mcp\n    headers: { Authorization: "Bearer x" }\n    callTimeout: 2m\n',
      'gateway.yaml',
      { T: 'secret' },
    );
    assert.deepEqual(
      [
        config.servers.s!.kind,
        config.servers.s!.args,
        config.servers.s!.env,
        config.servers.s!.isolation,
        config.servers.s!.maxProcesses,
        config.servers.s!.startTimeout,
      ],
      ['command', ['server.js'], { TOKEN: 'secret' }, 'shared', 4, 5000],
    );
    assert.deepEqual(
      [config.servers.r!.kind, config.servers.r!.headers, config.servers.r!.isolation, config.servers.r!.callTimeout],
      ['url', { Authorization: 'Bearer x' }, 'session', 120_000],
    );
    assert.deepEqual(
      problemsOf(
        [
          'servers:',
          '  both:',
          '    module: ./a',
          '    url: https://x.example/mcp',
          '  cmd:',
          '    command: node',
          '    headers: { a: b }',
          '    options: { x: 1 }',
          '  mod:',
          '    module: ./m',
          '    isolation: shared',
          '  ftp:',
          '    url: ftp://x.example/mcp',
          '',
        ].join('\n'),
      ),
      [
        '4:10 servers.both.url: a server has exactly one of module, command or url; this one has module and url',
        '7:14 servers.cmd.headers: headers applies to url servers only, not to a command server',
        '8:14 servers.cmd.options: options applies to module servers only, not to a command server',
        '11:16 servers.mod.isolation: isolation applies to command and url servers only, not to a module server',
        '13:10 servers.ftp.url: url must be an http:// or https:// URL',
      ],
    );
  });

  it("takes a command or url route's maxMessageSize as a size (default 64 MiB), and refuses it on a module route and at 0", () => {
    const config = parseConfig(
      'servers:\n  cmd:\n    command: node\n    maxMessageSize: 1MiB\n  r:\n    url: https://mcp.example.com/mcp\n    maxMessageSize: 2MB\n  plain:\n    url: https://mcp.example.com/mcp\n',
      '/srv/app/gateway.yaml',
    );
    assert.equal(config.servers.cmd!.maxMessageSize, 1_048_576);
    assert.equal(config.servers.r!.maxMessageSize, 2_000_000);
    assert.equal(config.servers.plain!.maxMessageSize, 64 * 1_048_576);
    assert.deepEqual(
      problemsOf(
        [
          'servers:',
          '  cmd:',
          '    command: node',
          '    maxMessageSize: 0',
          '  mod:',
          '    module: ./m',
          '    maxMessageSize: 1MiB',
          '  r:',
          '    url: https://mcp.example.com/mcp',
          '    maxMessageSize: -1MiB',
          '',
        ].join('\n'),
      ),
      [
        '4:21 servers.cmd.maxMessageSize: maxMessageSize must be more than 0',
        '7:21 servers.mod.maxMessageSize: maxMessageSize applies to command and url servers only, not to a module server',
        '10:21 servers.r.maxMessageSize: invalid size "-1MiB": use e.g. 512KiB, 4MiB, 50MB',
      ],
    );
  });

  it('refuses a url with a user name or password in it, naming neither (fetch cannot send them, and would print the URL)', () => {
    const problems = problemsOf('servers:\n  r:\n    url: "https://${USER_AND_PASS}@mcp.example.com/mcp"\n', {
      USER_AND_PASS: 'bot:pa55w0rd',
    });
    assert.deepEqual(problems, [
      '3:10 servers.r.url: url must not hold a user name or password (fetch refuses such URLs); send credentials in headers, e.g. headers: { Authorization: "Basic …" }',
    ]);
    assert.ok(!problems.join('\n').includes('pa55w0rd'));
  });

  it('reports every problem at once, each at file:line:col key.path, in file order', () => {
    const problems = problemsOf(
      [
        'servers:', //                      1
        '  ok:', //                         2
        '    module: ./a', //               3
        '    sessions: sometimes', //       4
        '  Bad_Name:', //                   5
        '    module: ./b', //               6
        '  nomodule:', //                   7
        '    enabled: true', //             8
        '    tools:', //                    9
        '      allow: echo', //             10
        'sessions:', //                     11
        '  maxPerRoute: -1', //             12
        '  idleTimeout: 5 minutes', //      13
        'cache:', //                        14
        '  maxBytes: lots', //              15
        '  rules:', //                      16
        '    - path: points', //            17
        '      maxAge: 1h', //              18
        'colour: blue', //                  19
        '',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      '4:15 servers.ok.sessions: Invalid option: expected one of "stateful"|"stateless"',
      '5:3 servers.Bad_Name: invalid name "Bad_Name": route names are lowercase letters, digits and "-"',
      '8:5 servers.nomodule: a server needs one of module (in process), command (a stdio program) or url (a remote server)',
      '10:14 servers.nomodule.tools.allow: Invalid input: expected array, received string',
      '12:16 sessions.maxPerRoute: Too small: expected number to be >0',
      '13:16 sessions.idleTimeout: invalid duration "5 minutes": use e.g. 500ms, 90s, 30m, 24h, 7d',
      '15:13 cache.maxBytes: invalid size "lots": use e.g. 512KiB, 4MiB, 50MB',
      '17:13 cache.rules.0.path: path is a pathname glob starting with "/", with only * (one segment) and ** (any) as wildcards: no ***, ?, # or spaces',
      '19:1 colour: unknown key "colour": top-level keys are servers, sessions, cache, allowedHosts, allowedOrigins, maxBodySize, requestTimeout, shutdownGrace, auth, publicUrl',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const [problem] = problemsOf('servers:\n  time:\n    module: [unclosed\n');
    assert.match(problem!, /^\d+:\d+ : /);
  });

  it('reports a key written twice by its path, with every other problem (YAML would keep one of them)', () => {
    assert.deepEqual(problemsOf('servers:\n  a:\n    module: x\n  a:\n    module: y\n'), [
      '4:3 servers.a: "a" is written twice in this map (first at line 2): keep one',
    ]);
    assert.deepEqual(problemsOf('servers:\n  a:\n    module: x\n    module: y\n    enabled: nope\n'), [
      '4:5 servers.a.module: "module" is written twice in this map (first at line 3): keep one',
      '5:14 servers.a.enabled: Invalid input: expected boolean, received string',
    ]);
  });

  it('refuses values that would stop the gateway at start or refuse every request: 0 for a lifetime, a size or the body limit', () => {
    const problems = problemsOf(
      'servers:\n  t:\n    module: x\nsessions:\n  idleTimeout: 0\n  maxAge: 0s\ncache:\n  maxBytes: 0\nmaxBodySize: 0\n',
    );
    assert.deepEqual(problems, [
      '5:16 sessions.idleTimeout: idleTimeout must be more than 0',
      '6:11 sessions.maxAge: maxAge must be more than 0',
      '8:13 cache.maxBytes: maxBytes must be more than 0 (to turn the cache off, set enabled: false)',
      '9:14 maxBodySize: maxBodySize must be more than 0',
    ]);
  });

  it('refuses a cache rule path the cache cannot compile, as the cache would at start', () => {
    for (const bad of ['/points/***', '/points?x', '/a b', 'points/**']) {
      const [problem] = problemsOf(`servers:\n  t:\n    module: x\ncache:\n  rules:\n    - path: "${bad}"\n      maxAge: 1h\n`);
      assert.match(problem!, /^6:\d+ cache\.rules\.0\.path: path is a pathname glob starting with "\/"/, bad);
    }
  });

  it('takes allowedHosts as host names alone, and refuses a scheme, a port, a path or a wildcard (they would never match)', () => {
    const config = parseConfig(
      'servers:\n  t:\n    module: x\nallowedHosts: [gw.example.com, GW2.Example.com, 10.0.0.4, "[::1]"]\n',
      'g.yaml',
    );
    assert.deepEqual(config.allowedHosts, ['gw.example.com', 'GW2.Example.com', '10.0.0.4', '[::1]']);
    const problems = problemsOf(
      'servers:\n  t:\n    module: x\nallowedHosts:\n  - "*"\n  - https://gw.example.com\n  - gw.example.com:8080\n  - gw.example.com/mcp\n  - "*.example.com"\n  - " gw.example.com"\n',
    );
    assert.equal(problems.length, 6, problems.join('\n'));
    for (const [i, problem] of problems.entries()) {
      assert.match(
        problem,
        new RegExp(
          `^${i + 5}:5 allowedHosts\\.${i}: ".*" is not a host name: write the name alone, without scheme, port, path or wildcard`,
        ),
      );
    }
  });

  it("refuses a url route's header whose name or value fetch would refuse, at start rather than at the first request", () => {
    const problems = problemsOf(
      'servers:\n  r:\n    url: https://mcp.example.com/mcp\n    headers:\n      "Bad Header": x\n      X-Ok: "line\\nbreak"\n      X-Fine: "a\\tb"\n',
    );
    assert.deepEqual(problems, [
      '5:7 servers.r.headers.Bad Header: invalid name "Bad Header": a header name is letters, digits and !#$%&\'*+-.^_`|~ only (no spaces or colons)',
      '6:13 servers.r.headers.X-Ok: a header value must not hold line breaks or control characters',
    ]);
  });

  it('requires at least one server, and servers to be a map', () => {
    assert.deepEqual(problemsOf('servers: {}\n'), ['1:10 servers: declare at least one server']);
    assert.match(problemsOf('sessions: {}\n')[0]!, /^1:1 servers: is required/);
    assert.match(problemsOf('')[0]!, /servers: is required/);
  });

  it('reports an unset variable at its position, alongside schema problems', () => {
    assert.deepEqual(problemsOf('servers:\n  w:\n    module: "${MODULE_PATH}"\n    extra: 1\n'), [
      '3:13 servers.w.module: environment variable MODULE_PATH is not set (write ${MODULE_PATH:-default} to give a default)',
      '4:5 servers.w.extra: unknown key "extra": server keys are module, command, url, options, args, env, cwd, headers, isolation, maxProcesses, maxMessageSize, startTimeout, callTimeout, enabled, sessions, tools, auth, listTtl',
    ]);
  });

  it('refuses an alias bomb as a problem of the file, without expanding it', () => {
    // Each level lists the previous one 10 times: 10^7 strings once expanded.
    const names = 'abcdefg'.split('');
    const levels = names.map(
      (name, i) =>
        `${name}: &${name} [${Array(10)
          .fill(i === 0 ? 'x' : `*${names[i - 1]}`)
          .join(', ')}]`,
    );
    const [problem, ...others] = problemsOf(`${levels.join('\n')}\nservers: { t: { module: x } }\n`);
    assert.match(problem!, /^1:1 : cannot be read: Excessive alias count/);
    assert.deepEqual(others, []);
  });

  it('locates key paths later, for module option problems', () => {
    const config = parseConfig('servers:\n  w:\n    module: x\n    options:\n      depth: 3\n', 'g.yaml');
    assert.deepEqual(config.locate(['servers', 'w', 'options', 'depth']), { line: 5, col: 14 });
    assert.deepEqual(config.locate(['servers', 'w', 'options', 'missing']), { line: 4, col: 5 });
  });
});

describe('units', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration(250), 250);
    for (const bad of ['', '5', '5 minutes', '-1s', 'm', -3, Number.NaN]) assert.equal(parseDuration(bad), undefined, String(bad));
  });

  it('parses sizes, SI and binary', () => {
    assert.equal(parseSize('4MiB'), 4_194_304);
    assert.equal(parseSize('4MB'), 4_000_000);
    assert.equal(parseSize('512kib'), 524_288);
    assert.equal(parseSize(1024), 1024);
    for (const bad of ['', '4 megabytes', '1.5', -1, 1.5]) assert.equal(parseSize(bad), undefined, String(bad));
  });

  it('says sizes as gateway.yaml would write them, for messages', () => {
    assert.equal(describeSize(parseSize('64MiB')!), '64 MiB');
    assert.equal(describeSize(parseSize('512KiB')!), '512 KiB');
    assert.equal(describeSize(1500), '1500 bytes');
  });
});

describe('README gateway.yaml examples', () => {
  it('each parse as the gateway reads them, so what the README shows is what the code accepts', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)].map(([, indent, body]) =>
      body!.replace(new RegExp(`^${indent}`, 'gm'), ''),
    );
    assert.ok(blocks.length >= 4, `found ${blocks.length} yaml blocks`);
    const env = {
      NWS_USER_AGENT: 'ua',
      EVERYTHING_TOKEN: 't',
      PARTNER_TOKEN: 'p',
      WEATHER_KEY: 'k'.repeat(16),
      TENANT_ID: 't',
      APP_ID: 'a',
    };
    for (const [index, block] of blocks.entries()) {
      assert.doesNotThrow(() => parseConfig(block, `README.md yaml block ${index + 1}`, env), `yaml block ${index + 1}:\n${block}`);
    }
  });
});

interface KeySchema {
  properties?: Record<string, KeySchema>;
  additionalProperties?: KeySchema | boolean;
  items?: KeySchema;
  anyOf?: KeySchema[];
  oneOf?: KeySchema[];
}

/** Every key path a JSON Schema names (`cache.backoff.max`): map values as `*`, list items as `[]`; `auth` left whole. */
function schemaKeys(schema: KeySchema, prefix = ''): string[] {
  const alternatives = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
  if (alternatives.length > 0) return [...new Set(alternatives.flatMap((branch) => schemaKeys(branch, prefix)))];
  const keys: string[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    keys.push(prefix + key);
    if (key !== 'auth') keys.push(...schemaKeys(child, `${prefix}${key}.`));
  }
  if (typeof schema.additionalProperties === 'object') keys.push(`${prefix}*`, ...schemaKeys(schema.additionalProperties, `${prefix}*.`));
  if (schema.items) keys.push(...schemaKeys(schema.items, `${prefix}[].`));
  return keys;
}

/** The key paths of a YAML value, in the same notation; the entries of `servers` are all `*`, as are `options`, `env` and `headers`. */
function yamlKeys(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((item) => yamlKeys(item, `${prefix}[].`)))];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const name = prefix === 'servers.' ? '*' : key;
    if (['options', 'env', 'headers', 'auth'].includes(key)) return [prefix + name];
    return [prefix + name, ...yamlKeys(child, `${prefix}${name}.`)];
  });
}

describe('README gateway.yaml reference', () => {
  it('shows every key of the schema, and only keys of the schema', () => {
    const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as KeySchema;
    // A module's options, a child's env and a url's headers are maps of the user's own keys.
    const own = (key: string) => /\.(options|env|headers)\./.test(key);
    const inSchema = new Set(schemaKeys(schema).filter((key) => !own(key)));
    const shown = new Set(yamlKeys(parseYaml(readmeBlockAfter('## gateway.yaml reference', 'yaml'))));
    assert.ok(inSchema.has('cache.backoff.afterFailures') && inSchema.has('servers.*.listTtl'), 'the schema walk reaches nested keys');
    assert.deepEqual([...inSchema].filter((key) => !shown.has(key)).sort(), [], 'in the schema, not in the reference');
    assert.deepEqual([...shown].filter((key) => !inSchema.has(key)).sort(), [], 'in the reference, not in the schema');
  });

  it('shows every key of auth, in Authentication', () => {
    const schema = z.toJSONSchema(authSchema, { io: 'input', unrepresentable: 'any' }) as KeySchema;
    const keys = new Set(schemaKeys(schema));
    assert.ok(keys.has('clockTolerance'), 'the schema walk reaches the oauth keys');
    const section = readmeSection('## Authentication');
    // Commented keys count: the block shows the optional ones as comments, with their defaults.
    assert.deepEqual(
      [...keys].filter((key) => !new RegExp(`^ *(# )?${key}:`, 'm').test(section)),
      [],
      'auth keys the Authentication section does not show',
    );
  });
});
