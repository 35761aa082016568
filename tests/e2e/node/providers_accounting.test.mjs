// Accounting on gateway C's admin /metrics: tokens and cost per route and upstream model, and
// the failed attempts and retries behind faults and fallbacks. Tests run one at a time, so a
// metric's change between two reads belongs to the request in between.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';

import { collect, env } from './helpers.mjs';
import {
  BY_PROVIDER,
  RETRY_ATTEMPTS,
  ROUTES,
  client,
  expectedUsage,
} from './providers_helpers.mjs';

const ADMIN = env('GATEWAY_PROVIDERS_ADMIN');
const sdk = client();
const METRIC_RE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$/;

/** Every sample of the admin /metrics page: [{name, labels, value}]. */
async function scrape() {
  const resp = await fetch(`${ADMIN}/metrics`);
  assert.equal(resp.status, 200);
  const samples = [];
  for (const line of (await resp.text()).split('\n')) {
    const m = METRIC_RE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`. */
function sum(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

/**
 * Runs fn, then reads how much each [name, labels] metric grew. Waits (up to 2 s) for the
 * request's record to land when it is written after the response's last byte.
 */
async function grew(queries, fn, expected) {
  const before = await scrape();
  const result = await fn().then((value) => ({ value }), (error) => ({ error }));
  let deltas;
  for (let i = 0; i < 20; i += 1) {
    const after = await scrape();
    deltas = queries.map(([name, labels]) => sum(after, name, labels) - sum(before, name, labels));
    if (expected === undefined || deltas.every((d, j) => Math.abs(d - expected[j]) < 1e-9)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { deltas, ...result };
}

function tokenQueries(route, model) {
  return [
    ['promptgate_tokens_total', { route, model, type: 'prompt' }],
    ['promptgate_tokens_total', { route, model, type: 'completion' }],
    ['promptgate_cost_usd_total', { route, model }],
    ['promptgate_usage_estimated_total', {}],
  ];
}

function costOf(r, usage) {
  return (usage.prompt_tokens * r.price[0] + usage.completion_tokens * r.price[1]) / 1e6;
}

function assertTokenDeltas(deltas, r, prompt) {
  const usage = expectedUsage(prompt);
  const [prompt_tokens, completion_tokens, cost, estimated] = deltas;
  assert.deepEqual({ prompt_tokens, completion_tokens, estimated }, {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    estimated: 0,
  });
  assert.ok(Math.abs(cost - costOf(r, usage)) < 1e-12, `cost ${cost}, expected ${costOf(r, usage)}`);
}

for (const r of ROUTES) {
  describe(`accounting via ${r.route} (${r.provider})`, () => {
    test('a stream without include_usage is still counted with the provider usage', async () => {
      const prompt = `count my stream tokens on ${r.route}`;
      const usage = expectedUsage(prompt);
      const { deltas, error, value } = await grew(
        tokenQueries(r.route, r.priced),
        async () =>
          collect(
            await sdk.chat.completions.create({
              model: r.route,
              messages: [{ role: 'user', content: prompt }],
              stream: true,
            }),
          ),
        [usage.prompt_tokens, usage.completion_tokens, costOf(r, usage), 0],
      );
      assert.equal(error, undefined, `${error}`);
      assert.ok(value.every((c) => !c.usage), 'the client asked for no usage and got none');
      assertTokenDeltas(deltas, r, prompt);
    });

    test('a rate-limited request: every attempt counted as an upstream error, retries counted', async () => {
      const queries = [
        ['promptgate_upstream_errors_total', { provider: r.provider, kind: '429' }],
        ['promptgate_retries_total', { route: r.route }],
        ['promptgate_requests_total', { route: r.route, status: '429' }],
      ];
      const want = [RETRY_ATTEMPTS, RETRY_ATTEMPTS - 1, 1];
      const { deltas, error } = await grew(
        queries,
        () => sdk.chat.completions.create({ model: r.route, messages: [{ role: 'user', content: 'no [fake:429]' }] }),
        want,
      );
      assert.ok(error instanceof OpenAI.RateLimitError, `${error}`);
      assert.deepEqual(deltas, want);
    });
  });
}

describe('accounting of support-bot', () => {
  test('after a fallback, tokens and cost go to the model that answered', async () => {
    const prompt = 'count the fallback [fake:anthropic:529]';
    const gemini = BY_PROVIDER.gemini;
    const usage = expectedUsage(prompt);
    const queries = [
      ...tokenQueries('support-bot', gemini.priced),
      ['promptgate_tokens_total', { route: 'support-bot', model: BY_PROVIDER.anthropic.priced }],
      ['promptgate_upstream_errors_total', { provider: 'anthropic', kind: '529' }],
      ['promptgate_retries_total', { route: 'support-bot' }],
    ];
    const want = [usage.prompt_tokens, usage.completion_tokens, costOf(gemini, usage), 0, 0, 1, 1];
    const { deltas, error } = await grew(
      queries,
      () => sdk.chat.completions.create({ model: 'support-bot', messages: [{ role: 'user', content: prompt }] }),
      want,
    );
    assert.equal(error, undefined, `${error}`);
    assertTokenDeltas(deltas.slice(0, 4), gemini, prompt);
    assert.deepEqual(deltas.slice(4), [0, 1, 1], 'no anthropic tokens; one failed attempt; one retry');
  });
});
