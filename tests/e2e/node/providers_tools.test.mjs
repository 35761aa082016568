// Tool calls through the translating providers: whole, streamed (arguments reassembled from
// fragments) and a tool result sent back. The fakes call the first tool offered with
// {"location": "Paris", "echo": <last user text>}.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { collect } from './helpers.mjs';
import {
  ECHO,
  ROUTES,
  TOOLS,
  assertUsage,
  client,
  counted,
  finishReasons,
  only,
  streamText,
  streamedToolCalls,
} from './providers_helpers.mjs';

const sdk = client();

for (const r of ROUTES) {
  describe(`tools via ${r.route} (${r.provider})`, () => {
    test('whole: one call, finish_reason tool_calls, JSON arguments', async () => {
      const prompt = `weather in Paris via ${r.route}`;
      const { delta, result: resp, error } = await counted(() =>
        sdk.chat.completions.create({
          model: r.route,
          messages: [{ role: 'user', content: prompt }],
          tools: TOOLS,
        }),
      );
      assert.equal(error, undefined);
      assert.deepEqual(delta, only(r.provider, 1));
      assert.equal(resp.model, r.model);
      const [choice] = resp.choices;
      assert.equal(resp.choices.length, 1);
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.role, 'assistant');
      assert.ok(!choice.message.content, `no text, got ${JSON.stringify(choice.message.content)}`);
      const calls = choice.message.tool_calls;
      assert.equal(calls?.length, 1);
      const [call] = calls;
      assert.equal(call.type, 'function');
      assert.equal(typeof call.id, 'string');
      assert.ok(call.id.length > 0);
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris', echo: prompt });
      assertUsage(resp.usage, prompt, { tool: true });
    });

    test('streamed: fragments reassemble into the call, then a usage chunk', async () => {
      const prompt = `streamed weather via ${r.route}`;
      const chunks = await collect(
        await sdk.chat.completions.create({
          model: r.route,
          messages: [{ role: 'user', content: prompt }],
          tools: TOOLS,
          stream: true,
          stream_options: { include_usage: true },
        }),
      );
      const calls = streamedToolCalls(chunks);
      assert.equal(calls.length, 1, JSON.stringify(calls));
      const [call] = calls;
      assert.ok(call.id.length > 0, 'the first fragment carries the call id');
      assert.equal(call.type, 'function');
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.arguments), { location: 'Paris', echo: prompt });
      assert.equal(streamText(chunks), '', 'no text besides the call');
      assert.deepEqual(finishReasons(chunks), ['tool_calls']);
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assertUsage(last.usage, prompt, { tool: true });
    });

    test('SDK stream helper: finalChatCompletion() holds the reassembled call', async () => {
      const prompt = `helper weather via ${r.route}`;
      const runner = sdk.chat.completions.stream({
        model: r.route,
        messages: [{ role: 'user', content: prompt }],
        tools: TOOLS,
      });
      const done = [];
      runner.on('tool_calls.function.arguments.done', (e) => done.push(e));
      const final = await runner.finalChatCompletion();
      const [choice] = final.choices;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls.length, 1);
      assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), {
        location: 'Paris',
        echo: prompt,
      });
      assert.deepEqual(
        done.map((e) => [e.name, e.parsed_arguments ?? JSON.parse(e.arguments)]),
        [['get_weather', { location: 'Paris', echo: prompt }]],
      );
    });

    test('a tool result sent back is answered with text', async () => {
      const ask = [{ role: 'user', content: `weather? (${r.route})` }];
      const first = await sdk.chat.completions.create({ model: r.route, messages: ask, tools: TOOLS });
      const call = first.choices[0].message.tool_calls?.[0];
      assert.ok(call, 'the first answer calls the tool');
      const { delta, result: resp, error } = await counted(() =>
        sdk.chat.completions.create({
          model: r.route,
          tools: TOOLS,
          messages: [
            ...ask,
            { role: 'assistant', content: null, tool_calls: [call] },
            { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 21}' },
          ],
        }),
      );
      assert.equal(error, undefined);
      assert.deepEqual(delta, only(r.provider, 1));
      const [choice] = resp.choices;
      assert.equal(choice.finish_reason, 'stop');
      // The fakes echo the last *user* text, and the last turn is a tool result: none.
      assert.equal(choice.message.content, ECHO);
      assert.ok(!choice.message.tool_calls?.length);
    });
  });
}
