import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createSessionStore, type Session, type SessionEndReason } from '../../src/gateway/session-store.js';

/** A real server on a real (in-memory) transport, recording whether it was closed. */
async function session(id: string): Promise<Session & { closed: () => boolean }> {
  const server = new McpServer({ name: 'test', version: '1.0.0' });
  const [, serverSide] = InMemoryTransport.createLinkedPair();
  let closed = false;
  await server.connect(serverSide);
  server.server.onclose = () => {
    closed = true;
  };
  return { id, server, transport: serverSide, active: 0, closed: () => closed };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function store(max = 3, idle = 60_000) {
  let now = 1_000_000;
  const ended: Array<[string, SessionEndReason]> = [];
  const sessions = createSessionStore({
    maxSessions: max,
    idleTimeout: idle,
    now: () => now,
    onEnd: (s, reason) => ended.push([s.id, reason]),
  });
  return { sessions, ended, advance: (ms: number) => (now += ms) };
}

describe('createSessionStore', () => {
  it('rejects invalid bounds when built', () => {
    assert.throws(() => createSessionStore({ maxSessions: 0, idleTimeout: 1000 }), /maxSessions/);
    assert.throws(() => createSessionStore({ maxSessions: 1, idleTimeout: 0 }), /idleTimeout/);
  });

  it('returns added sessions and counts them', async () => {
    const { sessions } = store();
    const a = await session('a');
    sessions.add(a);
    assert.equal(sessions.get('a'), a);
    assert.equal(sessions.get('b'), undefined);
    assert.equal(sessions.size, 1);
  });

  it('expires a session idle past the timeout and closes its server', async () => {
    const { sessions, ended, advance } = store(3, 60_000);
    const a = await session('a');
    const b = await session('b');
    sessions.add(a);
    sessions.add(b);
    advance(40_000);
    sessions.get('b');
    advance(40_000);
    sessions.sweep();
    await flush();
    assert.equal(sessions.get('a'), undefined);
    assert.equal(sessions.get('b'), b);
    assert.ok(a.closed());
    assert.ok(!b.closed());
    assert.deepEqual(ended, [['a', 'expired']]);
  });

  it('keeps a busy session alive past the timeout, and restarts its idle time when it goes quiet', async () => {
    const { sessions, advance } = store(3, 60_000);
    const a = await session('a');
    sessions.add(a);
    const release = sessions.use(a);
    advance(10 * 60_000);
    sessions.sweep();
    assert.equal(sessions.get('a'), a);
    release();
    advance(59_000);
    sessions.sweep();
    assert.equal(sessions.get('a'), a);
    advance(61_000);
    sessions.sweep();
    await flush();
    assert.equal(sessions.get('a'), undefined);
    assert.ok(a.closed());
  });

  it('evicts the least recently used session beyond the cap and closes it', async () => {
    const { sessions, ended } = store(2);
    const [a, b, c] = await Promise.all([session('a'), session('b'), session('c')]);
    sessions.add(a!);
    sessions.add(b!);
    sessions.get('a');
    sessions.add(c!);
    await flush();
    assert.deepEqual(ended, [['b', 'evicted']]);
    assert.ok(b!.closed());
    assert.equal(sessions.size, 2);
  });

  it('ends a session with the reason given, once', async () => {
    const { sessions, ended } = store();
    const a = await session('a');
    sessions.add(a);
    sessions.end('a', 'deleted');
    sessions.end('a', 'closed');
    await flush();
    assert.deepEqual(ended, [['a', 'deleted']]);
    assert.ok(a.closed());
  });

  it('closes every session on closeAll', async () => {
    const { sessions, ended } = store();
    const all = await Promise.all(['a', 'b', 'c'].map(session));
    all.forEach((s) => sessions.add(s));
    await sessions.closeAll();
    assert.ok(all.every((s) => s.closed()));
    assert.deepEqual(
      ended.map(([, reason]) => reason),
      ['shutdown', 'shutdown', 'shutdown'],
    );
    assert.equal(sessions.size, 0);
  });

  it('does not count expired sessions that were not swept yet', async () => {
    const { sessions, advance } = store(3, 1000);
    sessions.add(await session('a'));
    advance(2000);
    assert.equal(sessions.size, 0);
  });
});
