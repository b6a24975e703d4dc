/**
 * Whether a 2025 session's client has its GET stream open, which the SDK's transport does not
 * tell: counted from the GETs it answers with an event stream, until their responses end.
 */
import type { SessionStream } from '../upstreams/upstream.js';

export class GetStreamState implements SessionStream {
  private streams = 0;
  private readonly listeners = new Set<() => void>();

  get open(): boolean {
    return this.streams > 0;
  }

  onOpen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A GET stream is open from now on; returns its end (called once or more). */
  opened(): () => void {
    this.streams++;
    for (const listener of [...this.listeners]) listener();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.streams--;
    };
  }
}
