// Errors reach the SDK as its typed errors, with OpenAI-shaped bodies.
//
// Gateway B has a route for `mock-gpt` only, no default route, `max_body_bytes: 65536`, and its
// upstream (mock-upstream) fails on demand when the last message contains `[mock:NNN]`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';

import { GATEWAYS, MOCK, TRACE_ID_RE, UPSTREAM, assertErrorBody, expectError } from './helpers.mjs';

const BIG = 'x'.repeat(100 * 1024); // 100 KiB, over gateway B's 64 KiB limit

describe('errors via gateway upstream', () => {
  const client = UPSTREAM.client();

  test('unknown model: NotFoundError model_not_found', async () => {
    const e = await expectError(OpenAI.NotFoundError, () =>
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assertErrorBody(e.error);
    assert.match(e.headers.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
  });

  test('models.retrieve of an unknown model: NotFoundError', async () => {
    const e = await expectError(OpenAI.NotFoundError, () => client.models.retrieve('no-such-model'));
    assert.equal(e.code, 'model_not_found');
  });

  test('unknown model while streaming: NotFoundError', async () => {
    const e = await expectError(OpenAI.NotFoundError, () =>
      client.chat.completions.create({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
    );
    assert.equal(e.code, 'model_not_found');
  });

  const faults = [
    ['429', OpenAI.RateLimitError, 429],
    ['401', OpenAI.AuthenticationError, 401],
    ['400', OpenAI.BadRequestError, 400],
    ['500', OpenAI.InternalServerError, null], // 500, or 502 from the gateway: both 5xx
  ];
  for (const [tag, ErrorClass, status] of faults) {
    for (const stream of [false, true]) {
      test(`upstream ${tag}${stream ? ' (stream)' : ''}: ${ErrorClass.name}`, async () => {
        const e = await expectError(ErrorClass, () =>
          client.chat.completions.create({
            model: 'mock-gpt',
            messages: [{ role: 'user', content: `please fail [mock:${tag}]` }],
            stream,
          }),
        );
        if (status === null) assert.ok(e.status >= 500 && e.status <= 599, `status ${e.status}`);
        else assert.equal(e.status, status);
        assertErrorBody(e.error);
        assert.match(e.headers.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
      });
    }
  }

  for (const stream of [false, true]) {
    test(`upstream drops the connection${stream ? ' (stream)' : ''}: 5xx InternalServerError`, async () => {
      const e = await expectError(OpenAI.InternalServerError, () =>
        client.chat.completions.create({
          model: 'mock-gpt',
          messages: [{ role: 'user', content: 'drop it [mock:close]' }],
          stream,
        }),
      );
      assert.ok(e.status >= 500 && e.status <= 599, `status ${e.status}`);
      assertErrorBody(e.error);
    });
  }

  test('stream cut midway: the SDK throws instead of ending quietly', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-gpt',
      messages: [{ role: 'user', content: 'cut me off [mock:close_mid]' }],
      stream: true,
    });
    const received = [];
    const e = await expectError(OpenAI.APIError, async () => {
      for await (const chunk of stream) received.push(chunk);
    });
    assert.ok(received.length > 0, 'some chunks arrived before the cut');
    assert.ok(!received.some((c) => c.choices[0]?.finish_reason), 'no finish_reason before the cut');
    assert.ok(e.message);
  });

  test('body over max_body_bytes: 413 APIError', async () => {
    const e = await expectError(OpenAI.APIError, () =>
      client.chat.completions.create({ model: 'mock-gpt', messages: [{ role: 'user', content: BIG }] }),
    );
    assert.equal(e.status, 413);
    assertErrorBody(e.error);
  });
});

for (const gw of GATEWAYS) {
  describe(`malformed requests via gateway ${gw.name}`, () => {
    test('messages not an array: BadRequestError', async () => {
      // The SDK sends whatever the caller passes; the gateway must answer 400, not 500.
      const e = await expectError(OpenAI.BadRequestError, () =>
        gw.client().chat.completions.create({ model: 'mock-gpt', messages: 'this is not an array' }),
      );
      assert.equal(e.status, 400);
      assert.equal(assertErrorBody(e.error).type, 'invalid_request_error');
    });

    test('invalid JSON body: 400 with an OpenAI error', async () => {
      const resp = await gw.postJson('/v1/chat/completions', '{"model": "mock-gpt", "messages": [');
      assert.equal(resp.status, 400);
      assert.match(resp.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(assertErrorBody(await resp.json()).type, 'invalid_request_error');
    });
  });
}

test('gateway mock keeps the default body limit: 100 KiB passes', async () => {
  const resp = await MOCK.client().chat.completions.create({
    model: 'mock-gpt',
    messages: [{ role: 'user', content: BIG }],
  });
  assert.equal(resp.choices[0].message.content, BIG);
});
