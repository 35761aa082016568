"""The prompt lifecycle end to end, with real processes and unmodified clients.

`promptctl serve` (SQLite in a temp dir) and a managed `promptgate --control-plane ...` are
started here; `promptctl` client commands drive the control plane; the official OpenAI SDK
calls the gateway with `variables` in `extra_body`; the upstream is the Azure fake of
fakes/providers.py, which records the last request it received (`/last/azure`).

create project -> push prompt -> submit -> approve (someone else) -> deploy to prod -> the
managed gateway picks it up within 2 s -> the SDK call reaches the upstream rendered -> its
trace is visible through `promptctl traces show`. Then resilience: the control plane dies
(the gateway keeps serving), the gateway restarts while it is down (it serves the persisted
snapshot), and an invalid policy is refused with nothing applied.
"""

from __future__ import annotations

import json as _json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[3]
PROMPT_FILE = ROOT / "examples" / "prompts" / "support-answer.yaml"
RENDERED_V1 = (
    "You are the support assistant for Acme Cloud.\n"
    "The customer is on the standard plan; answer briefly and link the docs."
)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through tests/e2e/run.sh", returncode=2)
    return value.rstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class ControlPlane:
    """`promptctl serve` on a SQLite file that survives restarts."""

    def __init__(self, work: Path):
        self.work = work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.work / f"promptctl-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [_env("PROMPTCTL_BIN"), "serve", "--listen", f"127.0.0.1:{self.port}"],
            cwd=self.work,
            env={**os.environ, "DATABASE_URL": f"sqlite://{self.work}/promptctl.db?mode=rwc"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        assert wait_until(lambda: http_ok(f"{self.url}/api/v1/openapi.json"), 30), self.log()

    def bootstrap_key(self) -> str:
        found = re.search(r"bootstrap admin API key[^:]*: (pgk_\w+)", self.log(1))
        assert found, self.log(1)
        return found.group(1)

    def log(self, start: int | None = None) -> str:
        return (self.work / f"promptctl-{start or self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


class ManagedGateway:
    """`promptgate --control-plane ...` with a state dir that survives restarts."""

    def __init__(self, work: Path, cp: ControlPlane, key: str):
        self.work, self.cp, self.key = work, cp, key
        self.port, self.admin = free_port(), free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.work / f"gateway-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [
                _env("PROMPTGATE_BIN"),
                "--control-plane", self.cp.url, "--project", "shop", "--environment", "prod",
                "--state-dir", str(self.work / "gateway-state"),
                "--listen", f"127.0.0.1:{self.port}",
                "--admin-listen", f"127.0.0.1:{self.admin}",
                "--pid-file", str(self.work / "gateway.pid"),
                "--upgrade-sock", str(self.work / "gateway-upgrade.sock"),
                "--shutdown-timeout-secs", "1",
            ],
            env={
                **os.environ,
                "PROMPTGATE_CONTROL_PLANE_KEY": self.key,
                # The upstream's key lives in the gateway's environment, never in the
                # control plane (the config names the variable).
                "E2E_AZURE_KEY": "azure-e2e-fake",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        ready = wait_until(lambda: http_ok(f"http://127.0.0.1:{self.admin}/readyz"), 30)
        assert ready, self.log()

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(15)

    def log(self) -> str:
        return (self.work / f"gateway-{self.starts}.log").read_text(errors="replace")

    def metric(self, name: str) -> float | None:
        text = httpx.get(f"http://127.0.0.1:{self.admin}/metrics", timeout=5).text
        found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
        return float(found.group(1)) if found else None

    def config_version(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.admin}/config", timeout=5).json()["version"]

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.origin}/v1", api_key="sk-e2e-app", max_retries=0, timeout=30)


class Ctl:
    """`promptctl` as a user would run it, with one API key; answers parsed from --json
    (`json=False`: the human-readable output, returned unparsed)."""

    def __init__(self, cp: ControlPlane, work: Path):
        self.cp, self.work = cp, work

    def run(self, key: str, *args: str, project: bool = True, check: bool = True, json: bool = True):
        cmd = [_env("PROMPTCTL_BIN"), "--url", self.cp.url, "--api-key", key]
        if json:
            cmd.append("--json")
        if project:
            cmd += ["--project", "shop"]
        env = {**os.environ, "PROMPTCTL_CONFIG": str(self.work / "promptctl.toml")}
        done = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=60)
        if check:
            assert done.returncode == 0, f"promptctl {' '.join(args)}: {done.stderr}{done.stdout}"
            if not json:
                return done.stdout
            return _json.loads(done.stdout) if done.stdout.strip() else None
        return done


def last_upstream_request() -> dict:
    return httpx.get(f"{_env('FAKE_PROVIDERS_URL')}/last/azure", timeout=5).json()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("lifecycle")
    cp = ControlPlane(work)
    cp.start()
    ctl = Ctl(cp, work)
    root = cp.bootstrap_key()
    ctl.run(root, "projects", "create", "shop", project=False)
    ids = {}
    for name, role in (("alice", "editor"), ("bob", "admin")):
        ids[name] = ctl.run(root, "users", "create", name, project=False)["id"]
        ctl.run(root, "members", "set", str(ids[name]), role)
    keys = {
        name: ctl.run(root, "keys", "create", "--name", name, "--role", role, "--user", str(ids[name]))["key"]
        for name, role in (("alice", "editor"), ("bob", "admin"))
    }
    keys["gateway"] = ctl.run(
        root, "keys", "create", "--name", "gw-prod", "--role", "gateway", "--user", str(ids["bob"])
    )["key"]
    gateway = ManagedGateway(work, cp, keys["gateway"])
    yield {"work": work, "cp": cp, "ctl": ctl, "keys": keys, "gateway": gateway}
    for proc in (gateway.proc, cp.proc):
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)


def environment_config(work: Path) -> Path:
    path = work / "prod.yaml"
    path.write_text(
        f"""
providers:
  upstream:
    type: azure
    base_url: "{_env('FAKE_PROVIDERS_URL')}/azure"
    api_key_env: E2E_AZURE_KEY
    api_version: 2024-10-21
    deployments: {{ gpt-4o-mini: e2e-gpt-4o-mini }}
routes:
  - model: support
    targets: [ {{ provider: upstream, model: gpt-4o-mini }} ]
    prompt: {{ name: support-answer }}
prices:
  gpt-4o-mini: {{ input_per_million: 0.15, output_per_million: 0.60 }}
"""
    )
    return path


def ask(gateway: ManagedGateway, variables: dict):
    return gateway.client().chat.completions.with_raw_response.create(
        model="support",
        messages=[{"role": "user", "content": "How do I reset my password?"}],
        extra_body={"variables": variables},
    )


def test_lifecycle_from_push_to_trace(world):
    ctl, keys, work, gateway = world["ctl"], world["keys"], world["work"], world["gateway"]
    alice, bob = keys["alice"], keys["bob"]

    pushed = ctl.run(alice, "prompts", "push", str(PROMPT_FILE))
    assert pushed["result"] == "created" and pushed["version"]["version"] == 1, pushed
    # Not deployable before review, even by an admin; an editor author cannot approve.
    early = ctl.run(bob, "deploy", "support-answer", "--version", "1", "--env", "prod", check=False)
    assert early.returncode != 0 and "HTTP 409" in early.stderr, early
    ctl.run(alice, "submit", "support-answer", "--version", "1")
    own = ctl.run(alice, "approve", "support-answer", "--version", "1", check=False)
    assert own.returncode != 0 and "HTTP 403" in own.stderr, own
    ctl.run(bob, "approve", "support-answer", "--version", "1")
    # prod is protected: the editor may not deploy there, the admin may.
    by_editor = ctl.run(alice, "deploy", "support-answer", "--version", "1", "--env", "prod", check=False)
    assert by_editor.returncode != 0 and "HTTP 403" in by_editor.stderr, by_editor
    deployed = ctl.run(bob, "deploy", "support-answer", "--version", "1", "--env", "prod")
    assert deployed["kind"] == "stable" and deployed["version"] == 1, deployed
    ctl.run(bob, "env", "set", "prod", str(environment_config(work)))

    gateway.start()
    assert gateway.metric("promptgate_control_plane_connected") == 1.0
    raw = ask(gateway, {"product": "Acme Cloud"})
    assert raw.headers["x-promptgate-prompt-version"] == "1"
    assert raw.parse().choices[0].message.content
    upstream = last_upstream_request()["body"]
    assert upstream["messages"][0] == {"role": "system", "content": RENDERED_V1}, upstream
    assert upstream["messages"][1]["content"] == "How do I reset my password?"
    assert "variables" not in upstream, "variables are for the gateway, not the provider"

    # A missing variable is a 400 naming it, in the OpenAI error shape.
    with pytest.raises(openai.BadRequestError) as missing:
        ask(gateway, {"customer_tier": "gold"})
    assert missing.value.body["param"] == "variables.product", missing.value.body

    # Version 2: reviewed, deployed, and served by the running gateway within 2 s.
    v2_file = work / "support-answer.yaml"
    v2_file.write_text(PROMPT_FILE.read_text().replace("answer briefly", "answer in one line"))
    assert ctl.run(alice, "prompts", "push", str(v2_file))["version"]["version"] == 2
    ctl.run(alice, "submit", "support-answer", "--version", "2")
    ctl.run(bob, "approve", "support-answer", "--version", "2")
    ctl.run(bob, "deploy", "support-answer", "--version", "2", "--env", "prod")
    deployed_at = time.monotonic()
    picked = wait_until(lambda: ask(gateway, {"product": "Acme Cloud"}).headers["x-promptgate-prompt-version"] == "2", 5)
    took = time.monotonic() - deployed_at
    assert picked and took <= 2.0, f"the gateway served version 2 after {took:.2f} s"
    raw = ask(gateway, {"product": "Acme Cloud", "customer_tier": "gold"})
    rendered = last_upstream_request()["body"]["messages"][0]["content"]
    assert rendered.endswith("the gold plan; answer in one line and link the docs."), rendered

    # The trace of that call, through the CLI, once the gateway has shipped it.
    trace_id = raw.headers["x-promptgate-trace-id"]
    shown = wait_until(lambda: ctl.run(bob, "traces", "show", trace_id, check=False).returncode == 0, 10, step=0.3)
    assert shown, "the trace never reached the control plane"
    trace = ctl.run(bob, "traces", "show", trace_id)
    assert trace["route"] == "support" and trace["prompt"] == "support-answer", trace
    assert trace["prompt_version"] == 2 and trace["status"] == "ok", trace
    assert trace["environment"] == "prod" and trace["provider"] == "azure", trace
    human = ctl.run(bob, "traces", "show", trace_id, json=False)
    assert trace_id in human and not human.lstrip().startswith("{"), human


def test_resilience_when_the_control_plane_is_down(world):
    cp, ctl, keys, gateway = world["cp"], world["ctl"], world["keys"], world["gateway"]
    assert gateway.proc is not None, "runs after test_lifecycle_from_push_to_trace"
    version = gateway.config_version()

    cp.kill()
    assert ask(gateway, {"product": "Acme Cloud"}).headers["x-promptgate-prompt-version"] == "2"
    assert wait_until(lambda: gateway.metric("promptgate_control_plane_connected") == 0.0, 40, step=0.2)

    # A gateway restarted while the control plane is down serves its last good snapshot.
    gateway.stop()
    gateway.start()
    assert gateway.config_version() == version
    raw = ask(gateway, {"product": "Acme Cloud"})
    assert raw.headers["x-promptgate-prompt-version"] == "2"
    assert "Acme Cloud" in last_upstream_request()["body"]["messages"][0]["content"]

    # Back up: an invalid policy is refused with the gateway's message, nothing applied.
    cp.start()
    assert wait_until(lambda: gateway.metric("promptgate_control_plane_connected") == 1.0, 40, step=0.2)
    bad = world["work"] / "bad-policy.yaml"
    bad.write_text(
        "policies:\n  - name: cheap\n    objective: min_cost\n"
        "    candidates: [{provider: nowhere, model: m}]\n"
    )
    refused = ctl.run(keys["alice"], "policies", "push", "--name", "cheap", str(bad), check=False)
    assert refused.returncode != 0 and "HTTP 422" in refused.stderr, refused
    assert "nowhere" in refused.stderr, refused.stderr
    assert ctl.run(keys["alice"], "policies", "list")["data"] == []
    time.sleep(1.5)
    assert gateway.config_version() == version
    assert ask(gateway, {"product": "Acme Cloud"}).headers["x-promptgate-prompt-version"] == "2"
