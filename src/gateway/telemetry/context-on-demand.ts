/**
 * OpenTelemetry's context for the gateway: synchronous until some route needs it to follow a
 * request through asynchronous work, then AsyncLocalStorage from that moment on.
 *
 * A request's span must reach code that runs later, after awaits, only where that code starts
 * spans of its own: a module's `ctx.fetch` (the upstream cache's CLIENT spans) and a bridged
 * route's forwarded requests. Carrying context across awaits has a price that does not depend on
 * how much of it is used: on Node.js 20 and 22, AsyncLocalStorage runs a hook for every promise
 * and callback of the process once any of it has run, which in the benchmark costs about a tenth
 * of the requests a gateway serves (docs/benchmarks.md). So the gateway starts with a context that
 * holds only for the synchronous extent of {@link ContextManager.with}, which is all that the
 * spans of a route like `time` need, and turns AsyncLocalStorage on ({@link carry}) the first time
 * a route shows it can make requests of its own: a module takes `ctx.fetch`, or the route is
 * bridged. There is no way back: the hook, once on, stays on.
 *
 * This is the API's documented extension point (`context.setGlobalContextManager`), so libraries
 * that report through `@opentelemetry/api` see the same context the gateway's spans do.
 */
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

export class OnDemandContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorageContextManager();
  private carrying = false;
  /** The active context while not carrying: set for the synchronous extent of `with`. */
  private current: Context = ROOT_CONTEXT;

  /** Whether context follows asynchronous work (AsyncLocalStorage is on). */
  get carries(): boolean {
    return this.carrying;
  }

  /** From now on, context follows asynchronous work. Idempotent. */
  carry(): void {
    this.carrying = true;
  }

  active(): Context {
    return this.carrying ? this.storage.active() : this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (this.carrying) return this.storage.with(context, fn, thisArg, ...args);
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (this.carrying) return this.storage.bind(context, target);
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapper keeps its caller's `this`
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    this.storage.enable();
    return this;
  }

  disable(): this {
    this.storage.disable();
    this.current = ROOT_CONTEXT;
    return this;
  }
}
