/**
 * Waiting in a test for something the gateway does in its own time (a log line, a process gone, a
 * request seen upstream): `check` is polled every 25 ms until it holds, for at most `ms`. A bound,
 * not a timing assertion: on a slow machine it only waits longer.
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
