// Shared setup: OpenAI Node SDK clients pointed at the two gateways that run.sh starts.
//
// Gateway A (GATEWAY_MOCK_URL) serves examples/quickstart.yaml: the built-in `mock` provider
// echoes the last user message. Gateway B (GATEWAY_UPSTREAM_URL) forwards to mock-upstream,
// which answers a fixed sentence (UPSTREAM_TEXT) and injects faults on `[mock:NNN]` tags.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite through tests/e2e/run.sh`);
  return value.replace(/\/+$/, '');
}

export const TRACE_ID_RE = /^[0-9a-f]{32}$/;

// What loadtests/mock-upstream answers to every plain chat request (its WORDS, concatenated).
export const UPSTREAM_TEXT =
  'This is a mock response from the OpenAI-compatible test upstream, used to measure ' +
  'gateway overhead. It streams realistic chunks of text quickly.';

// mock-gpt's price in both configs (USD per million tokens).
export const PRICE_IN = 0.15;
export const PRICE_OUT = 0.6;

export function gateway(name, origin, reply) {
  return {
    name,
    origin,
    reply, // expected assistant text for a given last user message
    client: (opts = {}) =>
      new OpenAI({
        baseURL: `${origin}/v1`,
        apiKey: 'sk-e2e-not-a-real-key',
        maxRetries: 0,
        timeout: 30_000,
        ...opts,
      }),
    // Plain fetch against the gateway, for what the SDK does not cover.
    fetch: (path, init = {}) => fetch(`${origin}${path}`, init),
    postJson: (path, body) =>
      fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
  };
}

export const MOCK = gateway('mock', env('GATEWAY_MOCK_URL'), (text) => text);
export const UPSTREAM = gateway('upstream', env('GATEWAY_UPSTREAM_URL'), () => UPSTREAM_TEXT);
export const GATEWAYS = [MOCK, UPSTREAM];

export async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length > 0, 'the stream had no chunks');
  return chunks;
}

/** Asserts the OpenAI error shape ({error: {message, type}} or the inner object); returns it. */
export function assertErrorBody(body) {
  assert.equal(typeof body, 'object');
  assert.ok(body !== null);
  const err = body.error ?? body;
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0, JSON.stringify(body));
  assert.equal(typeof err.type, 'string');
  return err;
}

/** Runs fn and returns the error it throws, checking its class. */
export async function expectError(ErrorClass, fn) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${e?.constructor?.name}: ${e}`);
    return e;
  }
  assert.fail(`expected ${ErrorClass.name}, but the call succeeded`);
}

/** POSTs a streaming chat request with fetch; returns the raw `data:` payloads. */
export async function sseEvents(gw, body) {
  const resp = await gw.postJson('/v1/chat/completions', body);
  assert.equal(resp.status, 200);
  assert.match(resp.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await resp.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice('data:'.length).trim());
}
