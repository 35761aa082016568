// Embeddings on gateway A (mock provider, route `mock-embed`).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MOCK } from './helpers.mjs';

const f32 = (x) => Math.fround(x);

describe('embeddings via gateway mock', () => {
  const client = MOCK.client();

  test('float encoding: one vector of `dimensions` per input', async () => {
    const resp = await client.embeddings.create({
      model: 'mock-embed',
      input: ['alpha', 'beta'],
      dimensions: 16,
      encoding_format: 'float',
    });
    assert.equal(resp.object, 'list');
    assert.equal(resp.model, 'mock-embed');
    assert.deepEqual(resp.data.map((d) => d.index), [0, 1]);
    for (const d of resp.data) {
      assert.equal(d.object, 'embedding');
      assert.equal(d.embedding.length, 16);
      assert.ok(d.embedding.every(Number.isFinite));
    }
    assert.notDeepEqual(resp.data[0].embedding, resp.data[1].embedding);
    assert.ok(resp.usage.prompt_tokens > 0);
  });

  test('deterministic, 8 dimensions by default', async () => {
    const a = await client.embeddings.create({ model: 'mock-embed', input: 'same text', encoding_format: 'float' });
    const b = await client.embeddings.create({ model: 'mock-embed', input: 'same text', encoding_format: 'float' });
    assert.deepEqual(a.data[0].embedding, b.data[0].embedding);
    assert.equal(a.data[0].embedding.length, 8);
  });

  for (const dimensions of [8, 64, 256]) {
    test(`SDK default (base64 on the wire, decoded) matches float, dimensions=${dimensions}`, async () => {
      const { data, response } = await client.embeddings
        .create({ model: 'mock-embed', input: 'base64 please', dimensions })
        .withResponse();
      assert.equal(response.status, 200);
      const decoded = data.data[0].embedding;
      assert.ok(Array.isArray(decoded), 'the SDK decodes base64 to a number array');
      assert.equal(decoded.length, dimensions);

      const floats = await client.embeddings.create({
        model: 'mock-embed',
        input: 'base64 please',
        dimensions,
        encoding_format: 'float',
      });
      const expected = floats.data[0].embedding.map(f32);
      decoded.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) <= 1e-7, `index ${i}: ${x} vs ${expected[i]}`));
    });
  }

  test('explicit base64: the string holds `dimensions` little-endian f32', async () => {
    const resp = await client.embeddings.create({
      model: 'mock-embed',
      input: 'raw base64',
      dimensions: 32,
      encoding_format: 'base64',
    });
    const raw = resp.data[0].embedding;
    assert.equal(typeof raw, 'string');
    const bytes = Buffer.from(raw, 'base64');
    assert.equal(bytes.length, 32 * 4);
    const vector = Array.from({ length: 32 }, (_, i) => bytes.readFloatLE(i * 4));
    assert.ok(vector.every(Number.isFinite));
    assert.ok(vector.some((x) => x !== 0));
  });
});
