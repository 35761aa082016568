#!/usr/bin/env bash
# promptgate end-to-end suite: the official OpenAI SDKs (Python and Node) as unmodified
# clients of two live gateways.
#
#   gateway A  examples/quickstart.yaml            built-in `mock` provider, no network
#   gateway B  generated config, `type: openai`    -> mock-upstream (loadtests/mock-upstream)
#   gateway C  generated config, `type: anthropic|gemini|azure` -> fakes/providers.py
#
# Usage: bash tests/e2e/run.sh [extra pytest args]
#   PROMPTGATE_BIN=/path/to/promptgate   use this binary instead of building one
#   MOCK_UPSTREAM_BIN=/path/to/mock-upstream   likewise for the fake upstream
#   PROMPTCTL_BIN=/path/to/promptctl     likewise for the control plane (lifecycle tests)
#   CARGO_TARGET_DIR                     default /var/tmp/promptgate-target
#   E2E_SKIP_INSTALL=1                   reuse .venv and node_modules as they are
# Exit code: 0 only when both runners ran tests and none failed.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/promptgate-target}"

log() { printf '[e2e] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- clients
VENV="$E2E_DIR/.venv"
if [[ "${E2E_SKIP_INSTALL:-0}" != 1 ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  log "pip install -r requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$E2E_DIR/requirements.txt"

  log "npm install (tests/e2e/node)"
  if [[ -f "$E2E_DIR/node/package-lock.json" ]]; then
    (cd "$E2E_DIR/node" && npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd "$E2E_DIR/node" && npm install --no-audit --no-fund --loglevel=error)
  fi
fi
PY="$VENV/bin/python"

# ---------------------------------------------------------------- binaries
if [[ -z "${PROMPTGATE_BIN:-}" ]]; then
  log "cargo build -p promptgate (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build -p promptgate)
  PROMPTGATE_BIN="$CARGO_TARGET_DIR/debug/promptgate"
fi
if [[ -z "${MOCK_UPSTREAM_BIN:-}" ]]; then
  log "cargo build -p mock-upstream"
  (cd "$ROOT" && cargo build -p mock-upstream)
  MOCK_UPSTREAM_BIN="$CARGO_TARGET_DIR/debug/mock-upstream"
fi
if [[ -z "${PROMPTCTL_BIN:-}" ]]; then
  log "cargo build -p control-plane (promptctl)"
  (cd "$ROOT" && cargo build -p control-plane)
  PROMPTCTL_BIN="$CARGO_TARGET_DIR/debug/promptctl"
fi
# The lifecycle tests start their own control plane and managed gateway from these.
export PROMPTGATE_BIN PROMPTCTL_BIN
for bin in "$PROMPTGATE_BIN" "$MOCK_UPSTREAM_BIN" "$PROMPTCTL_BIN"; do
  [[ -x "$bin" ]] || { log "missing binary: $bin"; exit 1; }
done

# ---------------------------------------------------------------- processes
WORK="$(mktemp -d /tmp/promptgate-e2e.XXXXXX)"
RESULTS="$E2E_DIR/results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # SIGTERM lets a gateway drain; give it a moment, then insist.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  local f
  for f in "$WORK"/*.log; do
    [[ -f "$f" ]] || continue
    log "---- last lines of $(basename "$f")"
    tail -n 40 "$f" >&2 || true
  done
}

# Eight distinct free loopback ports, all held open until every one is chosen.
read -r P_UP P_A P_A_ADMIN P_B P_B_ADMIN P_FAKE P_C P_C_ADMIN < <("$PY" - <<'EOF'
import socket
socks = []
for _ in range(8):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
)

# wait_http NAME URL PID: until URL answers 200, or PID dies, or 30 s pass.
wait_http() {
  local name="$1" url="$2" pid="$3"
  if ! "$PY" - "$url" "$pid" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(f"process {pid} exited")
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(f"timed out waiting for {url}")
EOF
  then
    log "$name did not become ready at $url"
    show_logs
    exit 1
  fi
  log "$name ready ($url)"
}

# The fake OpenAI upstream; every knob pinned so the environment cannot change it.
MOCK_ADDR="127.0.0.1:$P_UP" MOCK_API_KEY="" MOCK_DELAY_MS=0 MOCK_CHUNK_DELAY_MS=0 MOCK_CHUNKS=8 \
  MOCK_FAULT_429=0 MOCK_FAULT_500=0 MOCK_FAULT_CLOSE=0 MOCK_MODELS=mock-gpt,mock-embed \
  "$MOCK_UPSTREAM_BIN" >"$WORK/mock-upstream.log" 2>&1 &
PIDS+=($!)
wait_http mock-upstream "http://127.0.0.1:$P_UP/health" "${PIDS[-1]}"

cat >"$WORK/gateway-b.yaml" <<EOF
# Generated by tests/e2e/run.sh: one OpenAI-compatible upstream, one route, no default route.
limits: { max_body_bytes: 65536 }
providers:
  up: { type: openai, base_url: "http://127.0.0.1:$P_UP/v1" }
routes:
  - model: mock-gpt
    targets: [ { provider: up } ]
prices:
  mock-gpt: { input_per_million: 0.15, output_per_million: 0.6 }
EOF

start_gateway() { # NAME CONFIG PORT ADMIN_PORT
  local name="$1" config="$2" port="$3" admin="$4"
  NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$PROMPTGATE_BIN" --config "$config" \
    --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
    --pid-file "$WORK/pg-$port.pid" --upgrade-sock "$WORK/pg-$port.sock" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "$name admin" "http://127.0.0.1:$admin/healthz" "${PIDS[-1]}"
  wait_http "$name API" "http://127.0.0.1:$port/v1/models" "${PIDS[-1]}"
}
start_gateway gateway-a "$ROOT/examples/quickstart.yaml" "$P_A" "$P_A_ADMIN"
start_gateway gateway-b "$WORK/gateway-b.yaml" "$P_B" "$P_B_ADMIN"

# Fake Anthropic / Gemini / Azure upstreams on one port (tests/e2e/fakes/providers.py).
"$PY" "$E2E_DIR/fakes/providers.py" "$P_FAKE" >"$WORK/fake-providers.log" 2>&1 &
PIDS+=($!)
wait_http fake-providers "http://127.0.0.1:$P_FAKE/health" "${PIDS[-1]}"

# The key the `*-wrong-key` providers send: the fake rejects it (each provider its own way).
E2E_WRONG_KEY=sk-e2e-wrong-key
cat >"$WORK/gateway-c.yaml" <<EOF
# Generated by tests/e2e/run.sh: the three translating providers against fakes/providers.py.
# Breakers never open and retries are never short of budget, so the fault and fallback tests
# (Python and Node share this gateway) see the same attempts whatever ran before them.
health: { consecutive_failures: 1000000 }
retry: { max_attempts: 3, min_retries_per_second: 1000 }
providers:
  anthropic:
    type: anthropic
    base_url: "http://127.0.0.1:$P_FAKE/anthropic/v1"
    api_key_env: E2E_ANTHROPIC_KEY
  gemini:
    type: gemini
    base_url: "http://127.0.0.1:$P_FAKE/gemini/v1beta"
    api_key_env: E2E_GEMINI_KEY
  azure:
    type: azure
    base_url: "http://127.0.0.1:$P_FAKE/azure"
    api_key_env: E2E_AZURE_KEY
    api_version: 2024-10-21
    deployments: { gpt-4o-mini: e2e-gpt-4o-mini }
  # The same upstreams with a key the fake rejects: each answers 401 in its own format.
  anthropic-wrong-key:
    type: anthropic
    base_url: "http://127.0.0.1:$P_FAKE/anthropic/v1"
    api_key_env: E2E_WRONG_KEY
  gemini-wrong-key:
    type: gemini
    base_url: "http://127.0.0.1:$P_FAKE/gemini/v1beta"
    api_key_env: E2E_WRONG_KEY
  azure-wrong-key:
    type: azure
    base_url: "http://127.0.0.1:$P_FAKE/azure"
    api_key_env: E2E_WRONG_KEY
    api_version: 2024-10-21
    deployments: { gpt-4o-mini: e2e-gpt-4o-mini }
routes:
  - model: claude
    targets: [ { provider: anthropic, model: claude-3-5-sonnet-latest } ]
  - model: gemini-flash
    targets: [ { provider: gemini, model: gemini-1.5-flash } ]
  - model: azure-gpt
    targets: [ { provider: azure, model: gpt-4o-mini } ]
  - model: support-bot
    targets:
      - { provider: anthropic, model: claude-3-5-sonnet-latest }
      - { provider: gemini, model: gemini-1.5-flash }
      - { provider: azure, model: gpt-4o-mini }
  - model: claude-wrong-key
    targets: [ { provider: anthropic-wrong-key, model: claude-3-5-sonnet-latest } ]
  - model: gemini-wrong-key
    targets: [ { provider: gemini-wrong-key, model: gemini-1.5-flash } ]
  - model: azure-wrong-key
    targets: [ { provider: azure-wrong-key, model: gpt-4o-mini } ]
prices:
  claude-3-5-sonnet-latest: { input_per_million: 3.0, output_per_million: 15.0 }
  gemini-1.5-flash: { input_per_million: 0.075, output_per_million: 0.30 }
  gpt-4o-mini: { input_per_million: 0.15, output_per_million: 0.60 }
EOF
# The provider keys (the fake's, see fakes/providers.py) go to gateway C's environment only.
E2E_ANTHROPIC_KEY=sk-ant-e2e-fake E2E_GEMINI_KEY=gemini-e2e-fake E2E_AZURE_KEY=azure-e2e-fake \
  E2E_WRONG_KEY="$E2E_WRONG_KEY" start_gateway gateway-c "$WORK/gateway-c.yaml" "$P_C" "$P_C_ADMIN"

# Origins (no /v1): the tests append /v1 for the SDKs and /api/v1/generate for the native API.
export GATEWAY_MOCK_URL="http://127.0.0.1:$P_A"
export GATEWAY_MOCK_ADMIN="http://127.0.0.1:$P_A_ADMIN"
export GATEWAY_UPSTREAM_URL="http://127.0.0.1:$P_B"
export GATEWAY_UPSTREAM_ADMIN="http://127.0.0.1:$P_B_ADMIN"
export MOCK_UPSTREAM_URL="http://127.0.0.1:$P_UP"
export GATEWAY_PROVIDERS_URL="http://127.0.0.1:$P_C"
export GATEWAY_PROVIDERS_ADMIN="http://127.0.0.1:$P_C_ADMIN"
export FAKE_PROVIDERS_URL="http://127.0.0.1:$P_FAKE"
# Not a secret: the tests check that the fake saw it and that no error body repeats it.
export E2E_WRONG_KEY
# Keep real credentials and endpoints out of the SDKs' reach.
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID || true

# ---------------------------------------------------------------- tests
py_rc=0
log "pytest tests/e2e/python"
(cd "$E2E_DIR" && "$PY" -m pytest python -p no:cacheprovider -q -rfE \
  --junitxml="$RESULTS/python.xml" "$@") || py_rc=$?
# pytest exit 5 ("no tests collected") is a failure too, like every other non-zero code.

node_rc=0
log "node --test tests/e2e/node"
(cd "$E2E_DIR/node" && node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$RESULTS/node.xml" \
  ./*.test.mjs) || node_rc=$?

if [[ $py_rc -ne 0 || $node_rc -ne 0 ]]; then
  show_logs
fi

# One closing line over both runners, counted from their JUnit reports. A runner that exited
# non-zero without a failing test in its report (crash, no tests: pytest exit 5) counts as one
# failure, so the line never claims success the exit code denies.
"$PY" - "$RESULTS/python.xml" "$py_rc" "$RESULTS/node.xml" "$node_rc" <<'EOF' || true
import sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
args = sys.argv[1:]
for path, rc in zip(args[::2], args[1::2]):
    p = f = s = 0
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        cases = []
    for case in cases:
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            f += 1
        elif "skipped" in kinds:
            s += 1
        else:
            p += 1
    if f == 0 and (rc != "0" or p == 0):
        f = 1
    passed, failed, skipped = passed + p, failed + f, skipped + s
print(f"e2e: {passed} passed, {failed} failed, {skipped} skipped")
EOF

log "pytest exit $py_rc, node exit $node_rc"
[[ $py_rc -eq 0 && $node_rc -eq 0 ]]
