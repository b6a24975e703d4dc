/**
 * Processes as the kernel sees them: a process's resident memory and CPU time, and the processes
 * it started (the stdio servers a bridge spawned), read from /proc. Linux only, with `ps` as the
 * fallback for RSS elsewhere (CPU time is then not known).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of `pid` now, in KiB (VmRSS from /proc, else `ps`); NaN once it is gone. */
export function rssKiBOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (match) return Number(match[1]);
  } catch {
    // Not Linux, or gone: ps below.
  }
  const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout?.trim();
  return out ? Number(out) : NaN;
}

/**
 * Every process descended from `pid` (children, their children, …), found by parent pid in
 * /proc/<pid>/stat. A child spawned `detached` (its own process group, as the gateway and
 * supergateway spawn theirs) is still its parent's child. Empty where there is no /proc.
 */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Gone meanwhile.
    }
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const siblings = children.get(ppid) ?? [];
    siblings.push(Number(entry));
    children.set(ppid, siblings);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * The clock ticks per second that /proc/<pid>/stat counts CPU time in (`getconf CLK_TCK`; 100 on
 * every Linux the benchmarks have run on, and the fallback where getconf is missing).
 */
const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
  return Number(out) > 0 ? Number(out) : 100;
})();

/**
 * CPU time, user and system, in µs (a clock tick's resolution), from /proc/<pid>/stat: `own` is
 * the process's, all its threads (utime + stime, fields 14 and 15), `reaped` that of its children
 * that have ended and that it has waited for (cutime + cstime, fields 16 and 17: the kernel adds a
 * child's time there when its parent reaps it, as Node does every child it spawned). Undefined
 * where there is no /proc, or once the process is gone.
 */
export function cpuTimesOf(pid: number): { own: number; reaped: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after `pid (comm)`, which may hold spaces: field 3 (state) is the first of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const micros = (...numbers: number[]) => (numbers.reduce((sum, n) => sum + Number(fields[n - 3]), 0) / CLOCK_TICKS) * 1e6;
  return { own: micros(14, 15), reaped: micros(16, 17) };
}

/**
 * The processes `pid` started, and theirs, recursively, from /proc/<pid>/task/<tid>/children
 * (every thread's own children: a process is the child of the thread that forked it). Cheaper
 * than {@link descendantsOf}, which reads every process's stat; empty where there is no /proc.
 */
export function childrenTreeOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = tasks.flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // The thread ended meanwhile.
    }
  });
  return children.flatMap((child) => [child, ...childrenTreeOf(child)]);
}

/** CPU time in µs, split as a bridge process's own and its children's. */
export interface CpuUse {
  /** The bridge process itself; undefined when there is none (the direct clients have no bridge). */
  bridgeUs?: number;
  /** All the processes it started, and theirs (or the processes given, for the direct clients). */
  childrenUs: number;
}

/**
 * The CPU time a bridge process and its descendants have used so far. The descendants are found
 * anew at each reading, and each one's reaped children count with it, as the bridge's do: a
 * child that ends between two readings (the one the status page lists tools with, say) moves its
 * time into its parent's reaped time, so the difference of two readings loses nothing of it, and
 * one that starts between them counts from its start. (A process that ends in the instant between
 * the listing and its own reading is missed.) Undefined where there is no /proc.
 */
export function treeCpu(bridge: number): CpuUse | undefined {
  const root = cpuTimesOf(bridge);
  if (!root) return undefined;
  let childrenUs = root.reaped;
  for (const pid of childrenTreeOf(bridge)) {
    const times = cpuTimesOf(pid);
    if (times) childrenUs += times.own + times.reaped;
  }
  return { bridgeUs: root.own, childrenUs };
}

/** The CPU time some processes (none a bridge) and the children they reaped have used so far; undefined once one is gone. */
export function processesCpu(pids: readonly number[]): CpuUse | undefined {
  let childrenUs = 0;
  for (const pid of pids) {
    const times = cpuTimesOf(pid);
    if (!times) return undefined;
    childrenUs += times.own + times.reaped;
  }
  return { childrenUs };
}

/**
 * A reading now, and a function that returns the CPU time used since, from a second one: around a
 * measured run. Undefined where a reading is (no /proc, or a process gone).
 */
export function cpuSince(read: () => CpuUse | undefined): (() => CpuUse | undefined) | undefined {
  const before = read();
  if (!before) return undefined;
  return () => {
    const after = read();
    if (!after) return undefined;
    const childrenUs = after.childrenUs - before.childrenUs;
    return after.bridgeUs === undefined || before.bridgeUs === undefined
      ? { childrenUs }
      : { bridgeUs: after.bridgeUs - before.bridgeUs, childrenUs };
  };
}
