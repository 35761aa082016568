// `support-bot` falls back anthropic → gemini → azure (one attempt each, retry.max_attempts 3).
// Scoped markers (`[fake:anthropic:529]`) fail one provider only; the fake's request counters
// show which providers were tried, the answer's model which one answered. Breakers never open
// in gateway C (run.sh), so these counts do not depend on what ran before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';

import { collect } from './helpers.mjs';
import {
  BY_PROVIDER,
  ECHO,
  assertCost,
  assertUsage,
  client,
  counted,
  drain,
  finishReasons,
  streamText,
} from './providers_helpers.mjs';

const sdk = client();
const ROUTE = 'support-bot';

async function ask(prompt) {
  const { delta, result, error } = await counted(() =>
    sdk.chat.completions.create({ model: ROUTE, messages: [{ role: 'user', content: prompt }] }).withResponse(),
  );
  assert.equal(error, undefined, `${error}`);
  return { delta, ...result };
}

describe('support-bot fallback', () => {
  test('healthy: the first provider answers alone', async () => {
    const prompt = 'help me please';
    const { delta, data, response } = await ask(prompt);
    assert.deepEqual(delta, { anthropic: 1, gemini: 0, azure: 0 });
    assert.equal(data.model, BY_PROVIDER.anthropic.model);
    assert.equal(data.choices[0].message.content, ECHO + prompt);
    assert.equal(response.headers.get('x-promptgate-route'), ROUTE);
    assertCost(response.headers, BY_PROVIDER.anthropic, data.usage);
  });

  test('anthropic overloaded (529): gemini answers', async () => {
    const prompt = 'help me [fake:anthropic:529]';
    const { delta, data, response } = await ask(prompt);
    assert.deepEqual(delta, { anthropic: 1, gemini: 1, azure: 0 });
    assert.equal(data.model, BY_PROVIDER.gemini.model, 'the model that answered');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.choices[0].message.content, ECHO + prompt);
    assertUsage(data.usage, prompt);
    assert.equal(response.headers.get('x-promptgate-route'), ROUTE);
    assertCost(response.headers, BY_PROVIDER.gemini, data.usage);
  });

  test('anthropic 429 and gemini 529: azure answers', async () => {
    const prompt = 'help me [fake:anthropic:429] [fake:gemini:529]';
    const { delta, data, response } = await ask(prompt);
    assert.deepEqual(delta, { anthropic: 1, gemini: 1, azure: 1 });
    assert.equal(data.model, BY_PROVIDER.azure.model);
    assert.equal(data.choices[0].message.content, ECHO + prompt);
    assertCost(response.headers, BY_PROVIDER.azure, data.usage);
  });

  test('streamed: anthropic 529, gemini streams the answer with usage', async () => {
    const prompt = 'stream help [fake:anthropic:529]';
    const { delta, result, error } = await counted(async () =>
      collect(
        await sdk.chat.completions.create({
          model: ROUTE,
          messages: [{ role: 'user', content: prompt }],
          stream: true,
          stream_options: { include_usage: true },
        }),
      ),
    );
    assert.equal(error, undefined, `${error}`);
    const chunks = result;
    assert.deepEqual(delta, { anthropic: 1, gemini: 1, azure: 0 });
    assert.equal(streamText(chunks), ECHO + prompt);
    assert.deepEqual(finishReasons(chunks), ['stop']);
    for (const c of chunks) assert.equal(c.model, BY_PROVIDER.gemini.model);
    assertUsage(chunks.at(-1).usage, prompt);
  });

  test('an error after the stream started is final: no fallback mid-answer', async () => {
    const { delta, result } = await counted(async () =>
      drain(
        await sdk.chat.completions.create({
          model: ROUTE,
          messages: [{ role: 'user', content: 'story [fake:anthropic:stream_error]' }],
          stream: true,
        }),
      ),
    );
    const { chunks, error } = result;
    assert.ok(error instanceof OpenAI.APIError, `expected APIError, got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.error?.code, 'overloaded');
    assert.equal(streamText(chunks), 'Once upon', 'only what Anthropic sent');
    assert.deepEqual(delta, { anthropic: 1, gemini: 0, azure: 0 });
  });

  test('every provider rate-limited: RateLimitError, each tried once', async () => {
    const { delta, error } = await counted(() =>
      sdk.chat.completions.create({ model: ROUTE, messages: [{ role: 'user', content: 'all down [fake:429]' }] }),
    );
    assert.ok(error instanceof OpenAI.RateLimitError, `got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.status, 429);
    // The last provider's error is the one returned: Azure's message.
    assert.equal(error.error.message, 'Requests to the ChatCompletions_Create Operation have exceeded token rate limit.');
    assert.deepEqual(delta, { anthropic: 1, gemini: 1, azure: 1 });
  });

  test('a client error (400) is final: no fallback', async () => {
    const { delta, error } = await counted(() =>
      sdk.chat.completions.create({
        model: ROUTE,
        messages: [{ role: 'user', content: 'bad [fake:anthropic:400]' }],
      }),
    );
    assert.ok(error instanceof OpenAI.BadRequestError, `got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.error.message, 'messages: fake invalid request');
    assert.deepEqual(delta, { anthropic: 1, gemini: 0, azure: 0 });
  });
});
