import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { OnDemandContextManager } from '../../src/gateway/telemetry/context-on-demand.js';

const KEY = createContextKey('request');
const request = (name: string) => ROOT_CONTEXT.setValue(KEY, name);
const nameIn = (manager: OnDemandContextManager) => manager.active().getValue(KEY);

describe('context on demand', () => {
  it('holds a context for the synchronous extent of with() until told to carry it', async () => {
    const manager = new OnDemandContextManager().enable();
    assert.equal(manager.carries, false);
    let afterAwait: unknown = 'unset';
    const pending = manager.with(request('a'), async () => {
      assert.equal(nameIn(manager), 'a');
      // Nested and restored, also when the inner function throws.
      assert.throws(() =>
        manager.with(request('b'), () => {
          assert.equal(nameIn(manager), 'b');
          throw new Error('inner');
        }),
      );
      assert.equal(nameIn(manager), 'a');
      await tick();
      afterAwait = nameIn(manager);
    });
    assert.equal(manager.active(), ROOT_CONTEXT, 'restored once with() returns');
    await pending;
    assert.equal(afterAwait, undefined, 'not carried across an await');
    manager.disable();
  });

  it('carries it through awaits once told to, for the requests that start afterwards', async () => {
    const manager = new OnDemandContextManager().enable();
    manager.carry();
    manager.carry();
    assert.equal(manager.carries, true);
    const seen = await Promise.all(
      ['a', 'b'].map((name) =>
        manager.with(request(name), async () => {
          await tick();
          await new Promise((resolve) => setTimeout(resolve, 1));
          return nameIn(manager);
        }),
      ),
    );
    assert.deepEqual(seen, ['a', 'b'], 'each request its own context, concurrently');
    assert.equal(manager.active(), ROOT_CONTEXT);
    manager.disable();
  });

  it('binds a function to a context in either mode, keeping its receiver and arguments', async () => {
    const manager = new OnDemandContextManager().enable();
    const receiver = { tag: 'r' };
    function probe(this: { tag: string }, suffix: string) {
      return `${this.tag}:${String(nameIn(manager))}:${suffix}`;
    }
    const bound = manager.bind(request('a'), probe);
    assert.equal(bound.call(receiver, 'x'), 'r:a:x');
    manager.carry();
    const carried = manager.bind(request('b'), probe);
    await tick();
    assert.equal(carried.call(receiver, 'y'), 'r:b:y');
    assert.equal(bound.call(receiver, 'z'), 'r:a:z');
    const notAFunction = { value: 1 };
    assert.equal(manager.bind(request('c'), notAFunction), notAFunction);
    manager.disable();
  });
});
