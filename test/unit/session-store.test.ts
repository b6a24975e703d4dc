import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import { createSessionStore, type Session, type SessionEndReason } from '../../src/gateway/sessions/session-store.js';

/** A real server on a real (in-memory) transport, recording whether it was closed. */
async function session(id: string, owner = 'someone'): Promise<Session & { closed: () => boolean }> {
  const server = new McpServer({ name: 'test', version: '1.0.0' });
  const [, serverSide] = InMemoryTransport.createLinkedPair();
  let closed = false;
  await server.connect(serverSide);
  server.server.onclose = () => {
    closed = true;
  };
  return { id, server, transport: serverSide, owner, active: 0, closed: () => closed };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function store(max = 3, idle = 60_000, maxPerOwner = max) {
  let now = 1_000_000;
  const ended: Array<[string, SessionEndReason]> = [];
  const sessions = createSessionStore({
    maxSessions: max,
    maxPerOwner,
    idleTimeout: idle,
    now: () => now,
    onEnd: (s, reason) => ended.push([s.id, reason]),
  });
  /** Adds a session through a reservation, as the route does; fails when the store refuses it. */
  const add = (s: Session) => {
    const place = sessions.reserve(s.owner);
    if (!place.ok) throw new Error(`refused: ${place.full} full`);
    place.add(s);
  };
  return { sessions, ended, add, advance: (ms: number) => (now += ms) };
}

describe('createSessionStore', () => {
  it('rejects invalid bounds when built', () => {
    assert.throws(() => createSessionStore({ maxSessions: 0, idleTimeout: 1000 }), /maxSessions/);
    assert.throws(() => createSessionStore({ maxSessions: 1, idleTimeout: 0 }), /idleTimeout/);
    assert.throws(() => createSessionStore({ maxSessions: 1, maxPerOwner: 0, idleTimeout: 1000 }), /maxPerOwner/);
  });

  it('returns added sessions and counts them', async () => {
    const { sessions, add } = store();
    const a = await session('a');
    add(a);
    assert.equal(sessions.get('a'), a);
    assert.equal(sessions.get('b'), undefined);
    assert.equal(sessions.size, 1);
  });

  it('expires a session idle past the timeout and closes its server', async () => {
    const { sessions, add, ended, advance } = store(3, 60_000);
    const a = await session('a');
    const b = await session('b');
    add(a);
    add(b);
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
    const { sessions, add, advance } = store(3, 60_000);
    const a = await session('a');
    add(a);
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
    const { sessions, add, ended } = store(2);
    const [a, b, c] = await Promise.all([session('a'), session('b'), session('c')]);
    add(a!);
    add(b!);
    sessions.get('a');
    add(c!);
    await flush();
    assert.deepEqual(ended, [['b', 'evicted']]);
    assert.ok(b!.closed());
    assert.equal(sessions.size, 2);
  });

  it('ends a session with the reason given, once', async () => {
    const { sessions, add, ended } = store();
    const a = await session('a');
    add(a);
    sessions.end('a', 'deleted');
    sessions.end('a', 'closed');
    await flush();
    assert.deepEqual(ended, [['a', 'deleted']]);
    assert.ok(a.closed());
  });

  it('closes every session on closeAll', async () => {
    const { sessions, add, ended } = store();
    const all = await Promise.all(['a', 'b', 'c'].map((id) => session(id)));
    all.forEach(add);
    await sessions.closeAll();
    assert.ok(all.every((s) => s.closed()));
    assert.deepEqual(
      ended.map(([, reason]) => reason),
      ['shutdown', 'shutdown', 'shutdown'],
    );
    assert.equal(sessions.size, 0);
  });

  it('does not count expired sessions that were not swept yet', async () => {
    const { sessions, add, advance } = store(3, 1000);
    add(await session('a'));
    advance(2000);
    assert.equal(sessions.size, 0);
  });
});

describe('createSessionStore: room for a new session', () => {
  it('evicts the least recently used idle session at the cap, never a busy one', async () => {
    const { sessions, add, ended } = store(2);
    const [a, b, c] = await Promise.all([session('a'), session('b'), session('c')]);
    add(a!);
    add(b!);
    const release = sessions.use(a!); // a is the least recently used, but busy
    add(c!);
    await flush();
    assert.deepEqual(ended, [['b', 'evicted']]);
    assert.equal(sessions.peek('a'), a, 'the busy session survives');
    assert.ok(!a!.closed());
    release();
  });

  it('refuses a new session when every session of the route is busy, and closes nothing', async () => {
    const { sessions, add, ended } = store(2);
    const [a, b] = await Promise.all([session('a'), session('b')]);
    add(a!);
    add(b!);
    const releases = [sessions.use(a!), sessions.use(b!)];
    assert.deepEqual(sessions.reserve('newcomer'), { ok: false, full: 'route', limit: 2 });
    await flush();
    assert.deepEqual(ended, []);
    releases[1]!();
    assert.equal(sessions.reserve('newcomer').ok, true, 'room once one goes quiet');
    releases[0]!();
  });

  it("makes room from the owner's own sessions at its cap, leaving others' alone", async () => {
    const { sessions, add, ended } = store(10, 60_000, 2);
    const others = await session('other', 'bob');
    add(others);
    const [m1, m2, m3] = await Promise.all([session('m1', 'mallory'), session('m2', 'mallory'), session('m3', 'mallory')]);
    add(m1!);
    add(m2!);
    add(m3!);
    await flush();
    assert.deepEqual(ended, [['m1', 'evicted']]);
    assert.equal(sessions.peek('other'), others);
    // Every one of mallory's sessions busy: mallory is refused, bob is not.
    const releases = [sessions.use(m2!), sessions.use(m3!)];
    assert.deepEqual(sessions.reserve('mallory'), { ok: false, full: 'owner', limit: 2 });
    assert.equal(sessions.reserve('bob').ok, true);
    releases.forEach((release) => release());
  });

  it('counts reserved places, so concurrent newcomers cannot overshoot the cap', async () => {
    const { sessions } = store(2);
    const first = sessions.reserve('x');
    const second = sessions.reserve('y');
    assert.ok(first.ok && second.ok);
    assert.deepEqual(sessions.reserve('z'), { ok: false, full: 'route', limit: 2 }, 'nothing idle to evict yet');
    assert.equal(sessions.size, 2);
    first.cancel();
    assert.equal(sessions.reserve('z').ok, true);
    second.add(await session('y1', 'y'));
    assert.throws(() => second.add({ id: 'again' } as Session), /one session/);
  });

  it('prefers an expired idle session as the one to end, and says it expired', async () => {
    const { add, ended, advance } = store(2, 1000);
    const [a, b, c] = await Promise.all([session('a'), session('b'), session('c')]);
    add(a!);
    advance(500);
    add(b!);
    advance(700); // a has been idle 1.2 s, b 0.7 s
    add(c!);
    await flush();
    assert.deepEqual(ended, [['a', 'expired']]);
  });
});
