// Chat completions, whole and streamed, through both gateways.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GATEWAYS, MOCK, collect, sseEvents } from './helpers.mjs';

const PROMPT = 'Say hello to promptgate, please.';
const textOf = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

for (const gw of GATEWAYS) {
  describe(`chat via gateway ${gw.name}`, () => {
    const client = gw.client();

    test('chat completion', async () => {
      const resp = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: PROMPT },
        ],
      });
      assert.equal(resp.object, 'chat.completion');
      assert.match(resp.id, /^chatcmpl/);
      assert.equal(resp.model, 'mock-gpt');
      assert.ok(Number.isInteger(resp.created) && resp.created > 1_600_000_000);
      assert.equal(resp.choices.length, 1);
      const [choice] = resp.choices;
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.message.content, gw.reply(PROMPT));
      assert.ok(!choice.message.tool_calls?.length);
      const { prompt_tokens, completion_tokens, total_tokens } = resp.usage;
      assert.ok(prompt_tokens > 0 && completion_tokens > 0);
      assert.equal(total_tokens, prompt_tokens + completion_tokens);
    });

    test('stream with include_usage: deltas make the text, last chunk has usage only', async () => {
      const stream = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = await collect(stream);
      assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'every chunk carries the same id');
      assert.ok(chunks.filter((c) => c.choices[0]?.delta?.content).length > 1, 'several deltas');
      assert.equal(textOf(chunks), gw.reply(PROMPT));
      const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason).filter(Boolean));
      assert.deepEqual(finishes, ['stop']);

      const last = chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0);
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
      assert.deepEqual(chunks.slice(0, -1).filter((c) => c.usage != null), []);
    });

    test('stream without include_usage: no usage anywhere', async () => {
      const stream = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      });
      const chunks = await collect(stream);
      assert.equal(textOf(chunks), gw.reply(PROMPT));
      assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk');
      assert.deepEqual(chunks.filter((c) => c.usage != null), []);
    });

    test('raw SSE without include_usage: the gateway strips any usage it asked for', async () => {
      const events = await sseEvents(gw, {
        model: 'mock-gpt',
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      });
      assert.equal(events.at(-1), '[DONE]');
      const payloads = events.slice(0, -1).map((e) => JSON.parse(e));
      assert.ok(payloads.length > 0);
      for (const p of payloads) {
        assert.equal(p.usage ?? null, null, `usage leaked: ${JSON.stringify(p)}`);
        assert.ok(p.choices.length > 0, `usage-only chunk leaked: ${JSON.stringify(p)}`);
      }
    });

    test('stream helper (chat.completions.stream) yields the final content', async () => {
      const runner = client.chat.completions.stream({
        model: 'mock-gpt',
        messages: [{ role: 'user', content: PROMPT }],
      });
      const deltas = [];
      runner.on('content', (delta) => deltas.push(delta));
      const final = await runner.finalChatCompletion();
      assert.equal(final.choices[0].message.content, gw.reply(PROMPT));
      assert.equal(deltas.join(''), gw.reply(PROMPT));
    });
  });
}

test('gateway A serves an unknown model through its default route', async () => {
  const resp = await MOCK.client().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'default route?' }],
  });
  assert.equal(resp.model, 'gpt-4o-mini');
  assert.equal(resp.choices[0].message.content, 'default route?');
});
