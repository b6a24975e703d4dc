/**
 * A bound on what a long-lived event stream holds for a client that does not read it. The SDK's
 * transport writes each message into its stream whatever is still waiting there, and the Node
 * response takes from the stream only as the socket drains: a 2025 session's GET stream whose
 * client stopped reading (a suspended laptop, a hung tab) would hold every notification sent to it
 * (list changes reach every stream of a route) for as long as its connection stays up.
 */

/**
 * `source`, read as fast as it is written; once more than `limit` bytes of it wait for the
 * client, the stream is ended with an error (the connection is cut: the client opens its stream
 * again, as after any drop) and `onOverflow` is told. What waits is dropped with it.
 */
export function unreadBound(
  source: ReadableStream<Uint8Array>,
  limit: number,
  onOverflow: (unread: number) => void,
): ReadableStream<Uint8Array> {
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
                onOverflow(unread);
                controller.error(new Error(`the client left ${unread} bytes of its event stream unread`));
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
