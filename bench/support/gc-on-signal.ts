/**
 * Preloaded into benchmark children (`node --expose-gc --import …/gc-on-signal.js`): SIGUSR2 runs
 * full garbage collections and, half a second later, writes `process.memoryUsage()` as JSON to
 * `$BENCH_MEMORY_FILE`, so memory is read after a GC without adding a hook to the gateway.
 * SIGUSR1 is Node's inspector signal, hence USR2.
 */
import { writeFileSync } from 'node:fs';

const gc = (globalThis as { gc?: () => void }).gc;
const file = process.env.BENCH_MEMORY_FILE;
if (gc && file) {
  process.on('SIGUSR2', () => {
    // Twice: the first pass may leave finalizers whose objects the second one frees.
    gc();
    gc();
    // V8 returns the pages a GC freed to the system from a background task: read RSS once it has.
    setTimeout(() => writeFileSync(file, JSON.stringify({ ...process.memoryUsage(), at: Date.now() })), 500);
  });
}
