// /v1/models and the x-promptgate-* response headers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GATEWAYS, MOCK, PRICE_IN, PRICE_OUT, TRACE_ID_RE, UPSTREAM } from './helpers.mjs';

describe('models', () => {
  test('gateway mock lists its routes', async () => {
    const ids = [];
    for await (const model of MOCK.client().models.list()) {
      assert.equal(model.object, 'model');
      ids.push(model.id);
    }
    assert.ok(ids.includes('mock-gpt') && ids.includes('mock-embed'), ids.join(','));
    assert.equal(new Set(ids).size, ids.length);
  });

  test('gateway upstream lists only mock-gpt', async () => {
    const page = await UPSTREAM.client().models.list();
    const ids = page.data.map((m) => m.id);
    assert.ok(ids.includes('mock-gpt'));
    assert.ok(!ids.includes('mock-embed'));
  });

  test('retrieve a model', async () => {
    const model = await MOCK.client().models.retrieve('mock-gpt');
    assert.equal(model.id, 'mock-gpt');
    assert.equal(model.object, 'model');
  });
});

for (const gw of GATEWAYS) {
  describe(`headers via gateway ${gw.name}`, () => {
    const client = gw.client();

    test('chat completion: trace id, route and cost', async () => {
      const { data, response } = await client.chat.completions
        .create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'headers, please' }] })
        .withResponse();
      assert.match(response.headers.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
      assert.equal(response.headers.get('x-promptgate-route'), 'mock-gpt');
      const cost = Number.parseFloat(response.headers.get('x-promptgate-cost-usd'));
      assert.ok(cost > 0, `cost ${cost}`);
      const expected = (data.usage.prompt_tokens * PRICE_IN + data.usage.completion_tokens * PRICE_OUT) / 1e6;
      assert.ok(Math.abs(cost - expected) <= 1e-8, `cost ${cost}, expected ${expected}`);
    });

    test('stream: trace id and route before the first byte', async () => {
      const response = await client.chat.completions
        .create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'streamed headers' }], stream: true })
        .asResponse();
      assert.equal(response.status, 200);
      assert.match(response.headers.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
      assert.equal(response.headers.get('x-promptgate-route'), 'mock-gpt');
      assert.match(await response.text(), /data: \[DONE\]/);
    });
  });
}

test('trace ids differ between identical requests', async () => {
  const client = MOCK.client();
  const ids = new Set();
  for (let i = 0; i < 3; i++) {
    const response = await client.chat.completions
      .create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'same request' }] })
      .asResponse();
    ids.add(response.headers.get('x-promptgate-trace-id'));
  }
  assert.equal(ids.size, 3);
});
