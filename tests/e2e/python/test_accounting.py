"""Accounting seen from outside: gateway B's admin /metrics against what the SDK was told.

The gateway asks the upstream for stream usage even when the client did not (and strips it
again, see test_chat.py); these tests check that the usage it collected that way is counted.
Pytest runs tests one at a time, so metric deltas belong to the request in between.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest

from common import PRICE_IN, PRICE_OUT

METRIC_RE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")
MESSAGES = [{"role": "user", "content": "count my tokens"}]


@pytest.fixture(scope="module")
def admin() -> str:
    return os.environ["GATEWAY_UPSTREAM_ADMIN"].rstrip("/")


def metric(admin: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
    text = httpx.get(f"{admin}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if not m or m["name"] != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"] or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m["value"])
    return total


def tokens(admin: str) -> tuple[float, float, float]:
    return (
        metric(admin, "promptgate_tokens_total", route="mock-gpt", type="prompt"),
        metric(admin, "promptgate_tokens_total", route="mock-gpt", type="completion"),
        metric(admin, "promptgate_usage_estimated_total"),
    )


def test_admin_endpoints(admin):
    assert httpx.get(f"{admin}/healthz").status_code == 200
    ready = httpx.get(f"{admin}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    config = httpx.get(f"{admin}/config").json()
    assert config["routes"] == ["mock-gpt"]
    assert config["default_route"] is False


def test_non_stream_usage_and_cost_are_counted(admin, upstream_client):
    before_tokens = tokens(admin)
    before_cost = metric(admin, "promptgate_cost_usd_total", route="mock-gpt")
    raw = upstream_client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
    usage = raw.parse().usage
    after_tokens = tokens(admin)
    cost = metric(admin, "promptgate_cost_usd_total", route="mock-gpt") - before_cost

    assert after_tokens[0] - before_tokens[0] == usage.prompt_tokens
    assert after_tokens[1] - before_tokens[1] == usage.completion_tokens
    assert after_tokens[2] == before_tokens[2], "real usage, not an estimate"
    expected = (usage.prompt_tokens * PRICE_IN + usage.completion_tokens * PRICE_OUT) / 1e6
    assert cost == pytest.approx(expected, rel=1e-6)
    assert float(raw.headers["x-promptgate-cost-usd"]) == pytest.approx(cost, abs=1e-8)


def test_stream_without_include_usage_is_still_counted(admin, upstream_client):
    # The same request with include_usage tells us the upstream's usage...
    stream = upstream_client.chat.completions.create(
        model="mock-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    usage = [c.usage for c in stream if c.usage is not None][-1]

    # ...and without it the client sees none, but the gateway still counts exactly that.
    before = tokens(admin)
    chunks = list(
        upstream_client.chat.completions.create(model="mock-gpt", messages=MESSAGES, stream=True)
    )
    after = tokens(admin)
    assert all(c.usage is None for c in chunks)
    assert after[0] - before[0] == usage.prompt_tokens
    assert after[1] - before[1] == usage.completion_tokens
    assert after[2] == before[2], "usage came from the upstream, not estimated"
