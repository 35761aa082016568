// The native endpoint POST /api/v1/generate (not part of the OpenAI SDK: plain fetch).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GATEWAYS, MOCK, TRACE_ID_RE, UPSTREAM, assertErrorBody } from './helpers.mjs';

const SCHEMA = {
  type: 'object',
  properties: {
    answer: { type: 'string' },
    confidence: { type: 'number' },
    sources: { type: 'array', items: { type: 'string' } },
  },
  required: ['answer', 'confidence', 'sources'],
  additionalProperties: false,
};

for (const gw of GATEWAYS) {
  describe(`generate via gateway ${gw.name}`, () => {
    test('template + variables: output, metrics, trace_id', async () => {
      const resp = await gw.postJson('/api/v1/generate', {
        model: 'mock-gpt',
        prompt: 'Q: {{ question }}',
        variables: { question: 'hi' },
      });
      assert.equal(resp.status, 200, await resp.clone().text());
      const body = await resp.json();
      assert.equal(body.output, gw.reply('Q: hi'));
      assert.ok(Number.isInteger(body.metrics.latency_ms) && body.metrics.latency_ms >= 0);
      assert.ok(body.metrics.tokens.prompt > 0);
      assert.ok(body.metrics.tokens.completion > 0);
      assert.ok(body.metrics.cost_usd > 0);
      assert.match(body.trace_id, TRACE_ID_RE);
      assert.equal(resp.headers.get('x-promptgate-trace-id'), body.trace_id);
    });

    test('with a schema: output is an object matching it', async () => {
      const resp = await gw.postJson('/api/v1/generate', {
        model: 'mock-gpt',
        prompt: 'Answer {{ question }}',
        variables: { question: 'why?' },
        schema: SCHEMA,
      });
      assert.equal(resp.status, 200, await resp.clone().text());
      const { output } = await resp.json();
      assert.deepEqual(Object.keys(output).sort(), ['answer', 'confidence', 'sources']);
      assert.equal(typeof output.answer, 'string');
      assert.equal(typeof output.confidence, 'number');
      assert.ok(Array.isArray(output.sources));
    });
  });
}

describe('generate: bad requests', () => {
  const bad = {
    'undefined variable': { model: 'mock-gpt', prompt: 'Q: {{ question }}', variables: {} },
    'no model': { prompt: 'no model' },
    'neither prompt nor messages': { model: 'mock-gpt' },
  };
  for (const [name, body] of Object.entries(bad)) {
    test(`${name}: 400`, async () => {
      const resp = await MOCK.postJson('/api/v1/generate', body);
      assert.equal(resp.status, 400);
      assertErrorBody(await resp.json());
    });
  }

  test('unknown model on gateway upstream: 404 model_not_found', async () => {
    const resp = await UPSTREAM.postJson('/api/v1/generate', { model: 'no-such-model', prompt: 'hi' });
    assert.equal(resp.status, 404);
    assert.equal(assertErrorBody(await resp.json()).code, 'model_not_found');
  });
});
