/**
 * Session resume: ids issued by instance A (both instances share GATEWAY_SESSION_SECRET), first
 * used on instance B, which must recreate each session from its id, against the same request on
 * B once it holds the session. One at a time for latency, then at 10 connections for resumes/s.
 */
import { randomBytes } from 'node:crypto';
import { startGateway, type Child } from '../lib/child.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { timeCallBody } from '../lib/mcp.js';
import { activeSessions, issueIds } from '../lib/sessions.js';
import type { BenchSettings } from '../lib/settings.js';
import { TIME_MODULE } from './modules.js';

export const RESUME_CONNECTIONS = 10;

export interface ResumeResult {
  /** First request on B for ids B never saw, one at a time. */
  resumeSequential: LoadResult;
  /** The same requests again: B now holds the sessions. */
  warmSequential: LoadResult;
  /** First requests for fresh ids at 10 connections: each one a resume. */
  resumeRate: LoadResult;
  /** The same ids again at 10 connections, warm. */
  warmRate: LoadResult;
}

const yaml = `
servers:
  time:
    module: ${TIME_MODULE}
sessions:
  maxPerRoute: 200000
`;

export async function benchResume(settings: BenchSettings): Promise<ResumeResult> {
  const env = { GATEWAY_SESSION_SECRET: randomBytes(32).toString('hex') };
  const children: Child[] = [];
  try {
    const a = await startGateway('resume-a', yaml, 'time', { env, cpu: settings.serverCpu });
    children.push(a);
    const b = await startGateway('resume-b', yaml, 'time', { env, cpu: settings.serverCpu });
    children.push(b);

    settings.progress(`issuing ${settings.resumeSequential + settings.resumeRate} session ids on instance A`);
    const ids = await issueIds(a.url, settings.resumeSequential + settings.resumeRate);
    const sequential = ids.slice(0, settings.resumeSequential);
    const rate = ids.slice(settings.resumeSequential);

    // Warm B's code paths on ids of their own, so the first resumes are not also B's first requests.
    const warmupIds = await issueIds(a.url, settings.resumeSequential);
    await runLoad({ url: b.url, connections: RESUME_CONNECTIONS, amount: warmupIds.length * 3, body: timeCallBody, sessions: warmupIds });

    const once = (sessions: string[], connections: number) =>
      runLoad({ url: b.url, connections, amount: sessions.length, body: timeCallBody, sessions });
    const resumeSequential = await once(sequential, 1);
    const warmSequential = await once(sequential, 1);
    const resumeRate = await once(rate, RESUME_CONNECTIONS);
    const warmRate = await once(rate, RESUME_CONNECTIONS);
    // Every id became a session on B, and none was refused.
    const held = await activeSessions(b);
    const expected = warmupIds.length + sequential.length + rate.length;
    const failed = [resumeSequential, warmSequential, resumeRate, warmRate].reduce((sum, r) => sum + r.failed, 0);
    if (held !== expected || failed > 0)
      throw new Error(`instance B holds ${held} sessions (expected ${expected}); ${failed} requests failed`);
    settings.progress(
      `resume p50 ${resumeSequential.p50.toFixed(2)} ms vs warm ${warmSequential.p50.toFixed(2)} ms; ${Math.round(resumeRate.rps)} resumes/s`,
    );
    return { resumeSequential, warmSequential, resumeRate, warmRate };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}
