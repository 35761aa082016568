// response_format json_schema through both gateways, by hand and with the SDK's parse().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { GATEWAYS } from './helpers.mjs';

const PERSON_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string' } },
    role: { type: 'string', enum: ['admin', 'user'] },
  },
  required: ['name', 'age', 'tags', 'role'],
  additionalProperties: false,
};
const RESPONSE_FORMAT = {
  type: 'json_schema',
  json_schema: { name: 'person', schema: PERSON_SCHEMA, strict: true },
};
const MESSAGES = [{ role: 'user', content: 'Describe a person as JSON.' }];

function assertPerson(data) {
  for (const key of PERSON_SCHEMA.required) assert.ok(key in data, `missing ${key}: ${JSON.stringify(data)}`);
  assert.equal(typeof data.name, 'string');
  assert.ok(Number.isInteger(data.age));
  assert.ok(Array.isArray(data.tags) && data.tags.every((t) => typeof t === 'string'));
  assert.ok(['admin', 'user'].includes(data.role));
}

for (const gw of GATEWAYS) {
  describe(`structured output via gateway ${gw.name}`, () => {
    const client = gw.client();

    test('json_schema: content parses and has the required keys', async () => {
      const resp = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: MESSAGES,
        response_format: RESPONSE_FORMAT,
      });
      assert.equal(resp.choices[0].finish_reason, 'stop');
      assertPerson(JSON.parse(resp.choices[0].message.content));
    });

    test('json_schema streamed: deltas concatenate to valid JSON', async () => {
      const stream = await client.chat.completions.create({
        model: 'mock-gpt',
        messages: MESSAGES,
        response_format: RESPONSE_FORMAT,
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      assertPerson(JSON.parse(text));
    });

    test('chat.completions.parse() fills message.parsed', async () => {
      const completion = await client.chat.completions.parse({
        model: 'mock-gpt',
        messages: MESSAGES,
        response_format: RESPONSE_FORMAT,
      });
      assertPerson(completion.choices[0].message.parsed);
    });
  });
}
