/**
 * A preload for child processes under test (`node --import <this file's URL>`, e.g. through
 * NODE_OPTIONS): every DNS lookup of a name that is not a loopback name, and every outgoing
 * connection to a host that is not a loopback address, is refused before it leaves the process,
 * and reported on stderr as a line starting with {@link BLOCKED}. Tests of exporters that would
 * otherwise call home (Azure Monitor's statsbeat, token endpoints) run their gateway with it and
 * assert that no such line was written.
 */
import dns from 'node:dns';
import net from 'node:net';

export const BLOCKED = 'loopback-only: blocked';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '::1', '[::1]']);
const isLoopback = (host: string) =>
  LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';

function refuse(what: string): Error {
  process.stderr.write(`${BLOCKED} ${what}\n`);
  return Object.assign(new Error(`${BLOCKED} ${what}`), { code: 'ENOTFOUND' });
}

const lookup = dns.lookup;
// The callback form, as net and the HTTP clients call it.
(dns as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  if (typeof hostname === 'string' && !isLoopback(hostname)) {
    const callback = rest.at(-1) as (error: Error) => void;
    const error = refuse(`DNS lookup of ${hostname}`);
    process.nextTick(() => callback(error));
    return {};
  }
  return (lookup as (...args: unknown[]) => unknown).call(dns, hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
(dns.promises as { lookup: unknown }).lookup = async (hostname: string, ...rest: unknown[]) => {
  if (!isLoopback(hostname)) throw refuse(`DNS lookup of ${hostname}`);
  return (promisesLookup as (...args: unknown[]) => unknown)(hostname, ...rest);
};

/** The host a `Socket#connect` call goes to; undefined for a local socket path. */
function hostOf(args: unknown[]): string | undefined {
  // net.connect passes its normalized arguments as one array.
  const first: unknown = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const { host, path } = first as { host?: unknown; path?: unknown };
    return path !== undefined ? undefined : String(host ?? 'localhost');
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first)))
    return typeof args[1] === 'string' ? args[1] : 'localhost';
  return undefined;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const host = hostOf(args);
  if (host !== undefined && !isLoopback(host)) {
    const error = refuse(`connection to ${host}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
