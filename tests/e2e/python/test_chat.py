"""Chat completions, whole and streamed, through both gateways."""

from __future__ import annotations

import json

PROMPT = "Say hello to promptgate, please."


def test_chat_completion(gw, client):
    resp = client.chat.completions.create(
        model="mock-gpt",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": PROMPT},
        ],
    )
    assert resp.object == "chat.completion"
    assert isinstance(resp.id, str) and resp.id.startswith("chatcmpl")
    assert resp.model == "mock-gpt"
    assert isinstance(resp.created, int) and resp.created > 1_600_000_000
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == gw.reply(PROMPT)
    assert not choice.message.tool_calls
    usage = resp.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_multi_turn_answers_last_user_message(gw, client):
    resp = client.chat.completions.create(
        model="mock-gpt",
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"},
        ],
    )
    assert resp.choices[0].message.content == gw.reply("second question")


def test_unknown_model_goes_to_default_route(gw_mock, mock_client):
    # quickstart.yaml has a default_route, so any model name is served (contrast: gateway B 404s).
    resp = mock_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "default route?"}]
    )
    assert resp.model == "gpt-4o-mini"
    assert resp.choices[0].message.content == "default route?"


def _collect(stream):
    chunks = list(stream)
    assert chunks, "the stream had no chunks"
    return chunks


def _text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_stream_with_include_usage(gw, client):
    stream = client.chat.completions.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = _collect(stream)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "every chunk carries the same id"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "the answer should arrive in several deltas"
    assert _text(chunks) == gw.reply(PROMPT)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]

    # Exactly one usage chunk, the last one, with no choices.
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens > 0
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert [c for c in chunks[:-1] if c.usage is not None] == []


def test_stream_without_include_usage(gw, client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    chunks = _collect(stream)
    assert _text(chunks) == gw.reply(PROMPT)
    assert all(c.choices for c in chunks), "no usage-only chunk when the client did not ask"
    assert [c.usage for c in chunks if c.usage is not None] == []


def _sse_events(gw, body: dict) -> list[str]:
    """POSTs a streaming request with plain httpx and returns the raw `data:` payloads."""
    with gw.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line.startswith("data:")]
    return [line[len("data:"):].strip() for line in lines]


def test_raw_stream_without_include_usage_has_no_usage(gw):
    """The gateway may ask the upstream for usage (for accounting) but must strip it again."""
    events = _sse_events(
        gw, {"model": "mock-gpt", "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    )
    assert events[-1] == "[DONE]"
    payloads = [json.loads(e) for e in events[:-1]]
    assert payloads
    for p in payloads:
        assert p.get("usage") is None, f"usage leaked into a chunk: {p}"
        assert p["choices"], f"usage-only chunk leaked: {p}"


def test_raw_stream_with_include_usage(gw):
    events = _sse_events(
        gw,
        {
            "model": "mock-gpt",
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert events[-1] == "[DONE]"
    payloads = [json.loads(e) for e in events[:-1]]
    assert payloads[-1]["choices"] == []
    assert payloads[-1]["usage"]["completion_tokens"] > 0
