#!/usr/bin/env bash
# run.sh - promptgate's overhead benchmark: the gateway vs nginx as a bare proxy, both in front of
# the same mock upstream, on loopback, alternating in interleaved rounds. See README.md here.
#
#   loadtests/run.sh                    # full run: ROUNDS=3 x DUR=10 s per measurement (~7 min)
#   QUICK=1 loadtests/run.sh            # smoke run: 1 round x 2 s (~35 s plus builds)
#   TARGETS=nginx loadtests/run.sh      # without the gateway (e.g. while it does not build yet)
#
# What it does:
#   1. installs what is missing: nginx (apt-get install nginx-light), oha (cargo install --locked,
#      into $TOOLS_DIR), curl/taskset/pgrep; builds the mock upstream and the gateway in release.
#   2. starts the mock upstream on CPU_LOAD (core 0, 1 thread, free loopback port).
#   3. per round: measures direct-to-mock, then each target (order reversed every other round);
#      each target is started fresh on CPU_PROXY (core 1: nginx 1 worker / promptgate), measured,
#      and stopped, so exactly one proxy lives on that core at a time. The load generator (oha)
#      and the TTFT client run on CPU_LOAD with the mock.
#      Per target and round: preflight (non-streaming JSON + SSE ending in [DONE]), warm-up,
#        lat   c=1 non-streaming for DUR s              -> p50/p99 (added = minus direct)
#      After the gateway, a second gateway process whose config adds a cost routing policy:
#        pbase c=1 non-streaming, plain route; plat the same naming the policy
#              (x-promptgate-policy) -> what policy routing adds, p50/p99 (same process)
#        ttft  c=1 streaming for DUR s (ttft.py)        -> time to first `data:` p50/p99
#        tput  c=CONC non-streaming for DUR s           -> req/s, proxy CPU s -> req per CPU-s
#        stput c=CONC streaming for DUR s               -> req/s, req per CPU-s
#      proxy CPU = utime+stime from /proc/<pid>/stat of the proxy's process tree (nginx master +
#      worker) before/after the run; idle RSS = VmRSS summed over the same tree right after
#      start-up and again SETTLE s after the load.
#   4. report.py prints per-round figures, the medians, gateway/nginx ratios and PASS/FAIL,
#      and writes results/<timestamp>/summary.json. Raw oha/ttft JSON stays in results/<ts>/raw.
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit (trap).
# Exit status: 0 all targets PASS (or nothing to judge), 3 some FAIL, other = harness error.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

# ---------------- knobs (environment overrides) ----------------
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-1}; DUR=${DUR:-2}; WARMUP=${WARMUP:-1}; SETTLE=${SETTLE:-1}; TTFT_WARMUP=${TTFT_WARMUP:-20}
else
  ROUNDS=${ROUNDS:-3}; DUR=${DUR:-10}; WARMUP=${WARMUP:-2}; SETTLE=${SETTLE:-2}; TTFT_WARMUP=${TTFT_WARMUP:-50}
fi
CONC=${CONC:-32}                     # connections for the throughput runs
TARGETS=${TARGETS:-"nginx gateway"}  # proxies to compare (direct-to-mock is always measured)
CPU_LOAD=${CPU_LOAD:-0}              # mock upstream + load generator + TTFT client
CPU_PROXY=${CPU_PROXY:-1}            # the proxy under test (one at a time)
GW_LOG=${GW_LOG:-warn}               # RUST_LOG for the gateway (nginx runs with access_log off)
GW_EXTRA_ARGS=${GW_EXTRA_ARGS:-}     # extra flags for promptgate
SKIP_BUILD=${SKIP_BUILD:-0}          # 1: no cargo build; use the binaries already built (or GW_BIN, MOCK_BIN)
WAIT_IDLE=${WAIT_IDLE:-0}            # before each round, wait up to this many s for other builds (rustc) to end
OHA_VERSION=${OHA_VERSION:-1.16.0}   # installed with cargo install when no oha is found
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/promptgate-target}
TOOLS_DIR=${TOOLS_DIR:-/var/tmp/promptgate-tools}
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}

BODY_CHAT='{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}]}'
BODY_STREAM='{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}],"stream":true}'
POLICY_HEADER='x-promptgate-policy: bench_cost'

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

for t in $TARGETS; do
  case $t in nginx|gateway) ;; *) die "unknown target '$t' (TARGETS may list: nginx gateway)" ;; esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DUR =~ ^[1-9][0-9]*$ && $CONC =~ ^[1-9][0-9]*$ ]] \
  || die "ROUNDS, DUR and CONC must be positive integers"

# ---------------- cleanup: stop exactly what we started ----------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/promptgate-loadtest.XXXXXX") || die "mktemp failed"
declare -A PID=()     # name -> pid of processes started here
declare -A STOPSIG=() # name -> signal for a quick stop

stop_proc() { # name
  local n=$1 p=${PID[$1]:-} i
  [ -n "$p" ] || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill "-${STOPSIG[$n]:-TERM}" "$p" 2>/dev/null
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { log "$n (pid $p) did not stop in 5 s: SIGKILL"; kill -KILL "$p" 2>/dev/null; }
  fi
  wait "$p" 2>/dev/null
  unset "PID[$n]"
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local n
  for n in "${!PID[@]}"; do stop_proc "$n"; done
  if [ -d "$OUT" ]; then
    mkdir -p "$OUT/logs"
    cp "$RUN"/*.log "$RUN"/*.yaml "$RUN"/nginx.conf "$OUT/logs/" 2>/dev/null
  fi
  rm -rf "$RUN"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------- prerequisites ----------------
APT_UPDATED=0
apt_install() { # packages...
  have apt-get || die "missing $*, and no apt-get to install it"
  log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$RUN/apt.log" 2>&1; then
    if [ "$APT_UPDATED" = 0 ]; then
      APT_UPDATED=1
      apt-get update -q >>"$RUN/apt.log" 2>&1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$RUN/apt.log" 2>&1 \
        || die "apt-get install $* failed (see $RUN/apt.log)"
    else
      die "apt-get install $* failed"
    fi
  fi
}

have curl || apt_install curl
have taskset || apt_install util-linux
have pgrep || apt_install procps
have python3 || apt_install python3
python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' || die "python3 >= 3.8 needed"
have cargo || die "cargo not found (install a Rust toolchain)"

NGINX=${NGINX:-}
if has_target nginx; then
  [ -n "$NGINX" ] || NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
  if [ -z "$NGINX" ]; then apt_install nginx-light; NGINX=$(command -v nginx || echo /usr/sbin/nginx); fi
  [ -x "$NGINX" ] || die "nginx not found after install"
fi

OHA=${OHA:-}
oha_ok() { [ -x "$1" ] && "$1" --help 2>/dev/null | grep -q -- '--output-format'; }
if [ -z "$OHA" ]; then
  for c in "$(command -v oha || true)" "$TOOLS_DIR/bin/oha" "$HOME/.cargo/bin/oha"; do
    [ -n "$c" ] && oha_ok "$c" && { OHA=$c; break; }
  done
fi
if [ -z "$OHA" ]; then
  log "installing oha $OHA_VERSION into $TOOLS_DIR (cargo install --locked; one time, ~4 min on 2 cores)"
  mkdir -p "$TOOLS_DIR"
  # its own temporary target dir, not the project's
  (cd "$TOOLS_DIR" && env -u CARGO_TARGET_DIR cargo install oha --version "$OHA_VERSION" --locked \
     --root "$TOOLS_DIR" >"$RUN/oha-install.log" 2>&1) || { tail -20 "$RUN/oha-install.log" >&2; die "cargo install oha failed"; }
  OHA=$TOOLS_DIR/bin/oha
fi
oha_ok "$OHA" || die "oha at '$OHA' does not work"

NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
  log "WARNING: only $NCPU CPU: everything shares CPU 0; ratios still compare, absolutes are meaningless"
  CPU_LOAD=0; CPU_PROXY=0
fi

# ---------------- build ----------------
PKGS=(-p mock-upstream)
has_target gateway && PKGS+=(-p promptgate)
if [ "$SKIP_BUILD" != 1 ]; then
  log "cargo build --release ${PKGS[*]}  (CARGO_TARGET_DIR=$CARGO_TARGET_DIR; may wait for a cargo lock)"
  (cd "$ROOT" && cargo build --release "${PKGS[@]}") || {
    has_target gateway && die "release build failed (TARGETS=nginx skips the gateway)"
    die "release build failed"
  }
fi
MOCK_BIN=${MOCK_BIN:-$CARGO_TARGET_DIR/release/mock-upstream}
GW_BIN=${GW_BIN:-$CARGO_TARGET_DIR/release/promptgate}
[ -x "$MOCK_BIN" ] || die "no $MOCK_BIN"
if has_target gateway; then [ -x "$GW_BIN" ] || die "no $GW_BIN"; fi

# ---------------- helpers ----------------
wait_http() { # url timeout_s pid
  local i
  for i in $(seq $(( $2 * 20 ))); do
    curl -sf -o /dev/null -m 1 "$1" && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

proc_tree() { # pid -> pid and all descendants
  local c
  echo "$1"
  for c in $(pgrep -P "$1" 2>/dev/null); do proc_tree "$c"; done
}

cpu_ticks() { # pid -> utime+stime (clock ticks) summed over the process tree
  local p t=0 f a
  for p in $(proc_tree "$1"); do
    # fields after "pid (comm) ": state=0 ... utime=11 stime=12
    f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a a <<<"$f"
    t=$(( t + a[11] + a[12] ))
  done
  echo "$t"
}

rss_kb() { # pid -> VmRSS (kB) summed over the process tree
  local p t=0 v
  for p in $(proc_tree "$1"); do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null)
    t=$(( t + ${v:-0} ))
  done
  echo "$t"
}

busy_note() { # prints a note when the machine is busy (other builds, or CPU use while we are idle)
  local others="" n a b busy
  for n in rustc cargo cargo-clippy clippy-driver cc1 cc1plus ld; do
    others+=$(pgrep -x "$n" 2>/dev/null | tr '\n' ' ')
  done
  # CPU used over 1 s while none of our load runs (aggregate line of /proc/stat)
  read -r -a a < <(head -1 /proc/stat); sleep 1; read -r -a b < <(head -1 /proc/stat)
  local tot=0 idle i
  for i in 1 2 3 4 5 6 7 8; do tot=$(( tot + b[i] - a[i] )); done
  idle=$(( b[4] + b[5] - a[4] - a[5] ))
  busy=$(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
  if [ -n "$others" ]; then
    echo "other build processes running (pids ${others% }), CPU ${busy}% busy: numbers will be noisy"
  elif (( busy > 15 )); then
    echo "CPU ${busy}% busy before the run (not us): numbers will be noisy"
  fi
}

run_oha() { # out conc dur body url [extra oha args...]
  taskset -c "$CPU_LOAD" "$OHA" --no-tui --output-format json --worker-threads 1 -w -t 10s \
    -m POST -T application/json -d "$4" -c "$2" -z "${3}s" "${@:6}" "$5" >"$1" 2>"$1.err"
}

preflight() { # name url
  local r1 r2 i
  for i in 1 2 3; do
    r1=$(curl -sS -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$BODY_CHAT" "$2" 2>&1)
    r2=$(curl -sS -N -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$BODY_STREAM" "$2" 2>&1)
    if [[ ${r1##*$'\n'} == 200 && $r1 == *'"choices"'* && ${r2##*$'\n'} == 200 && $r2 == *'data: [DONE]'* ]]; then
      return 0
    fi
    sleep 0.5
  done
  log "!! $1 failed preflight: non-streaming=${r1##*$'\n'} streaming=${r2##*$'\n'}"
  log "   non-streaming body: $(head -c 300 <<<"$r1" | tr '\n' ' ')"
  log "   streaming body:     $(head -c 300 <<<"$r2" | tr '\n' ' ')"
  return 1
}

start_target() { # name -> sets PID[name]; returns 1 when it does not come up
  local n=$1
  case $n in
    nginx)
      taskset -c "$CPU_PROXY" "$NGINX" -p "$RUN/" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf" \
        >>"$RUN/nginx.log" 2>&1 &
      PID[nginx]=$!; STOPSIG[nginx]=TERM
      wait_http "http://127.0.0.1:$NGINX_PORT/health" 10 "${PID[nginx]}" ;;
    gateway|gateway-policy)   # same ports; config $RUN/<name>.yaml
      # shellcheck disable=SC2086  # GW_EXTRA_ARGS is split into words on purpose
      RUST_LOG=$GW_LOG taskset -c "$CPU_PROXY" "$GW_BIN" --config "$RUN/$n.yaml" \
        --listen "127.0.0.1:$GW_PORT" --admin-listen "127.0.0.1:$GW_ADMIN_PORT" \
        "${GW_ARGS[@]}" $GW_EXTRA_ARGS >>"$RUN/$n.log" 2>&1 &
      PID[$n]=$!; STOPSIG[$n]=INT   # pingora: SIGINT = fast shutdown
      wait_http "http://127.0.0.1:$GW_ADMIN_PORT/healthz" 20 "${PID[$n]}" ;;
  esac
}

url_of() {
  case $1 in
    direct) echo "http://127.0.0.1:$MOCK_PORT/v1" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT/v1" ;;
    gateway) echo "http://127.0.0.1:$GW_PORT/v1" ;;
  esac
}

measure() { # round name  (the proxy, if any, is running as PID[name])
  local r=$1 n=$2 url pid p c0 c1 s0 s1 rss0=null rss1=null
  url="$(url_of "$n")/chat/completions"
  pid=${PID[$n]:-}
  p="$OUT/raw/r$r.$n"
  if [ -n "$pid" ]; then sleep 0.5; rss0=$(rss_kb "$pid"); fi
  preflight "$n" "$url" || return 1
  run_oha /dev/null 8 "$WARMUP" "$BODY_CHAT" "$url"
  run_oha /dev/null 8 "$WARMUP" "$BODY_STREAM" "$url"
  run_oha "$p.lat.json" 1 "$DUR" "$BODY_CHAT" "$url"; printf '.' >&2
  taskset -c "$CPU_LOAD" python3 "$HERE/ttft.py" --url "$url" --duration "$DUR" \
    --warmup "$TTFT_WARMUP" --body "$BODY_STREAM" >"$p.ttft.json" 2>"$p.ttft.err"; printf '.' >&2
  [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
  run_oha "$p.tput.json" "$CONC" "$DUR" "$BODY_CHAT" "$url"
  [ -n "$pid" ] && c1=$(cpu_ticks "$pid"); printf '.' >&2
  [ -n "$pid" ] && s0=$(cpu_ticks "$pid")
  run_oha "$p.stput.json" "$CONC" "$DUR" "$BODY_STREAM" "$url"
  [ -n "$pid" ] && s1=$(cpu_ticks "$pid"); printf '.' >&2
  if [ -n "$pid" ]; then
    sleep "$SETTLE"; rss1=$(rss_kb "$pid")
    kill -0 "$pid" 2>/dev/null || log "!! $n (pid $pid) died during the run"
    printf '{"pids":"%s","tput_cpu_ticks":%d,"stput_cpu_ticks":%d,"rss_start_kb":%s,"rss_after_kb":%s}\n' \
      "$(proc_tree "$pid" | tr '\n' ' ')" $((c1 - c0)) $((s1 - s0)) "$rss0" "$rss1" >"$p.proc.json"
  fi
  printf ' %s done\n' "$n" >&2
}

measure_policy() { # round  (starts and stops its own gateway with the policy config)
  local r=$1 url p pid
  p="$OUT/raw/r$r.gateway"
  if ! start_target gateway-policy; then
    log "!! gateway with the policy config did not start"; stop_proc gateway-policy; return 1
  fi
  pid=${PID[gateway-policy]}
  url="$(url_of gateway)/chat/completions"
  preflight gateway-policy "$url" || { stop_proc gateway-policy; return 1; }
  sleep 0.5
  printf '{"rss_start_kb":%s}\n' "$(rss_kb "$pid")" >"$p.policy-proc.json"
  run_oha /dev/null 8 "$WARMUP" "$BODY_CHAT" "$url"
  run_oha /dev/null 8 "$WARMUP" "$BODY_CHAT" "$url" -H "$POLICY_HEADER"
  # The same request on the plain route, then through the routing policy (cost estimate
  # from the prompt's tokens, constraints, ordering, health bookkeeping), same process.
  run_oha "$p.pbase.json" 1 "$DUR" "$BODY_CHAT" "$url"; printf '.' >&2
  run_oha "$p.plat.json" 1 "$DUR" "$BODY_CHAT" "$url" -H "$POLICY_HEADER"; printf '.' >&2
  stop_proc gateway-policy
  printf ' gateway-policy done\n' >&2
}

# ---------------- set-up ----------------
mkdir -p "$OUT/raw" || die "cannot create $OUT"
read -r MOCK_PORT NGINX_PORT GW_PORT GW_ADMIN_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
for s in ss:
    s.close()')
[ -n "${GW_ADMIN_PORT:-}" ] || die "could not find free ports"

sed -e "s#@RUN_DIR@#$RUN#g" -e "s#@LISTEN_PORT@#$NGINX_PORT#g" -e "s#@MOCK_PORT@#$MOCK_PORT#g" \
  "$HERE/nginx.conf" >"$RUN/nginx.conf"
cat >"$RUN/gateway.yaml" <<EOF
# generated by loadtests/run.sh
providers:
  mock-upstream:
    type: openai
    base_url: http://127.0.0.1:$MOCK_PORT/v1
routes: []
default_route:
  targets:
    - provider: mock-upstream
prices:
  mock-gpt: { input_per_million: 0.15, output_per_million: 0.6 }
EOF
# The same plus a second provider and a routing policy that weighs cost (so the tokenizer is
# loaded), named per request by the policy latency runs (header x-promptgate-policy).
cat >"$RUN/gateway-policy.yaml" <<EOF
# generated by loadtests/run.sh
providers:
  mock-upstream:
    type: openai
    base_url: http://127.0.0.1:$MOCK_PORT/v1
  mock-upstream-b:
    type: openai
    base_url: http://127.0.0.1:$MOCK_PORT/v1
routes: []
default_route:
  targets:
    - provider: mock-upstream
prices:
  mock-gpt: { input_per_million: 0.15, output_per_million: 0.6 }
policies:
  - name: bench_cost
    objective: min_cost
    constraints: { max_p95_latency_ms: 1000, min_quality_score: 0.5, max_cost_per_request_usd: 0.01 }
    candidates:
      - { provider: mock-upstream, model: mock-gpt, quality: 0.8 }
      - { provider: mock-upstream-b, model: mock-gpt, quality: 0.7 }
EOF

GW_ARGS=()
if has_target gateway; then
  # keep the gateway's pid file and upgrade socket out of the shared /tmp defaults
  GW_HELP=$("$GW_BIN" --help 2>&1 || true)
  [[ $GW_HELP == *--pid-file* ]] && GW_ARGS+=(--pid-file "$RUN/promptgate.pid")
  [[ $GW_HELP == *--upgrade-sock* ]] && GW_ARGS+=(--upgrade-sock "$RUN/promptgate-upgrade.sock")
  [[ $GW_HELP == *--shutdown-timeout-secs* ]] && GW_ARGS+=(--shutdown-timeout-secs 1)
fi

MOCK_ADDR=127.0.0.1:$MOCK_PORT MOCK_THREADS=1 taskset -c "$CPU_LOAD" "$MOCK_BIN" >"$RUN/mock.log" 2>&1 &
PID[mock]=$!; STOPSIG[mock]=TERM
wait_http "http://127.0.0.1:$MOCK_PORT/health" 10 "${PID[mock]}" || { cat "$RUN/mock.log" >&2; die "mock upstream did not start"; }

GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GW_VERSION=""
if has_target gateway; then GW_VERSION=$("$GW_BIN" --version 2>/dev/null | head -1); fi
BUSY=$(busy_note)
cat >"$OUT/meta.json" <<EOF
{"date": "$(date -Is)", "git": "$GIT_REV", "rounds": $ROUNDS, "dur": $DUR, "conc": $CONC,
 "warmup": $WARMUP, "quick": $([ "$QUICK" = 1 ] && echo true || echo false),
 "targets": [$(for t in $TARGETS; do printf '"%s",' "$t"; done | sed 's/,$//')],
 "cpu_load": $CPU_LOAD, "cpu_proxy": $CPU_PROXY, "ncpu": $NCPU, "clk_tck": $(getconf CLK_TCK),
 "cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //; s/"//g')",
 "kernel": "$(uname -r)", "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "oha": "$("$OHA" --version | head -1)", "nginx": "$( [ -n "$NGINX" ] && "$NGINX" -v 2>&1 | head -1 | sed 's/"//g')",
 "gateway": "$GW_VERSION", "gw_log": "$GW_LOG", "busy": "$BUSY"}
EOF

log "results -> $OUT"
log "ports: mock $MOCK_PORT, nginx $NGINX_PORT, gateway $GW_PORT (admin $GW_ADMIN_PORT); CPU $CPU_LOAD = mock+client, CPU $CPU_PROXY = proxy"
log "ROUNDS=$ROUNDS DUR=${DUR}s CONC=$CONC TARGETS='$TARGETS' QUICK=$QUICK  load(1m)=$(cut -d' ' -f1 /proc/loadavg)"
[ -n "$BUSY" ] && log "WARNING: $BUSY"

# ---------------- rounds ----------------
read -r -a TLIST <<<"$TARGETS"
NOISY=()
for r in $(seq "$ROUNDS"); do
  order=("${TLIST[@]}")
  if (( r % 2 == 0 )); then   # alternate the order to cancel drift
    order=(); for (( i=${#TLIST[@]}-1; i>=0; i-- )); do order+=("${TLIST[$i]}"); done
  fi
  busy=$(busy_note); waited=0
  while [ -n "$busy" ] && (( waited < WAIT_IDLE )); do
    (( waited == 0 )) && log "waiting up to ${WAIT_IDLE}s: $busy"
    sleep 5; waited=$(( waited + 5 )); busy=$(busy_note)
  done
  [ -n "$busy" ] && { log "WARNING: $busy"; NOISY+=("round $r: $busy"); }
  log "round $r/$ROUNDS: direct ${order[*]}"
  printf '  direct ' >&2
  measure "$r" direct || die "direct-to-mock failed preflight: the mock upstream is broken"
  for n in "${order[@]}"; do
    printf '  %s ' "$n" >&2
    if ! start_target "$n"; then
      log "!! $n did not start; last log lines:"
      tail -n 20 "$RUN/$n.log" "$RUN/nginx-error.log" 2>/dev/null >&2
      stop_proc "$n"; continue
    fi
    measure "$r" "$n" || log "!! $n skipped in round $r"
    stop_proc "$n"
    if [ "$n" = gateway ]; then
      printf '  gateway-policy ' >&2
      measure_policy "$r" || log "!! policy latency skipped in round $r"
    fi
  done
done

find "$OUT/raw" -name '*.err' -size 0 -delete
python3 "$HERE/report.py" "$OUT" | tee "$OUT/report.txt"
rc=${PIPESTATUS[0]}
if [ ${#NOISY[@]} -gt 0 ]; then
  printf 'WARNING: the machine was busy during the run (numbers are noisy; WAIT_IDLE=600 waits):\n' | tee -a "$OUT/report.txt"
  printf '  %s\n' "${NOISY[@]}" | tee -a "$OUT/report.txt"
fi
log "results and logs in $OUT"
exit "$rc"
