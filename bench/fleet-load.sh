#!/usr/bin/env bash
# The load a fleet puts on etcd, measured at a scale this machine runs, to check the figures
# docs/fleet.md works out for 50 instances x 10 000 members.
#
#   bench/fleet-load.sh                          # 5 instances x 2 000 members, TCP checks every 5 s
#   INSTANCES=3 POOLS=200 STEADY=20 bench/fleet-load.sh
#
# Starts a one-member etcd and INSTANCES Meridians on loopback ports chosen now, each checking
# POOLS pools of DCS members (one per data center; every member of a data center probes that
# data center's TCP listener), and measures from etcd's own counters (/metrics) and the CPU time
# of the processes:
#   1. start: every instance writes its view of every member; time until all are in etcd;
#   2. steady state for STEADY seconds: lease renewals and instance records only;
#   3. an outage: data center d0's listener stops; time until every instance's view of every
#      d0 member is down in etcd, and the writes and watch events it took.
# Everything started is stopped by PID on exit. Needs etcd (apt-get install etcd-server),
# curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

INSTANCES=${INSTANCES:-5}
POOLS=${POOLS:-400}
DCS=${DCS:-5}
INTERVAL=${INTERVAL:-5}
STEADY=${STEADY:-30}
BIN=${MERIDIAN:-target/release/meridian}
[ -x "$BIN" ] || cargo build --release --locked
command -v etcd >/dev/null || { echo "no etcd: apt-get install etcd-server" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" && return; rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One TCP listener per data center (accept and close), each its own process so that one can
# be stopped.
backend_pids=()
ports=()
for ((d = 0; d < DCS; d++)); do
  port=$(free_port)
  python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024)
while True:
    c, _ = s.accept(); c.close()
' "$port" &
  backend_pids+=($!)
  pids+=($!)
  ports+=("$port")
done

# The zone and the definitions.
mkdir -p "$work/zones"
printf '$ORIGIN load.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\n' \
  >"$work/zones/load.test.zone"
python3 - "$work/zones/load.test.toml" "$POOLS" "$INTERVAL" "${ports[@]}" <<'EOF'
import sys
path, pools, interval, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
out = []
for d, _ in enumerate(ports):
    out.append(f"[datacenters.d{d}]\nlat = {10 * d}.0\nlon = {20 * d}.0\n")
for p in range(pools):
    out.append(f"[pools.p{p}]\nnames = [\"p{p}\"]\n"
               f"check = {{ type = \"tcp\", interval = {interval}, timeout = 1, rise = 1, fall = 2 }}\n")
    for d, port in enumerate(ports):
        out.append(f"[pools.p{p}.members.m{d}]\ndatacenter = \"d{d}\"\n"
                   f"ipv4 = \"10.{d}.{p // 250}.{p % 250 + 1}\"\nprobe = \"127.0.0.1:{port}\"\n")
open(path, "w").write("".join(out))
EOF

client=$(free_port)
peer=$(free_port)
etcd --name m0 --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "m0=http://127.0.0.1:$peer" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
pids+=("$etcd_pid")
ETCD="http://127.0.0.1:$client"
for _ in $(seq 100); do curl -sf "$ETCD/health" >/dev/null && break; sleep 0.1; done

b64() { printf %s "$1" | base64 -w0; }
# Sets N (keys under PREFIX) and DOWN (how many say "down"); counts the requests of the
# polling itself (POLLS), which the figures below leave out.
POLLS=0
count() {
  curl -sf "$ETCD/v3/kv/range" -o "$work/poll.json" \
    -d "{\"key\":\"$(b64 "$1")\",\"range_end\":\"$(b64 "${1%/}0")\"}"
  read -r N DOWN < <(python3 -c 'import json,sys; kvs=json.load(open(sys.argv[1])).get("kvs",[]); print(len(kvs), sum(1 for k in kvs if k.get("value")=="ZG93bg=="))' "$work/poll.json")
  POLLS=$((POLLS + 1))
}
# etcd's counters, and the CPU seconds of etcd and of the Meridians.
cpu() { python3 -c '
import os, sys
t = 0
for pid in sys.argv[1:]:
    try: f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError: continue
    t += int(f[11]) + int(f[12])
print(t / os.sysconf("SC_CLK_TCK"))' "$@"; }
snapshot() {
  curl -sf "$ETCD/metrics" | python3 -c '
import sys
want = {"etcd_mvcc_put_total": "puts", "etcd_mvcc_delete_total": "deletes", "etcd_mvcc_txn_total": "txns",
        "etcd_debugging_mvcc_events_total": "events"}
got = {v: 0.0 for v in want.values()}
requests = 0.0
for line in sys.stdin:
    if line.startswith("#"): continue
    name, _, value = line.rpartition(" ")
    base = name.split("{")[0]
    if base in want: got[want[base]] += float(value)
    if base == "grpc_server_handled_total" and "Watch" not in name: requests += float(value)
got["requests"] = requests
print(" ".join(f"{k}={v:.0f}" for k, v in got.items()))'
  echo "etcd_cpu=$(cpu "$etcd_pid") meridian_cpu=$(cpu "${meridian_pids[@]:-0}")"
}
delta() { # before after seconds label: the difference, less the polling since the last call
  python3 - "$1" "$2" "$3" "$4" "$POLLS" <<'EOF'
import sys
a = dict(kv.split("=") for kv in sys.argv[1].split())
b = dict(kv.split("=") for kv in sys.argv[2].split())
secs, label = float(sys.argv[3]), sys.argv[4]
d = {k: float(b[k]) - float(a[k]) for k in a}
d["requests"] -= int(sys.argv[5])

print(f"{label}: {secs:.1f} s; etcd requests {d['requests']:.0f} (txn {d['txns']:.0f}, put {d['puts']:.0f}, "
      f"delete {d['deletes']:.0f}); watch events sent {d['events']:.0f}; "
      f"CPU etcd {d['etcd_cpu']:.2f} s, Meridians {d['meridian_cpu']:.2f} s")
if secs > 0:
    print(f"  per second: requests {d['requests']/secs:.1f}, watch events {d['events']/secs:.0f}, "
          f"etcd CPU {100*d['etcd_cpu']/secs:.1f}%")
EOF
}

# Polls etcd until the count named by $1 (N or DOWN) reaches $2 (two minutes at most), then
# prints what the phase started at $start and $before cost, labelled $3.
until_counted() {
  local deadline=$(($(date +%s) + 120))
  while :; do
    count /load/health/
    [ "${!1}" -ge "$2" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$3: only ${!1} of $2 in 120 s" >&2; exit 1; }
    sleep 0.5
  done
  local now
  now=$(date +%s.%N)
  delta "$before" "$(snapshot)" "$(python3 -c "print($now - $start)")" "$3"
}

members=$((POOLS * DCS))
views=$((INSTANCES * members))
echo "fleet load: $INSTANCES instances x $members members ($POOLS pools x $DCS data centers), TCP checks every ${INTERVAL} s; etcd $(etcd --version | head -1 | awk '{print $3}')"

meridian_pids=()
POLLS=0
before=$(snapshot)
start=$(date +%s.%N)
for ((i = 0; i < INSTANCES; i++)); do
  "$BIN" serve --listen 127.0.0.1:0 --no-watch --zones "$work/zones" --geo geo/dbip-country.mmdb \
    --state "$work/i$i.state" --cluster-endpoint "$ETCD" --cluster-name "i$i" --cluster-prefix /load \
    --log-level info >"$work/i$i.log" 2>&1 &
  meridian_pids+=($!)
  pids+=($!)
done
until_counted N "$views" "1. start (all $views views in etcd)"

sleep 2
POLLS=0
before=$(snapshot)
sleep "$STEADY"
after=$(snapshot)
delta "$before" "$after" "$STEADY" "2. steady state"

POLLS=0
before=$(snapshot)
start=$(date +%s.%N)
kill "${backend_pids[0]}"
want=$((INSTANCES * POOLS))
until_counted DOWN "$want" "3. outage of d0 ($POOLS members; all $want views down in etcd; checks every ${INTERVAL} s, fall 2)"
