// Tool calls, whole and streamed. Gateway A's mock provider calls every tool it is given (or
// only the first with parallel_tool_calls=false); mock-upstream calls the first tool.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GATEWAYS, MOCK } from './helpers.mjs';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1 },
      },
      required: ['city', 'unit', 'days'],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'Current time in a timezone.',
    parameters: {
      type: 'object',
      properties: { timezone: { type: 'string' } },
      required: ['timezone'],
    },
  },
};
const ASK = [{ role: 'user', content: "What's the weather and the time in Paris?" }];

function assertWeatherArgs(json) {
  const args = JSON.parse(json);
  assert.equal(typeof args.city, 'string');
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit), json);
  assert.ok(Number.isInteger(args.days) && args.days >= 1, json);
}
const assertTimeArgs = (json) => assert.equal(typeof JSON.parse(json).timezone, 'string');

/** Streams a tool-calling answer and rebuilds the calls from their fragments. */
async function streamToolCalls(client, tools, extra = {}) {
  const stream = await client.chat.completions.create({
    model: 'mock-gpt',
    messages: ASK,
    tools,
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });
  const calls = new Map();
  const finishes = [];
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.finish_reason) finishes.push(choice.finish_reason);
      assert.ok(!choice.delta.content, 'no text alongside tool calls');
      for (const tc of choice.delta.tool_calls ?? []) {
        if (!calls.has(tc.index)) calls.set(tc.index, { id: null, name: '', args: '', fragments: 0 });
        const call = calls.get(tc.index);
        if (tc.id) {
          assert.equal(call.id, null, "a call's id arrives once");
          call.id = tc.id;
        }
        if (tc.function?.name) call.name += tc.function.name;
        if (tc.function?.arguments) {
          call.args += tc.function.arguments;
          call.fragments += 1;
        }
      }
    }
  }
  assert.ok(usage?.completion_tokens > 0, 'usage chunk with completion tokens');
  return { calls, finishes };
}

for (const gw of GATEWAYS) {
  describe(`tools via gateway ${gw.name}`, () => {
    const client = gw.client();

    test('one tool: tool_calls with name and JSON arguments', async () => {
      const resp = await client.chat.completions.create({ model: 'mock-gpt', messages: ASK, tools: [WEATHER] });
      const [choice] = resp.choices;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.content, null);
      assert.equal(choice.message.tool_calls.length, 1);
      const [call] = choice.message.tool_calls;
      assert.equal(call.type, 'function');
      assert.ok(call.id);
      assert.equal(call.function.name, 'get_weather');
      assertWeatherArgs(call.function.arguments);
    });

    test('tool_choice naming a function calls only that one', async () => {
      const resp = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: ASK,
        tools: [WEATHER, TIME],
        tool_choice: { type: 'function', function: { name: 'get_time' } },
      });
      const calls = resp.choices[0].message.tool_calls;
      assert.deepEqual(calls.map((c) => c.function.name), ['get_time']);
      assertTimeArgs(calls[0].function.arguments);
    });

    test('tool_choice "none" answers text', async () => {
      const resp = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: ASK,
        tools: [WEATHER],
        tool_choice: 'none',
      });
      assert.equal(resp.choices[0].finish_reason, 'stop');
      assert.equal(resp.choices[0].message.content, gw.reply(ASK[0].content));
    });

    test('a tool result ends the loop with text', async () => {
      const first = await client.chat.completions.create({ model: 'mock-gpt', messages: ASK, tools: [WEATHER] });
      const call = first.choices[0].message.tool_calls[0];
      const second = await client.chat.completions.create({
        model: 'mock-gpt',
        tools: [WEATHER],
        messages: [
          ...ASK,
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: call.id, type: 'function', function: call.function }],
          },
          { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' },
        ],
      });
      assert.equal(second.choices[0].finish_reason, 'stop');
      assert.ok(!second.choices[0].message.tool_calls?.length);
      assert.ok(second.choices[0].message.content);
    });

    test('streamed tool call: fragments reassemble to valid JSON', async () => {
      const { calls, finishes } = await streamToolCalls(client, [WEATHER]);
      assert.deepEqual(finishes, ['tool_calls']);
      assert.deepEqual([...calls.keys()], [0]);
      const call = calls.get(0);
      assert.ok(call.id);
      assert.equal(call.name, 'get_weather');
      assert.ok(call.fragments > 1, 'arguments should arrive as several fragments');
      assertWeatherArgs(call.args);
    });
  });
}

describe('parallel tool calls via gateway mock', () => {
  const client = MOCK.client();

  test('two tools: two calls with distinct ids', async () => {
    const resp = await client.chat.completions.create({ model: 'mock-gpt', messages: ASK, tools: [WEATHER, TIME] });
    const calls = resp.choices[0].message.tool_calls;
    assert.equal(resp.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.equal(new Set(calls.map((c) => c.id)).size, 2);
    assertWeatherArgs(calls[0].function.arguments);
    assertTimeArgs(calls[1].function.arguments);
  });

  test('parallel_tool_calls: false calls one tool', async () => {
    const resp = await client.chat.completions.create({
      model: 'mock-gpt',
      messages: ASK,
      tools: [WEATHER, TIME],
      parallel_tool_calls: false,
    });
    assert.deepEqual(resp.choices[0].message.tool_calls.map((c) => c.function.name), ['get_weather']);
  });

  test('streamed: two calls reassembled by index', async () => {
    const { calls, finishes } = await streamToolCalls(client, [WEATHER, TIME]);
    assert.deepEqual(finishes, ['tool_calls']);
    assert.deepEqual([...calls.keys()].sort(), [0, 1]);
    assert.equal(calls.get(0).name, 'get_weather');
    assert.equal(calls.get(1).name, 'get_time');
    assert.notEqual(calls.get(0).id, calls.get(1).id);
    assertWeatherArgs(calls.get(0).args);
    assertTimeArgs(calls.get(1).args);
  });

  test('the SDK stream helper accumulates the parallel calls', async () => {
    const runner = client.chat.completions.stream({ model: 'mock-gpt', messages: ASK, tools: [WEATHER, TIME] });
    const message = await runner.finalMessage();
    assert.deepEqual(message.tool_calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assertWeatherArgs(message.tool_calls[0].function.arguments);
  });
});
