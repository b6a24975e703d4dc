/**
 * The README's "Add a server" walkthrough, followed literally: its module code and its gateway.yaml
 * entry, taken from the README itself, must give a working route. And what a reader follows
 * without running anything: its links land on a heading or a file, and its Architecture table
 * names every file of src/gateway, in the folder it is in.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';
import { connectClient, startGatewayProcess, textOf } from '../helpers/gateway.js';
import { PROJECT_ROOT } from '../helpers/project.js';
import { headingAnchors, readmeBlockAfter, readmeLinks, readmeSection } from '../helpers/readme.js';

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

describe('README: links', () => {
  it('land on a heading of the README, or on a file of the project and a heading of it', () => {
    const own = headingAnchors(readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8'));
    const broken: string[] = [];
    for (const link of readmeLinks()) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, vscode:, mailto: leave the project
      const [file, anchor] = link.split('#') as [string, string | undefined];
      if (file === '') {
        if (!own.has(anchor!)) broken.push(link);
        continue;
      }
      const target = path.join(PROJECT_ROOT, file);
      if (!existsSync(target)) broken.push(link);
      else if (anchor !== undefined && !headingAnchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(link);
    }
    assert.ok(
      readmeLinks().some((link) => link.startsWith('#')),
      'the README has links to its own headings',
    );
    assert.deepEqual(broken, [], 'links to no heading or file');
  });
});

describe('README: Architecture', () => {
  it('names every file of src/gateway in the row of its folder, and no file that is not there', () => {
    const rows = [...readmeSection('## Architecture').matchAll(/^\| [^|]+ \| (`[a-z]+\/`|\(root\)) \| (.+) \|$/gm)];
    assert.ok(rows.length >= 8, `found ${rows.length} rows`);
    const named = rows.flatMap(([, folder, files]) =>
      [...files!.matchAll(/`([a-z0-9-]+\.ts)`/g)].map(([, file]) => (folder === '(root)' ? file! : `${folder!.slice(1, -1)}${file!}`)),
    );
    const gateway = path.join(PROJECT_ROOT, 'src', 'gateway');
    const files = readdirSync(gateway, { recursive: true, encoding: 'utf8' })
      .map((file) => file.split(path.sep).join('/'))
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      // The module contract is named below the table, as the one import a module needs.
      .filter((file) => file !== 'module-contract.ts');
    assert.deepEqual(
      named.filter((file) => !files.includes(file)),
      [],
      'named in the table but not in src/gateway',
    );
    assert.deepEqual(files.filter((file) => !named.includes(file)).sort(), [], 'in src/gateway but not in the table');
    assert.match(readmeSection('## Architecture'), /`module-contract\.ts`/);
  });
});
