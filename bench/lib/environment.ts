/** What the numbers were measured on, for the report: they mean nothing without it. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './child.js';

export interface RunInfo {
  /** ISO date and time the run started (UTC). */
  date: string;
  command: string;
  node: string;
  sdk: string;
  /** SDK v2 packages of the v2 reference: server and node adapter. */
  sdkV2: string;
  autocannon: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** 1-minute load average when the run started and ended (others share this machine). */
  loadStart: number;
  loadEnd?: number;
  /** How servers and the load generator were placed on CPUs. */
  placement: string;
  /** Seconds the whole run took. */
  seconds?: number;
}

export function runInfo(command: string, placement: string): RunInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command,
    node: process.version,
    sdk: packageVersion('@modelcontextprotocol/sdk'),
    sdkV2: `server ${packageVersion('@modelcontextprotocol/server')}, node ${packageVersion('@modelcontextprotocol/node')}`,
    autocannon: packageVersion('autocannon'),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadStart: os.loadavg()[0]!,
    placement,
  };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
