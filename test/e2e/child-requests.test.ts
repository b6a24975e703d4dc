/**
 * What a stdio child asks its client (roots, sampling, elicitation) outside a call's own stream:
 * real servers from npm that ask `roots/list` as soon as they are initialized (server-filesystem
 * at once, server-everything 350 ms later), reached through the real gateway by the SDK's Client,
 * when the child is started by the session's first request, by a resume on another instance and
 * by a restart after a crash; and what a child gets when no stream can carry its question.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';
import { openRawSession, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const SERVERS = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol');
const FILESYSTEM = path.join(SERVERS, 'server-filesystem', 'dist', 'index.js');
const EVERYTHING = path.join(SERVERS, 'server-everything', 'dist', 'index.js');
const RAW = fixturePath('stdio', 'raw-server.mjs');

/** The stderr lines a route's children wrote, as the gateway logged them. */
const stderrOf = (gw: InProcessGateway, pid?: number) =>
  gw.logs.filter((line) => line.msg === 'server stderr' && (pid === undefined || line.pid === pid)).map((line) => String(line.stderr));

/** A 2025 client that declares roots and answers roots/list with `root` (a realistic client: VS Code declares roots). */
function rootsClient(root: string): Client {
  const client = new Client({ name: 'roots-client', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: pathToFileURL(root).href, name: 'workspace' }] }));
  return client;
}

/** A folder whose path carries `marker`, so that the children started with it can be found. */
function folder(marker: string, name: string): string {
  const dir = path.join(tempDir(marker), name);
  mkdirSync(dir);
  return dir;
}

/** What server-filesystem said of the roots it asked for at startup: it got them, or how asking failed. */
function filesystemRootsOutcome(gw: InProcessGateway, pid?: number): string | undefined {
  return stderrOf(gw, pid).find((line) => /Updated allowed directories from MCP roots|Failed to request initial roots/.test(line));
}

async function allowedDirectories(client: Client): Promise<string> {
  return textOf(await client.callTool({ name: 'list_allowed_directories', arguments: {} }));
}

describe('a stdio child that asks its 2025 session for roots as soon as it is initialized', () => {
  const marker = `child-requests-${randomUUID()}`;
  let started: string;
  let root: string;
  let gw: InProcessGateway;
  const fsRoute = () =>
    `  fs:\n    command: ${process.execPath}\n    args: [${JSON.stringify(FILESYSTEM)}, ${JSON.stringify(started)}]\n` +
    `  everything:\n    command: ${process.execPath}\n    args: [${JSON.stringify(EVERYTHING)}, stdio, ${JSON.stringify(marker)}]\n`;
  before(async () => {
    started = folder(marker, 'started-with');
    root = folder(marker, 'client-root');
    gw = await startInProcessGateway(`servers:\n${fsRoute()}`);
  });
  after(async () => {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test("relays server-filesystem's roots/list when the session's first request starts the child", async () => {
    const client = rootsClient(root);
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/fs`)));
    await until(() => filesystemRootsOutcome(gw) !== undefined, 'server-filesystem to ask for roots');
    assert.match(filesystemRootsOutcome(gw)!, /Updated allowed directories from MCP roots: 1 valid/);
    assert.match(await allowedDirectories(client), new RegExp(root.replaceAll('/', '\\/')));
    await client.close();
  });

  test("relays server-everything's roots/list at startup, and its log message reaches the client's GET stream", async () => {
    const client = rootsClient(root);
    const logged: string[] = [];
    client.setNotificationHandler('notifications/message', (notification) => void logged.push(String(notification.params.data)));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/everything`)));
    await until(
      () =>
        logged.some((data) => data.startsWith('Roots updated')) || stderrOf(gw).some((line) => line.startsWith('Failed to request roots')),
      'server-everything to ask for roots',
    );
    assert.deepEqual(
      stderrOf(gw).filter((line) => line.startsWith('Failed to request roots')),
      [],
    );
    assert.ok(logged.includes('Roots updated: 1 root(s) received from client'), JSON.stringify(logged));
    await client.close();
  });

  test('relays the roots/list of the child a restart after a crash starts', async () => {
    const earlier = new Set(processesWith(started));
    const client = rootsClient(root);
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/fs`)));
    const pid = processesWith(started).find((each) => !earlier.has(each));
    assert.ok(pid !== undefined, "the session's child");
    await until(() => filesystemRootsOutcome(gw, pid) !== undefined, 'the first child to ask for roots');
    process.kill(pid, 'SIGKILL');
    await until(() => gw.logs.some((line) => line.msg === 'upstream went away'), 'the gateway to see the child go');
    await allowedDirectories(client);
    const restarted = processesWith(started).find((each) => !earlier.has(each));
    assert.ok(restarted !== undefined && restarted !== pid, 'a new child');
    await until(() => filesystemRootsOutcome(gw, restarted) !== undefined, 'the restarted child to ask for roots');
    assert.match(filesystemRootsOutcome(gw, restarted)!, /Updated allowed directories from MCP roots: 1 valid/);
    await client.close();
  });
});

describe('a stdio child of a session resumed on another instance', () => {
  test('gets the roots it asks for at startup from the client whose GET stream resumed the session', async () => {
    const marker = `child-requests-resume-${randomUUID()}`;
    const started = folder(marker, 'started-with');
    const root = folder(marker, 'client-root');
    const keyring = createSessionKeyring(randomBytes(32));
    const yaml = `servers:\n  fs:\n    command: ${process.execPath}\n    args: [${JSON.stringify(FILESYSTEM)}, ${JSON.stringify(started)}]\n`;
    const [a, b] = await Promise.all([startInProcessGateway(yaml, { keyring }), startInProcessGateway(yaml, { keyring })]);
    try {
      const client = rootsClient(root);
      const onA = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp/fs`));
      await client.connect(onA);
      await until(() => filesystemRootsOutcome(a) !== undefined, 'the child on the first instance to ask for roots');
      const moved = rootsClient(root);
      const onB = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/fs`), { sessionId: onA.sessionId! });
      await moved.connect(onB);
      // The client opens its GET stream again, as after the instance it was on went away: that
      // request resumes the session on this instance, and its new child asks for roots at once.
      await onB.resumeStream('');
      await until(() => filesystemRootsOutcome(b) !== undefined, 'the child on the second instance to ask for roots');
      assert.ok(b.logs.some((line) => line.msg === 'session resumed'));
      assert.match(filesystemRootsOutcome(b)!, /Updated allowed directories from MCP roots: 1 valid/);
      await Promise.all([client.close(), moved.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });
});

const sessionWithoutGetStream = openRawSession;

describe("a child's request that no stream can carry to its client", () => {
  const marker = `child-requests-none-${randomUUID()}`;
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(
      `servers:\n  everything:\n    command: ${process.execPath}\n    args: [${JSON.stringify(EVERYTHING)}, stdio, ${JSON.stringify(marker)}]\n` +
        `  raw:\n    command: ${process.execPath}\n    args: [${JSON.stringify(RAW)}, ${JSON.stringify(marker)}]\n` +
        `  shared:\n    command: ${process.execPath}\n    args: [${JSON.stringify(RAW)}, ${JSON.stringify(marker)}]\n    isolation: shared\n`,
    );
  });
  after(async () => {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test(
    'between calls on a 2025 session with no GET stream open: a clear -32601 within seconds, not the 60 s request timeout',
    { timeout: 30_000 },
    async () => {
      const id = await sessionWithoutGetStream(`${gw.url}/mcp/everything`, { roots: {} });
      await until(
        () => stderrOf(gw).some((line) => line.startsWith('Failed to request roots')),
        'server-everything to give up on its roots/list',
        20_000,
      );
      const failed = stderrOf(gw).find((line) => line.startsWith('Failed to request roots'))!;
      assert.match(failed, /-32601/);
      assert.match(failed, /roots\/list cannot be forwarded: the session has no call in flight and no GET stream open/);
      await fetch(`${gw.url}/mcp/everything`, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    },
  );

  test('from a child serving a 2026-07-28 client: a clear -32601 at once, which the tool reports', async () => {
    const client = new Client({ name: 'modern', version: '1.0.0' }, { capabilities: { roots: {} }, versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/raw`)));
    assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    const answer = JSON.parse(textOf(await client.callTool({ name: 'roots', arguments: {} }))) as {
      error?: { code: number; message: string };
    };
    assert.equal(answer.error?.code, -32601);
    assert.match(answer.error!.message, /roots\/list cannot be forwarded: .*2026-07-28/);
    await client.close();
  });

  test('from a shared child serving a 2025 session: a clear -32601 at once, which the tool reports', async () => {
    const client = rootsClient(tmpdir());
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/shared`)));
    const answer = JSON.parse(textOf(await client.callTool({ name: 'roots', arguments: {} }))) as {
      error?: { code: number; message: string };
    };
    assert.equal(answer.error?.code, -32601);
    assert.match(answer.error!.message, /roots\/list cannot be forwarded: .*shared/);
    await client.close();
  });
});
