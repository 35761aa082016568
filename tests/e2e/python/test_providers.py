"""The translating providers (anthropic, gemini, azure) through gateway C, driven by the OpenAI SDK.

Gateway C (GATEWAY_PROVIDERS_URL) routes `claude`, `gemini-flash` and `azure-gpt` to
tests/e2e/fakes/providers.py (FAKE_PROVIDERS_URL), which answers in each provider's own wire
format: "Echo: " + the last user text, a call of the first tool when tools are offered, and
errors on `[fake:...]` markers. `support-bot` falls back anthropic -> gemini -> azure.
"""

from __future__ import annotations

import json
import os

import httpx
import openai
import pytest

ECHO = "Echo: "
ROUTES = ["claude", "gemini-flash", "azure-gpt"]
PROVIDER = {"claude": "anthropic", "gemini-flash": "gemini", "azure-gpt": "azure"}
# USD per million (input, output) tokens of each route's upstream model, as in run.sh's config.
PRICE = {"claude": (3.0, 15.0), "gemini-flash": (0.075, 0.30), "azure-gpt": (0.15, 0.60)}
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "echo": {"type": "string"}},
            "required": ["location"],
        },
    },
}]


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through tests/e2e/run.sh", returncode=2)
    return value.rstrip("/")


@pytest.fixture(scope="module")
def pclient() -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{_env('GATEWAY_PROVIDERS_URL')}/v1", api_key="sk-e2e-not-a-real-key",
                       max_retries=0, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def fake() -> httpx.Client:
    with httpx.Client(base_url=_env("FAKE_PROVIDERS_URL"), timeout=10) as c:
        yield c


def _counts(fake: httpx.Client) -> dict:
    return fake.get("/requests").json()


def _text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# ----------------------------------------------------------------------------- chat


@pytest.mark.parametrize("route", ROUTES)
def test_chat_whole(route, pclient, fake):
    prompt = f"Hello {route}, what is the weather like?"
    raw = pclient.chat.completions.with_raw_response.create(
        model=route,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": prompt},
        ],
        max_tokens=64,
    )
    resp = raw.parse()
    assert resp.object == "chat.completion"
    assert isinstance(resp.model, str) and resp.model  # the upstream model's name, e.g. claude-3-5-sonnet-latest
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == ECHO + prompt, "the fake echoes the translated last user message"
    assert not choice.message.tool_calls
    usage = resp.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    cost = float(raw.headers["x-promptgate-cost-usd"])
    assert cost > 0
    p_in, p_out = PRICE[route]
    expected = (usage.prompt_tokens * p_in + usage.completion_tokens * p_out) / 1e6
    assert cost == pytest.approx(expected, abs=1e-8), "cost = usage x the upstream model's price"


def test_anthropic_request_translation(pclient, fake):
    pclient.chat.completions.create(
        model="claude",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "translate me"},
        ],
        max_tokens=33,
    )
    last = fake.get("/last/anthropic").json()
    assert last["headers"]["x-api-key"] == "sk-ant-e2e-fake"
    assert last["headers"].get("anthropic-version")
    body = last["body"]
    assert body["model"] == "claude-3-5-sonnet-latest"
    assert body["max_tokens"] == 33
    assert "Be brief." in json.dumps(body["system"])
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_gemini_request_translation(pclient, fake):
    pclient.chat.completions.create(
        model="gemini-flash",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "translate me"},
        ],
    )
    last = fake.get("/last/gemini").json()
    assert last["headers"]["x-goog-api-key"] == "gemini-e2e-fake"
    assert last["path"].endswith("/models/gemini-1.5-flash:generateContent")
    body = last["body"]
    assert "Be brief." in json.dumps(body["systemInstruction"])
    assert body["contents"][-1]["role"] == "user"


def test_azure_request_addressing(pclient, fake):
    pclient.chat.completions.create(model="azure-gpt", messages=[{"role": "user", "content": "address me"}])
    last = fake.get("/last/azure").json()
    assert last["headers"]["api-key"] == "azure-e2e-fake"
    assert "authorization" not in last["headers"], "the client's bearer key must not reach Azure"
    assert last["path"] == "/azure/openai/deployments/e2e-gpt-4o-mini/chat/completions?api-version=2024-10-21"


def test_azure_filter_results_relayed(pclient):
    raw = pclient.chat.completions.with_raw_response.create(
        model="azure-gpt", messages=[{"role": "user", "content": "filters?"}])
    body = json.loads(raw.http_response.text)
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert "content_filter_results" in body["choices"][0]


@pytest.mark.parametrize("route", ROUTES)
def test_stream_with_include_usage(route, pclient):
    prompt = f"Stream this for {route} in several words"
    chunks = list(pclient.chat.completions.create(
        model=route,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    ))
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks if c.object)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "the answer should arrive in several deltas"
    assert _text(chunks) == ECHO + prompt
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1, "exactly one usage chunk"
    u = usage_chunks[0]
    assert u is chunks[-1], "the usage chunk comes last"
    assert u.choices == []
    assert u.usage.prompt_tokens > 0 and u.usage.completion_tokens > 0
    assert u.usage.total_tokens == u.usage.prompt_tokens + u.usage.completion_tokens


@pytest.mark.parametrize("route", ROUTES)
def test_stream_without_usage(route, pclient):
    prompt = f"No usage please, {route}"
    chunks = list(pclient.chat.completions.create(
        model=route, messages=[{"role": "user", "content": prompt}], stream=True))
    assert _text(chunks) == ECHO + prompt
    assert all(c.usage is None for c in chunks), "no usage chunk unless include_usage was asked for"


# ----------------------------------------------------------------------------- tools


@pytest.mark.parametrize("route", ROUTES)
def test_tool_call_whole(route, pclient):
    prompt = f"weather in Paris via {route}"
    resp = pclient.chat.completions.create(
        model=route, messages=[{"role": "user", "content": prompt}], tools=TOOLS)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert isinstance(call.id, str) and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "echo": prompt}


@pytest.mark.parametrize("route", ROUTES)
def test_tool_call_streamed(route, pclient):
    prompt = f"streamed weather via {route}"
    chunks = list(pclient.chat.completions.create(
        model=route, messages=[{"role": "user", "content": prompt}], tools=TOOLS, stream=True,
        stream_options={"include_usage": True}))
    names, args, ids = {}, {}, {}
    for c in chunks:
        if not c.choices:
            continue
        for tc in c.choices[0].delta.tool_calls or []:
            if tc.id:
                ids[tc.index] = tc.id
            if tc.function and tc.function.name:
                names[tc.index] = names.get(tc.index, "") + tc.function.name
            if tc.function and tc.function.arguments:
                args[tc.index] = args.get(tc.index, "") + tc.function.arguments
    assert list(names.values()) == ["get_weather"]
    assert ids.get(0), "the first fragment carries the call id"
    assert json.loads(args[0]) == {"location": "Paris", "echo": prompt}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_tool_result_round_trip(pclient):
    """A tool result sent back is translated (the fakes answer text when the last turn is one)."""
    for route in ROUTES:
        first = pclient.chat.completions.create(
            model=route, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]
        resp = pclient.chat.completions.create(
            model=route,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
                {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'},
            ],
        )
        assert resp.choices[0].finish_reason == "stop", route
        assert resp.choices[0].message.content.startswith(ECHO), route


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("route", ROUTES)
def test_rate_limit_is_typed(route, pclient):
    with pytest.raises(openai.RateLimitError) as ei:
        pclient.chat.completions.create(model=route, messages=[{"role": "user", "content": "slow down [fake:429]"}])
    assert ei.value.status_code == 429
    assert isinstance(ei.value.message, str) and ei.value.message


@pytest.mark.parametrize("route", ROUTES)
def test_bad_request_is_typed(route, pclient, fake):
    before = _counts(fake)[PROVIDER[route]]
    with pytest.raises(openai.BadRequestError) as ei:
        pclient.chat.completions.create(model=route, messages=[{"role": "user", "content": "bad [fake:400]"}])
    assert ei.value.status_code == 400
    assert _counts(fake)[PROVIDER[route]] - before == 1, "a 400 is not retried"


@pytest.mark.parametrize("route", ROUTES)
def test_rate_limit_is_typed_streaming(route, pclient):
    with pytest.raises(openai.RateLimitError) as ei:
        list(pclient.chat.completions.create(
            model=route, messages=[{"role": "user", "content": "slow down [fake:429]"}], stream=True))
    assert ei.value.status_code == 429


def test_anthropic_error_event_mid_stream(pclient):
    """Anthropic's `event: error` after the first delta reaches the SDK as an error, not a quiet end."""
    stream = pclient.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "tell a story [fake:stream_error]"}], stream=True)
    seen = []
    with pytest.raises(openai.APIError) as ei:
        for chunk in stream:
            seen.append(chunk)
    assert _text(seen) == "Once upon"
    assert "Overloaded" in str(ei.value)


def test_anthropic_overloaded_is_server_error(pclient):
    with pytest.raises(openai.APIStatusError) as ei:
        pclient.chat.completions.create(model="claude", messages=[{"role": "user", "content": "busy [fake:529]"}])
    assert ei.value.status_code >= 500


def test_azure_content_filter(pclient, fake):
    before = _counts(fake)["azure"]
    with pytest.raises(openai.BadRequestError) as ei:
        pclient.chat.completions.create(
            model="azure-gpt", messages=[{"role": "user", "content": "nasty [fake:content_filter]"}])
    assert ei.value.status_code == 400
    assert ei.value.code == "content_filter"
    assert _counts(fake)["azure"] - before == 1, "content-filter refusals are not retried"


def test_azure_content_filter_streaming(pclient):
    with pytest.raises(openai.BadRequestError) as ei:
        list(pclient.chat.completions.create(
            model="azure-gpt", messages=[{"role": "user", "content": "nasty [fake:content_filter]"}], stream=True))
    assert ei.value.code == "content_filter"


# ----------------------------------------------------------------------------- fallback


def test_fallback_from_anthropic_to_gemini(pclient, fake):
    before = _counts(fake)
    prompt = "help me [fake:anthropic:529]"
    raw = pclient.chat.completions.with_raw_response.create(
        model="support-bot", messages=[{"role": "user", "content": prompt}])
    resp = raw.parse()
    after = _counts(fake)
    assert resp.choices[0].message.content == ECHO + prompt
    assert resp.model == "gemini-1.5-flash", "the model that answered"
    assert after["anthropic"] - before["anthropic"] == 1
    assert after["gemini"] - before["gemini"] == 1
    assert after["azure"] == before["azure"]
    assert float(raw.headers["x-promptgate-cost-usd"]) > 0


def test_fallback_to_azure_streamed(pclient, fake):
    before = _counts(fake)
    prompt = "help me [fake:anthropic:429] [fake:gemini:429]"
    chunks = list(pclient.chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": prompt}], stream=True,
        stream_options={"include_usage": True}))
    after = _counts(fake)
    assert _text(chunks) == ECHO + prompt
    assert chunks[-1].usage is not None
    assert {k: after[k] - before[k] for k in after} == {"anthropic": 1, "gemini": 1, "azure": 1}


def test_fallback_exhausted_returns_last_error(pclient):
    with pytest.raises(openai.RateLimitError):
        pclient.chat.completions.create(model="support-bot", messages=[{"role": "user", "content": "all down [fake:429]"}])
