import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contentAttributes,
  describeRequest,
  errorTypeOf,
  metaTraceContext,
  metricMethod,
} from '../../src/gateway/telemetry/mcp-semconv.js';
import { describeUpstream, redactUrl, upstreamErrorType, upstreamOrigin } from '../../src/gateway/telemetry/upstream-semconv.js';

const context = { route: 'weather', era: 'legacy' as const, protocolVersion: '2025-06-18' };

describe('MCP semantic conventions', () => {
  it('names a tool call {mcp.method.name} {gen_ai.tool.name} and a prompt get by its prompt', () => {
    const call = describeRequest({ method: 'tools/call', id: 7, params: { name: 'get_forecast', arguments: { latitude: 1 } } }, context);
    assert.equal(call.spanName, 'tools/call get_forecast');
    assert.deepEqual(call.attributes, {
      'mcp.method.name': 'tools/call',
      'mcp.gateway.route': 'weather',
      'mcp.gateway.era': 'legacy',
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'jsonrpc.request.id': '7',
      'mcp.protocol.version': '2025-06-18',
      'gen_ai.tool.name': 'get_forecast',
      'gen_ai.operation.name': 'execute_tool',
    });
    const prompt = describeRequest({ method: 'prompts/get', id: 'p', params: { name: 'summarize' } }, context);
    assert.equal(prompt.spanName, 'prompts/get summarize');
    assert.equal(prompt.attributes['gen_ai.prompt.name'], 'summarize');
    assert.equal(prompt.attributes['gen_ai.operation.name'], undefined);
    assert.equal(describeRequest({ method: 'tools/list', id: 1 }, context).spanName, 'tools/list');
  });

  it('never puts arguments in the attributes, and cuts what a client chose', () => {
    const call = describeRequest(
      { method: 'tools/call', id: 1, params: { name: 'x'.repeat(500), arguments: { secret: 's3cr3t' } } },
      context,
    );
    assert.ok(!JSON.stringify(call.attributes).includes('s3cr3t'));
    assert.equal(String(call.attributes['gen_ai.tool.name']).length, 129);
    assert.deepEqual(contentAttributes({ method: 'tools/call', params: { name: 't', arguments: { a: 1 } } }, { result: { content: [] } }), {
      'gen_ai.tool.call.arguments': '{"a":1}',
      'gen_ai.tool.call.result': '{"content":[]}',
    });
  });

  it('classifies answers: the JSON-RPC code, tool_error for isError, nothing for a success', () => {
    assert.equal(errorTypeOf({ error: { code: -32602, message: 'Tool x not found' } }), '-32602');
    assert.equal(errorTypeOf({ result: { content: [], isError: true } }), 'tool_error');
    assert.equal(errorTypeOf({ result: { content: [] } }), undefined);
  });

  it('reads SEP-414 trace context from params._meta', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    assert.deepEqual(metaTraceContext({ method: 'tools/call', params: { _meta: { traceparent, tracestate: 'a=b' } } }), {
      traceparent,
      tracestate: 'a=b',
    });
    assert.equal(metaTraceContext({ method: 'tools/call', params: { _meta: { traceparent: 7 } } }), undefined);
  });

  it('keeps metric method names to the known ones', () => {
    assert.equal(metricMethod('tools/call'), 'tools/call');
    assert.equal(metricMethod('server/discover'), 'server/discover');
    assert.equal(metricMethod('made/up'), '_OTHER');
  });
});

describe('upstream request conventions', () => {
  it('describes a request by method, full URL and server', () => {
    assert.deepEqual(describeUpstream('get', 'https://api.weather.gov/points/1,2'), {
      spanName: 'GET',
      origin: 'https://api.weather.gov',
      attributes: {
        'http.request.method': 'GET',
        'url.full': 'https://api.weather.gov/points/1,2',
        'server.address': 'api.weather.gov',
        'server.port': 443,
      },
    });
  });

  it('finds the same origin without the span attributes (telemetry off)', () => {
    const inputs = [
      'https://api.weather.gov/points/1,2',
      'http://user:pw@127.0.0.1:8080/a?token=x#f',
      new URL('https://[::1]:4443/x'),
      'file:///etc/hosts',
      'data:text/plain,hi',
      'not a url',
    ];
    for (const input of inputs) assert.equal(upstreamOrigin(input), describeUpstream('GET', input).origin, String(input));
    assert.equal(upstreamOrigin('http://user:pw@127.0.0.1:8080/a'), 'http://127.0.0.1:8080');
    assert.equal(upstreamOrigin('not a url'), undefined);
  });

  it('redacts user info and secret-looking query values from url.full', () => {
    assert.equal(
      redactUrl(new URL('https://user:pw@api.example.com/v1?q=boston&api_key=abc&Signature=xyz&units=si#frag')),
      'https://REDACTED:REDACTED@api.example.com/v1?q=boston&api_key=REDACTED&Signature=REDACTED&units=si',
    );
  });

  it('names a failure without an answer', () => {
    assert.equal(upstreamErrorType(Object.assign(new Error('t'), { name: 'TimeoutError' })), 'timeout');
    assert.equal(upstreamErrorType(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })), 'ECONNREFUSED');
  });
});
