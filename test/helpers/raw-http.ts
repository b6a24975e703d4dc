/**
 * HTTP/1.1 written by hand on a socket, for what no client library sends: a stalled body, a
 * request that ends mid-header, a header field repeated that Node's own client would not repeat
 * (Host).
 */
import { connect, type Socket } from 'node:net';

/**
 * Sends `bytes` on a raw connection to 127.0.0.1:`port`; resolves with what came back when the
 * connection closed (`closed: true`), or after 15 s (`closed: false`). Send `Connection: close`
 * to have it resolve once the answer is complete.
 */
export function rawExchange(port: number, bytes: string): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk) => (response += chunk));
    socket.on('close', () => resolve({ response, closed: true }));
    socket.on('error', reject);
    // Bounded: nothing here waits longer than this, whatever the gateway does.
    setTimeout(() => {
      socket.destroy();
      resolve({ response, closed: false });
    }, 15_000).unref();
  });
}

/**
 * Sends `first` on a raw connection, waits for its whole answer (a Content-Length body), then sends
 * `second` on the same connection, as a client that keeps its connections does: what came back
 * for each, once the connection closed (or after 15 s, `closed: false`).
 */
export function rawExchangeAfter(port: number, first: string, second: string): Promise<{ first: string; rest: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(first));
    let received = '';
    let firstEnd: number | undefined;
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      const headEnd = received.indexOf('\r\n\r\n');
      if (firstEnd !== undefined || headEnd === -1) return;
      const length = Number(/content-length: *(\d+)/i.exec(received.slice(0, headEnd))?.[1] ?? 0);
      if (received.length >= headEnd + 4 + length) {
        firstEnd = headEnd + 4 + length;
        socket.write(second);
      }
    });
    const done = (closed: boolean) =>
      resolve({ first: received.slice(0, firstEnd ?? received.length), rest: received.slice(firstEnd ?? received.length), closed });
    socket.on('close', () => done(true));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      done(false);
    }, 15_000).unref();
  });
}

/**
 * A client that sends `request` on a raw connection to 127.0.0.1:`port` and then reads nothing (a
 * suspended laptop, a hung tab): what the gateway writes piles up. `closed` resolves when the
 * gateway cuts the connection; call `socket.resume()` to let it see the cut.
 */
export function unreadingClient(port: number, request: string): { readonly socket: Socket; readonly closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(request);
  socket.pause();
  return { socket, closed };
}

/** A POST of `body` to `path` in HTTP/1.1, with `headers` beside the MCP ones (JSON in, JSON or an event stream out). */
export function rawPost(path: string, body: string, headers: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
    `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
