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
[ ${#targets[@]} -gt 0 ] || targets=(wire zone gslb geo signed frame)
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -O >/dev/null
# The targets built above are run as they are: `cargo fuzz run` would build the crate again for
# each target (minutes each on two cores) before running it.
bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "fuzz: $t for ${seconds}s"
  # libFuzzer stops itself after max_total_time; `timeout` is only a safety net.
  timeout $((seconds + 300)) "$bin/$t" -artifact_prefix="artifacts/$t/" "corpus/$t" "seeds/$t" \
    -max_total_time="$seconds" -max_len=65535 -print_final_stats=1 >"corpus/$t.log" 2>&1 || true
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY)" "corpus/$t.log" || true
  if compgen -G "artifacts/$t/crash-*" >/dev/null || compgen -G "artifacts/$t/leak-*" >/dev/null \
     || compgen -G "artifacts/$t/timeout-*" >/dev/null || compgen -G "artifacts/$t/oom-*" >/dev/null; then
    echo "fuzz: $t found a failing input: $(ls "artifacts/$t/")"
    tail -40 "corpus/$t.log"
    exit 1
  fi
done
echo "fuzz: no crashes"
