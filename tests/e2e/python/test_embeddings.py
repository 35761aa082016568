"""Embeddings on gateway A (mock provider, route `mock-embed`)."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest


def test_float_embeddings(mock_client):
    resp = mock_client.embeddings.create(
        model="mock-embed", input=["alpha", "beta"], dimensions=16, encoding_format="float"
    )
    assert resp.object == "list"
    assert resp.model == "mock-embed"
    assert [d.index for d in resp.data] == [0, 1]
    for d in resp.data:
        assert d.object == "embedding"
        assert len(d.embedding) == 16
        assert all(isinstance(x, float) and math.isfinite(x) for x in d.embedding)
    assert resp.data[0].embedding != resp.data[1].embedding, "different inputs, different vectors"
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.total_tokens >= resp.usage.prompt_tokens


def test_embeddings_are_deterministic(mock_client):
    a = mock_client.embeddings.create(model="mock-embed", input="same text", encoding_format="float")
    b = mock_client.embeddings.create(model="mock-embed", input="same text", encoding_format="float")
    assert a.data[0].embedding == b.data[0].embedding
    assert len(a.data[0].embedding) == 8, "default dimensions of the mock provider"


@pytest.mark.parametrize("dimensions", [8, 64, 256])
def test_sdk_default_base64_encoding(mock_client, dimensions):
    """Without encoding_format the SDK asks for base64 and decodes it; the vector must be the
    same as the float one."""
    raw = mock_client.embeddings.with_raw_response.create(
        model="mock-embed", input="base64 please", dimensions=dimensions
    )
    wire = json.loads(raw.http_response.text)["data"][0]["embedding"]
    assert isinstance(wire, str), "the SDK asked for base64, so the wire value is a string"
    assert len(base64.b64decode(wire)) == 4 * dimensions

    decoded = raw.parse().data[0].embedding
    assert len(decoded) == dimensions
    floats = mock_client.embeddings.create(
        model="mock-embed", input="base64 please", dimensions=dimensions, encoding_format="float"
    ).data[0].embedding
    expected = [struct.unpack("<f", struct.pack("<f", x))[0] for x in floats]  # f32 rounding
    assert decoded == pytest.approx(expected, rel=1e-6, abs=1e-7)
