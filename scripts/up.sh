#!/usr/bin/env bash
# Control plane + managed gateway on embedded defaults (SQLite, in-process cache, the built-in
# mock provider: no API key, no network), with a seeded example project. Ctrl-C stops both.
#
#   ./scripts/up.sh
#
# First start: builds both binaries (release), creates the project `example` with users alice
# (editor) and bob (admin), pushes examples/prompts/release-notes.md, has alice submit it and
# bob approve it, deploys it to `dev`, sets `dev`'s gateway config (examples/managed/dev.yaml)
# and starts a gateway managed by the control plane. Keys are written to
# $PROMPTGATE_HOME/keys.env (default .promptgate-local/, mode 600). Later starts reuse it all.
#
#   PROMPTGATE_HOME   state directory (SQLite file, keys, the gateway's last good snapshot)
#   CP_LISTEN         control plane address (default 127.0.0.1:7070)
#   GW_LISTEN         gateway API (default 127.0.0.1:8080), GW_ADMIN (default 127.0.0.1:9090)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${PROMPTGATE_HOME:-$ROOT/.promptgate-local}"
CP_LISTEN="${CP_LISTEN:-127.0.0.1:7070}"
GW_LISTEN="${GW_LISTEN:-127.0.0.1:8080}"
GW_ADMIN="${GW_ADMIN:-127.0.0.1:9090}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/promptgate-target}"
mkdir -p "$HOME_DIR" && chmod 700 "$HOME_DIR"

log() { printf '[up] %s\n' "$*" >&2; }

if [[ -z "${PROMPTGATE_BIN:-}" || -z "${PROMPTCTL_BIN:-}" ]]; then
  log "cargo build --release -p promptgate -p control-plane"
  (cd "$ROOT" && cargo build --release -p promptgate -p control-plane)
fi
PROMPTGATE_BIN="${PROMPTGATE_BIN:-$CARGO_TARGET_DIR/release/promptgate}"
PROMPTCTL_BIN="${PROMPTCTL_BIN:-$CARGO_TARGET_DIR/release/promptctl}"

PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

wait_ok() { # URL PID
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || return 1
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

DATABASE_URL="sqlite://$HOME_DIR/promptctl.db?mode=rwc" \
  "$PROMPTCTL_BIN" serve --listen "$CP_LISTEN" >"$HOME_DIR/promptctl.out" 2>"$HOME_DIR/promptctl.log" &
PIDS+=($!)
wait_ok "http://$CP_LISTEN/api/v1/openapi.json" "${PIDS[-1]}" \
  || { cat "$HOME_DIR/promptctl.log" >&2; log "the control plane did not start"; exit 1; }
log "control plane on http://$CP_LISTEN (log: $HOME_DIR/promptctl.log)"

export PROMPTCTL_URL="http://$CP_LISTEN" PROMPTCTL_PROJECT=example
export PROMPTCTL_CONFIG="$HOME_DIR/promptctl.toml"
ctl() { # KEY ARGS... -> promptctl's JSON answer
  local key="$1"; shift
  PROMPTCTL_API_KEY="$key" "$PROMPTCTL_BIN" --json "$@"
}
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

if [[ ! -f "$HOME_DIR/keys.env" ]]; then
  ROOT_KEY=$(sed -n 's/^bootstrap admin API key[^:]*: //p' "$HOME_DIR/promptctl.out")
  [[ -n "$ROOT_KEY" ]] || { log "no bootstrap key: remove $HOME_DIR to start over"; exit 1; }
  log "seeding the example project"
  PROMPTCTL_PROJECT= ctl "$ROOT_KEY" projects create example >/dev/null
  ALICE_ID=$(PROMPTCTL_PROJECT= ctl "$ROOT_KEY" users create alice | field id)
  BOB_ID=$(PROMPTCTL_PROJECT= ctl "$ROOT_KEY" users create bob | field id)
  ctl "$ROOT_KEY" members set "$ALICE_ID" editor >/dev/null
  ctl "$ROOT_KEY" members set "$BOB_ID" admin >/dev/null
  ALICE_KEY=$(ctl "$ROOT_KEY" keys create --name alice --role editor --user "$ALICE_ID" | field key)
  BOB_KEY=$(ctl "$ROOT_KEY" keys create --name bob --role admin --user "$BOB_ID" | field key)
  GATEWAY_KEY=$(ctl "$ROOT_KEY" keys create --name gateway-dev --role gateway --user "$BOB_ID" | field key)
  ctl "$ALICE_KEY" prompts push "$ROOT/examples/prompts/release-notes.md" >/dev/null
  ctl "$ALICE_KEY" submit release-notes --version 1 >/dev/null
  ctl "$BOB_KEY" approve release-notes --version 1 >/dev/null
  ctl "$ALICE_KEY" deploy release-notes --version 1 --env dev >/dev/null
  ctl "$BOB_KEY" env set dev "$ROOT/examples/managed/dev.yaml" >/dev/null
  (umask 077 && printf 'ADMIN_KEY=%s\nALICE_KEY=%s\nBOB_KEY=%s\nGATEWAY_KEY=%s\n' \
    "$ROOT_KEY" "$ALICE_KEY" "$BOB_KEY" "$GATEWAY_KEY" >"$HOME_DIR/keys.env")
fi
# shellcheck disable=SC1091
source "$HOME_DIR/keys.env"

PROMPTGATE_CONTROL_PLANE_KEY="$GATEWAY_KEY" "$PROMPTGATE_BIN" \
  --control-plane "http://$CP_LISTEN" --project example --environment dev \
  --state-dir "$HOME_DIR/gateway" --listen "$GW_LISTEN" --admin-listen "$GW_ADMIN" \
  --pid-file "$HOME_DIR/promptgate.pid" --upgrade-sock "$HOME_DIR/promptgate-upgrade.sock" \
  >"$HOME_DIR/promptgate.log" 2>&1 &
PIDS+=($!)
wait_ok "http://$GW_ADMIN/readyz" "${PIDS[-1]}" \
  || { tail -20 "$HOME_DIR/promptgate.log" >&2; log "the gateway did not start"; exit 1; }

cat >&2 <<EOF
[up] gateway on http://$GW_LISTEN/v1 (admin http://$GW_ADMIN), managed by the control plane.
[up] Try it (Ctrl-C here stops both):

  curl -s http://$GW_LISTEN/v1/chat/completions -H 'content-type: application/json' -d '{
    "model": "release-notes", "messages": [{"role": "user", "content": "replaced by the prompt"}],
    "variables": {"version": "1.2", "changes": ["faster", "smaller"]}}'

  source $HOME_DIR/keys.env; export PROMPTCTL_URL=$PROMPTCTL_URL PROMPTCTL_PROJECT=example
  PROMPTCTL_API_KEY=\$ALICE_KEY $PROMPTCTL_BIN prompts list
  PROMPTCTL_API_KEY=\$BOB_KEY $PROMPTCTL_BIN traces list
EOF
wait -n "${PIDS[@]}"
