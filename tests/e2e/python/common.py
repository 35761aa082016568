"""Constants and assertions shared by the test modules."""

from __future__ import annotations

import re

TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")

# What loadtests/mock-upstream answers to every plain chat request (its WORDS, concatenated).
UPSTREAM_TEXT = (
    "This is a mock response from the OpenAI-compatible test upstream, used to measure "
    "gateway overhead. It streams realistic chunks of text quickly."
)

# mock-gpt's price in both configs (USD per million tokens).
PRICE_IN, PRICE_OUT = 0.15, 0.60


def assert_openai_error_body(body) -> dict:
    """The OpenAI error shape: {"error": {"message": str, "type": str, ...}}; returns error."""
    assert isinstance(body, dict), body
    err = body.get("error", body)  # the SDK's e.body is already the inner object
    assert isinstance(err.get("message"), str) and err["message"], body
    assert isinstance(err.get("type"), str) and err["type"], body
    return err
