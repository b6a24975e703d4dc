/**
 * The resources one upstream connection is subscribed to, counted for everyone who shares it: the
 * route's 2026-07-28 listeners (their `subscriptions/listen` filters) and the 2025 sessions on a
 * `principal` or `shared` connection (their `resources/subscribe`). A URI is subscribed upstream
 * while anyone holds it and let go when the last holder does, so one client's unsubscribe never
 * ends another's updates. Upstream, in its own era: a 2025 server gets `resources/subscribe` and
 * `resources/unsubscribe`; a 2026-07-28 server a `subscriptions/listen` stream whose filter names
 * every URI held, opened anew whenever that set changes (the old one closes once the new one is
 * acknowledged, so no update falls between them; one sent just then may come twice), and when the
 * upstream ends it while the connection stays up (by the route's backoff, listen-reopening.ts).
 *
 * A connection holds at most {@link MAX_SUBSCRIBED_RESOURCES} URIs: each is state kept by the
 * upstream, and on 2026-07-28 part of one request's filter. Asking for more is refused with
 * `subscriptions_full`, holding nothing.
 */
import { ProtocolError, SdkError, SdkErrorCode, type Client, type McpSubscription } from '@modelcontextprotocol/client';
import type { BackoffSettings } from '../backoff-schedule.js';
import { JSONRPC, type GatewayErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { ListenReopening, type ListenStreams } from './listen-reopening.js';
import { upstreamsOwnError } from './unanswered-streams.js';

/** Resource URIs one upstream connection may be subscribed to at once. */
export const MAX_SUBSCRIBED_RESOURCES = 100;

export interface ResourceSubscriptionsOptions {
  /** Whether the connection speaks 2026-07-28 (a listen stream) or 2025 (subscribe requests). */
  readonly modern: boolean;
  /** How long the upstream has to answer a subscribe, or to acknowledge a listen stream. */
  readonly timeout: number;
  /** The gateway.yaml setting `timeout` comes from, named when it runs out; none for a fixed one. */
  readonly timeoutSetting?: string;
  readonly log: Logger;
  /** The route's `cache.backoff` and clock: when a stream the upstream ended is opened again. */
  readonly backoff: BackoffSettings;
  /** The route's counts of its listen streams upstream (listen-reopening.ts). */
  readonly counts: ListenStreams;
  readonly max?: number;
}

export class ResourceSubscriptions {
  /** URIs held, with how many holders each. */
  private readonly held = new Map<string, number>();
  /** What the upstream has agreed to tell of. */
  private subscribed = new Set<string>();
  /** Why the upstream last refused a URI still held. */
  private readonly refused = new Map<string, unknown>();
  private stream: McpSubscription | undefined;
  /** Changes are made upstream one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly max: number;
  private closed = false;
  private readonly reopening: ListenReopening;

  constructor(
    private readonly client: Client,
    private readonly options: ResourceSubscriptionsOptions,
  ) {
    this.max = options.max ?? MAX_SUBSCRIBED_RESOURCES;
    this.reopening = new ListenReopening({
      backoff: options.backoff,
      carries: 'resource updates',
      counts: options.counts,
      log: options.log,
      reopen: async () => {
        await this.reconcile();
        return this.stream !== undefined || this.held.size === 0 || this.closed;
      },
    });
  }

  /** Whether anyone holds `uri`. */
  holds(uri: string): boolean {
    return this.held.has(uri);
  }

  /**
   * Holds `uris` subscribed upstream until the returned function is called (which resolves once
   * the upstream has let go of those no one else holds). Resolves once the upstream has them;
   * rejects, holding none of them, when it refuses one (its own JSON-RPC error) or the connection
   * would hold more than the cap.
   */
  async hold(uris: readonly string[]): Promise<() => Promise<void>> {
    const wanted = [...new Set(uris)];
    const fresh = wanted.filter((uri) => !this.held.has(uri)).length;
    if (this.held.size + fresh > this.max) {
      throw new ProtocolError(
        JSONRPC.SERVER_ERROR,
        `Too many resource subscriptions: this upstream connection is subscribed to ${this.held.size} of at most ${this.max} resources, and ${fresh} more were asked for`,
        { code: 'subscriptions_full' satisfies GatewayErrorCode, max: this.max },
      );
    }
    for (const uri of wanted) this.held.set(uri, (this.held.get(uri) ?? 0) + 1);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      for (const uri of wanted) {
        const left = this.held.get(uri)! - 1;
        if (left > 0) this.held.set(uri, left);
        else {
          this.held.delete(uri);
          this.refused.delete(uri);
        }
      }
      await this.reconcile();
    };
    await this.reconcile();
    const missing = wanted.find((uri) => !this.subscribed.has(uri));
    if (missing !== undefined) {
      const why = this.closed ? new Error('the connection closed') : this.refused.get(missing);
      await release();
      if (upstreamsOwnError(why)) throw why;
      if (why instanceof SdkError && why.code === SdkErrorCode.RequestTimeout) {
        // Bounded by the connection's own limit, not by the callTimeout of the request that asked.
        const { timeout, timeoutSetting } = this.options;
        throw new ProtocolError(
          JSONRPC.SERVER_ERROR,
          `The upstream did not answer ${this.options.modern ? 'subscriptions/listen' : 'resources/subscribe'} for ${missing} within ${timeout / 1000} s${timeoutSetting ? ` (${timeoutSetting})` : ''}`,
          { code: 'upstream_timeout' satisfies GatewayErrorCode },
        );
      }
      throw new ProtocolError(
        JSONRPC.SERVER_ERROR,
        `The upstream did not subscribe to ${missing}: ${why instanceof Error ? why.message.split('\n')[0] : 'it did not say why'}`,
        { code: 'upstream_unavailable' satisfies GatewayErrorCode },
      );
    }
    return release;
  }

  /** The connection has gone: nothing more is asked of the upstream. */
  close(): void {
    this.closed = true;
    this.reopening.stop();
  }

  /** Makes the upstream's subscriptions what is held now, after the changes before. */
  private reconcile(): Promise<void> {
    this.queue = this.queue
      .then(() => {
        if (this.closed) return;
        return this.options.modern ? this.relisten() : this.resubscribe();
      })
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'resource subscriptions could not be changed upstream'));
    return this.queue;
  }

  /** A 2025 upstream: one request per URI that changed, all at once (a listener may bring a hundred). */
  private async resubscribe(): Promise<void> {
    const { timeout, log } = this.options;
    const fresh = [...this.held.keys()].filter((uri) => !this.subscribed.has(uri));
    const stale = [...this.subscribed].filter((uri) => !this.held.has(uri));
    for (const uri of stale) this.subscribed.delete(uri);
    await Promise.all([
      ...fresh.map(async (uri) => {
        try {
          await this.client.subscribeResource({ uri }, { timeout });
          this.subscribed.add(uri);
          this.refused.delete(uri);
        } catch (error) {
          this.refused.set(uri, error);
        }
      }),
      ...stale.map((uri) =>
        this.client.unsubscribeResource({ uri }, { timeout }).catch((error: unknown) => {
          log.debug({ err: error }, 'the upstream refused resources/unsubscribe');
        }),
      ),
    ]);
  }

  private async relisten(): Promise<void> {
    const wanted = [...this.held.keys()];
    if (wanted.length === this.subscribed.size && wanted.every((uri) => this.subscribed.has(uri))) return;
    const previous = this.stream;
    if (wanted.length === 0) {
      this.stream = undefined;
      this.subscribed = new Set();
      await previous?.close();
      return;
    }
    let stream: McpSubscription;
    try {
      stream = await this.client.listen({ resourceSubscriptions: wanted }, { timeout: this.options.timeout });
    } catch (error) {
      for (const uri of wanted) if (!this.subscribed.has(uri)) this.refused.set(uri, error);
      return;
    }
    this.stream = stream;
    this.options.counts.track(stream);
    const ended = this.reopening.opened();
    this.subscribed = new Set(stream.honoredFilter.resourceSubscriptions ?? []);
    for (const uri of wanted) {
      if (this.subscribed.has(uri)) this.refused.delete(uri);
      else this.refused.set(uri, new Error('its acknowledgement left it out'));
    }
    void stream.closed.then((how) => {
      if (how === 'local' || this.stream !== stream || this.closed) return;
      // Nothing is subscribed until a new stream is open.
      this.stream = undefined;
      this.subscribed = new Set();
      ended(how);
    });
    await previous?.close();
  }
}
