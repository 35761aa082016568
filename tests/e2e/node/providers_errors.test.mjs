// Provider errors reach the OpenAI SDK as its typed errors, mapped as the gateway documents
// (gateway/src/providers/{anthropic,gemini,azure}/error.rs), with the provider's message kept
// and retries only for retryable faults.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';

import { TRACE_ID_RE, assertErrorBody } from './helpers.mjs';
import {
  RETRY_ATTEMPTS,
  ROUTES,
  WRONG_KEY,
  client,
  counted,
  drain,
  lastRequest,
  only,
  streamText,
} from './providers_helpers.mjs';

const sdk = client();

// What each fake answers to a marker, as the gateway maps it: [SDK class, status, type, code,
// message, retried]. See fakes/providers.py for the provider-side bodies.
const FAULTS = {
  anthropic: {
    429: [OpenAI.RateLimitError, 429, 'rate_limit_error', 'rate_limit_exceeded',
      'This request would exceed the rate limit for your organization.', true],
    400: [OpenAI.BadRequestError, 400, 'invalid_request_error', null, 'messages: fake invalid request', false],
    // Anthropic's 529 overloaded_error becomes 503 server_error / overloaded.
    529: [OpenAI.InternalServerError, 503, 'server_error', 'overloaded', 'Overloaded', true],
    500: [OpenAI.InternalServerError, 500, 'server_error', null, 'Internal server error', true],
  },
  gemini: {
    429: [OpenAI.RateLimitError, 429, 'rate_limit_error', 'rate_limit_exceeded',
      'You exceeded your current quota, please check your plan and billing details.', true],
    400: [OpenAI.BadRequestError, 400, 'invalid_request_error', null,
      '* GenerateContentRequest.contents: fake invalid argument\n', false],
    // The fake answers `[fake:529]` as Google does: 503 UNAVAILABLE.
    529: [OpenAI.InternalServerError, 503, 'server_error', null,
      'The model is overloaded. Please try again later.', true],
    500: [OpenAI.InternalServerError, 500, 'server_error', null, 'An internal error has occurred.', true],
  },
  azure: {
    // Azure's code "429" only repeats the status: the gateway's code replaces it.
    429: [OpenAI.RateLimitError, 429, 'rate_limit_error', 'rate_limit_exceeded',
      'Requests to the ChatCompletions_Create Operation have exceeded token rate limit.', true],
    400: [OpenAI.BadRequestError, 400, 'invalid_request_error', null,
      "Invalid value for 'messages': fake invalid request.", false],
    529: [OpenAI.InternalServerError, 500, 'server_error', 'InternalServerError', 'The server had an error.', true],
    500: [OpenAI.InternalServerError, 500, 'server_error', 'InternalServerError', 'The server had an error.', true],
  },
};

// A bad key, as each fake rejects it: Anthropic 401 authentication_error, Gemini 400
// INVALID_ARGUMENT with reason API_KEY_INVALID, Azure 401 {"code":"401"}. All become 401.
const AUTH_MESSAGES = {
  anthropic: 'invalid x-api-key',
  gemini: 'API key not valid. Please pass a valid API key.',
  azure: 'Access denied due to invalid subscription key or wrong API endpoint.',
};
const KEY_HEADERS = { anthropic: 'x-api-key', gemini: 'x-goog-api-key', azure: 'api-key' };

function assertMapped(e, route, [, status, type, code, message]) {
  assert.equal(e.status, status);
  const err = assertErrorBody(e.error);
  assert.equal(err.type, type);
  assert.equal(err.code, code);
  assert.equal(err.message, message);
  assert.equal(e.code, code);
  assert.match(e.headers?.get('x-promptgate-trace-id') ?? '', TRACE_ID_RE);
  assert.equal(e.headers?.get('x-promptgate-route'), route);
}

async function expectTyped(ErrorClass, fn) {
  const { delta, error } = await counted(fn);
  assert.ok(error, `expected ${ErrorClass.name}, but the call succeeded`);
  assert.ok(error instanceof ErrorClass, `expected ${ErrorClass.name}, got ${error?.constructor?.name}: ${error}`);
  return { delta, e: error };
}

for (const r of ROUTES) {
  describe(`errors via ${r.route} (${r.provider})`, () => {
    for (const [marker, fault] of Object.entries(FAULTS[r.provider])) {
      const [ErrorClass, status, , , , retried] = fault;
      for (const stream of [false, true]) {
        test(`[fake:${marker}]${stream ? ' streamed' : ''}: ${ErrorClass.name} ${status}`, async () => {
          const { delta, e } = await expectTyped(ErrorClass, () =>
            sdk.chat.completions.create({
              model: r.route,
              messages: [{ role: 'user', content: `please fail [fake:${marker}]` }],
              stream,
            }),
          );
          assertMapped(e, r.route, fault);
          assert.deepEqual(delta, only(r.provider, retried ? RETRY_ATTEMPTS : 1),
            retried ? 'retryable: every attempt used' : 'not retried');
        });
      }
    }

    test('a fault scoped to another provider is ignored', async () => {
      const other = r.provider === 'anthropic' ? 'gemini' : 'anthropic';
      const resp = await sdk.chat.completions.create({
        model: r.route,
        messages: [{ role: 'user', content: `fine [fake:${other}:429]` }],
      });
      assert.equal(resp.choices[0].message.content, `Echo: fine [fake:${other}:429]`);
    });

    for (const stream of [false, true]) {
      test(`wrong provider key${stream ? ' streamed' : ''}: AuthenticationError 401, key not echoed`, async () => {
        const route = `${r.route.split('-')[0]}-wrong-key`;
        const { delta, e } = await expectTyped(OpenAI.AuthenticationError, () =>
          sdk.chat.completions.create({ model: route, messages: [{ role: 'user', content: 'hi' }], stream }),
        );
        assert.equal(e.status, 401);
        assert.equal(e.headers?.get('x-promptgate-route'), route);
        const err = assertErrorBody(e.error);
        assert.equal(err.type, 'authentication_error');
        assert.equal(err.code, 'invalid_api_key');
        assert.equal(err.message, AUTH_MESSAGES[r.provider]);
        assert.deepEqual(delta, only(r.provider, 1), 'an auth failure is not retried');
        const last = await lastRequest(r.provider);
        assert.equal(last.headers[KEY_HEADERS[r.provider]], WRONG_KEY, 'the fake saw the wrong key');
        assert.ok(!JSON.stringify(e.error).includes(WRONG_KEY), 'the key must not reach the client');
      });
    }
  });
}

describe('Azure content filter', () => {
  for (const stream of [false, true]) {
    test(`prompt refused${stream ? ' (stream)' : ''}: BadRequestError content_filter, not retried`, async () => {
      const { delta, e } = await expectTyped(OpenAI.BadRequestError, () =>
        sdk.chat.completions.create({
          model: 'azure-gpt',
          messages: [{ role: 'user', content: 'nasty [fake:content_filter]' }],
          stream,
        }),
      );
      assert.equal(e.status, 400);
      assert.equal(e.code, 'content_filter');
      assert.equal(e.param, 'prompt');
      const err = assertErrorBody(e.error);
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /^The response was filtered due to the prompt triggering/);
      assert.equal(err.innererror?.code, 'ResponsibleAIPolicyViolation');
      assert.deepEqual(err.innererror?.content_filter_result?.violence, { filtered: true, severity: 'medium' });
      assert.deepEqual(delta, only('azure', 1));
    });
  }
});

// Requests a provider cannot serve are refused by the gateway itself: 400 unsupported, nothing
// sent upstream. [name, provider, call, exact message, what the message must name].
const UNSUPPORTED = [
  ['claude with n=2', 'anthropic',
    () => sdk.chat.completions.create({ model: 'claude', n: 2, messages: [{ role: 'user', content: 'two' }] }),
    'Anthropic generates one choice per request: `n` must be 1', null],
  ['claude embeddings', 'anthropic', () => sdk.embeddings.create({ model: 'claude', input: 'embed me' }),
    'The provider `anthropic` (Anthropic) serves only /v1/chat/completions, not /v1/embeddings.', '/v1/embeddings'],
  ['gemini-flash legacy completions', 'gemini', () => sdk.completions.create({ model: 'gemini-flash', prompt: 'hi' }),
    'The gemini provider does not implement /v1/completions; use /v1/chat/completions.', '/v1/completions'],
];

describe('requests a provider cannot serve: 400 unsupported, nothing sent upstream', () => {
  for (const [name, provider, call, message, path] of UNSUPPORTED) {
    test(name, async () => {
      const { delta, e } = await expectTyped(OpenAI.BadRequestError, call);
      assert.equal(e.status, 400);
      const err = assertErrorBody(e.error);
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.code, 'unsupported');
      if (path === null) assert.equal(err.message, message);
      else assert.match(err.message, /\/v1\/chat\/completions/);
      assert.deepEqual(delta, only(provider, 0));
    });
    if (path !== null) {
      test(`${name}: the message names ${path}`, async () => {
        const { e } = await expectTyped(OpenAI.BadRequestError, call);
        assert.equal(e.error.message, message);
      });
    }
  }
});

// [route, provider, text before the error, mapped code, message]. Anthropic sends an `error`
// event (overloaded_error); Gemini a Google error object (503 UNAVAILABLE) as an SSE event.
const MID_STREAM = [
  ['claude', 'anthropic', 'Once upon', 'overloaded', 'Overloaded'],
  ['gemini-flash', 'gemini', 'Echo: ', null, 'The model is overloaded. Please try again later.'],
];

describe('error event mid-stream', () => {
  for (const [route, provider, before, code, message] of MID_STREAM) {
    test(`${provider}: the SDK throws APIError after the first delta instead of ending quietly`, async () => {
      const { delta, result } = await counted(async () =>
        drain(
          await sdk.chat.completions.create({
            model: route,
            messages: [{ role: 'user', content: 'tell a story [fake:stream_error]' }],
            stream: true,
          }),
        ),
      );
      const { chunks, error } = result;
      assert.deepEqual(delta, only(provider, 1), 'the stream had started: no retry');
      assert.equal(streamText(chunks), before);
      assert.ok(error instanceof OpenAI.APIError, `expected APIError, got ${error?.constructor?.name}: ${error}`);
      assert.equal(error.status, undefined, 'raised from an SSE event, not an HTTP status');
      const err = assertErrorBody(error.error);
      assert.equal(err.type, 'server_error');
      assert.equal(err.code, code);
      assert.equal(err.message, message);
      assert.ok(finishReasonsNone(chunks), 'no finish_reason before the error');
    });
  }
});

function finishReasonsNone(chunks) {
  return chunks.every((c) => !c.choices?.[0]?.finish_reason);
}
