#!/usr/bin/env bash
# A/B of gateway binaries on one machine in one run: each round starts every binary in turn
# (alternating, so drift in the machine's speed hits all alike), loads it with oha (c=32,
# non-streaming, DUR s) and reports requests per proxy CPU-second and idle RSS SETTLE s after
# the load. The proxy runs on CPU 1, the mock upstream and oha on CPU 0, as in run.sh.
#
#   loadtests/ab.sh OLD_BINARY NEW_BINARY [...]     (ROUNDS=4 DUR=8 SETTLE=2 by default)
#
# Needs oha (run.sh installs it into $TOOLS_DIR) and a release mock-upstream.
set -euo pipefail
TARGET="${CARGO_TARGET_DIR:-/var/tmp/promptgate-target}"
TOOLS_DIR="${TOOLS_DIR:-/var/tmp/promptgate-tools}"
OHA="${OHA:-$(command -v oha || echo "$TOOLS_DIR/bin/oha")}"
MOCK_BIN="${MOCK_BIN:-$TARGET/release/mock-upstream}"
ROUNDS="${ROUNDS:-4}" DUR="${DUR:-8}" SETTLE="${SETTLE:-2}"
[[ $# -ge 2 ]] || { echo "usage: $0 BINARY_A BINARY_B [...]" >&2; exit 2; }
[[ -x "$OHA" && -x "$MOCK_BIN" ]] || { echo "need oha ($OHA) and mock-upstream ($MOCK_BIN)" >&2; exit 2; }

WORK="$(mktemp -d /tmp/promptgate-ab.XXXXXX)"
read -r MP GP AP < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')
cat >"$WORK/gateway.yaml" <<EOF
providers:
  mock-upstream: { type: openai, base_url: "http://127.0.0.1:$MP/v1" }
routes: []
default_route:
  targets: [ { provider: mock-upstream } ]
EOF
MOCK_ADDR="127.0.0.1:$MP" MOCK_THREADS=1 taskset -c 0 "$MOCK_BIN" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.5
BODY='{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}]}'
URL="http://127.0.0.1:$GP/v1/chat/completions"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '%-6s %-28s %10s %12s %14s\n' round binary requests req/cpu-s rss_after_kb
for r in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    taskset -c 1 "$bin" --config "$WORK/gateway.yaml" --listen "127.0.0.1:$GP" \
      --admin-listen "127.0.0.1:$AP" --pid-file "$WORK/pg.pid" --upgrade-sock "$WORK/pg.sock" \
      --shutdown-timeout-secs 1 >"$WORK/gateway.log" 2>&1 &
    gw=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$AP/healthz" && break; sleep 0.05; done
    taskset -c 0 "$OHA" -z 2s -c 8 --no-tui -m POST -H 'content-type: application/json' -d "$BODY" "$URL" >/dev/null
    t0=$(cpu_ticks $gw)
    n=$(taskset -c 0 "$OHA" -z "${DUR}s" -c 32 --no-tui --output-format json -m POST \
          -H 'content-type: application/json' -d "$BODY" "$URL" |
        python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["statusCodeDistribution"].values()))')
    t1=$(cpu_ticks $gw)
    sleep "$SETTLE"
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$gw/status")
    printf '%-6s %-28s %10s %12s %14s\n' "$r" "$(basename "$bin")" "$n" \
      "$(( n * $(getconf CLK_TCK) / (t1 - t0 > 0 ? t1 - t0 : 1) ))" "$rss"
    kill $gw; wait $gw 2>/dev/null || true
  done
done
