/** The parts of a module's `ctx` that unit tests, which build a server without a gateway, do not exercise. */
import type { ChangeNotifier, ServerContext } from '../../src/gateway/module-contract.js';

/** A notifier with nobody to tell: a server built by a test has no listeners. */
export const NO_LISTENERS: ChangeNotifier = Object.freeze({
  toolsChanged: () => undefined,
  promptsChanged: () => undefined,
  resourcesChanged: () => undefined,
  resourceUpdated: () => undefined,
});

/** What a unit test adds to its own `route`, `options`, `fetch` and `logger` to make a whole `ctx`. */
export const UNIT_CONTEXT: Pick<ServerContext, 'era' | 'notify'> = Object.freeze({ era: 'legacy', notify: NO_LISTENERS });
