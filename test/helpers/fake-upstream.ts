/**
 * A loopback HTTP upstream for the upstream cache's tests, counting requests per path and
 * answering as each test says, plus the small tools those tests share (a fake clock, a gate).
 */
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CACHE_STATUS_HEADER } from '../../src/gateway/module-contract.js';

/** What the fake upstream answers on one path; `n` is the request's number on that path, from 1. */
export interface Reply {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | ((n: number) => string);
  /** Destroy the connection instead of answering. */
  readonly reset?: boolean;
  /** Hold the answer until this settles. */
  readonly gate?: Promise<void>;
  /**
   * Send these validators (`ETag`, `Last-Modified`) and answer a conditional request that matches
   * them (`If-None-Match`, else `If-Modified-Since`, RFC 9110 §13.2.2) with a 304 carrying
   * {@link headers} and no body.
   */
  readonly validators?: { readonly etag?: string; readonly lastModified?: string };
}

/** A loopback HTTP upstream that counts requests per path and answers as told. */
export class FakeUpstream {
  readonly #server = http.createServer((req, res) => void this.#handle(req, res));
  readonly #replies = new Map<string, Reply>();
  readonly #counts = new Map<string, number>();
  readonly #changes = new EventEmitter();
  readonly headersSeen: http.IncomingHttpHeaders[] = [];
  abandoned = 0;
  origin = '';

  static async start(): Promise<FakeUpstream> {
    const upstream = new FakeUpstream();
    upstream.#server.listen(0, '127.0.0.1');
    await once(upstream.#server, 'listening');
    upstream.origin = `http://127.0.0.1:${(upstream.#server.address() as AddressInfo).port}`;
    return upstream;
  }

  on(path: string, reply: Reply): void {
    this.#replies.set(path, reply);
  }

  count(path: string): number {
    return this.#counts.get(path) ?? 0;
  }

  get total(): number {
    return [...this.#counts.values()].reduce((sum, n) => sum + n, 0);
  }

  url(path: string): string {
    return this.origin + path;
  }

  /** Resolves once `predicate` holds, re-checked whenever a request arrives or is abandoned. */
  async until(predicate: () => boolean): Promise<void> {
    while (!predicate()) await once(this.#changes, 'change');
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const n = this.count(path) + 1;
    this.#counts.set(path, n);
    this.headersSeen.push(req.headers);
    res.on('close', () => {
      if (!res.writableFinished) this.abandoned++;
      this.#changes.emit('change');
    });
    this.#changes.emit('change');
    const reply = this.#replies.get(path) ?? {};
    if (reply.reset) return void req.socket.destroy();
    await reply.gate;
    const validators = {
      ...(reply.validators?.etag !== undefined && { etag: reply.validators.etag }),
      ...(reply.validators?.lastModified !== undefined && { 'last-modified': reply.validators.lastModified }),
    };
    if (reply.validators && notModified(req.headers, reply.validators)) {
      res.writeHead(304, { 'cache-control': 'max-age=60', ...reply.headers, ...validators });
      return void res.end();
    }
    const body =
      typeof reply.body === 'function' ? reply.body(n) : (reply.body ?? JSON.stringify({ path, n, accept: req.headers.accept ?? null }));
    res.writeHead(reply.status ?? 200, {
      'content-type': 'application/json',
      'cache-control': 'max-age=60',
      ...reply.headers,
      ...validators,
    });
    res.end(body);
  }
}

/** Whether a conditional GET matches the current validators, so that 304 is the answer. */
function notModified(headers: http.IncomingHttpHeaders, validators: NonNullable<Reply['validators']>): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return (
      validators.etag !== undefined &&
      ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === validators.etag!.replace(/^W\//, ''))
    );
  }
  const since = Date.parse(headers['if-modified-since'] ?? '');
  const modified = Date.parse(validators.lastModified ?? '');
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/** A clock for the cache's `now` that moves only when told. */
export function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** A promise to hold an answer with, and the function that releases it. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** A response's status, cache headers and body, read. */
export async function read(response: Response) {
  return {
    status: response.status,
    cache: response.headers.get(CACHE_STATUS_HEADER),
    age: response.headers.get('age'),
    retryAfter: response.headers.get('retry-after'),
    body: await response.text(),
  };
}
