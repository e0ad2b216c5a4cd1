#!/usr/bin/env bash
# Meridian side by side with gdnsd, Knot, NSD and PowerDNS (and a do-nothing "floor"), on
# loopback, one server at a time, with one shared workload (bench/setup.sh) and our own load
# generator (bench/blast.c). Prints markdown tables and writes them, with every raw
# measurement, to a results file in the work directory (bench/README.md explains the columns).
#
# usage: bench/compare.sh [--no-install] [--no-build]
#        bench/compare.sh --report WORKDIR/results/raw-STAMP.txt
#   --no-install  do not install packages (setup.sh --no-install); the workload is still made
#   --no-build    never run cargo: wait (up to MERIDIAN_WAIT s) for the Meridian binary
#                 instead of building it when it is missing
#   --report RAW  print the tables again from a raw file of an earlier run, and exit
# environment (defaults):
#   LIMIT=5          seconds of load per run (every run is bounded in time)
#   REPEAT=3         runs per server and workload; the table shows each figure's median
#   HALF_REPEAT=1    runs of the second pass, paced at HALF=0.5 of the server's own peak
#   SERVERS="floor gdnsd knot nsd pdns pdns-geoip meridian-batched meridian-tokio"
#   WORKLOADS="static gslb-ecs gslb mix"   (each server runs those of them it can serve)
#   SCALE_SERVERS="gdnsd meridian-batched"  SCALE_WORKLOADS="gslb-ecs"
#                    the "2 cores" pass: two worker threads, nothing pinned ("" skips it)
#   INSTR_SERVERS="floor gdnsd knot nsd meridian-batched"  INSTR_WORKLOADS="static gslb-ecs"
#                    signed online (DNSSEC): meridian-signed, knot-signed (mod-onlinesign),
#                    pdns-signed (LUA records, pdnsutil secure-zone), with the workloads
#                    static-do and gslb-ecs-do (the same questions with DO set), e.g.
#                    INSTR_SERVERS="meridian-batched meridian-signed knot knot-signed pdns pdns-signed"
#                    INSTR_WORKLOADS="static gslb-ecs static-do gslb-ecs-do"
#   INSTR_SECONDS=4  the "instructions" pass: each server under valgrind's callgrind, which
#                    counts the instructions it runs in user space per answered query; the
#                    count does not depend on the machine's speed or load ("" skips it)
#   BLAST_SOCKETS=4 BLAST_WINDOW=32   load generator sockets, queries in flight per socket
#   IDLE_WAIT=60 IDLE_PCT=10   before each run, wait up to IDLE_WAIT s for the machine to be
#                    quiet (less than IDLE_PCT % of one core busy for a second)
#   OTHER_MAX=0.25 RETRIES=2   a run during which other processes used more than OTHER_MAX
#                    cores is done again, up to RETRIES times, then kept and marked noisy
#   BASE_PORT=5400   servers listen on 127.0.0.1:BASE_PORT+0..13 (100 up when taken)
#   NETNS=0          1: instead of loopback, two network namespaces made for the run and
#                    joined by a veth pair (needs root): the server in one on 10.99.0.1, the
#                    load generator in the other; both removed at exit. The XDP servers need
#                    it: meridian-xdp (generic XDP), meridian-xdp-native, knot-xdp (Knot's
#                    XDP mode: native on veth, it has no generic option), e.g.
#                    NETNS=1 SERVERS="floor meridian-batched meridian-xdp meridian-xdp-native
#                    knot knot-xdp gdnsd" (bench/README.md, docs/xdp.md)
#   KX_SERVERS=$SERVERS  KX_RATES="100000 200000 300000 400000 500000 700000"  KX_SECONDS=3
#                    NETNS only, the "capacity" pass: Knot's XDP load generator (kxdpgun,
#                    knot-dnsutils) in the client namespace sends static.example.test A at
#                    each offered rate in turn; the table shows the most answered per second
#                    and the CPU per answer there. kxdpgun costs the client's CPU much less
#                    than blast, whose socket path and the veth's delivery to it use up CPU 1
#                    first; it has no ECS and measures no latency ("" skips the pass)
#   BENCH_DIR=       reuse a work directory made by setup.sh instead of making a new one
#   MERIDIAN_BIN=target/release/meridian   MERIDIAN_WAIT=900
# Server placement: the server on CPU 0 with one worker thread, the load generator on CPU 1
# (for the "2 cores" pass, neither is pinned and the load generator competes for the cores).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

INSTALL=1 BUILD=1 REPORT_ONLY=""
while (($#)); do
  arg="$1"; shift
  case "$arg" in
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    --report) REPORT_ONLY="${1:?--report needs the raw file}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

LIMIT="${LIMIT:-5}" REPEAT="${REPEAT:-3}" HALF_REPEAT="${HALF_REPEAT:-1}" HALF="${HALF:-0.5}"
SERVERS="${SERVERS:-floor gdnsd knot nsd pdns pdns-geoip meridian-batched meridian-tokio}"
WORKLOADS="${WORKLOADS:-static gslb-ecs gslb mix}"
SCALE_SERVERS="${SCALE_SERVERS-gdnsd meridian-batched}" SCALE_WORKLOADS="${SCALE_WORKLOADS-gslb-ecs}"
INSTR_SERVERS="${INSTR_SERVERS-floor gdnsd knot nsd meridian-batched}"
INSTR_WORKLOADS="${INSTR_WORKLOADS-static gslb-ecs}" INSTR_SECONDS="${INSTR_SECONDS:-4}"
BLAST_SOCKETS="${BLAST_SOCKETS:-4}" BLAST_WINDOW="${BLAST_WINDOW:-32}"
IDLE_WAIT="${IDLE_WAIT:-60}" IDLE_PCT="${IDLE_PCT:-10}" OTHER_MAX="${OTHER_MAX:-0.25}" RETRIES="${RETRIES:-2}"
BASE_PORT="${BASE_PORT:-5400}" ADDR=127.0.0.1 NETNS="${NETNS:-0}"
# In NETNS mode: the commands run in the server's and the client's namespace.
IN_SRV=() IN_CLI=() NS_A="" NS_B="" IF_A="" IF_B=""
KX_SERVERS="${KX_SERVERS-$SERVERS}" KX_RATES="${KX_RATES:-100000 200000 300000 400000 500000 700000}"
KX_SECONDS="${KX_SECONDS:-3}"
MERIDIAN_BIN="${MERIDIAN_BIN:-$ROOT/target/release/meridian}" MERIDIAN_WAIT="${MERIDIAN_WAIT:-900}"
HZ="$(getconf CLK_TCK)"

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }

# ---- the tables: computed from the raw file alone (so --report can redo them) ---------------
# Median of field F over the RUN lines of NAME/WORKLOAD/PASS.
median() {
  { grep -E "^RUN server=$1 workload=$2 pass=$3 " "$RAW" || true; } | tr ' ' '\n' | sed -n "s/^$4=//p" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]
                              else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "-") print "-"; else printf f, v }'; } # "-" stays "-"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }
servers_in() { # servers with runs of PASS, in the order they ran
  sed -n "s/^RUN server=\([^ ]*\) workload=[^ ]* pass=$1 .*/\1/p" "$RAW" | awk '!seen[$0]++'
}
table() {
  echo "| server | workload | QPS | µs/q | all CPUs µs/q | p50 µs | p99 µs | p99 @50% µs | lost | rcode err | peak RSS MB | QPS vs floor | QPS vs gdnsd | µs/q vs gdnsd | µs/q vs Knot |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  local wl name q u gq gu ku fq flags
  for wl in static gslb-ecs gslb mix; do
    for name in $(servers_in 1core); do
      grep -q "^RUN server=$name workload=$wl pass=1core " "$RAW" || continue
      q="$(median "$name" "$wl" 1core qps)"; u="$(median "$name" "$wl" 1core us_per_q)"
      gq="$(median gdnsd "$wl" 1core qps)"; gu="$(median gdnsd "$wl" 1core us_per_q)"
      ku="$(median knot "$wl" 1core us_per_q)"
      fq="$(median floor static 1core qps)"
      flags=""
      grep -E "^RUN server=$name workload=$wl pass=(1core|half) .*noisy=1" "$RAW" >/dev/null && flags=" (noisy)"
      # Below 0.9 of its core the server was not saturated: the load generator set the pace,
      # or another process took the core.
      awk -v c="$(median "$name" "$wl" 1core srv_cores)" 'BEGIN { exit !(c != "-" && c < 0.9) }' &&
        flags="$flags (unsaturated)"
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name$flags" "$wl" "$(fmt "$q" %.0f)" "$(fmt "$u" %.2f)" "$(fmt "$(median "$name" "$wl" 1core all_us_per_q)" %.2f)" \
        "$(fmt "$(median "$name" "$wl" 1core p50_us)" %.0f)" \
        "$(fmt "$(median "$name" "$wl" 1core p99_us)" %.0f)" "$(fmt "$(median "$name" "$wl" half p99_us)" %.0f)" \
        "$(median "$name" "$wl" 1core lost)" \
        "$(median "$name" "$wl" 1core rcode_err)" "$(mb "$(median "$name" "$wl" 1core rss_kb)")" \
        "$(ratio "$q" "$fq")" "$(ratio "$q" "$gq")" "$(ratio "$u" "$gu")" "$(ratio "$u" "$ku")"
    done
  done
}
scale_table() {
  echo "| server | workload | QPS 1 worker, pinned | QPS 2 workers, unpinned | ratio | µs/q 2 workers | server cores used |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  local wl name q1 q2
  for name in $(servers_in 2core); do
    for wl in static gslb-ecs gslb mix; do
      grep -q "^RUN server=$name workload=$wl pass=2core " "$RAW" || continue
      q1="$(median "$name" "$wl" 1core qps)"; q2="$(median "$name" "$wl" 2core qps)"
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$wl" "$(fmt "$q1" %.0f)" "$(fmt "$q2" %.0f)" \
        "$(ratio "$q2" "$q1")" "$(fmt "$(median "$name" "$wl" 2core us_per_q)" %.2f)" "$(median "$name" "$wl" 2core srv_cores)"
    done
  done
}
report() {
  local limit repeat
  limit="$(sed -n 's/^# LIMIT=\([^ ]*\) REPEAT=\([^ ]*\) .*/\1/p' "$RAW")"
  repeat="$(sed -n 's/^# LIMIT=\([^ ]*\) REPEAT=\([^ ]*\) .*/\2/p' "$RAW")"
  if grep -q '^# topology: veth' "$RAW"; then
    echo "Over a veth pair between two network namespaces (server 10.99.0.1 on CPU 0, load on CPU 1)."
    echo
  fi
  if grep -q "^RUN .* pass=1core " "$RAW"; then
    echo "## One worker on CPU 0, load generator on CPU 1 (${limit:-?} s runs, median of ${repeat:-?})"
    echo
    table
    echo
    echo "µs/q: the server's own CPU time per answer; all CPUs µs/q: both CPUs' busy time (every"
    echo "process, the kernel's interrupts and softirqs included) per answer. QPS vs floor: against"
    echo "the floor's static figure."
  fi
  if grep -q "^KX " "$RAW"; then
    echo
    echo "## Capacity: kxdpgun in the client namespace (static.example.test A, ${KX_SECONDS:-3} s per offered rate)"
    echo
    echo "| server | most answered QPS | at offered QPS | µs/q | all CPUs µs/q | answered vs floor |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    awk '/^KX / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                  s = f["server"]; if (!(s in best)) order[++n] = s
                  if (f["answered_qps"] + 0 > best[s] + 0) { best[s] = f["answered_qps"]; rate[s] = f["offered"]
                                                           u[s] = f["us_per_q"]; a[s] = f["all_us_per_q"] } }
         END { for (i = 1; i <= n; i++) { s = order[i]
                 r = (best["floor"] > 0) ? sprintf("%.2f", best[s] / best["floor"]) : "-"
                 printf "| %s | %d | %d | %s | %s | %s |\n", s, best[s], rate[s], u[s], a[s], r } }' "$RAW"
  fi
  if grep -q "^RUN .* pass=2core " "$RAW"; then
    echo
    echo "## Two workers, nothing pinned (the load generator shares the two cores)"
    echo
    scale_table
  fi
  if grep -q "^INSTR " "$RAW"; then
    echo
    echo "## User-space instructions per answered query (callgrind; independent of machine speed and load)"
    echo
    echo "| server | workload | instructions per query | vs gdnsd |"
    echo "| --- | --- | ---: | ---: |"
    awk '/^INSTR / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
                     s[++n] = f["server"]; w[n] = f["workload"]; q[n] = f["per_query"]
                     if (f["server"] == "gdnsd") g[f["workload"]] = f["per_query"] }
         END { for (i = 1; i <= n; i++) {
                 r = (q[i] != "-" && g[w[i]] > 0) ? sprintf("%.2f", q[i] / g[w[i]]) : "-"
                 printf "| %s | %s | %s | %s |\n", s[i], w[i], q[i], r } }' "$RAW"
    echo
    echo "Kernel time (the system calls, the loopback delivery) is not counted here; it is most of"
    echo "the server CPU per query above."
  fi
  if grep -q "^GEOCHECK " "$RAW"; then
    echo
    echo "## GSLB answers (dig with the sample subnets of q/check.tsv: nearest data center expected)"
    echo
    sed -n 's/^GEOCHECK \([^ ]*\) ok=\([0-9]*\) n=\([0-9]*\) scopes=\([^=]*\) no_ecs=\([^ ]*\)\(.*\)/- \1: \2\/\3 nearest, ECS scopes returned: \4, without ECS: \5\6/p' "$RAW"
  fi
  if grep -q "^FAILED " "$RAW"; then
    echo
    echo "Did not start (see the logs in the work directory):"
    sed -n 's/^FAILED /- /p' "$RAW"
  fi
}

if [[ -n "$REPORT_ONLY" ]]; then
  RAW="$REPORT_ONLY"
  report
  exit 0
fi

[[ "$(nproc)" -ge 2 ]] || die "needs at least 2 CPUs (server on CPU 0, load on CPU 1)"

# ---- workload ------------------------------------------------------------------------------
if [[ -n "${BENCH_DIR:-}" ]]; then
  W="$BENCH_DIR"
  [[ -s "$W/geo.mmdb" && -d "$W/q" ]] || die "$W is not a work directory made by setup.sh"
else
  setup_args=()
  ((INSTALL)) || setup_args=(--no-install)
  W="$("$HERE/setup.sh" "${setup_args[@]}" | tail -n 1)"
fi
mkdir -p "$W/bin" "$W/run" "$W/logs" "$W/results"
for wl in static gslb-ecs; do ln -sf "$wl.txt" "$W/q/$wl-do.txt"; done
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$W/results/compare-$STAMP.txt"
RAW="$W/results/raw-$STAMP.txt"
: > "$RAW"
log "work directory $W"

# ---- tools ---------------------------------------------------------------------------------
for t in blast floor; do
  gcc -O2 -Wall -o "$W/bin/$t" "$HERE/$t.c"
done
for t in dig taskset ps; do command -v "$t" >/dev/null || die "$t is missing (run bench/setup.sh)"; done
if ((NETNS)); then
  ((EUID == 0)) || die "NETNS=1 needs root (network namespaces and a veth pair)"
  NS_A="mrdbench$$-a" NS_B="mrdbench$$-b" IF_A="mrdb$$a" IF_B="mrdb$$b" ADDR=10.99.0.1
  ip netns add "$NS_A"; ip netns add "$NS_B"
  ip link add "$IF_A" type veth peer name "$IF_B"
  ip link set "$IF_A" netns "$NS_A"; ip link set "$IF_B" netns "$NS_B"
  ip -n "$NS_A" addr add 10.99.0.1/24 dev "$IF_A"; ip -n "$NS_B" addr add 10.99.0.2/24 dev "$IF_B"
  for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_A" link set "$IF_A" up; ip -n "$NS_B" link set "$IF_B" up
  IN_SRV=(ip netns exec "$NS_A") IN_CLI=(ip netns exec "$NS_B")
  log "veth $IF_A ($NS_A, 10.99.0.1) <-> $IF_B ($NS_B, 10.99.0.2)"
fi

wants_meridian=0
[[ " $SERVERS $SCALE_SERVERS $INSTR_SERVERS " == *" meridian-"* ]] && wants_meridian=1
if ((wants_meridian)); then
  # The binary is copied into the work directory, so every Meridian run of this comparison
  # uses the same build even if target/ is rebuilt meanwhile. A copy taken while cargo is
  # writing the file would not run: then wait and copy again.
  waited=0 built=0
  until [[ -x "$MERIDIAN_BIN" ]] && cp "$MERIDIAN_BIN" "$W/bin/meridian.new" 2>/dev/null &&
        "$W/bin/meridian.new" --version >/dev/null 2>&1; do
    if ((BUILD && !built)) && [[ ! -e "$MERIDIAN_BIN" ]]; then
      log "building Meridian (cargo build --release --locked)"
      (cd "$ROOT" && cargo build --release --locked) >&2
      built=1
      [[ -e "$MERIDIAN_BIN" ]] || die "the build made no $MERIDIAN_BIN"
      continue
    fi
    ((waited < MERIDIAN_WAIT)) || die "no usable Meridian binary at $MERIDIAN_BIN after ${MERIDIAN_WAIT}s"
    ((waited % 60)) || log "waiting for $MERIDIAN_BIN (being built?)"
    sleep 10; waited=$((waited + 10))
  done
  mv "$W/bin/meridian.new" "$W/bin/meridian"
fi

# ---- process measurement (all from /proc, no fork per sample) -------------------------------
tree_pids() {  # PID and every descendant (nsd forks its workers, gdnsd a helper)
  local p="$1" c
  echo "$p"
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree_pids "$c"; done
}
PIDS=()        # the current server's process tree, taken once it answers
tree_ticks() { # sets TICKS: utime+stime of the tree (every thread, the exited ones too)
  local p s f
  TICKS=0
  for p in "${PIDS[@]}"; do
    if [[ -r "/proc/$p/stat" ]]; then read -r s < "/proc/$p/stat"; else continue; fi
    s="${s##*) }"                     # the command name may hold spaces: skip past it
    read -r -a f <<< "$s"
    TICKS=$((TICKS + f[11] + f[12]))  # fields 14 and 15 of stat(5), after the two dropped
  done
}
tree_pss() {   # sets PSS: summed proportional set size of the tree, kB (shared pages split)
  local p k v _
  PSS=0
  for p in "${PIDS[@]}"; do
    [[ -r "/proc/$p/smaps_rollup" ]] || continue
    while read -r k v _; do
      [[ "$k" == Pss: ]] && PSS=$((PSS + v)) && break
    done < "/proc/$p/smaps_rollup"
  done
}
tree_rss() {   # sets RSS: summed VmRSS of the tree, kB
  local p k v _
  RSS=0
  for p in "${PIDS[@]}"; do
    [[ -r "/proc/$p/status" ]] || continue
    while read -r k v _; do
      [[ "$k" == VmRSS: ]] && RSS=$((RSS + v)) && break
    done < "/proc/$p/status"
  done
}
cpu_busy() {   # sets BUSY: busy ticks of the whole machine
  local _ u n s q sq st
  read -r _ u n s _ _ q sq st _ < /proc/stat  # user nice system idle iowait irq softirq steal
  BUSY=$((u + n + s + q + sq + st))
}
wait_idle() {  # the machine quiet: less than IDLE_PCT % of a core busy during one second
  local k a
  for ((k = 0; k < IDLE_WAIT; k++)); do
    cpu_busy; a=$BUSY; sleep 1; cpu_busy
    (((BUSY - a) * 100 < HZ * IDLE_PCT)) && return 0
  done
  log "WARN: machine still busy after ${IDLE_WAIT}s, running anyway"
}
port_in_use() { # a UDP socket bound to the port already (ours would then not be the one asked)
  local hex
  hex="$(printf ':%04X' "$1")"
  "${IN_SRV[@]}" cat /proc/net/udp /proc/net/udp6 |
    awk -v h="$hex" '$1 != "sl" && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }'
}

# ---- servers --------------------------------------------------------------------------------
port_of() {
  case "$1" in
    floor) echo $((BASE_PORT + 0)) ;; gdnsd) echo $((BASE_PORT + 1)) ;;
    knot) echo $((BASE_PORT + 2)) ;; nsd) echo $((BASE_PORT + 3)) ;;
    pdns) echo $((BASE_PORT + 4)) ;; pdns-geoip) echo $((BASE_PORT + 5)) ;;
    meridian-batched) echo $((BASE_PORT + 6)) ;; meridian-tokio) echo $((BASE_PORT + 7)) ;;
    meridian-signed) echo $((BASE_PORT + 8)) ;; knot-signed) echo $((BASE_PORT + 9)) ;;
    pdns-signed) echo $((BASE_PORT + 10)) ;; meridian-xdp) echo $((BASE_PORT + 11)) ;;
    meridian-xdp-native) echo $((BASE_PORT + 12)) ;; knot-xdp) echo $((BASE_PORT + 13)) ;;
    *) return 1 ;;
  esac
}
workloads_of() { # what each server can serve; knot and nsd have no GSLB here; the signed
  # servers (online signing) answer the same questions with DO set (the -do workloads)
  case "$1" in
    knot|nsd|knot-xdp) echo "static mix" ;;
    knot-signed) echo "static-do" ;;
    meridian-signed|pdns-signed) echo "static-do gslb-ecs-do" ;;
    *) echo "static gslb-ecs gslb mix" ;;
  esac
}
is_geo() { [[ "$1" == gdnsd || "$1" == pdns || "$1" == pdns-geoip || "$1" == pdns-signed || "$1" == meridian-* ]]; }
# blast's flags for a workload: the -do workloads are their base's questions with DO set.
wl_flags() { [[ "$1" == *-do ]] && echo "-d"; return 0; }

SERVER_PID="" SERVER_PORT="" FAIL_REASON=""
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  local i
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  PIDS=()
  # Knot leaves its XDP program attached when it stops (Meridian's goes with its process).
  [[ -n "$IF_A" ]] && ip -n "$NS_A" link set dev "$IF_A" xdp off 2>/dev/null
  return 0
}
BLAST_PID=""
cleanup() {
  [[ -n "$BLAST_PID" ]] && kill -TERM "$BLAST_PID" 2>/dev/null
  stop_server
  if [[ -n "$NS_A" ]]; then
    ip netns del "$NS_A" 2>/dev/null; ip netns del "$NS_B" 2>/dev/null
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Writes NAME's configuration for THREADS workers on PORT into D and sets CMD.
configure() {
  local name="$1" threads="$2" port="$3" D="$4"
  case "$name" in
  floor)
    CMD=("$W/bin/floor" "$ADDR" "$port") ;;
  gdnsd)
    mkdir -p "$D/zones" "$D/geoip" "$D/run" "$D/state"
    cp "$W/zones/example.test.gdnsd.zone" "$D/zones/example.test"
    cp "$W/geo.mmdb" "$D/geoip/geo.mmdb"
    # city-auto-mode: the nearest data center by the record's coordinates (ECS honoured by
    # default). Unlocated clients get the data centers in the order listed (eu first).
    cat > "$D/config" <<EOF
options => {
  listen => { $ADDR:$port => { udp_threads => $threads, tcp_threads => 1 } }
  run_dir => $D/run
  state_dir => $D/state
}
plugins => { geoip => {
  maps => { geo => {
    geoip2_db => geo.mmdb
    datacenters => [ eu, us, ap ]
    auto_dc_coords => { eu => [ 50.11, 8.68 ], us => [ 39.04, -77.49 ], ap => [ 1.35, 103.82 ] }
  } }
  resources => { www => { map => geo, dcmap => { eu => 192.0.2.1, us => 198.51.100.1, ap => 203.0.113.1 } } }
} }
EOF
    CMD=(gdnsd -c "$D" start) ;;
  knot|knot-signed|knot-xdp)
    mkdir -p "$D/db"
    cp "$W/zones/example.test.zone" "$D/example.test.zone"
    cat > "$D/knot.conf" <<EOF
server:
    rundir: "$D"
    listen: $ADDR@$port
    udp-workers: $threads
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$D/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$D"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: example.test
EOF
    # Knot's online signing: mod-onlinesign, its keys made and kept by Knot (ECDSA P-256,
    # its default), NSEC denial made per answer.
    [[ "$name" == knot-signed ]] && cat >> "$D/knot.conf" <<EOF
    module: mod-onlinesign
EOF
    # Knot's XDP mode: UDP on the veth through AF_XDP (one worker per queue; the veth has
    # one), TCP through the socket above.
    if [[ "$name" == knot-xdp ]]; then
      [[ -n "$IF_A" ]] || die "knot-xdp needs NETNS=1"
      cat >> "$D/knot.conf" <<EOF
xdp:
    listen: $IF_A@$port
    udp: on
EOF
    fi
    CMD=(knotd -c "$D/knot.conf") ;;
  nsd)
    cp "$W/zones/example.test.zone" "$D/example.test.zone"
    cat > "$D/nsd.conf" <<EOF
server:
    ip-address: $ADDR@$port
    server-count: $threads
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$D"
    database: ""
    zonelistfile: "$D/zone.list"
    xfrdfile: "$D/xfrd.state"
    pidfile: "$D/nsd.pid"
    logfile: "$D/nsd.log"
    verbosity: 0
    hide-version: yes
    minimal-responses: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: example.test.zone
EOF
    CMD=(nsd -d -c "$D/nsd.conf") ;;
  pdns|pdns-geoip|pdns-signed)
    # Common: one receiver thread per worker and one distributor (backend) thread, ECS
    # honoured (edns-subnet-processing, off by default), default caches, and no security
    # poll (it would send a DNS query off this machine).
    cat > "$D/pdns.conf" <<EOF
local-address=$ADDR:$port
socket-dir=$D
daemon=no
guardian=no
disable-syslog=yes
write-pid=no
webserver=no
api=no
loglevel=3
security-poll-suffix=
reuseport=yes
receiver-threads=$threads
distributor-threads=1
edns-subnet-processing=yes
geoip-database-files=mmdb:$W/geo.mmdb
EOF
    if [[ "$name" == pdns || "$name" == pdns-signed ]]; then
      # Bind backend for the zone, LUA pickclosest() for www; the GeoIP backend is launched
      # with no domains only to give LUA its geo lookups.
      cp "$W/zones/example.test.pdnslua.zone" "$D/example.test.zone"
      echo "domains: []" > "$D/geo-zones.yaml"
      echo "zone \"example.test\" { type master; file \"$D/example.test.zone\"; };" > "$D/named.conf"
      cat >> "$D/pdns.conf" <<EOF
launch=bind,geoip
bind-config=$D/named.conf
geoip-zones-file=$D/geo-zones.yaml
enable-lua-records=yes
EOF
      if [[ "$name" == pdns-signed ]]; then
        # PowerDNS's online signing: the bind backend's DNSSEC database, a key made by
        # pdnsutil (ECDSA P-256, its default), LUA answers signed as they are made.
        echo "bind-dnssec-db=$D/bind-dnssec.sqlite3" >> "$D/pdns.conf"
        pdnsutil --config-dir="$D" create-bind-db "$D/bind-dnssec.sqlite3" >/dev/null 2>&1
        pdnsutil --config-dir="$D" secure-zone example.test >/dev/null 2>&1
      fi
    else
      cp "$W/zones/pdns-geoip.yaml" "$D/zones.yaml"
      cat >> "$D/pdns.conf" <<EOF
launch=geoip
geoip-zones-file=$D/zones.yaml
EOF
    fi
    CMD=(pdns_server --config-dir="$D") ;;
  meridian-signed)
    # The same zones signed online: a copy with a key made by `meridian key generate`.
    cp -r "$W/meridian" "$D/zones"
    "$W/bin/meridian" key generate example.test --zones "$D/zones" >/dev/null
    CMD=(env "TOKIO_WORKER_THREADS=$threads" "$W/bin/meridian" serve --zones "$D/zones"
         --geo "$W/geo.mmdb" --listen "$ADDR:$port" --no-watch --state "$D/state.json"
         --log-level warn --udp-loop batched) ;;
  meridian-xdp|meridian-xdp-native)
    [[ -n "$IF_A" ]] || die "$name needs NETNS=1"
    local mode=generic
    [[ "$name" == meridian-xdp-native ]] && mode=native
    CMD=(env "TOKIO_WORKER_THREADS=$threads" "$W/bin/meridian" serve --zones "$W/meridian"
         --geo "$W/geo.mmdb" --listen "$ADDR:$port" --no-watch --state "$D/state.json"
         --log-level warn --allow-root --xdp "$IF_A" --xdp-mode "$mode") ;;
  meridian-batched|meridian-tokio)
    # One worker: the batched loop starts a thread per CPU it may run on (the affinity mask,
    # so taskset -c 0 gives one) and the tokio runtime as many workers as TOKIO_WORKER_THREADS.
    CMD=(env "TOKIO_WORKER_THREADS=$threads" "$W/bin/meridian" serve --zones "$W/meridian"
         --geo "$W/geo.mmdb" --listen "$ADDR:$port" --no-watch --state "$D/state.json"
         --log-level warn --udp-loop "${name#meridian-}") ;;
  *) return 1 ;;
  esac
}

answers_probe() { # the server answers: static A for real servers, any NOERROR reply for floor
  local out
  out="$("${IN_CLI[@]}" dig +time=1 +tries=1 -p "$2" @"$ADDR" static.example.test A 2>/dev/null)" || return 1
  if [[ "$1" == floor ]]; then [[ "$out" == *"status: NOERROR"* ]]; else
    grep -q $'^static\.example\.test\.[[:space:]].*192\.0\.2\.10$' <<< "$out"; fi
}

# Starts NAME with THREADS workers, pinned to CPUS ("" = not pinned). Sets SERVER_PID,
# SERVER_PORT and PIDS.
start_server() {
  local name="$1" threads="$2" cpus="$3" port D i
  port="$(port_of "$name")"
  # Another program on the port would answer in our server's place: move 100 up instead.
  for ((i = 0; i < 5; i++)); do
    port_in_use "$port" || break
    log "$name: UDP port $port is in use by another program, trying $((port + 100))"
    port=$((port + 100))
  done
  if port_in_use "$port"; then
    FAIL_REASON="UDP ports $(port_of "$name") to $port all in use"; log "SKIP $name: $FAIL_REASON"; return 1
  fi
  SERVER_PORT="$port"
  D="$W/run/$name-$threads"; rm -rf "$D"; mkdir -p "$D"
  configure "$name" "$threads" "$port" "$D"
  CMD=("${IN_SRV[@]}" "${CMD[@]}")
  [[ -n "$cpus" ]] && CMD=(taskset -c "$cpus" "${CMD[@]}")
  # The instructions pass runs the server (and any process it starts) under callgrind.
  [[ -n "${WRAP_CALLGRIND:-}" ]] && CMD=(valgrind --tool=callgrind --trace-children=yes
    "--callgrind-out-file=$D/callgrind.%p" "${CMD[@]}")
  echo "START $name threads=$threads cpus=${cpus:-any} port=$port cmd=${CMD[*]}" >> "$RAW"
  "${CMD[@]}" > "$W/logs/$name-$threads.log" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      FAIL_REASON="died at start: $(tail -n 3 "$W/logs/$name-$threads.log" | tr '\n' ' ')"
      log "FAIL $name died at start; its log:"; tail -n 15 "$W/logs/$name-$threads.log" >&2
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""; return 1
    fi
    if answers_probe "$name" "$port"; then
      sleep 0.5 # let late start-up work (zone loads, helper processes) finish
      mapfile -t PIDS < <(tree_pids "$SERVER_PID")
      local nthreads=0 p k v _
      for p in "${PIDS[@]}"; do
        while read -r k v _; do [[ "$k" == Threads: ]] && nthreads=$((nthreads + v)) && break; done < "/proc/$p/status"
      done
      tree_rss
      echo "READY $name pid=$SERVER_PID processes=${#PIDS[@]} threads=$nthreads idle_rss_kb=$RSS" >> "$RAW"
      return 0
    fi
    sleep 0.2
  done
  FAIL_REASON="no answer on $ADDR:$port within 30 s"
  log "FAIL $name does not answer on $ADDR:$port after 30 s; its log:"
  tail -n 15 "$W/logs/$name-$threads.log" >&2
  stop_server
  return 1
}

# ---- correctness of the GSLB answers --------------------------------------------------------
# For sample client subnets where the nearest data center is clear and the same by country
# (q/check.tsv), ask with dig and compare the answer; note the ECS scope returned.
dc_of() { case "$1" in 192.0.2.1) echo eu ;; 198.51.100.1) echo us ;; 203.0.113.1) echo ap ;; *) echo "?$1" ;; esac; }
geo_check() {
  local name="$1" port="$SERVER_PORT" ok=0 n=0 subnet want got out scope scopes="" wrong=""
  while IFS=$'\t' read -r subnet want _; do
    out="$("${IN_CLI[@]}" dig +time=2 +tries=1 -p "$port" @"$ADDR" www.example.test A +subnet="$subnet" 2>/dev/null)" || out=""
    got="$(awk '$1 == "www.example.test." && $4 == "A" { print $5; exit }' <<< "$out")"
    got="$(dc_of "$got")"
    scope="$(sed -n 's/.*CLIENT-SUBNET: [^ ]*\/[0-9]*\/\([0-9]*\).*/\1/p' <<< "$out" | head -n 1)"
    [[ " $scopes " == *" ${scope:-none} "* ]] || scopes="$scopes ${scope:-none}"
    n=$((n + 1))
    if [[ "$got" == "$want" ]]; then ok=$((ok + 1)); else wrong="$wrong $subnet:$want->$got"; fi
  done < "$W/q/check.tsv"
  # Without ECS the resolver is 127.0.0.1, which the database puts in Frankfurt: eu.
  out="$("${IN_CLI[@]}" dig +short +time=2 +tries=1 -p "$port" @"$ADDR" www.example.test A 2>/dev/null | head -n 1)" || out=""
  echo "GEOCHECK $name ok=$ok n=$n scopes=${scopes# } no_ecs=$(dc_of "$out")${wrong:+ wrong=${wrong# }}" >> "$RAW"
  log "geo check $name: $ok/$n nearest, scopes$scopes, without ECS: $(dc_of "$out")${wrong:+ (wrong:$wrong)}"
}

# ---- one measured run -------------------------------------------------------------------------
# run_once NAME WORKLOAD PASS RATE BLAST_CPUS: one blast run against the current server;
# appends a RUN line to $RAW and sets LINE to its fields.
run_once() {
  local name="$1" wl="$2" pass="$3" rate="$4" bcpus="$5" port="$SERVER_PORT" out try=0 t0 t1 b0 b1 w0 w1 rss
  local args=(-s "$BLAST_SOCKETS" -w "$BLAST_WINDOW")
  [[ "$wl" == *-do ]] && args+=(-d)
  [[ "$rate" != 0 ]] && args+=(-r "$rate")
  local pre=("${IN_CLI[@]}")
  [[ -n "$bcpus" ]] && pre=(taskset -c "$bcpus" "${pre[@]}")
  out="$W/run/blast.out"
  while :; do
    wait_idle
    tree_ticks; t0=$TICKS; cpu_busy; b0=$BUSY; w0=$(date +%s%N)
    "${pre[@]}" "$W/bin/blast" "${args[@]}" "$ADDR" "$port" "$W/q/$wl.txt" "$LIMIT" > "$out" 2>&1 &
    BLAST_PID=$!
    rss=0
    while kill -0 "$BLAST_PID" 2>/dev/null; do # peak RSS of the server during the run
      sleep 0.25
      tree_rss; ((RSS > rss)) && rss=$RSS
    done
    wait "$BLAST_PID" || { BLAST_PID=""; log "blast failed:"; cat "$out" >&2; return 1; }
    BLAST_PID=""
    tree_ticks; t1=$TICKS; cpu_busy; b1=$BUSY; w1=$(date +%s%N)
    tree_pss # once, after the run: reading it walks the server's page tables
    # Cores used by everything else: the machine's busy time less the server's and blast's.
    LINE="$(awk -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v w0="$w0" -v w1="$w1" \
                -v hz="$HZ" -v rss="$rss" -v pss="$PSS" -v s="$name" -v wl="$wl" -v pass="$pass" -v rate="$rate" '
      /^qps=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
      END {
        wall = (w1 - w0) / 1e9; srv = (t1 - t0) / hz
        other = ((b1 - b0) / hz - srv - f["cpu_s"]) / wall; if (other < 0) other = 0
        upq = f["recv"] > 0 ? srv * 1e6 / f["recv"] : 0
        allq = f["recv"] > 0 ? (b1 - b0) / hz * 1e6 / f["recv"] : 0
        printf "server=%s workload=%s pass=%s rate=%s qps=%d us_per_q=%.3f all_us_per_q=%.3f p50_us=%s p99_us=%s p999_us=%s lost=%d rcode_err=%d tc=%d bad=%d recv=%d srv_cores=%.2f other_cores=%.2f rss_kb=%d pss_kb=%d",
          s, wl, pass, rate, f["qps"], upq, allq, f["p50_us"], f["p99_us"], f["p999_us"], f["lost"],
          f["rcode_err"], f["tc"], f["bad"], f["recv"], srv / wall, other, rss, pss
      }' "$out")"
    local other
    other="${LINE##*other_cores=}"; other="${other%% *}"
    if awk -v o="$other" -v m="$OTHER_MAX" 'BEGIN { exit !(o > m) }'; then
      if ((try < RETRIES)); then
        try=$((try + 1))
        echo "DISCARD $LINE" >> "$RAW"
        log "  another process used $other cores during the run: again ($try/$RETRIES)"
        continue
      fi
      LINE="$LINE noisy=1"
    fi
    echo "RUN $LINE" >> "$RAW"
    log "  $pass $wl: $(tr ' ' '\n' <<< "$LINE" | grep -E '^(qps|us_per_q|p50_us|p99_us|lost|rcode_err|other_cores)=' | tr '\n' ' ')"
    return 0
  done
}


# measure NAME THREADS SERVER_CPUS BLAST_CPUS PASS WORKLOAD...: full-speed runs, then (for
# the one-core pass) the same at HALF of the median peak, for latency below saturation.
measure() {
  local name="$1" threads="$2" scpus="$3" bcpus="$4" pass="$5" wl i qps
  shift 5
  if ! start_server "$name" "$threads" "$scpus"; then
    echo "FAILED $name ($pass): $FAIL_REASON" >> "$RAW"
    return 0
  fi
  [[ "$pass" == 1core ]] && is_geo "$name" && geo_check "$name"
  for wl in "$@"; do
    for ((i = 0; i < REPEAT; i++)); do run_once "$name" "$wl" "$pass" 0 "$bcpus" || break; done
    if [[ "$pass" == 1core ]] && ((HALF_REPEAT > 0)); then
      qps="$(median "$name" "$wl" "$pass" qps)"
      if [[ "$qps" != - ]] && ((${qps%.*} > 0)); then
        local rate
        rate="$(awk -v q="$qps" -v h="$HALF" 'BEGIN { printf "%d", q * h }')"
        for ((i = 0; i < HALF_REPEAT; i++)); do run_once "$name" "$wl" half "$rate" "$bcpus" || break; done
      fi
    fi
  done
  stop_server
}

{
  echo "# compare.sh $STAMP"
  echo "# host: $(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  ((NETNS)) && echo "# topology: veth between network namespaces, server 10.99.0.1, load 10.99.0.2"
  echo "# LIMIT=$LIMIT REPEAT=$REPEAT HALF_REPEAT=$HALF_REPEAT BLAST_SOCKETS=$BLAST_SOCKETS BLAST_WINDOW=$BLAST_WINDOW"
  echo "# versions: gdnsd $(gdnsd 2>&1 | sed -n 's/^gdnsd version //p' | head -n 1)," \
       "knot $(knotd -V 2>/dev/null | sed 's/.*version //')," \
       "nsd $(nsd -v 2>&1 | sed -n 's/^NSD version //p')," \
       "pdns $(dpkg-query -W -f='${Version}' pdns-server 2>/dev/null)"
  if ((wants_meridian)); then
    echo "# meridian: $("$W/bin/meridian" --version 2>/dev/null) from $MERIDIAN_BIN" \
         "(built $(date -r "$MERIDIAN_BIN" '+%F %T' 2>/dev/null || echo '?')," \
         "tree at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
  fi
} >> "$RAW"

# ---- the runs ------------------------------------------------------------------------------
for name in $SERVERS; do
  port_of "$name" >/dev/null || die "unknown server $name"
  wls=()
  for wl in $(workloads_of "$name"); do [[ " $WORKLOADS " == *" $wl "* ]] && wls+=("$wl"); done
  ((${#wls[@]})) || continue
  log "$name: one worker on CPU 0, load on CPU 1: ${wls[*]}"
  measure "$name" 1 0 1 1core "${wls[@]}"
done
for name in $SCALE_SERVERS; do
  port_of "$name" >/dev/null || die "unknown server $name"
  wls=()
  for wl in $(workloads_of "$name"); do [[ " $SCALE_WORKLOADS " == *" $wl "* ]] && wls+=("$wl"); done
  ((${#wls[@]})) || continue
  log "$name: two workers, nothing pinned: ${wls[*]}"
  measure "$name" 2 "" "" 2core "${wls[@]}"
done

# ---- the capacity pass (NETNS): kxdpgun ---------------------------------------------------
# capacity NAME: the server on CPU 0, kxdpgun on CPU 1 at each offered rate; a KX line each.
capacity() {
  local name="$1" rate out sent recv t0 t1 b0 b1
  if ! start_server "$name" 1 0; then
    echo "FAILED $name (capacity): $FAIL_REASON" >> "$RAW"
    return 0
  fi
  echo "static.example.test A" > "$W/q/kx-static.txt"
  for rate in $KX_RATES; do
    wait_idle
    tree_ticks; t0=$TICKS; cpu_busy; b0=$BUSY
    out="$("${IN_CLI[@]}" kxdpgun -t "$KX_SECONDS" -Q "$rate" -F 1 -p "$SERVER_PORT" -i "$W/q/kx-static.txt" "$ADDR" 2>&1)" || true
    tree_ticks; t1=$TICKS; cpu_busy; b1=$BUSY
    # kxdpgun leaves its own XDP program on the client's interface.
    ip -n "$NS_B" link set dev "$IF_B" xdp off 2>/dev/null || true
    sent="$(sed -n 's/^total queries: *\([0-9]*\).*/\1/p' <<< "$out")"
    recv="$(sed -n 's/^total replies: *\([0-9]*\).*/\1/p' <<< "$out")"
    echo "KX $(awk -v s="$name" -v o="$rate" -v n="${sent:-0}" -v r="${recv:-0}" -v t="$((t1 - t0))" \
      -v b="$((b1 - b0))" -v hz="$HZ" -v d="$KX_SECONDS" 'BEGIN {
        printf "server=%s offered=%d sent=%d recv=%d answered_qps=%d us_per_q=%s all_us_per_q=%s", s, o, n, r, r / d,
          (r > 0 ? sprintf("%.2f", t / hz * 1e6 / r) : "-"), (r > 0 ? sprintf("%.2f", b / hz * 1e6 / r) : "-") }')" >> "$RAW"
    log "  kxdpgun at $rate/s: $(tail -n 1 "$RAW" | cut -d' ' -f4-)"
  done
  stop_server
}
if ((NETNS)) && [[ -n "$KX_SERVERS" ]]; then
  command -v kxdpgun > /dev/null || die "the capacity pass needs kxdpgun (apt-get install knot-dnsutils), or KX_SERVERS=''"
  for name in $KX_SERVERS; do
    port_of "$name" >/dev/null || die "unknown server $name"
    log "$name: capacity, kxdpgun on CPU 1"
    capacity "$name"
  done
fi

# ---- the instructions pass ------------------------------------------------------------------
# instructions NAME WORKLOAD...: the server under callgrind; after a warm-up the counters are
# zeroed, a light load runs INSTR_SECONDS, and the counts are dumped: user-space instructions
# of the whole process tree per answered query.
instructions() {
  local name="$1" wl pid total recv f
  shift
  if ! WRAP_CALLGRIND=1 start_server "$name" 1 ""; then
    echo "FAILED $name (instructions): $FAIL_REASON" >> "$RAW"
    return 0
  fi
  local D="$W/run/$name-1"
  for wl in "$@"; do
    if [[ "$wl" == *-do ]]; then # a signed server must really sign: count the RRSIGs it sends
      local q=static.example.test sigs
      [[ "$wl" == gslb-ecs-do ]] && q="www.example.test +subnet=81.0.1.0/24"
      # shellcheck disable=SC2086 # q is a name and an option
      sigs="$("${IN_CLI[@]}" dig +dnssec +time=5 +tries=2 -p "$SERVER_PORT" @"$ADDR" $q A 2>/dev/null | grep -c $'\tRRSIG\t')" || sigs=0
      echo "SIGCHECK server=$name workload=$wl rrsig=$sigs" >> "$RAW"
      log "  $wl: $sigs RRSIG in the answer to $q"
    fi
    # shellcheck disable=SC2046 # wl_flags prints zero or one word
    "${IN_CLI[@]}" "$W/bin/blast" -s 1 -w 8 $(wl_flags "$wl") "$ADDR" "$SERVER_PORT" "$W/q/$wl.txt" 2 > /dev/null 2>&1 || true
    mapfile -t PIDS < <(tree_pids "$SERVER_PID")
    for pid in "${PIDS[@]}"; do callgrind_control -z "$pid" > /dev/null 2>&1 || true; done
    # shellcheck disable=SC2046
    "${IN_CLI[@]}" "$W/bin/blast" -s 1 -w 8 $(wl_flags "$wl") "$ADDR" "$SERVER_PORT" "$W/q/$wl.txt" "$INSTR_SECONDS" > "$W/run/blast.out" 2>&1 || true
    for pid in "${PIDS[@]}"; do callgrind_control -d "$pid" > /dev/null 2>&1 || true; done
    sleep 1
    recv="$(sed -n 's/.* recv=\([0-9]*\).*/\1/p' "$W/run/blast.out")"
    total=0
    for pid in "${PIDS[@]}"; do # the newest dump of each process
      # shellcheck disable=SC2012 # our own file names: callgrind.PID.N
      f="$(ls -t "$D"/callgrind."$pid".* 2>/dev/null | head -n 1)" || f=""
      [[ -n "$f" ]] || continue
      total=$((total + $(awk '/^(summary|totals):/ { n = $2 } END { print n + 0 }' "$f")))
    done
    echo "INSTR server=$name workload=$wl recv=${recv:-0} instructions=$total per_query=$(awk -v t="$total" -v r="${recv:-0}" 'BEGIN { if (r > 0) printf "%d", t / r; else print "-" }')" >> "$RAW"
    log "  instructions $wl: $(tail -n 1 "$RAW" | sed 's/.*per_query=//') per query"
  done
  stop_server
}
if [[ -n "$INSTR_SERVERS" ]]; then
  command -v valgrind > /dev/null || die "the instructions pass needs valgrind (apt-get install valgrind), or INSTR_SERVERS=''"
  for name in $INSTR_SERVERS; do
    port_of "$name" >/dev/null || die "unknown server $name"
    wls=()
    for wl in $(workloads_of "$name"); do [[ " $INSTR_WORKLOADS " == *" $wl "* ]] && wls+=("$wl"); done
    ((${#wls[@]})) || continue
    log "$name: under callgrind: ${wls[*]}"
    instructions "$name" "${wls[@]}"
  done
fi

{ cat "$RAW"; echo; report; } > "$RESULTS"
sed -n '/^## \|^Over a veth/,$p' "$RESULTS"
echo
echo "raw measurements and the tables: $RESULTS"
