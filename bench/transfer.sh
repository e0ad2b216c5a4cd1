#!/usr/bin/env bash
# Zone transfers between two Meridians on loopback, and what they cost the query path.
#
#   bench/transfer.sh                        # a zone of 100 000 A records, 5 changes
#   RECORDS=200000 CHANGES=10 SECS=15 bench/transfer.sh
#
# A is the primary of bench.test (RECORDS A records, [transfer] to 127.0.0.1, NOTIFY to B);
# B is its secondary and also serves a static zone. Measured:
#   1. the first transfer: from B's start until B answers bench.test's SOA, and B's RSS;
#   2. dig's AXFR of the zone from A (time, messages, octets);
#   3. B's UDP rate on the static zone for SECS seconds alone, then for SECS seconds while A
#      changes the zone CHANGES times (one record each, a reload of A, a NOTIFY, an IXFR and
#      a reload of B each time): the same-run ratio says what transfers in cost queries.
# Everything started is stopped by PID on exit. Needs gcc, dig and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-100000}
CHANGES=${CHANGES:-5}
SECS=${SECS:-10}
BIN=${MERIDIAN:-target/release/meridian}
[ -x "$BIN" ] || cargo build --release --locked

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" && return; rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
serial_at() { dig @127.0.0.1 -p "$1" +short +time=1 +tries=1 bench.test SOA 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 }'; }

gcc -O2 -Wall -o "$work/blast" bench/blast.c

a_dns=$(free_port); a_api=$(free_port); b_dns=$(free_port); b_api=$(free_port)
mkdir -p "$work/a" "$work/b"
python3 - "$work/a/bench.test.zone" "$RECORDS" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 60\n@ NS ns1\n")
    f.write("ns1 A 192.0.2.53\n")
    for i in range(n):
        f.write(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
EOF
printf '[transfer]\nallow = ["127.0.0.1"]\nnotify = ["127.0.0.1:%s"]\n' "$b_dns" > "$work/a/bench.test.toml"
printf '[secondary]\nprimaries = ["127.0.0.1:%s"]\n' "$a_dns" > "$work/b/bench.test.toml"
printf '$TTL 300\n@ SOA ns1.static.test. h.static.test. 1 3600 900 604800 60\n@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n' \
  > "$work/b/static.test.zone"
echo "www.static.test A" > "$work/queries.txt"

serve() { # NAME DNS API: starts a Meridian; its PID in $started
  "$BIN" serve --zones "$work/$1" --geo geo/dbip-country.mmdb --listen "127.0.0.1:$2" --api "127.0.0.1:$3" \
    --no-watch --state "$work/$1.state.json" --log-level "${LOG_LEVEL:-warn}" > /dev/null 2> "$work/$1.log" &
  started=$!
  pids+=($started)
}

serve a "$a_dns" "$a_api"
a_pid=$started
for _ in $(seq 100); do [ -n "$(serial_at "$a_dns")" ] && break; sleep 0.1; done
echo "primary A: $RECORDS records loaded, RSS $(rss_mb "$a_pid") MB"

start=$(date +%s.%N)
serve b "$b_dns" "$b_api"
b_pid=$started
for _ in $(seq 600); do [ "$(serial_at "$b_dns")" = 1 ] && break; sleep 0.05; done
[ "$(serial_at "$b_dns")" = 1 ] || { echo "B never served the zone" >&2; cat "$work/b.log" >&2; exit 1; }
echo "first transfer: B served serial 1 after $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s from its start, RSS $(rss_mb "$b_pid") MB"

axfr_start=$(date +%s.%N)
dig @127.0.0.1 -p "$a_dns" bench.test AXFR +time=30 > "$work/axfr.txt"
echo "dig AXFR from A: $(python3 -c "print(f'{$(date +%s.%N) - $axfr_start:.2f}')") s, $(grep 'XFR size' "$work/axfr.txt" | sed 's/;; //')"

alone=$("$work/blast" 127.0.0.1 "$b_dns" "$work/queries.txt" "$SECS")
echo "B alone:            $alone"

changer() {
  for ((i = 2; i < CHANGES + 2; i++)); do
    sleep "$(python3 -c "print($SECS / ($CHANGES + 1))")"
    sed -i "s/hostmaster $((i - 1)) 3600/hostmaster $i 3600/; s/^h0 A .*/h0 A 10.255.255.$i/" "$work/a/bench.test.zone"
    curl -s -X POST "http://127.0.0.1:$a_api/reload" > /dev/null
  done
}
changer &
changer_pid=$!
pids+=($changer_pid)
during=$("$work/blast" 127.0.0.1 "$b_dns" "$work/queries.txt" "$SECS")
wait "$changer_pid" || true
echo "B during transfers: $during"
final=$((CHANGES + 1))
for _ in $(seq 100); do [ "$(serial_at "$b_dns")" = "$final" ] && break; sleep 0.1; done
echo "B serves serial $(serial_at "$b_dns") (A is at $final); RSS $(rss_mb "$b_pid") MB"
curl -s "http://127.0.0.1:$b_api/metrics" | grep -E '^meridian_secondary_(transfers|failures)_total'
q() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<< "$2"; }
python3 -c "
a, d = float('$(q qps "$alone")'), float('$(q qps "$during")')
print(f'queries per second during transfers / alone: {d / a:.3f} (lost alone {int(\"$(q lost "$alone")\")}, during {int(\"$(q lost "$during")\")})')"
