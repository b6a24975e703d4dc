import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ServerContext } from '@modelcontextprotocol/server';
import { createRouteRequestState, createRouteRequestStates } from '../../src/gateway/protocol/request-state.js';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';

// The codec binds to the caller it was made for, not to the handler's context: any context will do.
const ctx = {} as ServerContext;

describe('createRouteRequestState', () => {
  it('verifies on another instance of the deployment what one instance sealed', async () => {
    const secret = randomBytes(32);
    const sealed = await createRouteRequestState(createSessionKeyring(secret), 'weather').mint({ round: 1, city: 'Boston' }, ctx);
    const elsewhere = createRouteRequestState(createSessionKeyring(Buffer.from(secret)), 'weather');
    assert.deepEqual(await elsewhere.verify(sealed, ctx), { round: 1, city: 'Boston' });
  });

  it('refuses state sealed by another deployment, for another route, or altered', async () => {
    const keyring = createSessionKeyring(randomBytes(32));
    const sealed = await createRouteRequestState(keyring, 'weather').mint({ round: 1 }, ctx);
    await assert.rejects(createRouteRequestState(createSessionKeyring(randomBytes(32)), 'weather').verify(sealed, ctx), /mac/);
    await assert.rejects(createRouteRequestState(keyring, 'time').verify(sealed, ctx), /mac/);
    const [version, payload, mac] = sealed.split('.');
    const altered = `${version}.${Buffer.from(JSON.stringify({ p: { round: 9 }, exp: 4102444800 })).toString('base64url')}.${mac}`;
    assert.notEqual(altered, `${version}.${payload}.${mac}`);
    await assert.rejects(createRouteRequestState(keyring, 'weather').verify(altered, ctx));
  });

  it('still verifies state sealed with the previous secret while keys rotate, and seals with the new one', async () => {
    const [before, after] = [randomBytes(32), randomBytes(32)];
    const sealedBefore = await createRouteRequestState(createSessionKeyring(before), 'echo').mint('x', ctx);
    const rotated = createRouteRequestState(createSessionKeyring(after, [before]), 'echo');
    assert.equal(await rotated.verify(sealedBefore, ctx), 'x');
    const sealedAfter = await rotated.mint('y', ctx);
    assert.equal(await createRouteRequestState(createSessionKeyring(after), 'echo').verify(sealedAfter, ctx), 'y');
  });

  it("refuses one caller's state to another caller of the route, and to the route's unauthenticated codec", async () => {
    const states = createRouteRequestStates(createSessionKeyring(randomBytes(32)), 'weather');
    const sealed = await states('apiKey:alice').mint({ round: 1 });
    assert.deepEqual(await states('apiKey:alice').verify(sealed, ctx), { round: 1 });
    await assert.rejects(states('apiKey:bob').verify(sealed, ctx), /bind/);
    await assert.rejects(states('').verify(sealed, ctx), /bind/);
  });
});
