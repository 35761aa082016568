"""Shared fixtures: OpenAI SDK clients pointed at the two gateways that run.sh starts.

Gateway A (GATEWAY_MOCK_URL) serves examples/quickstart.yaml: the built-in `mock` provider
echoes the last user message. Gateway B (GATEWAY_UPSTREAM_URL) forwards to mock-upstream,
which answers a fixed sentence (UPSTREAM_TEXT) and injects faults on `[mock:NNN]` tags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import httpx
import openai
import pytest

from common import UPSTREAM_TEXT


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through tests/e2e/run.sh", returncode=2)
    return value.rstrip("/")


@dataclass
class Gateway:
    """One running gateway and what its backend answers."""

    name: str  # "mock" (gateway A) or "upstream" (gateway B)
    origin: str  # http://127.0.0.1:PORT, no /v1
    reply: Callable[[str], str]  # expected assistant text for a given last user message

    def client(self, **kwargs) -> openai.OpenAI:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        return openai.OpenAI(base_url=f"{self.origin}/v1", api_key="sk-e2e-not-a-real-key", **kwargs)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.origin, timeout=30)


@pytest.fixture(scope="session")
def gw_mock() -> Gateway:
    return Gateway("mock", _env("GATEWAY_MOCK_URL"), reply=lambda text: text)


@pytest.fixture(scope="session")
def gw_upstream() -> Gateway:
    return Gateway("upstream", _env("GATEWAY_UPSTREAM_URL"), reply=lambda _text: UPSTREAM_TEXT)


@pytest.fixture(params=["mock", "upstream"])
def gw(request) -> Gateway:
    """Runs a test once per gateway."""
    return request.getfixturevalue(f"gw_{request.param}")


@pytest.fixture
def client(gw: Gateway) -> openai.OpenAI:
    with gw.client() as c:
        yield c


@pytest.fixture
def mock_client(gw_mock: Gateway) -> openai.OpenAI:
    with gw_mock.client() as c:
        yield c


@pytest.fixture
def upstream_client(gw_upstream: Gateway) -> openai.OpenAI:
    with gw_upstream.client() as c:
        yield c
