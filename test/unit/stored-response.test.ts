import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoredResponse, storedHeaders } from '../../src/gateway/cache/stored-response.js';

// A BOM (which text() drops), a two-byte character, JSON.
const BODY = '\uFEFF{"a":"°x"}';

const built = {
  Response: (bytes: Uint8Array<ArrayBuffer>) =>
    new Response(bytes.slice(), { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' } }),
  StoredResponse: (bytes: Uint8Array<ArrayBuffer>) =>
    new StoredResponse(bytes, { status: 200, headers: storedHeaders([['content-type', 'application/json; charset=UTF-8']], {}, bytes) }),
};

/** What a read settles to, as data: its value's shape, or the error's name and message. */
async function settled(read: () => unknown): Promise<unknown> {
  try {
    const value = await read();
    if (value instanceof ArrayBuffer) return ['ArrayBuffer', new TextDecoder().decode(value)];
    if (value instanceof Uint8Array) return ['Uint8Array', new TextDecoder().decode(value)];
    if (value instanceof Blob) return ['Blob', value.type, await value.text()];
    if (value instanceof Response) return ['Response', value.status];
    return value;
  } catch (error) {
    return [(error as Error).name, (error as Error).message];
  }
}

/** Ways a module may use a Response, each ending in what it saw. */
const uses: Record<string, (response: Response) => Promise<unknown>> = {
  'text(), then every read again': async (r) => [
    await settled(() => r.text()),
    r.bodyUsed,
    await settled(() => r.text()),
    await settled(() => r.json()),
    await settled(() => r.arrayBuffer()),
  ],
  'json(), then the body': async (r) => [await settled(() => r.json()), r.bodyUsed, r.body?.locked],
  'arrayBuffer(), then bytes()': async (r) => [await settled(() => r.arrayBuffer()), await settled(() => r.bytes())],
  'bytes()': async (r) => [await settled(() => r.bytes()), r.bodyUsed],
  'blob()': async (r) => [await settled(() => r.blob())],
  'a locked body': async (r) => {
    const reader = r.body!.getReader();
    const unread = [r.bodyUsed, await settled(() => r.text()), await settled(() => r.clone())];
    const chunk = await reader.read();
    return [...unread, new TextDecoder().decode(chunk.value), r.bodyUsed, (await reader.read()).done];
  },
  'the body asked for, then text()': async (r) => {
    const body = r.body!;
    return [r.bodyUsed, await settled(() => r.text()), body.locked, r.bodyUsed];
  },
  'the body cancelled': async (r) => {
    await r.body!.cancel();
    return [r.bodyUsed, await settled(() => r.text())];
  },
  'the body read to its end': async (r) => {
    const reader = r.body!.getReader();
    let text = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
    reader.releaseLock();
    return [text, r.bodyUsed, r.body!.locked, await settled(() => r.text())];
  },
  'a BYOB reader with a small buffer': async (r) => {
    const reader = r.body!.getReader({ mode: 'byob' });
    const first = await reader.read(new Uint8Array(4));
    return [first.value?.byteLength, r.bodyUsed];
  },
  'clone(), both read': async (r) => {
    const copy = r.clone();
    return [await settled(() => copy.text()), await settled(() => r.text()), r.bodyUsed, copy.bodyUsed, await settled(() => r.clone())];
  },
  'the body piped into another Response': async (r) => [await settled(() => new Response(r.body).text()), r.bodyUsed],
  'its properties': async (r) => [r.status, r.ok, r.type, r.url, r.redirected, r instanceof Response, r.headers.get('content-type')],
};

describe('StoredResponse', () => {
  for (const [name, use] of Object.entries(uses)) {
    it(`behaves as a Response: ${name}`, async () => {
      const bytes = new TextEncoder().encode(BODY);
      assert.deepEqual(await use(built.StoredResponse(bytes)), await use(built.Response(bytes)));
    });
  }

  it('behaves as a Response without a body (a 204)', async () => {
    for (const response of [new Response(null, { status: 204 }), new StoredResponse(null, { status: 204 })]) {
      assert.equal(response.body, null);
      assert.deepEqual([await response.text(), await response.text(), response.bodyUsed], ['', '', false]);
      assert.equal(await response.clone().text(), '');
    }
  });

  it('hands every reader its own copy, so none can alter the held bytes', async () => {
    const bytes = new TextEncoder().encode('abc');
    const read = async (take: (r: StoredResponse) => Promise<Uint8Array>) => {
      const copy = await take(new StoredResponse(bytes, { headers: storedHeaders([], {}, bytes) }));
      copy.fill(0x7a);
    };
    await read(async (r) => new Uint8Array(await r.arrayBuffer()));
    await read((r) => r.bytes());
    await read(async (r) => (await r.body!.getReader().read()).value!);
    assert.equal(new TextDecoder().decode(bytes), 'abc');
    assert.equal(await new StoredResponse(bytes, {}).text(), 'abc');
  });

  it('says the length of the held bytes, and overrides stored headers with the extra ones', () => {
    const bytes = new TextEncoder().encode('°°');
    const headers = storedHeaders(
      [
        ['content-length', '999'],
        ['content-type', 'text/plain'],
        ['x-gateway-cache', 'miss'],
      ],
      { 'x-gateway-cache': 'hit', age: '3' },
      bytes,
    );
    const response = new StoredResponse(bytes, { headers });
    assert.equal(response.headers.get('content-length'), '4');
    assert.equal(response.headers.get('x-gateway-cache'), 'hit');
    assert.equal(response.headers.get('age'), '3');
    assert.equal(response.headers.get('content-type'), 'text/plain');
    assert.equal(storedHeaders([], {}, null).length, 0, 'no content-length without a body');
  });
});
