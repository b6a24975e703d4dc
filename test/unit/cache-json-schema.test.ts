/**
 * `cacheJsonSchema` (module-contract.ts): a tool schema whose JSON Schema is made once per
 * process, as a server is built per 2026-07-28 request. Checked against zod's own conversion and
 * validation, and through real SDK servers and clients: what they list and refuse is unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { cacheJsonSchema } from '../../src/gateway/module-contract.js';

const TARGET = { target: 'draft-2020-12' } as const;

const plain = z.object({
  city: z.string().min(1).describe('A city name'),
  days: z.number().int().min(1).max(7).default(3),
  tags: z.array(z.object({ name: z.string() })).optional(),
});

/** A server with one tool on `input` and `output`, and a client connected to it in memory. */
async function serve(input: typeof plain | ReturnType<typeof cacheJsonSchema<z.input<typeof plain>, z.output<typeof plain>>>) {
  const server = new McpServer({ name: 'cache-json-schema', version: '1.0.0' });
  server.registerTool('plan', { description: 'Plans', inputSchema: input, outputSchema: input }, async (args) => ({
    content: [{ type: 'text', text: JSON.stringify(args) }],
    structuredContent: args,
  }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'cache-json-schema-test', version: '1.0.0' });
  await client.connect(clientSide);
  return {
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

describe('cacheJsonSchema', () => {
  it("converts once per direction and dialect, to what zod's own conversion gives", () => {
    const cached = cacheJsonSchema(plain);
    const input = cached['~standard'].jsonSchema.input(TARGET);
    assert.equal(cached['~standard'].jsonSchema.input(TARGET), input, 'the same object the second time');
    assert.deepEqual(input, plain['~standard'].jsonSchema.input(TARGET));
    const output = cached['~standard'].jsonSchema.output(TARGET);
    assert.notEqual(output, input, 'input and output are converted apart (defaults make them differ)');
    assert.deepEqual(output, plain['~standard'].jsonSchema.output(TARGET));
    const draft7 = cached['~standard'].jsonSchema.input({ target: 'draft-07' });
    assert.notEqual(draft7, input);
    assert.deepEqual(draft7, plain['~standard'].jsonSchema.input({ target: 'draft-07' }));
  });

  it('freezes what it shares, and converts anew when the caller passes options of its own', () => {
    const cached = cacheJsonSchema(plain);
    const input = cached['~standard'].jsonSchema.input(TARGET) as { properties: { city: { description: string } } };
    assert.ok(Object.isFrozen(input) && Object.isFrozen(input.properties.city));
    assert.throws(() => {
      input.properties.city.description = 'changed';
    }, TypeError);
    const own = cached['~standard'].jsonSchema.input({ ...TARGET, libraryOptions: {} });
    assert.notEqual(own, input);
    assert.ok(!Object.isFrozen(own));
  });

  it("freezes a copy: what the library keeps, and the schema's own defaults and metadata, stay as they were", () => {
    // A library that hands out the JSON Schema it keeps, as some cache their conversions.
    const kept = { type: 'object', properties: { city: { type: 'string' } } };
    const library = {
      '~standard': {
        version: 1 as const,
        vendor: 'keeps-its-own',
        validate: (value: unknown) => ({ value: value as { city: string } }),
        jsonSchema: { input: () => kept, output: () => kept },
      },
    };
    const fromLibrary = cacheJsonSchema(library)['~standard'].jsonSchema.input(TARGET);
    assert.deepEqual(fromLibrary, kept);
    assert.ok(Object.isFrozen(fromLibrary) && !Object.isFrozen(kept) && !Object.isFrozen(kept.properties));

    const tags = ['a'];
    const examples = [{ city: 'Paris' }];
    const schema = z.object({ city: z.string(), tags: z.array(z.string()).default(tags) }).meta({ examples });
    const json = cacheJsonSchema(schema)['~standard'].jsonSchema.input(TARGET) as { examples: unknown[] };
    assert.deepEqual(json.examples, examples);
    assert.ok(Object.isFrozen(json.examples));
    assert.ok(!Object.isFrozen(examples) && !Object.isFrozen(examples[0]) && !Object.isFrozen(tags));
    const parsed = schema.parse({ city: 'Oslo' });
    parsed.tags.push('b');
    assert.deepEqual(parsed.tags, ['a', 'b']);
  });

  it('hands back a schema it cannot convert, so the SDK says what is missing as it would without it', async () => {
    // A JavaScript module's schema from a library without `~standard.jsonSchema`.
    const bare = { '~standard': { version: 1, vendor: 'no-json', validate: (value: unknown) => ({ value }) } } as unknown as typeof plain;
    const kept = cacheJsonSchema(bare);
    assert.equal(kept, bare);
    /** What listing a tool on `inputSchema` answers: the SDK's error, as a client gets it. */
    const listed = async (inputSchema: typeof plain) => {
      const server = new McpServer({ name: 'cache-json-schema', version: '1.0.0' });
      server.registerTool('t', { inputSchema }, async () => ({ content: [] }));
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: 'cache-json-schema-test', version: '1.0.0' });
      await client.connect(clientSide);
      try {
        return await client.listTools().then(
          () => 'listed',
          (error: Error) => error.message,
        );
      } finally {
        await client.close();
        await server.close();
      }
    };
    const unwrapped = await listed(bare);
    assert.match(unwrapped, /does not implement StandardJSONSchemaV1/);
    assert.equal(await listed(kept), unwrapped);
  });

  it('validates exactly as the schema it wraps', () => {
    const cached = cacheJsonSchema(plain);
    for (const value of [{ city: 'Paris' }, { city: '' }, { city: 'Oslo', days: 9 }, { days: 2 }, 'Paris']) {
      const mine = cached['~standard'].validate(value);
      const theirs = plain['~standard'].validate(value);
      assert.deepEqual(mine, theirs, JSON.stringify(value));
    }
    assert.equal(cached['~standard'].vendor, 'zod');
  });

  it('lists, accepts and refuses through an SDK server exactly as the plain schema does', async () => {
    const cached = cacheJsonSchema(plain);
    const results = [];
    for (const schema of [plain, cached, cached]) {
      const { client, close } = await serve(schema);
      try {
        const listed = (await client.listTools()).tools;
        const called = await client.callTool({ name: 'plan', arguments: { city: 'Lyon' } });
        const refused = await client.callTool({ name: 'plan', arguments: { city: 42 } });
        results.push({ listed, called, refused });
      } finally {
        await close();
      }
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0], 'a second server on the same cached schema');
    assert.deepEqual(results[0]!.called.structuredContent, { city: 'Lyon', days: 3 });
    assert.equal(results[0]!.refused.isError, true);
  });
});
