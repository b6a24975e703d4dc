/**
 * Debian's Chromium, driven by playwright-core (which downloads no browser), for the tests that
 * need a real browser: the status page and browser-based MCP clients. `.ci/run` installs it
 * (`apt-get install chromium`); without it a test fails saying how to install it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, and nothing that talks to the network on its own. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches Chromium with the project's flags and `extraArgs`; `what` says what is tested in it,
 * for the error when it is missing.
 *
 * @example
 * const browser = await launchChromium('the status page', ['--host-resolver-rules=MAP app.test 127.0.0.1']);
 */
export async function launchChromium(what: string, extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: ${what} is tested in Debian's Chromium. Install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does).`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...extraArgs] });
}
