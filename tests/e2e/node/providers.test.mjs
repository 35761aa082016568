// Chat through the translating providers (gateway C → fakes/providers.py): whole answers and
// streams, for `claude` (Anthropic), `gemini-flash` (Gemini) and `azure-gpt` (Azure OpenAI).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { TRACE_ID_RE, collect } from './helpers.mjs';
import {
  ECHO,
  ROUTES,
  assertCost,
  assertUsage,
  client,
  counted,
  finishReasons,
  lastRequest,
  only,
  streamText,
} from './providers_helpers.mjs';

const sdk = client();

for (const r of ROUTES) {
  describe(`chat via ${r.route} (${r.provider})`, () => {
    test('whole answer: content, model, finish_reason, usage, cost, headers', async () => {
      const prompt = `Hello ${r.route}, what is the weather like?`;
      const { delta, result, error } = await counted(() =>
        sdk.chat.completions
          .create({
            model: r.route,
            messages: [
              { role: 'system', content: 'You are terse.' },
              { role: 'user', content: prompt },
            ],
            max_tokens: 64,
          })
          .withResponse(),
      );
      assert.equal(error, undefined);
      const { data, response } = result;
      assert.deepEqual(delta, only(r.provider, 1), 'one upstream request, to this provider');
      assert.equal(response.status, 200);
      assert.equal(data.object, 'chat.completion');
      assert.equal(data.model, r.model);
      assert.equal(typeof data.id, 'string');
      assert.ok(data.id.length > 0);
      assert.equal(data.choices.length, 1);
      const [choice] = data.choices;
      assert.equal(choice.index, 0);
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.message.content, ECHO + prompt);
      assert.ok(!choice.message.tool_calls?.length, 'no tool calls');
      assertUsage(data.usage, prompt);
      assertCost(response.headers, r, data.usage);
      assert.equal(response.headers.get('x-promptgate-route'), r.route);
      assert.match(response.headers.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
    });

    test('the provider gets its own key, never the client bearer key', async () => {
      await sdk.chat.completions.create({ model: r.route, messages: [{ role: 'user', content: 'key check' }] });
      const last = await lastRequest(r.provider);
      const headerOf = { anthropic: 'x-api-key', gemini: 'x-goog-api-key', azure: 'api-key' }[r.provider];
      const keyOf = { anthropic: 'sk-ant-e2e-fake', gemini: 'gemini-e2e-fake', azure: 'azure-e2e-fake' }[r.provider];
      assert.equal(last.headers[headerOf], keyOf);
      assert.equal(last.headers.authorization, undefined, 'the client key must not reach the provider');
      assert.ok(!JSON.stringify(last).includes('sk-e2e-not-a-real-key'));
    });

    test('stream with include_usage: deltas, one finish, a final usage chunk', async () => {
      const prompt = `Stream this for ${r.route} in several words`;
      const { delta, result, error } = await counted(async () => {
        const { data: stream, response } = await sdk.chat.completions
          .create({
            model: r.route,
            messages: [{ role: 'user', content: prompt }],
            stream: true,
            stream_options: { include_usage: true },
          })
          .withResponse();
        return { response, chunks: await collect(stream) };
      });
      assert.equal(error, undefined);
      const { response, chunks } = result;
      assert.deepEqual(delta, only(r.provider, 1));
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(response.headers.get('x-promptgate-route'), r.route);
      if (r.provider === 'azure') {
        // Azure opens with its prompt-filter verdict, which the gateway relays untouched.
        const [filter] = chunks.splice(0, 1);
        assert.deepEqual([filter.object, filter.id, filter.choices], ['', '', []]);
        assert.equal(filter.prompt_filter_results?.[0]?.content_filter_results?.hate?.filtered, false);
      }
      for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
      for (const c of chunks) assert.equal(c.model, r.model);
      const contentChunks = chunks.filter((c) => c.choices?.[0]?.delta?.content);
      assert.ok(contentChunks.length > 1, `several content deltas, got ${contentChunks.length}`);
      assert.equal(streamText(chunks), ECHO + prompt);
      assert.deepEqual(finishReasons(chunks), ['stop']);
      const withUsage = chunks.filter((c) => c.usage);
      assert.equal(withUsage.length, 1, 'exactly one usage chunk');
      const last = chunks.at(-1);
      assert.equal(withUsage[0], last, 'the usage chunk comes last');
      assert.deepEqual(last.choices, []);
      assertUsage(last.usage, prompt);
      const ids = new Set(chunks.map((c) => c.id));
      assert.equal(ids.size, 1, `one completion id across chunks: ${[...ids]}`);
    });

    // The provider's own stop reason, mapped: Anthropic max_tokens / refusal, Gemini
    // MAX_TOKENS / SAFETY, Azure length / content_filter.
    for (const [marker, finish] of [['length', 'length'], ['refusal', 'content_filter']]) {
      test(`[fake:${marker}]: finish_reason ${finish}, whole and streamed`, async () => {
        const prompt = `cut short [fake:${marker}]`;
        const messages = [{ role: 'user', content: prompt }];
        const whole = await sdk.chat.completions.create({ model: r.route, messages });
        assert.equal(whole.choices[0].finish_reason, finish);
        assert.equal(whole.choices[0].message.content, ECHO + prompt);
        assertUsage(whole.usage, prompt);
        const chunks = await collect(
          await sdk.chat.completions.create({
            model: r.route,
            messages,
            stream: true,
            stream_options: { include_usage: true },
          }),
        );
        assert.deepEqual(finishReasons(chunks), [finish]);
        assert.equal(streamText(chunks), ECHO + prompt);
        assertUsage(chunks.at(-1).usage, prompt);
      });
    }

    test('stream without include_usage: no usage chunk', async () => {
      const prompt = `No usage please, ${r.route}`;
      const chunks = await collect(
        await sdk.chat.completions.create({
          model: r.route,
          messages: [{ role: 'user', content: prompt }],
          stream: true,
        }),
      );
      assert.equal(streamText(chunks), ECHO + prompt);
      assert.deepEqual(finishReasons(chunks), ['stop']);
      for (const c of chunks) assert.ok(!c.usage, `unexpected usage in ${JSON.stringify(c)}`);
    });
  });
}
