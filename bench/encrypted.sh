#!/usr/bin/env bash
# Queries per second and server CPU per query over TCP, DNS over TLS, HTTPS and QUIC, with
# connections reused, next to NSD's DoT (tls-port) on the same static name, in one run.
#
#   bench/encrypted.sh                    # 10 s per run
#   SECS=20 CONNS=8 bench/encrypted.sh
#
# The server is pinned to CPU 0 (Meridian's tokio runtime then has one worker, NSD runs
# server-count 1), the load generator to CPU 1: dnsperf for TCP and DoT (CONNS connections,
# each kept for the whole run, 200 queries outstanding), examples/encrypted_load.rs for DoH and
# DoQ (CONNS connections, WINDOW queries in flight on each): dnsperf has no DoQ, and its DoH
# client sends one request per 100 ms per connection, whatever the server. CPU per query is the server's user +
# system time over the run divided by the queries answered. Knot 3.2 (Debian 12) serves DoQ
# only in its XDP mode and DoT not at all, so it is not in this table.
# Workloads: `static` (static.example.com A, every server) and `gslb-ecs` (www.example.com A
# with a Client Subnet, Meridian only). Everything started is stopped by PID on exit.
# Needs dnsperf, nsd, openssl, dig (bench/setup.sh's packages).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-10}
CONNS=${CONNS:-4}
WINDOW=${WINDOW:-16}
BIN=${MERIDIAN:-target/release/meridian}
[ -x "$BIN" ] || cargo build --release --locked
[ -x target/release/examples/encrypted_load ] || cargo build --release --locked --example encrypted_load
LOAD=target/release/examples/encrypted_load
for tool in dnsperf nsd openssl dig; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "needs $tool (apt-get install dnsperf nsd openssl dnsutils)"; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" && return; rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# utime + stime of processes (with their threads), in clock ticks.
# (The command name in /proc/PID/stat may hold spaces, "nsd: main": fields are counted after it.)
cpu_ticks() {
  local t=0 p
  for p in $1; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }'))); done
  echo $t
}
descendants() { local c; echo "$1"; for c in $(pgrep -P "$1"); do descendants "$c"; done; }
tick=$(getconf CLK_TCK)
ecs_hex=00011800510001   # family 1, source /24, 81.0.1: a European client

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem"
echo "static.example.com A" > "$work/static.txt"
echo "www.example.com A" > "$work/gslb.txt"

results=()
# measure "SERVER-PIDS" LABEL WORKLOAD TRANSPORT COMMAND...: runs the load, prints a row.
measure() {
  local pid=$1 label=$2 workload=$3 transport=$4; shift 4
  local before after out qps cpu
  before=$(cpu_ticks "$pid")
  out=$("$@" 2>&1) || { echo "$label $transport failed: $out" >&2; return; }
  after=$(cpu_ticks "$pid")
  if [[ "$transport" == doq || "$transport" == doh ]]; then
    qps=$(awk '/^queries/ { print $6 }' <<<"$out"); n=$(awk '/^queries/ { print $2 }' <<<"$out")
  else
    # Only NOERROR replies count: a server answering FORMERR fast is not fast.
    n=$(awk '/Response codes/ { for (i = 1; i <= NF; i++) if ($i == "NOERROR") print $(i + 1) }' <<<"$out")
    n=${n:-0}
    qps=$(awk -v n="$n" '/Run time/ { printf "%.0f", n / $4 }' <<<"$out")
  fi
  cpu=$(awk -v t=$((after - before)) -v hz="$tick" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "-" }')
  results+=("| $label | $workload | $transport | $qps | $cpu |")
  echo "$label $workload $transport: $qps q/s, $cpu µs CPU/query" >&2
}
dnsperf_run() { # PORT MODE FILE [extra]
  local port=$1 mode=$2 file=$3; shift 3
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -m "$mode" -d "$file" -c "$CONNS" -T 1 -l "$SECS" -q 200 "$@"
}

# --- Meridian
m_dns=$(free_port); m_dot=$(free_port); m_doh=$(free_port)
m_doq=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$BIN" serve --zones zones --geo geo/dbip-country.mmdb --listen "127.0.0.1:$m_dns" --no-watch \
  --state "$work/state.json" --dot "127.0.0.1:$m_dot" --doh "127.0.0.1:$m_doh" --doq "127.0.0.1:$m_doq" \
  --tls-certificate "$work/cert.pem" --tls-key "$work/key.pem" --log-level warn 2>"$work/meridian.log" &
pids+=($!); mpid=$!
for _ in $(seq 50); do dig @127.0.0.1 -p "$m_dns" +short +time=1 +tries=1 static.example.com >/dev/null 2>&1 && break; sleep 0.2; done

for wl in static gslb; do
  file="$work/$wl.txt"; name=$(awk '{ print $1 }' "$file"); extra=(); lecs=""
  [[ $wl == gslb ]] && extra=(-E "8:$ecs_hex") && lecs=$ecs_hex
  label=meridian; wname=$([[ $wl == gslb ]] && echo gslb-ecs || echo static)
  measure "$mpid" "$label" "$wname" tcp dnsperf_run "$m_dns" tcp "$file" "${extra[@]}"
  measure "$mpid" "$label" "$wname" dot dnsperf_run "$m_dot" dot "$file" "${extra[@]}"
  measure "$mpid" "$label" "$wname" doh taskset -c 1 "$LOAD" doh "127.0.0.1:$m_doh" "$name" A "$CONNS" "$WINDOW" "$SECS" $lecs
  measure "$mpid" "$label" "$wname" doq taskset -c 1 "$LOAD" doq "127.0.0.1:$m_doq" "$name" A "$CONNS" "$WINDOW" "$SECS" $lecs
done
kill "$mpid"; wait "$mpid" 2>/dev/null || true

# --- NSD (static only)
n_dns=$(free_port); n_dot=$(free_port)
mkdir -p "$work/nsd"
cp zones/example.com.zone "$work/nsd/"
cat > "$work/nsd/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$n_dns
  ip-address: 127.0.0.1@$n_dot
  tls-port: $n_dot
  tls-service-key: "$work/key.pem"
  tls-service-pem: "$work/cert.pem"
  server-count: 1
  tcp-count: 200
  username: ""
  chroot: ""
  zonesdir: "$work/nsd"
  database: ""
  pidfile: "$work/nsd/nsd.pid"
  xfrdfile: "$work/nsd/xfrd.state"
  zonelistfile: "$work/nsd/zone.list"
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: example.com
  zonefile: example.com.zone
EOF
taskset -c 0 nsd -d -c "$work/nsd/nsd.conf" 2>"$work/nsd.log" &
pids+=($!); npid=$!
for _ in $(seq 50); do dig @127.0.0.1 -p "$n_dns" +short +time=1 +tries=1 static.example.com >/dev/null 2>&1 && break; sleep 0.2; done
# NSD forks (xfrd, main, the server process): the CPU of all of them is counted.
npids="$(descendants "$npid" | tr '\n' ' ')"
measure "$npids" nsd static tcp dnsperf_run "$n_dns" tcp "$work/static.txt"
measure "$npids" nsd static dot dnsperf_run "$n_dot" dot "$work/static.txt"

echo
echo "$(nproc) cores, $SECS s per run, $CONNS connections (DoQ: $WINDOW queries in flight on each); server on CPU 0, load on CPU 1"
echo
echo "| server | workload | transport | QPS | CPU µs/query |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${results[@]}"
