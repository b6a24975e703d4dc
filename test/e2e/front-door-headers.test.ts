/**
 * The protocol headers the front door reads (MCP-Protocol-Version, Mcp-Session-Id) at their edges:
 * values that name no version, empty values, and a field sent twice (which Node joins as `a, a`),
 * on the real gateway with a session opened by the SDK's own Client.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';

const MODERN = '2026-07-28';
/** Versions no MCP revision has: malformed, past the last, or sorting after 2026-07-28 as strings. */
const UNKNOWN_VERSIONS = ['garbage', 'zzz', '2026-99-99', '2099-01-01', '2000-01-01'];

let gw: InProcessGateway;
before(async () => {
  gw = await startInProcessGateway(
    `servers:\n  echo:\n    module: ${fixtureModule('echo')}\n  quick:\n    module: ${fixtureModule('echo')}\n    sessions: stateless\n`,
  );
});
after(() => gw.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { error?: { code: number; message: string; data?: { code?: string; supported?: string[] } }; result?: unknown };
}

/**
 * A raw request through node:http, which sends a header given as an array as that many fields
 * (fetch would join them into one).
 */
function send(method: string, route: string, headers: http.OutgoingHttpHeaders, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${gw.url}/mcp/${route}`, { method, headers });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('close', () => {
        // A refusal is JSON; an SSE answer keeps its last data line.
        const json = text.startsWith('{')
          ? text
          : (text
              .split('\n')
              .findLast((line) => line.startsWith('data: '))
              ?.slice(6) ?? '{}');
        resolve({ status: response.statusCode!, headers: response.headers, body: JSON.parse(json) as Answer['body'] });
      });
      // A GET stream that was accepted stays open: what was asked is its status.
      if (method === 'GET' && response.headers['content-type']?.startsWith('text/event-stream')) response.destroy();
    });
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const toolsList = (id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/list' });

async function session(): Promise<{ id: string; close: () => Promise<void>; call: (text: string) => Promise<string> }> {
  const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
  return {
    id: transport.sessionId!,
    close: () => client.close(),
    call: async (text) => textOf(await client.callTool({ name: 'echo', arguments: { text } })),
  };
}

function assertUnsupportedVersion(answer: Answer, version: string, what: string): void {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error?.data?.code, 'unsupported_protocol_version', what);
  assert.equal(answer.body.error?.code, -32000, what);
  assert.match(
    answer.body.error!.message,
    new RegExp(`^Bad Request: Unsupported protocol version: ${version} \\(supported versions: `),
    what,
  );
  assert.deepEqual(answer.body.error?.data?.supported, [MODERN, ...SUPPORTED_PROTOCOL_VERSIONS], what);
}

describe('MCP-Protocol-Version', () => {
  it('answers a 2025 session request whose header names no version with 400 unsupported_protocol_version listing the versions (was -32602 "missing the required per-request envelope")', async () => {
    const s = await session();
    try {
      for (const version of UNKNOWN_VERSIONS) {
        const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': s.id, 'mcp-protocol-version': version };
        assertUnsupportedVersion(await send('POST', 'echo', headers, toolsList()), version, `POST ${version}`);
        assertUnsupportedVersion(await send('GET', 'echo', { ...headers, accept: 'text/event-stream' }), version, `GET ${version}`);
        assertUnsupportedVersion(await send('DELETE', 'echo', headers), version, `DELETE ${version}`);
      }
      assert.equal(await s.call('the session is untouched'), 'the session is untouched');
    } finally {
      await s.close();
    }
  });

  it('answers the same header without a session, on initialize, and on a stateless route with the same 400, opening no session (was -32602, -32020 or 405)', async () => {
    const sessions = gw.gateway.routes.get('echo')!.sessions.size;
    for (const version of UNKNOWN_VERSIONS) {
      const headers = { ...MCP_POST_HEADERS, 'mcp-protocol-version': version };
      assertUnsupportedVersion(await send('POST', 'echo', headers, toolsList()), version, `no session ${version}`);
      assertUnsupportedVersion(await send('POST', 'echo', headers, initializeBody()), version, `initialize ${version}`);
      assertUnsupportedVersion(await send('GET', 'echo', { ...headers, accept: 'text/event-stream' }), version, `GET ${version}`);
      assertUnsupportedVersion(await send('POST', 'quick', headers, toolsList()), version, `stateless ${version}`);
    }
    assert.equal(gw.gateway.routes.get('echo')!.sessions.size, sessions);
  });

  it('keeps the 2026-07-28 answers for a request that claims its version in _meta: -32022 for an unknown one, -32020 for a header that differs', async () => {
    const modern = (version: string, header: string) =>
      send(
        'POST',
        'echo',
        { ...MCP_POST_HEADERS, 'mcp-protocol-version': header, 'mcp-method': 'tools/list' },
        {
          ...toolsList(),
          params: {
            _meta: {
              [PROTOCOL_VERSION_META_KEY]: version,
              [CLIENT_CAPABILITIES_META_KEY]: {},
              [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
            },
          },
        },
      );
    const unknown = await modern('2099-01-01', '2099-01-01');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error?.code, -32022);
    assert.deepEqual(unknown.body.error?.data?.supported, [MODERN]);
    const differs = await modern(MODERN, 'garbage');
    assert.equal(differs.status, 400);
    assert.equal(differs.body.error?.code, -32020);
  });

  it('serves every version it lists, in either era, with surrounding whitespace', async () => {
    const s = await session();
    try {
      for (const version of SUPPORTED_PROTOCOL_VERSIONS) {
        const answer = await send(
          'POST',
          'echo',
          { ...MCP_POST_HEADERS, 'mcp-session-id': s.id, 'mcp-protocol-version': ` ${version} ` },
          toolsList(),
        );
        assert.equal(answer.status, 200, version);
        assert.ok(answer.body.result, version);
      }
    } finally {
      await s.close();
    }
  });

  it('answers a header sent twice with 400 invalid_header naming it, even with the same version twice', async () => {
    const s = await session();
    try {
      for (const value of [['2025-06-18', '2025-06-18'], ['2025-06-18', '2025-11-25'], '2025-06-18, 2025-06-18']) {
        const answer = await send(
          'POST',
          'echo',
          { ...MCP_POST_HEADERS, 'mcp-session-id': s.id, 'mcp-protocol-version': value },
          toolsList(),
        );
        assert.equal(answer.status, 400, JSON.stringify(value));
        assert.equal(answer.body.error?.data?.code, 'invalid_header', JSON.stringify(value));
        assert.match(answer.body.error!.message, /^Bad Request: the MCP-Protocol-Version header came 2 times; send it once/);
      }
      assert.equal(await s.call('still here'), 'still here');
    } finally {
      await s.close();
    }
  });
  it("answers a 2026-07-28 header on a 2025 session (GET, DELETE, a response it sends) with 400 unsupported_protocol_version listing what a session speaks (was the transport's 400 without data.code)", async () => {
    // Found by test/e2e/edge-fuzz.test.ts.
    const s = await session();
    try {
      const modern = { 'mcp-session-id': s.id, 'mcp-protocol-version': MODERN };
      const answers = [
        await send('GET', 'echo', { accept: 'text/event-stream', ...modern }),
        await send('POST', 'echo', { ...MCP_POST_HEADERS, ...modern }, { jsonrpc: '2.0', id: 5, result: {} }),
        await send('DELETE', 'echo', modern),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error?.code, -32000);
        assert.equal(answer.body.error?.data?.code, 'unsupported_protocol_version');
        assert.deepEqual(answer.body.error?.data?.supported, [...SUPPORTED_PROTOCOL_VERSIONS]);
        assert.equal(
          answer.body.error?.message,
          `Bad Request: a 2025 session does not speak protocol version 2026-07-28 (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
        );
      }
      // The DELETE was refused: the session is still there.
      assert.equal(await s.call('still here'), 'still here');
    } finally {
      await s.close();
    }
  });
});

describe('Mcp-Session-Id', () => {
  it('answers an empty Mcp-Session-Id as a missing one: 400 session_required saying it is empty (was 404 malformed), and initialize opens a session', async () => {
    for (const empty of ['', '   ']) {
      const answer = await send('POST', 'echo', { ...MCP_POST_HEADERS, 'mcp-session-id': empty }, toolsList());
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.data?.code, 'session_required');
      assert.equal(
        answer.body.error?.message,
        'Bad Request: the Mcp-Session-Id header is empty; it is required on every request but initialize',
      );
      const stream = await send('GET', 'echo', { accept: 'text/event-stream', 'mcp-session-id': empty });
      assert.equal(stream.status, 400);
      assert.equal(stream.body.error?.data?.code, 'session_required');
    }
    const initialize = await send('POST', 'echo', { ...MCP_POST_HEADERS, 'mcp-session-id': '' }, initializeBody());
    assert.equal(initialize.status, 200);
    assert.ok(initialize.headers['mcp-session-id']);
  });

  it('answers an Mcp-Session-Id sent twice with 400 invalid_header (was 404 malformed), and the session carries on', async () => {
    const s = await session();
    try {
      for (const value of [[s.id, s.id], `${s.id}, ${s.id}`, [s.id, 'another']]) {
        for (const method of ['POST', 'GET', 'DELETE']) {
          const headers = { ...MCP_POST_HEADERS, ...(method === 'GET' ? { accept: 'text/event-stream' } : {}), 'mcp-session-id': value };
          const answer = await send(method, 'echo', headers, method === 'POST' ? toolsList() : undefined);
          assert.equal(answer.status, 400, `${method} ${JSON.stringify(answer.body)}`);
          assert.equal(answer.body.error?.data?.code, 'invalid_header', method);
          assert.match(answer.body.error!.message, /^Bad Request: the Mcp-Session-Id header came 2 times; send it once/, method);
        }
      }
      assert.equal(await s.call('not deleted'), 'not deleted');
    } finally {
      await s.close();
    }
  });
});

/** A 2026-07-28 tools/list, with its version and capabilities in _meta. */
const modernList = {
  ...toolsList(),
  params: {
    _meta: {
      [PROTOCOL_VERSION_META_KEY]: MODERN,
      [CLIENT_CAPABILITIES_META_KEY]: {},
      [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
    },
  },
};

describe('Accept', () => {
  const modernHeaders = { 'content-type': 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' };

  it('matches media types case-insensitively (RFC 9110 §8.3.1), in both eras, POST and GET (was 406 not_acceptable)', async () => {
    for (const accept of ['Application/JSON, Text/Event-Stream', 'TEXT/EVENT-STREAM;q=0.9, APPLICATION/JSON']) {
      const initialize = await send('POST', 'echo', { 'content-type': 'application/json', accept }, initializeBody());
      assert.equal(initialize.status, 200, `${accept}: ${JSON.stringify(initialize.body)}`);
      const id = initialize.headers['mcp-session-id'] as string;
      assert.ok(id, 'a session was opened');
      const sessionHeaders = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
      const listed = await send('POST', 'echo', { 'content-type': 'application/json', accept, ...sessionHeaders }, toolsList());
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.ok(Array.isArray((listed.body.result as { tools?: unknown[] }).tools));
      const stream = await send('GET', 'echo', { accept: 'Text/Event-Stream', ...sessionHeaders });
      assert.equal(stream.status, 200, JSON.stringify(stream.body));
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      for (const route of ['echo', 'quick']) {
        const modern = await send('POST', route, { ...modernHeaders, accept }, modernList);
        assert.equal(modern.status, 200, `${route} ${accept}: ${JSON.stringify(modern.body)}`);
        assert.ok(Array.isArray((modern.body.result as { tools?: unknown[] }).tools), route);
      }
    }
  });

  it('still answers 406 when a type is missing, whatever its case', async () => {
    for (const accept of ['Application/JSON', 'Text/Event-Stream', '*/*']) {
      const answer = await send('POST', 'echo', { 'content-type': 'application/json', accept }, initializeBody());
      assert.equal(answer.status, 406, accept);
      assert.equal(answer.body.error?.data?.code, 'not_acceptable', accept);
      const modern = await send('POST', 'quick', { ...modernHeaders, accept }, modernList);
      assert.equal(modern.status, 406, `quick ${accept}`);
    }
    const s = await session();
    try {
      const stream = await send('GET', 'echo', {
        accept: 'Application/JSON',
        'mcp-session-id': s.id,
        'mcp-protocol-version': '2025-06-18',
      });
      assert.equal(stream.status, 406);
    } finally {
      await s.close();
    }
  });
});

describe('Content-Type', () => {
  it("answers a Content-Type sent twice with 400 invalid_header naming it, in both eras (was the transport's 415 without data.code)", async () => {
    // Found by test/e2e/edge-fuzz.test.ts: Node keeps the first field, the SDK's transport reads both.
    const s = await session();
    try {
      const twice = { ...MCP_POST_HEADERS, 'content-type': ['application/json', 'application/json'] };
      const answers = [
        await send('POST', 'echo', twice, initializeBody()),
        await send('POST', 'echo', { ...twice, 'mcp-session-id': s.id }, toolsList()),
        await send('POST', 'quick', twice, toolsList()),
        await send('POST', 'quick', { ...twice, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' }, modernList),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.error?.data?.code, 'invalid_header');
        assert.equal(answer.body.error?.message, 'Bad Request: the Content-Type header came 2 times; send it once');
        assert.equal(answer.headers['mcp-session-id'], undefined);
      }
      assert.equal(await s.call('still here'), 'still here');
    } finally {
      await s.close();
    }
  });
});
