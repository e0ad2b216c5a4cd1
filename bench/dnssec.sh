#!/usr/bin/env bash
# What online signing costs, on the shipped example signed with a key `meridian key generate`
# makes (ECDSA P-256), through the general path in process (examples/signing_cost.rs):
#   - user-space instructions per answer (callgrind), static and GSLB with ECS, unsigned and
#     signed (DO set) with the signatures already kept: each kind run twice, COUNT_LOW and
#     COUNT_HIGH queries, the difference divided by the difference of the counts, so the
#     set-up and the first signatures cancel out;
#   - signatures made per second on one core, every answer needing a new one (names under the
#     wildcard, each different: COLD queries);
#   - the memory the signature cache takes for FILL distinct RRsets (resident before and after).
# usage: bench/dnssec.sh            (builds the example with the release profile)
# environment (defaults): COUNT_LOW=2000 COUNT_HIGH=12000 COLD=20000 FILL=100000
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT_LOW=${COUNT_LOW:-2000}
COUNT_HIGH=${COUNT_HIGH:-12000}
COLD=${COLD:-20000}
FILL=${FILL:-100000}
command -v valgrind >/dev/null || { echo "dnssec.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

cargo build --release --locked --example signing_cost --bin meridian >&2
BIN=target/release/examples/signing_cost
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r zones "$work/zones"
target/release/meridian key generate example.com --zones "$work/zones" >&2
GEO=geo/dbip-country.mmdb

# instructions KIND COUNT: user-space instructions of a whole run (callgrind's total).
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$BIN" "$work/zones" "$GEO" "$1" "$2" \
    >/dev/null 2>"$work/cg.log"
  sed -n 's/^summary: //p' "$work/cg.out"
}

echo "| answer | path | instructions per query | vs unsigned |"
echo "| --- | --- | ---: | ---: |"
for path in "" "+fast"; do
  for base in static gslb; do
    unsigned=0 label="general (TCP)"
    [[ -n $path ]] && label="fast (UDP)"
    for kind in "$base$path" "$base-do$path"; do
      low=$(instructions "$kind" "$COUNT_LOW")
      high=$(instructions "$kind" "$COUNT_HIGH")
      per=$(((high - low) / (COUNT_HIGH - COUNT_LOW)))
      [[ $kind == "$base$path" ]] && unsigned=$per
      printf '| %s | %s | %d | %s |\n' "${kind%+fast}" "$label" "$per" \
        "$(awk -v a="$per" -v b="$unsigned" 'BEGIN { printf "%.2fx", a / b }')"
    done
  done
done
echo
echo "Cold signing (one core, every answer a new signature), and the cache's memory:"
"$BIN" "$work/zones" "$GEO" cold "$COLD"
"$BIN" "$work/zones" "$GEO" fill "$FILL"
