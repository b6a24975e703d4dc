/**
 * The conformance harness's baseline rule (test/helpers/conformance.ts, `judge`), which keeps the
 * expected-failure files exact for the scenarios the suite's own check does not score, and its
 * reading of the suite's requirement sets and expected-failures files.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { judge, readExpectedFailures, requirementSet, type CheckStatus, type ScenarioResult } from '../helpers/conformance.js';
import { tempDir } from '../helpers/temp-dir.js';

const scenario = (name: string, ...checks: Array<[string, CheckStatus]>): ScenarioResult => ({
  scenario: name,
  passed: !checks.some(([, status]) => status === 'FAILURE' || status === 'WARNING'),
  checks: checks.map(([id, status]) => ({ id, status })),
});

describe('judge', () => {
  const polling = scenario(
    'server-sse-polling',
    ['stream-closed', 'INFO'],
    ['server-sse-priming-event', 'WARNING'],
    ['server-sse-retry-field', 'WARNING'],
  );

  it('counts a warning as a failure, and passes exactly the listed checks', () => {
    const verdict = judge(
      [polling],
      [
        { scenario: 'server-sse-polling', checkId: 'server-sse-priming-event' },
        { scenario: 'server-sse-polling', checkId: 'server-sse-retry-field' },
      ],
    );
    assert.deepEqual(verdict, {
      unexpected: [],
      stale: [],
      unknown: [],
      expected: ['server-sse-polling:server-sse-priming-event', 'server-sse-polling:server-sse-retry-field'],
    });
  });

  it('reports a failing check that is not listed, even when another check of the scenario is', () => {
    const verdict = judge([polling], [{ scenario: 'server-sse-polling', checkId: 'server-sse-priming-event' }]);
    assert.deepEqual(verdict.unexpected, ['server-sse-polling:server-sse-retry-field']);
  });

  it('reports a listed check or scenario that passed as stale, and tolerates a listed check that never ran', () => {
    const ping = scenario('ping', ['ping', 'SUCCESS']);
    assert.deepEqual(judge([ping], [{ scenario: 'ping' }]).stale, ['ping']);
    assert.deepEqual(judge([ping], [{ scenario: 'ping', checkId: 'ping' }]).stale, ['ping:ping']);
    assert.deepEqual(judge([ping], [{ scenario: 'ping', checkId: 'later-check' }]), {
      unexpected: [],
      stale: [],
      unknown: [],
      expected: [],
    });
  });

  it('takes the most severe occurrence of a repeated check id', () => {
    const repeated = scenario('server-stateless', ['id-check', 'SUCCESS'], ['id-check', 'FAILURE'], ['id-check', 'SUCCESS']);
    assert.deepEqual(judge([repeated], [{ scenario: 'server-stateless', checkId: 'id-check' }]).expected, ['server-stateless:id-check']);
    assert.deepEqual(judge([repeated], []).unexpected, ['server-stateless:id-check']);
  });

  it('reports an entry for a scenario that did not run', () => {
    assert.deepEqual(judge([], [{ scenario: 'tools-call-sampeling' }]).unknown, ['tools-call-sampeling']);
  });
});

describe('readExpectedFailures', () => {
  const file = (yaml: string) => {
    const f = path.join(tempDir('expected-failures'), 'f.yaml');
    writeFileSync(f, yaml);
    return f;
  };

  it('reads scenario and scenario:check entries, and an empty list', () => {
    assert.deepEqual(readExpectedFailures(file('server:\n  - tools-call-sampling\n  - server-sse-polling:server-sse-retry-field\n')), [
      { scenario: 'tools-call-sampling' },
      { scenario: 'server-sse-polling', checkId: 'server-sse-retry-field' },
    ]);
    assert.deepEqual(readExpectedFailures(file('server: []\n')), []);
  });

  it('rejects `- scenario: check`, which YAML reads as a mapping (as the suite does)', () => {
    assert.throws(() => readExpectedFailures(file('server:\n  - server-sse-polling: server-sse-retry-field\n')), /is not '<scenario>'/);
  });
});

describe('requirementSet', () => {
  it('reads the suite’s sets: 30 required server scenarios for 2025-11-25, 37 for 2026-07-28, the unscored ones with their reason', () => {
    const old = requirementSet('2025-11-25');
    const modern = requirementSet('2026-07-28');
    assert.equal(old.required.length, 30);
    assert.equal(modern.required.length, 37);
    assert.equal(old.notScored.get('server-sse-polling'), 'pending');
    assert.equal(modern.notScored.get('tasks-lifecycle'), 'extension');
    assert.deepEqual(old.all.slice(30), [...old.notScored.keys()]);
  });
});
