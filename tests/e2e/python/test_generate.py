"""The native endpoint POST /api/v1/generate (not part of the OpenAI SDK: plain httpx)."""

from __future__ import annotations

import pytest

from common import TRACE_ID_RE, assert_openai_error_body


def generate(gw, body: dict):
    with gw.http() as http:
        return http.post("/api/v1/generate", json=body)


def test_generate_with_template(gw):
    resp = generate(
        gw, {"model": "mock-gpt", "prompt": "Q: {{ question }}", "variables": {"question": "hi"}}
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["output"] == gw.reply("Q: hi")  # the mock provider echoes the rendered prompt
    metrics = data["metrics"]
    assert isinstance(metrics["latency_ms"], int) and metrics["latency_ms"] >= 0
    assert metrics["tokens"]["prompt"] > 0
    assert metrics["tokens"]["completion"] > 0
    assert isinstance(metrics["cost_usd"], float) and metrics["cost_usd"] > 0
    assert TRACE_ID_RE.match(data["trace_id"])
    assert resp.headers.get("x-promptgate-trace-id") == data["trace_id"]


def test_generate_with_schema(gw):
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "confidence": {"type": "number"},
            "sources": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["answer", "confidence", "sources"],
        "additionalProperties": False,
    }
    resp = generate(
        gw,
        {
            "model": "mock-gpt",
            "prompt": "Answer {{ question }}",
            "variables": {"question": "why?"},
            "schema": schema,
        },
    )
    assert resp.status_code == 200, resp.text
    output = resp.json()["output"]
    assert isinstance(output, dict)
    assert set(output) == {"answer", "confidence", "sources"}
    assert isinstance(output["answer"], str)
    assert isinstance(output["confidence"], (int, float))
    assert isinstance(output["sources"], list)


def test_generate_with_system_and_messages(gw_mock):
    resp = generate(
        gw_mock,
        {
            "model": "mock-gpt",
            "system": "be brief",
            "messages": [{"role": "user", "content": "from messages"}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["output"] == "from messages"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "mock-gpt", "prompt": "Q: {{ question }}", "variables": {}},  # undefined variable
        {"prompt": "no model"},
        {"model": "mock-gpt"},  # neither prompt nor messages
        {"model": "mock-gpt", "prompt": "x", "unknown_field": 1},
    ],
    ids=["undefined-variable", "no-model", "no-prompt", "unknown-field"],
)
def test_generate_rejects_bad_requests(gw_mock, body):
    resp = generate(gw_mock, body)
    assert resp.status_code == 400, resp.text
    assert_openai_error_body(resp.json())


def test_generate_unknown_model_is_404(gw_upstream):
    resp = generate(gw_upstream, {"model": "no-such-model", "prompt": "hi"})
    assert resp.status_code == 404, resp.text
    assert assert_openai_error_body(resp.json()).get("code") == "model_not_found"
