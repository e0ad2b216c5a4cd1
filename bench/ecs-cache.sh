#!/usr/bin/env bash
# Resolver cache efficiency of ECS scopes: CLIENTS client /24s ask a validating-free Unbound,
# whose subnet cache (the subnetcache module) forwards each client's subnet to the server and
# keeps each answer for the scope the server returned; the fewer queries reach the server, the
# wider (and still correct) its scopes. Each server runs in turn behind a fresh Unbound, on the
# same data (bench/setup.sh's workload: the generated city database, three data centers, the
# nearest one answering), and the queries that reached it are counted by the server itself
# (Meridian's meridian_queries_total, gdnsd's gdnsdctl stats).
#
# usage: bench/ecs-cache.sh [--no-install]
#   --no-install   do not install packages (setup.sh --no-install)
# environment (defaults):
#   BENCH_DIR=           a work directory made by setup.sh (made, and removed after, when unset)
#   CLIENTS=20000        client /24s: three in four inside the database's networks, the rest
#                        anywhere in the public IPv4 space; distinct, in a seeded random order
#   SERVERS="gdnsd meridian"   meridian-before too when MERIDIAN_BEFORE_BIN is set
#   MERIDIAN_BIN=target/release/meridian   MERIDIAN_BEFORE_BIN=   (e.g. a build of an older tree)
# Every process is started here, on loopback ports probed free, and stopped by its PID; each
# run is bounded (2 s per query at most, CLIENTS queries).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
INSTALL=yes
[[ "${1:-}" == --no-install ]] && INSTALL=no
CLIENTS=${CLIENTS:-20000}
MERIDIAN_BIN=${MERIDIAN_BIN:-target/release/meridian}
MERIDIAN_BEFORE_BIN=${MERIDIAN_BEFORE_BIN:-}
SERVERS=${SERVERS:-"gdnsd meridian${MERIDIAN_BEFORE_BIN:+ meridian-before}"}

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "ecs-cache.sh: $*" >&2; exit 1; }

[[ -x "$MERIDIAN_BIN" ]] || die "no Meridian binary at $MERIDIAN_BIN (cargo build --release)"
if [[ -z "${BENCH_DIR:-}" ]]; then
  args=()
  [[ $INSTALL == no ]] && args+=(--no-install)
  BENCH_DIR=$(bench/setup.sh "${args[@]}" | tail -n 1)
  OWN_DIR=yes
fi
W=$BENCH_DIR
[[ -f "$W/networks.tsv" && -d "$W/meridian" ]] || die "$W is not a setup.sh work directory"
command -v unbound > /dev/null || die "unbound is missing (apt-get install unbound)"
RUN=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  rm -rf "$RUN"
  [[ "${OWN_DIR:-}" == yes ]] && rm -rf "$W"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { # a port free for UDP and TCP on 127.0.0.1 right now
  python3 - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port)); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
print(port)
EOF
}

wait_answers() { # PORT: the server answers SOA for example.test within 10 s
  for _ in $(seq 100); do
    dig +short +time=1 +tries=1 -p "$1" @127.0.0.1 example.test SOA 2> /dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# The client /24s, one per line, and the query sender (both Python, standard library only).
python3 - "$W/networks.tsv" "$CLIENTS" > "$RUN/clients.txt" <<'EOF'
import ipaddress, random, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
n = int(sys.argv[2])
rng = random.Random(20261201)
nets = [ipaddress.ip_network(f"{r[0]}/{r[1]}") for r in rows if ":" not in r[0]]
inside = {str(s) for net in nets for s in (net.subnets(new_prefix=24) if net.prefixlen <= 24 else [])}
inside = sorted(inside)
rng.shuffle(inside)
chosen = inside[: n * 3 // 4]
seen = set(chosen)
while len(chosen) < n:
    a = ipaddress.ip_address(rng.getrandbits(32) & 0xFFFFFF00)
    if not a.is_global or a.is_multicast or str(a) in seen:
        continue
    seen.add(str(a))
    chosen.append(str(a))
rng.shuffle(chosen)
print("\n".join(c.split("/")[0] for c in chosen))
EOF
cat > "$RUN/ask.py" <<'EOF'
# ask.py PORT CLIENTS: www.example.test A with each client's /24 as ECS, recursion desired,
# one at a time; prints "answered timeouts".
import socket, struct, sys
port, clients = int(sys.argv[1]), open(sys.argv[2]).read().split()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
qname = b"".join(bytes([len(l)]) + l for l in b"www.example.test".split(b".")) + b"\0"
answered = timeouts = 0
for i, c in enumerate(clients):
    qid = i & 0xFFFF
    ecs = struct.pack("!HBB", 1, 24, 0) + socket.inet_aton(c)[:3]
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 4 + len(ecs)) + struct.pack("!HH", 8, len(ecs)) + ecs
    s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1) + qname + struct.pack("!HH", 1, 1) + opt, ("127.0.0.1", port))
    while True:
        try:
            data = s.recv(4096)
        except socket.timeout:
            timeouts += 1
            break
        if struct.unpack("!H", data[:2])[0] == qid:
            answered += 1
            break
print(answered, timeouts)
EOF

start_server() { # NAME PORT DIR: starts it, sets SPID
  local name=$1 port=$2 D=$3 bin
  mkdir -p "$D"
  case $name in
  gdnsd)
    mkdir -p "$D/zones" "$D/geoip" "$D/run" "$D/state"
    cp "$W/zones/example.test.gdnsd.zone" "$D/zones/example.test"
    cp "$W/geo.mmdb" "$D/geoip/geo.mmdb"
    # As bench/compare.sh: the nearest data center by the record's coordinates.
    cat > "$D/config" <<EOF
options => {
  listen => { 127.0.0.1:$port => { udp_threads => 1, tcp_threads => 1 } }
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
    gdnsd -c "$D" start > "$D/log" 2>&1 &
    SPID=$! ;;
  meridian | meridian-before)
    bin=$MERIDIAN_BIN
    [[ $name == meridian-before ]] && bin=$MERIDIAN_BEFORE_BIN
    API_PORT=$(free_port)
    "$bin" serve --zones "$W/meridian" --geo "$W/geo.mmdb" --listen "127.0.0.1:$port" --no-watch \
      --api "127.0.0.1:$API_PORT" --state "$D/state.json" --log-level warn > "$D/log" 2>&1 &
    SPID=$! ;;
  *) die "unknown server $name" ;;
  esac
  PIDS+=("$SPID")
  wait_answers "$port" || { cat "$D/log" >&2; die "$name did not start"; }
}

queries_seen() { # NAME DIR: queries the server has answered so far
  case $1 in
  gdnsd) gdnsdctl -c "$2" stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["udp"]["reqs"] + s["tcp"]["reqs"])' ;;
  meridian*) curl -sf "http://127.0.0.1:$API_PORT/metrics" | awk '/^meridian_queries_total/ { n += $2 } END { print n + 0 }' ;;
  esac
}

start_unbound() { # PORT UPSTREAM DIR: a resolver with a subnet cache, stub to the server
  local port=$1 upstream=$2 D=$3
  mkdir -p "$D"
  # Root hints on loopback: nothing but the stub zone is ever asked, and nothing leaves.
  printf ". 3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.1\n" > "$D/root.hints"
  cat > "$D/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $port
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "$D"
  pidfile: "$D/unbound.pid"
  logfile: "$D/unbound.log"
  use-syslog: no
  verbosity: 0
  root-hints: "$D/root.hints"
  module-config: "subnetcache iterator"
  send-client-subnet: 127.0.0.1
  max-client-subnet-ipv4: 24
  # Unbound keeps at most 100 subnets per name by default: room for every client here.
  max-ecs-tree-size-ipv4: 1000000
  qname-minimisation: no
  # test. is one of Unbound's built-in local zones (RFC 6761): let the stub answer it.
  local-zone: "test." nodefault
  prefetch: no
  num-threads: 1
  msg-cache-size: 64m
  rrset-cache-size: 64m
stub-zone:
  name: "example.test"
  stub-addr: 127.0.0.1@$upstream
remote-control:
  control-enable: no
EOF
  unbound -d -c "$D/unbound.conf" > "$D/stderr" 2>&1 &
  UPID=$!
  PIDS+=("$UPID")
  wait_answers "$port" || { cat "$D/stderr" "$D/unbound.log" >&2; die "unbound did not start"; }
}

stop() { kill -TERM "$1" 2> /dev/null || true; wait "$1" 2> /dev/null || true; }

echo "| server | client /24s | answered | timeouts | queries reaching the server | per client | vs gdnsd |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
gdnsd_seen=""
for name in $SERVERS; do
  port=$(free_port)
  start_server "$name" "$port" "$RUN/$name"
  uport=$(free_port)
  start_unbound "$uport" "$port" "$RUN/unbound-$name"
  before=$(queries_seen "$name" "$RUN/$name")
  log "$name: $CLIENTS clients through unbound on port $uport"
  read -r answered timeouts < <(timeout 600 python3 "$RUN/ask.py" "$uport" "$RUN/clients.txt")
  after=$(queries_seen "$name" "$RUN/$name")
  seen=$((after - before))
  [[ $name == gdnsd ]] && gdnsd_seen=$seen
  vs=$(awk -v a="$seen" -v b="$gdnsd_seen" 'BEGIN { if (b == "" || b == 0) print "-"; else printf "%.2f", a / b }')
  per=$(awk -v a="$seen" -v n="$CLIENTS" 'BEGIN { printf "%.3f", a / n }')
  echo "| $name | $CLIENTS | $answered | $timeouts | $seen | $per | $vs |"
  stop "$UPID"
  stop "$SPID"
done
