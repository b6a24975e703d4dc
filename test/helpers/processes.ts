/** Finding the processes a test started (stdio servers and their helpers) by a marker in their command line. */
import { readdirSync, readFileSync } from 'node:fs';

/** Processes on this machine whose command line carries `marker`, from /proc (Linux). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
