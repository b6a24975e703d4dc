/**
 * A `url:` route's `maxMessageSize`: the most the remote server may send as one message. Without
 * it, a remote that sends a 5 GB JSON body or an event that never ends makes the gateway hold it
 * all: the SDK's transport reads a JSON answer whole (`response.json()`) and an event stream event
 * by event, each event whole before it is parsed.
 *
 * {@link withMessageLimit} counts the bytes of each answer's body as the reader takes them, never
 * holding more than the chunk in hand:
 * - a body that is not an event stream (a JSON answer, an error page, a redirect's) is one
 *   message: refused before it is read when its Content-Length says it is too long, passed as it
 *   is when that length is within the bound (unless it is compressed: fetch inflates it), else cut
 *   at the byte past the bound;
 * - an event stream is bounded per event: the bytes from the end of one event (a blank line) to
 *   the end of the next, so a long stream of small events is fine and one endless event is not.
 * A body over the bound is cancelled (the connection to the remote closes) and errors with
 * {@link MessageTooLarge}; before that, `onOverflow` is told which requests the answer was for
 * (read from the request's body, only then), so the transport can fail them at once with a clear
 * error instead of the SDK's "SSE stream disconnected" and a wait for `callTimeout`.
 */
import type { FetchLike, RequestId } from '@modelcontextprotocol/client';
import { describeSize } from '../config/units.js';
import { isEventStream } from './upstream-fetch.js';

/** A remote server's message over the route's `maxMessageSize`: its body was cut there. */
export class MessageTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`sent a message over ${describeSize(maxBytes)} (maxMessageSize)`);
    this.name = 'MessageTooLarge';
  }
}

/** What {@link withMessageLimit} says of a body it cut. */
export interface Overflow {
  readonly error: MessageTooLarge;
  /** The HTTP method of the request whose answer it was. */
  readonly method: string;
  /** The body was an event stream (cut at one event), not one message. */
  readonly eventStream: boolean;
  /** Refused by its Content-Length, before a byte of it was read. */
  readonly declared: boolean;
  /** The ids of the JSON-RPC requests that request carried: none for a GET, a DELETE, a notification. */
  readonly requestIds: readonly RequestId[];
  /** The `Last-Event-ID` the request carried: a GET that resumes a stream, from the last event it had. */
  readonly lastEventId: string | undefined;
}

/** `base`, with each answer's body bounded to `maxBytes` per message (see the module's comment). */
export function withMessageLimit(base: FetchLike, maxBytes: number, onOverflow: (overflow: Overflow) => void = () => undefined): FetchLike {
  return async (url, init) => {
    const response = await base(url, init);
    const body = response.body;
    if (body === null) return response;
    const eventStream = isEventStream(response.headers.get('content-type'));
    const overflow = (declared: boolean): MessageTooLarge => {
      const error = new MessageTooLarge(maxBytes);
      onOverflow({
        error,
        method: (init?.method ?? 'GET').toUpperCase(),
        eventStream,
        declared,
        requestIds: requestIdsOf(init?.body),
        lastEventId: new Headers(init?.headers).get('last-event-id') ?? undefined,
      });
      return error;
    };
    const declared = eventStream ? undefined : response.headers.get('content-length');
    if (declared !== undefined && declared !== null) {
      if (Number(declared) > maxBytes) {
        const error = overflow(true);
        await body.cancel(error).catch(() => undefined);
        throw error;
      }
      // HTTP/1.1 ends such a body at its length, so it cannot grow past it: nothing to count. Unless
      // fetch inflates it (gzip, br), when it may be far longer than it said: counted.
      if (!response.headers.has('content-encoding')) return response;
    }
    const meter = eventStream ? new EventMeter() : undefined;
    let bytes = 0;
    const reader = body.getReader();
    const bounded = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await reader.read();
          if (chunk.done) return controller.close();
          const over = meter ? meter.feed(chunk.value) > maxBytes : (bytes += chunk.value.byteLength) > maxBytes;
          if (!over) return controller.enqueue(chunk.value);
          const error = overflow(false);
          controller.error(error);
          await reader.cancel(error).catch(() => undefined);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      // Read from the network only when the reader asks, as the original body does.
      { highWaterMark: 0 },
    );
    return new Response(bounded, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The size of the event an event stream is in: bytes since the last blank line (an event ends at
 * an empty line; lines end in CRLF, LF or CR: WHATWG HTML §9.2.5), across chunks. It looks only
 * at line ends, so a chunk costs a search per line, not a step per byte.
 */
export class EventMeter {
  /** Bytes of the event so far, its line ends included. */
  #bytes = 0;
  /** The last byte read ended a line (or none was read yet). */
  #atLineStart = true;
  /** The last byte read was a CR (that ended a line, or an event): an LF next is the same line end. */
  #afterCr: 'line' | 'event' | undefined;

  /** Reads `chunk`; returns the size of the largest event it saw end in it, or of the one still open. */
  feed(chunk: Uint8Array): number {
    let largest = 0;
    let i = 0;
    let nextLf = -2;
    let nextCr = -2;
    while (i < chunk.length) {
      if (this.#afterCr) {
        const ended = this.#afterCr;
        this.#afterCr = undefined;
        if (chunk[i] === LF) {
          if (ended === 'line') this.#bytes++;
          i++;
          continue;
        }
      }
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (end === -1) {
        this.#bytes += chunk.length - i;
        this.#atLineStart = false;
        break;
      }
      const blank = end === i && this.#atLineStart;
      if (blank) {
        // The event ends here.
        largest = Math.max(largest, this.#bytes + 1);
        this.#bytes = 0;
      } else {
        this.#bytes += end - i + 1;
        this.#atLineStart = true;
      }
      if (chunk[end] === CR) this.#afterCr = blank ? 'event' : 'line';
      i = end + 1;
    }
    return Math.max(largest, this.#bytes);
  }
}

/** The ids of the JSON-RPC requests in a request body the SDK wrote (a string of JSON), if any. */
function requestIdsOf(body: unknown): RequestId[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed = JSON.parse(body) as unknown;
    return (Array.isArray(parsed) ? parsed : [parsed]).flatMap((message: unknown) => {
      const { id, method } = (message ?? {}) as { id?: unknown; method?: unknown };
      return typeof method === 'string' && (typeof id === 'string' || typeof id === 'number') ? [id] : [];
    });
  } catch {
    return [];
  }
}
