#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after another, starting from the
# committed seeds (fuzz/seeds/<target>) and the corpus grown so far (fuzz/corpus/<target>,
# not committed). Fails on the first crash; the input is left in fuzz/artifacts/<target>/.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build them.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire zone gslb geo)
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -O "${targets[@]/#/}" >/dev/null 2>&1 || cargo fuzz build -O
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${seconds}s"
  cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -max_len=65535 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|Test unit written)" || true
  # cargo fuzz exits non-zero on a crash; pipefail would hide it behind grep, so check the
  # artifacts directory instead.
  if compgen -G "artifacts/$t/crash-*" >/dev/null || compgen -G "artifacts/$t/leak-*" >/dev/null \
     || compgen -G "artifacts/$t/timeout-*" >/dev/null || compgen -G "artifacts/$t/oom-*" >/dev/null; then
    echo "fuzz: $t found a failing input: $(ls artifacts/$t/)"
    exit 1
  fi
done
echo "fuzz: no crashes"
