// Shared setup of the provider tests: gateway C (GATEWAY_PROVIDERS_URL) translates the OpenAI
// API to fakes/providers.py (FAKE_PROVIDERS_URL), which answers in Anthropic's, Gemini's and
// Azure's own wire formats. What the fake echoes is computed here from the prompt, so every
// assertion is exact:
//
// - text: "Echo: " + the last user text; with tools offered, a call of the first tool with
//   arguments {"location": "Paris", "echo": <last user text>};
// - usage: prompt = words(last user text) + 3, completion = words(reply), or 12 for a tool call;
// - errors on `[fake:429]`, `[fake:529]`, `[fake:400]`... markers (see the fake's docstring).
//
// Gateway C's config (run.sh) keeps breakers closed and the retry budget ample, and tries each
// request at most RETRY_ATTEMPTS times, so the fake's request counters are exact too.
import assert from 'node:assert/strict';

import { env, gateway } from './helpers.mjs';

export const ECHO = 'Echo: ';
export const PROVIDERS = gateway('providers', env('GATEWAY_PROVIDERS_URL'), (text) => ECHO + text);
export const FAKE_URL = env('FAKE_PROVIDERS_URL');
/** The key the `*-wrong-key` routes send (run.sh); the fake rejects it. */
export const WRONG_KEY = env('E2E_WRONG_KEY');
/** `retry.max_attempts` in gateway C's config. */
export const RETRY_ATTEMPTS = 3;

/**
 * The single-target routes of gateway C. `model` is what the fake answers as the model
 * (Anthropic echoes the request's model, Gemini's modelVersion, Azure's dated snapshot);
 * `priced` is the upstream model the gateway prices; `price` is USD per million tokens
 * (input, output) from run.sh's config.
 */
export const ROUTES = [
  {
    route: 'claude',
    provider: 'anthropic',
    model: 'claude-3-5-sonnet-latest',
    priced: 'claude-3-5-sonnet-latest',
    price: [3.0, 15.0],
  },
  {
    route: 'gemini-flash',
    provider: 'gemini',
    model: 'gemini-1.5-flash',
    priced: 'gemini-1.5-flash',
    price: [0.075, 0.3],
  },
  {
    route: 'azure-gpt',
    provider: 'azure',
    model: 'gpt-4o-mini-2024-07-18',
    priced: 'gpt-4o-mini',
    price: [0.15, 0.6],
  },
];
export const BY_PROVIDER = Object.fromEntries(ROUTES.map((r) => [r.provider, r]));

export const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city.',
      parameters: {
        type: 'object',
        properties: { location: { type: 'string' }, echo: { type: 'string' } },
        required: ['location'],
      },
    },
  },
];
/** Output tokens the fake reports for a tool call. */
export const TOOL_CALL_TOKENS = 12;

export function client(opts = {}) {
  return PROVIDERS.client(opts);
}

/** The fake's token count: whitespace-separated words, at least 1. */
export function words(text) {
  return Math.max(1, text.split(/\s+/).filter(Boolean).length);
}

/** The usage the fake reports for a prompt (the last user text). */
export function expectedUsage(prompt, { tool = false } = {}) {
  const prompt_tokens = words(prompt) + 3;
  const completion_tokens = tool ? TOOL_CALL_TOKENS : words(ECHO + prompt);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

/** Checks prompt/completion/total tokens exactly (extra detail fields are allowed). */
export function assertUsage(usage, prompt, opts) {
  assert.ok(usage, 'usage is missing');
  const want = expectedUsage(prompt, opts);
  assert.deepEqual(
    {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    },
    want,
  );
}

/** The `x-promptgate-cost-usd` the gateway should send for this usage on route `r`. */
export function assertCost(headers, r, usage) {
  const header = headers.get('x-promptgate-cost-usd');
  assert.match(header ?? '', /^\d+\.\d{8}$/, `cost header ${header}`);
  const [pin, pout] = r.price;
  const want = (usage.prompt_tokens * pin + usage.completion_tokens * pout) / 1e6;
  assert.ok(want > 0);
  assert.ok(Math.abs(Number(header) - want) < 1e-8 + 1e-12, `cost ${header}, expected ${want}`);
}

/** The fake's request counters: {anthropic, gemini, azure}. */
export async function counts() {
  const resp = await fetch(`${FAKE_URL}/requests`);
  assert.equal(resp.status, 200);
  return resp.json();
}

/** The last request a provider's fake received: {path, headers, body}. */
export async function lastRequest(provider) {
  const resp = await fetch(`${FAKE_URL}/last/${provider}`);
  assert.equal(resp.status, 200);
  return resp.json();
}

/** Runs fn and returns how many requests each fake received meanwhile, with fn's result. */
export async function counted(fn) {
  const before = await counts();
  let result;
  let error;
  try {
    result = await fn();
  } catch (e) {
    error = e;
  }
  const after = await counts();
  const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
  return { delta, result, error };
}

/** Only `provider` received `n` requests. */
export function only(provider, n) {
  return { anthropic: 0, gemini: 0, azure: 0, [provider]: n };
}

/** The concatenated content deltas of a chat stream. */
export function streamText(chunks) {
  return chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
}

/** The finish reasons a stream reported, in order. */
export function finishReasons(chunks) {
  return chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
}

/** Reassembles streamed tool calls by index: [{id, type, name, arguments}]. */
export function streamedToolCalls(chunks) {
  const calls = [];
  for (const c of chunks) {
    for (const tc of c.choices?.[0]?.delta?.tool_calls ?? []) {
      const call = (calls[tc.index] ??= { id: '', type: '', name: '', arguments: '' });
      if (tc.id) call.id = tc.id;
      if (tc.type) call.type = tc.type;
      if (tc.function?.name) call.name += tc.function.name;
      if (tc.function?.arguments) call.arguments += tc.function.arguments;
    }
  }
  return calls;
}

/** Iterates a stream to its end, keeping the chunks seen before an error; returns both. */
export async function drain(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}
