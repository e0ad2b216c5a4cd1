#!/usr/bin/env bash
# The long chaos drill: the same drill as `cargo test --test chaos`, for SECONDS (default 600),
# in release mode, printing its report. Loopback only; bounded by SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
CHAOS_SECONDS="$seconds" cargo test --release --test chaos -- --nocapture 2>&1 | grep -E "^(chaos drill|  [a-zA-Z]|violation|test result)"
