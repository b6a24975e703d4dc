/**
 * A bound on what a long-lived event stream holds for a client that does not read it. The SDK
 * writes each message into its stream whatever is still waiting there, and the Node response takes
 * from the stream only as the socket drains: a 2025 session's GET stream or a 2026-07-28
 * `subscriptions/listen` stream whose client stopped reading (a suspended laptop, a hung tab) would
 * hold every notification sent to it (list changes reach every stream of a route) for as long as
 * its connection stays up, and a call's own stream everything its server sends before it answers
 * (progress, log messages) for as long as the call runs.
 */

/** What a long-lived event stream may hold unread by its client before it is cut. */
export const MAX_UNREAD_STREAM = 16 * 1024 * 1024;

/**
 * `source`, read as fast as it is written; once more than `limit` bytes of it wait for the
 * client, `cut` is called, and must end the connection (the client opens its stream again, as
 * after any drop): what waits is dropped with it, once the response's writer cancels this stream
 * as its connection closes. The stream is not errored: the Node bridge would log the error to the
 * console and write it into the response.
 */
export function unreadBound(source: ReadableStream<Uint8Array>, limit: number, cut: (unread: number) => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        void (async () => {
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) return controller.close();
              controller.enqueue(value);
              // The queue's high-water mark is 0: its desired size is minus the bytes waiting.
              const unread = -(controller.desiredSize ?? 0);
              if (unread > limit) {
                cut(unread);
                await reader.cancel().catch(() => undefined);
                return;
              }
            }
          } catch (error) {
            controller.error(error);
          }
        })();
      },
      cancel: (reason) => reader.cancel(reason),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  );
}
