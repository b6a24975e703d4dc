/**
 * HTTP/1.1 written by hand on a socket, for what no client library sends: a stalled body, a
 * request that ends mid-header, a header field repeated that Node's own client would not repeat
 * (Host).
 */
import { connect } from 'node:net';

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
