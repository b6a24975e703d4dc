import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { allText, connectWeather } from '../helpers/weather-client.js';

const connect = (nws: FakeNws) => connectWeather(nws);
const textOf = allText;

interface AlertsContent {
  state: string;
  count: number;
  alerts: Array<Record<string, string | null>>;
  stale?: unknown;
}

describe('weather get_alerts', () => {
  let nws: FakeNws;
  let session: Awaited<ReturnType<typeof connect>>;
  const call = async (state: string) => (await session.client.callTool({ name: 'get_alerts', arguments: { state } })) as CallToolResult;

  before(async () => {
    nws = await startFakeNws();
    session = await connect(nws);
  });
  after(async () => {
    await session.close();
    await nws.close();
  });
  beforeEach(() => {
    nws.requests.length = 0;
  });

  it('lists the 10 active alerts for PA with their details', async () => {
    const result = await call('PA');
    assert.equal(result.isError, undefined);
    const content = result.structuredContent as unknown as AlertsContent;
    assert.equal(content.state, 'PA');
    assert.equal(content.count, 10);
    assert.equal(content.alerts.length, 10);
    const storm = content.alerts.find((alert) => alert.event === 'Severe Thunderstorm Warning');
    assert.ok(storm, 'the Severe Thunderstorm Warning is listed');
    assert.equal(storm.area, 'Luzerne, PA');
    assert.equal(storm.severity, 'Severe');
    assert.equal(storm.urgency, 'Immediate');
    assert.equal(storm.certainty, 'Observed');
    assert.equal(storm.effective, '2026-07-15T15:52:00-04:00');
    assert.equal(storm.expires, '2026-07-15T16:30:00-04:00');
    assert.match(storm.instruction ?? '', /interior room/);
    assert.equal(content.alerts.filter((alert) => alert.event === 'Heat Advisory').length, 5);

    const text = textOf(result);
    assert.match(text, /^10 active alerts for Pennsylvania \(PA\):/);
    assert.match(text, /Severe Thunderstorm Warning — Luzerne, PA/);
    assert.match(text, /Severity: Severe; urgency: Immediate; certainty: Observed; status: Actual/);
    assert.match(text, /Headline: Severe Thunderstorm Warning issued July 15 at 3:52PM EDT/);
    assert.match(text, /Instruction:\nFor your protection/);
    assert.equal(text.split('\n---\n').length, 10);
  });

  it('asks NWS for /alerts/active?area=XX with the code upper-cased', async () => {
    const result = await call(' ma ');
    const content = result.structuredContent as unknown as AlertsContent;
    assert.equal(content.state, 'MA');
    assert.equal(content.count, 6);
    assert.ok(content.alerts.some((alert) => alert.event === 'Rip Current Statement'));
    assert.deepEqual(
      nws.requests.map((request) => request.path + request.search),
      ['/alerts/active?area=MA'],
    );
  });

  it('says so when an area has no active alerts', async () => {
    const result = await call('wy');
    assert.equal(result.isError, undefined);
    assert.equal(textOf(result), 'No active alerts for WY.');
    assert.deepEqual(result.structuredContent, { state: 'WY', count: 0, alerts: [] });
  });

  it('accepts territories such as PR and GU', async () => {
    for (const state of ['PR', 'gu', 'DC']) {
      const result = await call(state);
      assert.equal(result.isError, undefined, state);
    }
  });

  it('rejects an unknown code without asking NWS and says what is valid', async () => {
    for (const state of ['XX', 'Pennsylvania', '', 'UM']) {
      const result = await call(state);
      assert.equal(result.isError, true, state);
      assert.match(textOf(result), /is not a US state or territory code\. Use a two-letter USPS code: one of the 50 states, DC/);
    }
    assert.equal(nws.requests.length, 0);
  });

  it('declares itself read-only and open-world with an output schema', async () => {
    const { tools } = await session.client.listTools();
    const tool = tools.find((candidate) => candidate.name === 'get_alerts');
    assert.ok(tool);
    assert.equal(tool.title, 'Active weather alerts');
    assert.deepEqual(tool.annotations, { readOnlyHint: true, openWorldHint: true });
    assert.deepEqual((tool.outputSchema?.required as string[] | undefined)?.sort(), ['alerts', 'count', 'state']);
    assert.ok(tool.inputSchema.properties?.state);
  });
});
