/**
 * The `fetch` of a `url:` route's transports: each request gets an abort signal of its own,
 * linked to the one the transport passed and unlinked as soon as the request is finished.
 *
 * Why: the SDK's transports pass one transport-wide `AbortController.signal` to every fetch
 * (Streamable HTTP: each POST of a 2025 connection, the GET listen stream, the DELETE; HTTP+SSE:
 * each POST). Node's fetch (undici) adds an `abort` listener to the signal it is given and takes
 * it off only when that signal aborts or, later, when a FinalizationRegistry sees the request
 * collected; it also counts the signal's listeners (`getEventListeners`, O(n)) on every request.
 * So a long-lived upstream connection gathers listeners, about one per request until the next
 * garbage collection that frees them: memory, a per-request cost that grows, and
 * `MaxListenersExceededWarning: ... 1501 abort listeners added to [AbortSignal]` once 1500 are
 * waiting. (A 2026-07-28 request has a signal of its own, `AbortSignal.any` of the transport's
 * and the request's, so it does not add to the transport's; nor does the HTTP+SSE transport's
 * event stream, whose EventSource has a controller per connection. Both go through here all the
 * same; a request with no signal, such as an OAuth one, goes straight to fetch.)
 *
 * Here the transport's signal gets one `{ once: true }` listener per request, taken off when:
 * - the fetch rejects;
 * - the headers of an answer that is not an event stream arrive. The SDK reads such a body (JSON,
 *   a 202, an error) at once, and the server sent it when its work was done, so an abort after
 *   the headers has nothing left to cancel; the price is that `close()` does not cut short a
 *   JSON body that is still arriving (a server stalling mid-body is bounded by undici's body
 *   timeout, not by `close()`). Keeping the link would mean wrapping every body;
 * - an event stream (a POST answered as SSE, the GET listen stream) ends, errors or is cancelled:
 *   its body is wrapped so that aborting the transport's signal mid-stream still ends it, which
 *   is how the transport's `close()` and a 2026-07-28 cancellation stop a stream.
 * The wrapped answer is a new `Response` with the same status, status text, headers and bytes; its
 * `url` is empty and `redirected` false (the SDK follows redirects itself, hop by hop, and reads
 * `url` only of a redirect, which is not an event stream).
 */
import type { FetchLike } from '@modelcontextprotocol/client';

/** `base` with a signal of its own for each request that has one. */
export function withOwnAbortSignal(base: FetchLike): FetchLike {
  return async (url, init) => {
    const outer = init?.signal;
    // No signal, or one already aborted (fetch rejects at once and adds no listener).
    if (!outer || outer.aborted) return base(url, init);
    const controller = new AbortController();
    const abort = () => controller.abort(outer.reason);
    outer.addEventListener('abort', abort, { once: true });
    const unlink = () => outer.removeEventListener('abort', abort);
    let response: Response;
    try {
      response = await base(url, { ...init, signal: controller.signal });
    } catch (error) {
      unlink();
      throw error;
    }
    const body = response.body;
    if (body === null || !isEventStream(response.headers.get('content-type'))) {
      unlink();
      return response;
    }
    return new Response(untilDone(body, unlink), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/**
 * `base`, with the route's secrets taken out of every error answer's body before the SDK reads it:
 * the SDK puts such a body in its error (`Error POSTing to endpoint: …`), which reaches the client,
 * the log and the status page, and a remote server's error page may repeat the request's URL (a key
 * in its query) or headers. `secrets` are the values of the configured URL's query and headers.
 */
export function withRedactedErrors(base: FetchLike, secrets: readonly string[]): FetchLike {
  if (secrets.length === 0) return base;
  return async (url, init) => {
    const response = await base(url, init);
    if (response.status < 400 || response.body === null || isEventStream(response.headers.get('content-type'))) return response;
    let text = await response.text();
    for (const secret of secrets) text = text.replaceAll(secret, '[redacted]');
    return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * What {@link withRedactedErrors} takes out for a route: each query value of its URL and each of its
 * header values (and the credentials after an auth scheme), longest first, those of 6 characters
 * or more (shorter ones are no secret worth the words they would garble).
 */
export function secretsOf(url: URL, headers: Readonly<Record<string, string>>): string[] {
  const values = [...url.searchParams.values(), ...Object.values(headers).flatMap((value) => [value, value.replace(/^\S+\s+/, '')])];
  return [...new Set(values.map((value) => value.trim()).filter((value) => value.length >= 6))].sort((a, b) => b.length - a.length);
}

/** The route transports' fetch: the global one (looked up per request), each request with its own signal. */
export const upstreamFetch: FetchLike = withOwnAbortSignal((url, init) => globalThis.fetch(url, init));

/** Whether a Content-Type is `text/event-stream` (in any case, with any parameters). */
export function isEventStream(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semicolon = contentType.indexOf(';');
  const essence = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return essence === 'text/event-stream';
}

/** `body`'s chunks as they are read, calling `done` once when it ends, errors or is cancelled. */
function untilDone(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          done();
          controller.error(error);
          return;
        }
        if (chunk.done) {
          done();
          controller.close();
        } else controller.enqueue(chunk.value);
      },
      cancel(reason) {
        done();
        return reader.cancel(reason);
      },
    },
    // Read from the network only when the reader asks, as the original body does.
    { highWaterMark: 0 },
  );
}
