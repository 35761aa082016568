#!/usr/bin/env bash
# Runs every check and test of the project: format, lints, unit + integration tests
# (property tests included), and the end-to-end suite with the official OpenAI SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/promptgate-target}"
# Property tests (request parsing, SSE splitting, mock provider) get more cases here.
export PROPTEST_CASES="${PROPTEST_CASES:-2048}"

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace 2>&1 | tee /tmp/promptgate-cargo-test.log
echo "== end-to-end (OpenAI Python and Node SDKs)"
bash tests/e2e/run.sh
