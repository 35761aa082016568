"""Errors reach the SDK as its typed exceptions, with OpenAI-shaped bodies.

Gateway B has a route for `mock-gpt` only, no default route, `max_body_bytes: 65536`, and
its upstream (mock-upstream) fails on demand when the last message contains `[mock:NNN]`.
"""

from __future__ import annotations

import openai
import pytest

from common import TRACE_ID_RE, assert_openai_error_body


def test_unknown_model_is_404_model_not_found(upstream_client):
    with pytest.raises(openai.NotFoundError) as info:
        upstream_client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    e = info.value
    assert e.status_code == 404
    assert e.code == "model_not_found"
    assert_openai_error_body(e.body)
    assert TRACE_ID_RE.match(e.response.headers.get("x-promptgate-trace-id", ""))


def test_unknown_model_is_404_when_streaming(upstream_client):
    with pytest.raises(openai.NotFoundError) as info:
        upstream_client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert info.value.code == "model_not_found"


def test_unknown_embedding_model_is_404(upstream_client):
    with pytest.raises(openai.NotFoundError) as info:
        upstream_client.embeddings.create(model="mock-embed", input="hi")
    assert info.value.code == "model_not_found"


def test_messages_not_an_array_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="mock-gpt",
            messages=[{"role": "user", "content": "overridden below"}],
            extra_body={"messages": "this is not an array"},
        )
    assert info.value.status_code == 400
    err = assert_openai_error_body(info.value.body)
    assert err["type"] == "invalid_request_error"


def test_invalid_json_body_is_400(gw):
    with gw.http() as http:
        resp = http.post(
            "/v1/chat/completions",
            content=b'{"model": "mock-gpt", "messages": [',
            headers={"content-type": "application/json"},
        )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/json")
    err = assert_openai_error_body(resp.json())
    assert err["type"] == "invalid_request_error"


def test_missing_model_is_400(gw):
    with gw.http() as http:
        resp = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert resp.status_code == 400
    assert_openai_error_body(resp.json())


@pytest.mark.parametrize(
    "tag, exc, status",
    [
        ("429", openai.RateLimitError, 429),
        ("401", openai.AuthenticationError, 401),
        ("400", openai.BadRequestError, 400),
        ("500", openai.InternalServerError, None),  # 500, or 502 from the gateway: both 5xx
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_upstream_errors_become_typed_sdk_errors(upstream_client, tag, exc, status, stream):
    with pytest.raises(exc) as info:
        upstream_client.chat.completions.create(
            model="mock-gpt",
            messages=[{"role": "user", "content": f"please fail [mock:{tag}]"}],
            stream=stream,
        )
    e = info.value
    if status is None:
        assert 500 <= e.status_code <= 599
    else:
        assert e.status_code == status
    assert_openai_error_body(e.body)
    assert TRACE_ID_RE.match(e.response.headers.get("x-promptgate-trace-id", ""))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_upstream_connection_dropped_is_5xx(upstream_client, stream):
    """mock-upstream closes the connection without answering: a 5xx (e.g. 502), never a hang."""
    with pytest.raises(openai.InternalServerError) as info:
        upstream_client.chat.completions.create(
            model="mock-gpt",
            messages=[{"role": "user", "content": "drop it [mock:close]"}],
            stream=stream,
        )
    assert 500 <= info.value.status_code <= 599
    assert_openai_error_body(info.value.body)


def test_stream_cut_midway_raises_in_the_sdk(upstream_client):
    """Once the stream has started, an upstream failure must reach the client as an error
    (an SSE error event the SDK raises), not as a silently shortened answer."""
    stream = upstream_client.chat.completions.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": "cut me off [mock:close_mid]"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks arrived before the cut"
    assert not any(c.choices and c.choices[0].finish_reason for c in received)
    assert info.value.message


BIG = "x" * (100 * 1024)  # 100 KiB, over gateway B's 64 KiB limit


def test_body_over_limit_is_413(upstream_client):
    with pytest.raises(openai.APIStatusError) as info:
        upstream_client.chat.completions.create(
            model="mock-gpt", messages=[{"role": "user", "content": BIG}]
        )
    assert info.value.status_code == 413
    assert_openai_error_body(info.value.body)


def test_chunked_body_over_limit_is_413(gw_upstream):
    """Without a Content-Length the limit must hold too (chunked transfer encoding)."""
    body = ('{"model":"mock-gpt","messages":[{"role":"user","content":"' + BIG + '"}]}').encode()

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    with gw_upstream.http() as http:
        resp = http.post(
            "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 413
    assert_openai_error_body(resp.json())


def test_body_under_default_limit_passes(mock_client):
    # Gateway A keeps the default limit (32 MiB): the same 100 KiB message is fine and echoed.
    resp = mock_client.chat.completions.create(
        model="mock-gpt", messages=[{"role": "user", "content": BIG}]
    )
    assert resp.choices[0].message.content == BIG


def test_retrieve_unknown_model_is_404(upstream_client):
    with pytest.raises(openai.NotFoundError) as info:
        upstream_client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"


def test_wrong_method_is_405(gw):
    with gw.http() as http:
        resp = http.get("/v1/chat/completions")
    assert resp.status_code == 405
    assert_openai_error_body(resp.json())
