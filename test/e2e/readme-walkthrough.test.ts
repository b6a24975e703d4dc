/**
 * The README's "Add a server" walkthrough, followed literally: its module code and its gateway.yaml
 * entry, taken from the README itself, must give a working route.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';
import { connectClient, startGatewayProcess, textOf } from '../helpers/gateway.js';
import { PROJECT_ROOT } from '../helpers/project.js';
import { readmeBlockAfter } from '../helpers/readme.js';

const root = path.join(PROJECT_ROOT, 'dist', 'readme-walkthrough');
after(() => rmSync(root, { recursive: true, force: true }));

describe('README: Add a server', () => {
  it('gives a working /mcp/dice from the module and the gateway.yaml entry it shows', async () => {
    const source = readmeBlockAfter('Create `servers/dice/index.ts`', 'ts');
    const yaml = readmeBlockAfter('Add it to `gateway.yaml`', 'yaml');
    const { outputText, diagnostics } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      reportDiagnostics: true,
    });
    assert.deepEqual(diagnostics, []);
    rmSync(root, { recursive: true, force: true }); // what an interrupted run left
    mkdirSync(path.join(root, 'servers', 'dice'), { recursive: true });
    writeFileSync(path.join(root, 'servers', 'dice', 'index.js'), outputText);
    // The module imports the contract from `../../src/gateway`, as from servers/dice in the project.
    symlinkSync(path.join(PROJECT_ROOT, 'dist', 'src'), path.join(root, 'src'));
    writeFileSync(path.join(root, 'gateway.yaml'), yaml);
    const env = { GATEWAY_CONFIG: path.join(root, 'gateway.yaml') };

    const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/gateway/check.js')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
    });
    assert.match(stdout, /\/mcp\/dice \(stateful\)\n {4}roll - Rolls a 20-sided die/);

    const gateway = await startGatewayProcess(undefined, env);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/dice`);
      const rolls = textOf(await client.callTool({ name: 'roll', arguments: { count: 5 } }))
        .split(', ')
        .map(Number);
      assert.equal(rolls.length, 5);
      assert.ok(rolls.every((n) => Number.isInteger(n) && n >= 1 && n <= 20));
      await client.close();
    } finally {
      await gateway.stop();
    }
  });
});

describe('README: A stdio server from npm, end to end', () => {
  it('serves /mcp/everything from the gateway.yaml entry it shows', async () => {
    const yaml = readmeBlockAfter('Add it to `gateway.yaml` as a command route', 'yaml');
    // In a folder under the project root: the README's gateway.yaml sits at the root and its args
    // are relative to it, so here they gain a `../`.
    const dir = mkdtempSync(path.join(PROJECT_ROOT, '.readme-stdio-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, yaml.replace('node_modules/', '../node_modules/'));
    const env = { GATEWAY_CONFIG: file };
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/gateway/check.js')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
    });
    assert.match(stdout, /\/mcp\/everything \(stateful\)\n {4}echo - /);
    const gateway = await startGatewayProcess(undefined, env);
    try {
      const { client } = await connectClient(`${gateway.url}/mcp/everything`);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'from the README' } })), 'Echo: from the README');
      await client.close();
    } finally {
      await gateway.stop();
    }
  });
});
