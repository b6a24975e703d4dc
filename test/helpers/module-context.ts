/** The parts of a module's `ctx` that unit tests, which build a server without a gateway, do not exercise. */
import { randomBytes } from 'node:crypto';
import type { ChangeNotifier, ServerContext } from '../../src/gateway/module-contract.js';
import { createRouteRequestState } from '../../src/gateway/protocol/request-state.js';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';

/** A notifier with nobody to tell: a server built by a test has no listeners. */
export const NO_LISTENERS: ChangeNotifier = Object.freeze({
  toolsChanged: () => undefined,
  promptsChanged: () => undefined,
  resourcesChanged: () => undefined,
  resourceUpdated: () => undefined,
});

/** What a unit test adds to its own `route`, `options`, `fetch` and `logger` to make a whole `ctx`. */
export const UNIT_CONTEXT: Pick<ServerContext, 'era' | 'notify' | 'requestState'> = Object.freeze({
  era: 'legacy',
  notify: NO_LISTENERS,
  requestState: createRouteRequestState(createSessionKeyring(randomBytes(32)), 'unit-test'),
});
