/**
 * The result of a 2026-07-28 request the SDK answers as an SSE stream: it does so, instead of one
 * JSON body, once the server sends a notification related to the request (a log message, progress)
 * before its result, and then writes the result as the stream's last `message` event and closes it.
 */
import type { RequestId } from '@modelcontextprotocol/server';

/**
 * `body` with the result event for request `id` rewritten by `rewrite` (given and returning the
 * JSON-RPC response's text), so a streamed answer gets what the gateway does to a JSON one. Every
 * other event passes through as soon as it is whole, so the stream keeps streaming; an error
 * response is left as it is.
 *
 * @example
 * ```ts
 * const body = rewriteStreamedResult(response.body!, 7, (text) => withHints(text, 60_000, 'private') ?? text);
 * return new Response(body, { status: response.status, headers: response.headers });
 * ```
 */
export function rewriteStreamedResult(
  body: ReadableStream<Uint8Array>,
  id: RequestId,
  rewrite: (message: string) => string,
): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  let rewritten = false;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        // Only the result is rewritten, and nothing follows it that needs to be looked at.
        if (rewritten) return controller.enqueue(chunk);
        pending += decoder.decode(chunk, { stream: true });
        let out = '';
        for (let end = EVENT_END.exec(pending); end !== null && !rewritten; end = EVENT_END.exec(pending)) {
          const eventEnd = end.index + end[0].length;
          out += rewriteEvent(pending.slice(0, end.index), end[0]);
          pending = pending.slice(eventEnd);
        }
        if (rewritten) {
          out += pending;
          pending = '';
        }
        if (out !== '') controller.enqueue(encoder.encode(out));
      },
      flush(controller) {
        // An event the stream left unterminated is not dispatched to the client: it passes as it is.
        const rest = pending + decoder.decode();
        if (rest !== '') controller.enqueue(encoder.encode(rest));
      },
    }),
  );

  /** One event's text (its lines, without the blank line that ends it), rewritten if it is the result. */
  function rewriteEvent(event: string, ending: string): string {
    const lines = event.split(LINE_END);
    let type = 'message';
    const data: string[] = [];
    for (const line of lines) {
      if (line.startsWith('event:')) type = fieldValue(line, 'event:');
      else if (line.startsWith('data:')) data.push(fieldValue(line, 'data:'));
    }
    if (type !== 'message' || data.length === 0) return event + ending;
    const text = data.join('\n');
    if (!isResultFor(text, id)) return event + ending;
    rewritten = true;
    const kept = lines.filter((line) => !line.startsWith('data:'));
    // JSON.stringify writes no line breaks, so the rewritten message is one data line.
    return [...kept, `data: ${rewrite(text)}`].join(ending.startsWith('\r') ? '\r\n' : '\n') + ending;
  }
}

/** A blank line ends an event; the SDK writes `\n`, and CRLF is accepted too. */
const EVENT_END = /\r?\n\r?\n/;
const LINE_END = /\r?\n/;

/** A field's value: the text after its colon, without one leading space (the SSE rule). */
function fieldValue(line: string, field: string): string {
  const value = line.slice(field.length);
  return value.startsWith(' ') ? value.slice(1) : value;
}

function isResultFor(text: string, id: RequestId): boolean {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return false;
  }
  if (message === null || typeof message !== 'object' || 'method' in message) return false;
  return (message as { id?: unknown }).id === id && 'result' in message;
}
