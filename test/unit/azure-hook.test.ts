/**
 * scripts/create-session-secret.sh, the azd preprovision hook, run against a fake `azd` that keeps
 * its environment in a file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const HOOK = path.join(ROOT, 'scripts', 'create-session-secret.sh');

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

// `azd env get-value K` fails for an unknown key, as recent azd versions do; `azd env set K V` stores.
const FAKE_AZD = `#!/bin/sh
store="$FAKE_AZD_STORE"
echo "$*" >> "$store.calls"
if [ "$1 $2" = "env get-value" ]; then
  value="$(grep "^$3=" "$store" 2>/dev/null | tail -n 1 | cut -d= -f2-)"
  if [ -z "$value" ]; then echo "ERROR: key '$3' not found in the environment values" >&2; exit 1; fi
  printf '%s\\n' "$value"
elif [ "$1 $2" = "env set" ]; then
  printf '%s=%s\\n' "$3" "$4" >> "$store"
else
  exit 2
fi
`;

describe('create-session-secret.sh (azd preprovision hook)', () => {
  let dir: string;
  let store: string;
  const env = () => ({ PATH: `${dir}:${process.env.PATH ?? ''}`, FAKE_AZD_STORE: store, HOME: dir });
  const stored = async () => (await readFile(store, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'azd-hook-'));
    store = path.join(dir, 'env');
    await writeFile(path.join(dir, 'azd'), FAKE_AZD);
    await chmod(path.join(dir, 'azd'), 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('creates a 32-byte base64 secret once, without printing it', async () => {
    const { stdout } = await run('sh', [HOOK], { env: env(), timeout: 10_000 });
    const lines = await stored();
    assert.equal(lines.length, 1);
    const secret = lines[0]!.replace(/^GATEWAY_SESSION_SECRET=/, '');
    assert.equal(Buffer.from(secret, 'base64').length, 32);
    assert.equal(Buffer.from(secret, 'base64').toString('base64'), secret, 'canonical base64');
    assert.ok(!stdout.includes(secret), 'the secret is not printed');
  });

  it('keeps the secret on the next provision (read back from azd)', async () => {
    const before = await stored();
    await run('sh', [HOOK], { env: env(), timeout: 10_000 });
    assert.deepEqual(await stored(), before);
  });

  it('keeps a secret that azd exported to the hook', async () => {
    const before = await stored();
    const { stdout } = await run('sh', [HOOK], { env: { ...env(), GATEWAY_SESSION_SECRET: 'x'.repeat(44) }, timeout: 10_000 });
    assert.match(stdout, /already set/);
    assert.deepEqual(await stored(), before);
  });

  it('works on the azd environment it runs for (AZURE_ENV_NAME), not the default one', async () => {
    const own = path.join(dir, 'env-staging');
    await run('sh', [HOOK], { env: { ...env(), FAKE_AZD_STORE: own, AZURE_ENV_NAME: 'staging' }, timeout: 10_000 });
    const calls = (await readFile(`${own}.calls`, 'utf8')).trim().split('\n');
    assert.equal(calls.length, 2);
    assert.match(calls[0]!, /^env get-value GATEWAY_SESSION_SECRET -e staging$/);
    assert.match(calls[1]!, /^env set GATEWAY_SESSION_SECRET \S+ -e staging$/);
  });
});
