/**
 * The log budget of `command:` and `url:` routes (log-budget.ts): a server that floods its stderr,
 * its stdout with lines that are not JSON-RPC, or the gateway with log messages no client takes,
 * gets a burst of 200 lines into the gateway's log and then 20 a second; the rest are counted, and
 * the count logged, and its route goes on serving. A stdio server written by hand
 * (flood-server.mjs) and a remote on the SDK 1.x (v1-remote.ts), through the real gateway.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath } from '../helpers/project.js';
import { startV1Remote } from '../helpers/v1-remote.js';
import { until } from '../helpers/until.js';

const FLOOD = fixturePath('stdio', 'flood-server.mjs');
const BURST = 200;
const PER_SECOND = 20;
const LINES = 5000;
const FLOOD_LINE = /^flood \d+$/;
/** What the url route's remote sends after its flood, until the test has seen one in the log. */
const MARK = /^flood done \d+$/;

type LogLine = Record<string, unknown>;

function floodRoute(name: string, marker: string, extra = ''): string {
  return `  ${name}:\n    command: ${process.execPath}\n    args: [${JSON.stringify(FLOOD)}, ${JSON.stringify(marker)}]\n${extra}`;
}

/**
 * A gateway of flood-server routes for one test, closed after it with every child it started gone;
 * returned, closed, for what its log holds at the end (a child's last count comes at its exit).
 */
async function withFloodGateway(
  routes: (marker: string) => string,
  run: (gw: InProcessGateway) => Promise<void>,
): Promise<InProcessGateway> {
  const marker = `flood-${randomUUID()}`;
  const gw = await startInProcessGateway(['servers:', routes(marker), ''].join('\n'));
  try {
    await run(gw);
  } finally {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  }
  return gw;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'log-budget-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function pidOf(client: Client): Promise<number> {
  return (JSON.parse(textOf(await client.callTool({ name: 'pid', arguments: {} }))) as { pid: number }).pid;
}

/**
 * Checks a flood's accounting, once its source has ended: every one of its `lines` was either logged
 * or counted in a report, and those logged are no more than the burst plus the rate's share of the
 * time between the first and the last of them (and at least the burst, as the source had logged
 * nothing before).
 */
function assertBudgeted(logged: LogLine[], reports: LogLine[], lines = LINES): void {
  const dropped = reports.reduce((sum, line) => sum + (line.dropped as number), 0);
  assert.equal(logged.length + dropped, lines, `${logged.length} logged, ${dropped} counted as dropped`);
  const times = logged.map((line) => Date.parse(String(line.time)));
  const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
  assert.ok(logged.length >= BURST, `${logged.length} logged`);
  // The log's times are whole milliseconds: one more line for the rounding at either end.
  assert.ok(logged.length <= BURST + Math.floor(PER_SECOND * seconds) + 1, `${logged.length} logged in ${seconds} s`);
  for (const report of reports) assert.equal(report.level, 'warn');
}

describe("a command route's server that floods its stderr", () => {
  test('gets 200 lines into the log and 20 a second, the rest counted and reported 10 s after the first drop, and goes on serving during the flood', async () => {
    const msg = 'server stderr lines dropped (log budget)';
    let pid = 0;
    const gw = await withFloodGateway(
      (marker) => floodRoute('loud', marker),
      async (gw) => {
        const client = await connect(`${gw.url}/mcp/loud`);
        pid = await pidOf(client);
        const flooding = client.callTool({ name: 'flood', arguments: { stream: 'stderr', count: LINES, answer: 'after' } });
        for (let call = 0; call < 20; call++) assert.equal(await pidOf(client), pid);
        await flooding;
        // The child is still running: its count comes by the timer, 10 s after its first drop.
        await until(() => gw.logs.some((line) => line.pid === pid && line.msg === msg), 'the count of lines dropped', 15_000);
        assert.equal(await pidOf(client), pid);
        await client.close();
      },
    );
    // Counted to the last line once the child is gone (a line the gateway had not read when the
    // timer fired would be in a second count, at the child's exit).
    const ofChild = gw.logs.filter((line) => line.pid === pid);
    const reports = ofChild.filter((line) => line.msg === msg);
    assert.equal(reports[0]!.route, 'loud');
    const logged = ofChild.filter((line) => line.msg === 'server stderr' && FLOOD_LINE.test(String(line.stderr)));
    assertBudgeted(logged, reports);
  });
});

describe("a command route's server that floods its stdout with lines that are not JSON-RPC", () => {
  test('gets 200 of them into the log and 20 a second, the rest counted and reported when its session ends, and goes on serving during the flood', async () => {
    await withFloodGateway(
      (marker) => floodRoute('noisy', marker),
      async (gw) => {
        const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/noisy`));
        const client = new Client({ name: 'log-budget-test', version: '1.0.0' });
        await client.connect(transport);
        const pid = await pidOf(client);
        const flooding = client.callTool({ name: 'flood', arguments: { stream: 'stdout', count: LINES, answer: 'after' } });
        // Its answers reach the gateway between the lines that are not JSON-RPC.
        for (let call = 0; call < 20; call++) assert.equal(await pidOf(client), pid);
        await flooding;
        const ofChild = () => gw.logs.filter((line) => line.pid === pid);
        // The session's end stops its child: the count comes then, not 10 s after the first drop (the
        // flood takes about a second), so it is logged after the session was ended, not before; and
        // by then the gateway has read the child's stdout to its end.
        const ending = gw.logs.length;
        await transport.terminateSession();
        await client.close();
        const msg = 'server stdout lines that are not JSON-RPC dropped (log budget)';
        await until(() => ofChild().some((line) => line.msg === msg), 'the count of lines dropped');
        const reports = ofChild().filter((line) => line.msg === msg);
        assert.equal(reports.length, 1);
        assert.ok(gw.logs.indexOf(reports[0]!) >= ending, 'the count was logged at the end of the session, not by the timer before it');
        assert.equal(reports[0]!.route, 'noisy');
        const logged = ofChild().filter(
          (line) => line.msg === 'server wrote a line on stdout that is not JSON-RPC' && FLOOD_LINE.test(String(line.stdout)),
        );
        assertBudgeted(logged, reports);
      },
    );
  });

  test('fails an answer that is not JSON-RPC, saying whether the line is in the log or was dropped by the budget', async () => {
    await withFloodGateway(
      (marker) => floodRoute('noisy', marker),
      async (gw) => {
        const client = await connect(`${gw.url}/mcp/noisy`);
        const pid = await pidOf(client);
        const message = async (name: string, args: Record<string, unknown> = {}) => {
          const error = await client.callTool({ name, arguments: args }).then(
            (result) => assert.fail(`expected an error, got ${JSON.stringify(result)}`),
            (error: unknown) => error,
          );
          assert.ok(error instanceof ProtocolError, String(error));
          assert.equal(error.code, -32603);
          return error.message;
        };
        assert.match(
          await message('garbled'),
          /answered this request with a message that is not valid JSON-RPC \(it is in the gateway's log: server wrote a line on stdout that is not JSON-RPC\)/,
        );
        const garbledLogged = () =>
          gw.logs.filter((line) => line.pid === pid && String(line.stdout).includes('"error":{"code":-32000')).length;
        assert.equal(garbledLogged(), 1);
        // 300 lines and the answer in one chunk (flood-server.mjs): the burst of 200 is spent, and
        // the answer is dropped unless the gateway's process stalled 50 ms (a line's refill) while
        // reading that one chunk. The message must say which, each time; one of three in a row
        // (the budget is spent by then) must be a drop.
        const IN_LOG = /answered this request with a message that is not valid JSON-RPC \(it is in the gateway's log: /;
        const DROPPED =
          /answered this request with a message that is not valid JSON-RPC \(not in the gateway's log: the server wrote more stdout lines that are not JSON-RPC than its log budget lets through, and this one was dropped\)/;
        let drops = 0;
        for (let attempt = 0; attempt < 3 && drops === 0; attempt++) {
          const before = garbledLogged();
          const said = await message('garbled-in-flood', { count: 300 });
          const logged = garbledLogged() > before;
          assert.match(said, logged ? IN_LOG : DROPPED);
          if (!logged) drops++;
        }
        assert.equal(drops, 1, 'an answer in a flood past the budget was dropped');
        assert.equal(await pidOf(client), pid);
        await client.close();
      },
    );
  });
});

describe("a shared command route's server that floods the gateway with log messages no client takes", () => {
  test('gets 200 into the log, with their level and logger, data cut at 1,000 characters, and 20 a second, the rest counted and reported with its pid when it exits', async () => {
    await withFloodGateway(
      (marker) => floodRoute('shared', marker, '    isolation: shared\n'),
      async (gw) => {
        const client = await connect(`${gw.url}/mcp/shared`);
        const pid = await pidOf(client);
        // After the call has been answered: with no call in flight, the messages are no one client's.
        await client.callTool({ name: 'flood', arguments: { stream: 'log', count: LINES, delay: 100, pad: 2000, exit: true } });
        const msg = 'upstream log messages dropped (log budget)';
        const ofChild = () => gw.logs.filter((line) => line.pid === pid);
        await until(() => ofChild().some((line) => line.msg === msg), 'the count of messages dropped');
        const reports = ofChild().filter((line) => line.msg === msg);
        assert.equal(reports.length, 1);
        assert.equal(reports[0]!.route, 'shared');
        const logged = ofChild().filter((line) => line.msg === 'upstream log message' && line.upstreamLog !== undefined);
        const floods = logged.filter((line) => (line.upstreamLog as { data: string }).data.startsWith('{"n":'));
        const json = JSON.stringify({ n: 0, pad: 'x'.repeat(2000) });
        assert.equal(floods[0]!.level, 'warn', "an MCP warning is a warning in the gateway's log");
        assert.deepEqual(floods[0]!.upstreamLog, {
          level: 'warning',
          logger: 'flood',
          data: `${json.slice(0, 1000)}…[+${json.length - 1000} chars]`,
        });
        // Counted at the child's exit, when the gateway has read its stdout to the end.
        assertBudgeted(floods, reports);
        // The route starts a new child for its next request.
        assert.notEqual(await pidOf(client), pid);
        await client.close();
      },
    );
  });
});

describe("a shared url route's remote server that floods the gateway with log messages no client takes", () => {
  test('gets 200 into the log and 20 a second, the rest counted and reported when the connection closes, and the route goes on serving', async () => {
    let sent = 0;
    let marks = 0;
    let marking = true;
    let markedAll!: () => void;
    const marked = new Promise<void>((resolve) => (markedAll = resolve));
    const remote = await startV1Remote({
      register: (mcp) => {
        mcp.server.registerCapabilities({ logging: {} });
        mcp.registerTool('flood', {}, async () => {
          // Once answered (and the gateway's GET stream open): on that stream, tied to no call.
          setTimeout(async () => {
            // In batches, as flood-server.mjs writes them.
            for (let n = 0; n < LINES; n++) {
              await mcp.server.sendLoggingMessage({ level: 'info', data: `flood ${n}` });
              sent++;
              if (n % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 10));
            }
            // Then a mark every 200 ms until the test has seen one logged: the stream is read in order,
            // so a mark in the log says the gateway has read the whole flood, however slowly (the
            // first marks may still be dropped, while it catches up; the next find the budget refilled).
            while (marking) {
              await mcp.server.sendLoggingMessage({ level: 'info', data: `flood done ${marks++}` });
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
            markedAll();
          }, 200);
          return { content: [{ type: 'text', text: 'flooding' }] };
        });
        mcp.registerTool('echo', {}, async () => ({ content: [{ type: 'text', text: 'still here' }] }));
      },
    });
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\n    isolation: shared\n`);
    try {
      const client = await connect(`${gw.url}/mcp/remote`);
      await client.callTool({ name: 'flood', arguments: {} });
      const logged = (mark: RegExp) =>
        gw.logs.some((line) => mark.test(String((line.upstreamLog as { data?: unknown } | undefined)?.data)));
      await until(() => logged(MARK), 'the end of the flood', 30_000);
      marking = false;
      await marked;
      // The marks sent after the first one logged find the budget refilled: each is logged, the last
      // one too, and then every mark has been read.
      await until(() => logged(new RegExp(`^flood done ${marks - 1}$`)), 'the last mark');
      assert.equal(sent, LINES);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: {} })), 'still here');
      await client.close();
    } finally {
      await gw.close();
      await remote.close();
    }
    const reports = gw.logs.filter((line) => line.msg === 'upstream log messages dropped (log budget)');
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.route, 'remote');
    assert.equal(reports[0]!.pid, undefined);
    const floods = gw.logs.filter(
      (line) => line.msg === 'upstream log message' && FLOOD_LINE.test(String((line.upstreamLog as { data?: unknown } | undefined)?.data)),
    );
    assert.deepEqual(floods[0]!.upstreamLog, { level: 'info', data: 'flood 0' });
    // The marks that were dropped are in the count too.
    const marksLogged = gw.logs.filter((line) => MARK.test(String((line.upstreamLog as { data?: unknown } | undefined)?.data))).length;
    assertBudgeted(floods, reports, LINES + marks - marksLogged);
  });
});

describe("a command route's server that floods the gateway with answers to requests it never sent", () => {
  test('gets 200 of their warnings into the log and 20 a second, the rest counted and reported with its pid when it exits', async () => {
    await withFloodGateway(
      (marker) => floodRoute('stray', marker),
      async (gw) => {
        const client = await connect(`${gw.url}/mcp/stray`);
        const pid = await pidOf(client);
        await client.callTool({ name: 'flood', arguments: { stream: 'stray', count: LINES, exit: true } });
        const msg = 'upstream answers to no request dropped (log budget)';
        const ofChild = () => gw.logs.filter((line) => line.pid === pid);
        await until(() => ofChild().some((line) => line.msg === msg), 'the count of answers dropped');
        const reports = ofChild().filter((line) => line.msg === msg);
        assert.equal(reports.length, 1);
        assert.equal(reports[0]!.route, 'stray');
        const warned = ofChild().filter((line) => String(line.msg).startsWith('upstream answered no request'));
        assertBudgeted(
          warned.filter((line) => /"id":"flood \d+"/.test(String(line.answer))),
          reports,
        );
        assert.notEqual(await pidOf(client), pid);
        await client.close();
      },
    );
  });
});
