/**
 * A bound on what an event stream holds for a client that does not read it. The SDK writes each
 * message into its stream whatever is still waiting there, and the Node bridge takes from the
 * stream only as the socket drains: a 2025 session's GET stream or a 2026-07-28
 * `subscriptions/listen` stream whose client stopped reading (a suspended laptop, a hung tab) would
 * hold every notification sent to it (list changes reach every stream of a route) for as long as
 * its connection stays up, and a call's own stream everything its server sends before it answers
 * (progress, log messages) for as long as the call runs.
 *
 * So the gateway sends such a response itself instead of the bridge, reading it as fast as it comes:
 * what the client has not taken waits here, counted, and past the bound the connection is cut. One
 * loop, as the bridge's own: no second stream in between (which cost a tenth of the CPU of a 2025
 * call, each of which is answered as an event stream).
 */
import type { ServerResponse } from 'node:http';

/** What an event stream may hold unread by its client before it is cut. */
export const MAX_UNREAD_STREAM = 16 * 1024 * 1024;

/**
 * Sends `response` (an event stream) on `res`, its headers at once and its events as they come,
 * resolving once it has ended, its client went away or it was cut. As the Node bridge does, a chunk
 * goes to `res` while `res` takes more, one message however large; after that, what comes waits
 * here until `res` drains, and once more than `limit` bytes wait, `cut` is told how many and the
 * connection is destroyed (the client opens its stream again, as after any drop); the response's
 * stream is cancelled. Never errors the stream: the bridge would log the error to the console and
 * write it into the response. The `Connection` header is left to Node, as for every answer
 * (headers.ts `leaveConnectionToNode`).
 */
export async function sendBounded(response: Response, res: ServerResponse, limit: number, cut: (unread: number) => void): Promise<void> {
  // Gone while the answer was made (a session opened, a child started): nothing to write to.
  if (res.destroyed) {
    await response.body!.cancel().catch(() => undefined);
    return;
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'connection') headers[name] = value;
  });
  res.writeHead(response.status, headers);
  // A stream may say nothing for a while (a GET stream): the client learns it is open now.
  res.flushHeaders();
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const reader = response.body!.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  /** Chunks that came while `res` was full, and their bytes: what the client has left unread. */
  const waiting: Uint8Array[] = [];
  let unread = 0;
  let full = false;
  let ended = false;
  const drained = () => {
    full = false;
    while (waiting.length > 0 && !full) {
      const chunk = waiting.shift()!;
      unread -= chunk.byteLength;
      full = !res.write(chunk);
    }
    if (full) res.once('drain', drained);
    else if (ended) res.end();
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (res.destroyed) break;
      if (done) {
        ended = true;
        if (!full) res.end();
        break;
      }
      if (!full) {
        full = !res.write(value);
        if (full) res.once('drain', drained);
        continue;
      }
      waiting.push(value);
      unread += value.byteLength;
      if (unread > limit) {
        cut(unread);
        res.destroy();
        break;
      }
    }
  } catch {
    // The stream failed (its server closed mid-event): the connection ends, as the bridge ends it.
    res.destroy();
  }
  await closed;
}
