"""/v1/models and the x-promptgate-* response headers."""

from __future__ import annotations

import pytest

from common import PRICE_IN, PRICE_OUT, TRACE_ID_RE


def test_models_list_on_mock_gateway(mock_client):
    models = list(mock_client.models.list())
    ids = [m.id for m in models]
    assert "mock-gpt" in ids and "mock-embed" in ids
    assert all(m.object == "model" for m in models)
    assert len(ids) == len(set(ids))


def test_models_list_on_upstream_gateway(upstream_client):
    ids = [m.id for m in upstream_client.models.list()]
    assert "mock-gpt" in ids
    assert "mock-embed" not in ids, "gateway B has no mock-embed route"


def test_models_retrieve(mock_client):
    model = mock_client.models.retrieve("mock-gpt")
    assert model.id == "mock-gpt"
    assert model.object == "model"


def test_headers_on_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-gpt", messages=[{"role": "user", "content": "headers, please"}]
    )
    assert raw.status_code == 200
    trace_id = raw.headers.get("x-promptgate-trace-id")
    assert trace_id and TRACE_ID_RE.match(trace_id), trace_id
    assert raw.headers.get("x-promptgate-route") == "mock-gpt"

    completion = raw.parse()
    cost = float(raw.headers["x-promptgate-cost-usd"])
    assert cost > 0
    expected = (
        completion.usage.prompt_tokens * PRICE_IN + completion.usage.completion_tokens * PRICE_OUT
    ) / 1e6
    assert cost == pytest.approx(expected, abs=1e-8), "cost = usage x configured price"


def test_trace_ids_differ_between_requests(mock_client):
    ids = {
        mock_client.chat.completions.with_raw_response.create(
            model="mock-gpt", messages=[{"role": "user", "content": "same request"}]
        ).headers["x-promptgate-trace-id"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_headers_on_stream(client):
    with client.chat.completions.with_streaming_response.create(
        model="mock-gpt", messages=[{"role": "user", "content": "streamed headers"}], stream=True
    ) as resp:
        assert resp.status_code == 200
        assert TRACE_ID_RE.match(resp.headers.get("x-promptgate-trace-id", ""))
        assert resp.headers.get("x-promptgate-route") == "mock-gpt"
        chunks = list(resp.parse())
    assert chunks


def test_headers_on_embeddings(mock_client):
    raw = mock_client.embeddings.with_raw_response.create(
        model="mock-embed", input="x", encoding_format="float"
    )
    assert TRACE_ID_RE.match(raw.headers.get("x-promptgate-trace-id", ""))
    assert raw.headers.get("x-promptgate-route") == "mock-embed"
