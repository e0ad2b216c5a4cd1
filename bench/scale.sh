#!/usr/bin/env bash
# Scale: a zone of a million records, ten thousand zones, a million operator networks and ten
# thousand pools: load time, memory and reload time, beside NSD, BIND's checker, Knot and gdnsd.
#
#   bench/scale.sh                                   # every corpus at full size
#   RECORDS=200000 ZONES=2000 CORPORA="zone zones" bench/scale.sh
#
# The corpora are written by bench/make-scale.py into a temporary directory (KEEP=1 keeps it)
# and never committed. For each, REPEAT (3) runs, the median printed:
#   check   `meridian check` (and nsd-checkzone, named-checkzone on the single big zone):
#           wall time and peak resident memory (/usr/bin/time);
#   serve   from the start of the server until it answers the corpus's last zone, and its
#           resident memory then (Meridian, NSD, Knot, gdnsd: each one worker thread where it
#           has such a setting; gdnsd also serves the network list, as its geoip `nets`);
#   reload  Meridian with its API: one zone file changed (its serial raised), `POST /reload`
#           timed until it returns, the new serial checked with dig, and resident memory after
#           RELOADS (10) such reloads against the memory before them.
# Servers run on loopback ports chosen free at run time and are stopped by their PIDs.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-1000000}
ZONES=${ZONES:-10000}
NETWORKS=${NETWORKS:-1000000}
POOLS=${POOLS:-10000}
REPEAT=${REPEAT:-3}
RELOADS=${RELOADS:-10}
CORPORA=${CORPORA:-"zone zones nets pools"}
BIN=$(realpath "${MERIDIAN:-target/release/meridian}")
GEO=$(realpath geo/dbip-country.mmdb)
[ -x "$BIN" ] || cargo build --release --locked

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The resident memory of a process and its children, in MB.
rss_mb() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "scale=1; $total / 1024" | bc
}
# Waits until the server on port $1 answers $2 SOA (up to 600 s); prints the serial.
wait_soa() {
  local i serial
  for i in $(seq 1 12000); do
    serial=$(dig @127.0.0.1 -p "$1" +short +time=1 +tries=1 "$2" SOA 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 }' || true)
    [ -n "$serial" ] && { echo "$serial"; return 0; }
    sleep 0.05
  done
  echo "no answer for $2 from port $1" >&2
  return 1
}

echo "writing the corpora in $work (RECORDS=$RECORDS ZONES=$ZONES NETWORKS=$NETWORKS POOLS=$POOLS)"
python3 bench/make-scale.py "$work/c" "$RECORDS" "$ZONES" "$NETWORKS" "$POOLS"
ls -la "$work/c/zone/big.test.zone" "$work/c/nets/networks.list" "$work/c/pools/pool.test.toml" |
  awk '{ printf "  %s: %.1f MB\n", $NF, $5 / 1048576 }'

# check LABEL CMD...: median time and peak memory over REPEAT runs.
check() {
  local label=$1 i; shift
  for i in $(seq "$REPEAT"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { echo "$label failed:"; tail -3 "$work/err"; return 0; }
    cat "$work/time"
  done >"$work/runs"
  printf '| %s | %s s | %s MB |\n' "$label" "$(awk '{ print $1 }' "$work/runs" | median)" \
    "$(awk '{ print $2 / 1024 }' "$work/runs" | median | xargs printf '%.0f')"
}

# serve LABEL LAST-ZONE TEMPLATE CMD...: REPEAT times, on a free port, CMD started (every
# PORT in its arguments, and in TEMPLATE copied to $work/server.conf when one is given,
# replaced by the port; $work/run made afresh for its state), timed until it answers
# LAST-ZONE's SOA, its resident memory noted, and stopped; medians printed.
serve() {
  local label=$1 last=$2 template=$3 i port pid t0
  shift 3
  for i in $(seq "$REPEAT"); do
    rm -rf "$work/run"; mkdir -p "$work/run"
    port=$(free_port)
    [ -z "$template" ] || sed "s/PORT/$port/" "$template" >"$work/server.conf"
    t0=$(now)
    "${@//PORT/$port}" >"$work/server.log" 2>&1 &
    pid=$!; pids+=("$pid")
    wait_soa "$port" "$last" >/dev/null
    echo "$(echo "$(now) - $t0" | bc) $(rss_mb "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done >"$work/runs"
  printf '| %s | %s s | %s MB |\n' "$label" "$(awk '{ print $1 }' "$work/runs" | median | xargs printf '%.2f')" \
    "$(awk '{ print $2 }' "$work/runs" | median)"
}

# serve_meridian DIR LAST-ZONE: Meridian on the zones of DIR.
serve_meridian() {
  serve meridian "$2" "" "$BIN" serve --zones "$1" --geo "$GEO" --listen 127.0.0.1:PORT --state "$work/run/state.json"
}

# serve_all DIR LAST-ZONE: Meridian, NSD, Knot and gdnsd (those installed) on the zones of DIR.
serve_all() {
  local dir=$1 last=$2 f
  serve_meridian "$dir" "$last"
  serve_gdnsd "$dir" "$last"
  if command -v nsd >/dev/null; then
    {
      echo "server:"; echo "  server-count: 1"; echo "  zonesdir: \"$dir\""; echo "  database: \"\""
      echo "  zonelistfile: \"$work/run/zone.list\""; echo "  xfrdfile: \"$work/run/xfrd.state\""
      echo "  pidfile: \"$work/run/nsd.pid\""; echo "  username: \"\""; echo "  port: PORT"
      echo "  ip-address: 127.0.0.1"; echo "remote-control:"; echo "  control-enable: no"
      for f in "$dir"/*.zone; do
        echo "zone:"; echo "  name: $(basename "$f" .zone)"; echo "  zonefile: \"$f\""
      done
    } >"$work/nsd.conf.in"
    serve nsd "$last" "$work/nsd.conf.in" nsd -d -c "$work/server.conf"
  fi
  if command -v knotd >/dev/null; then
    {
      echo "server:"; echo "  listen: 127.0.0.1@PORT"; echo "  rundir: \"$work/run\""
      echo "  udp-workers: 1"; echo "  tcp-workers: 1"; echo "  background-workers: 1"
      echo "database:"; echo "  storage: \"$work/run\""
      echo "template:"; echo "  - id: default"; echo "    storage: \"$dir\""; echo "    file: \"%s.zone\""
      echo "    zonefile-sync: -1"; echo "    journal-content: none"
      echo "zone:"
      for f in "$dir"/*.zone; do echo "  - domain: $(basename "$f" .zone)"; done
    } >"$work/knot.conf.in"
    serve knot "$last" "$work/knot.conf.in" knotd -c "$work/server.conf"
  fi
}

# serve_gdnsd DIR LAST-ZONE [NETWORKS-LIST]: gdnsd (when installed) on the zones of DIR, linked
# under their names as gdnsd wants them; with a list (`CIDR datacenter` lines), on it alone:
# the list as its geoip plugin's `nets` file (beside the shipped database, by continent: gdnsd
# places data centers by coordinates only with a city database) deciding `www` of a small zone.
serve_gdnsd() {
  command -v gdnsd >/dev/null || return 0
  local dir=$1 last=$2 list=${3:-} g=$work/gdnsd f
  rm -rf "$g"; mkdir -p "$g/zones" "$g/geoip"
  {
    echo "options => {"
    echo "  listen => { 127.0.0.1:PORT => { udp_threads => 1, tcp_threads => 1 } }"
    echo "  run_dir => $work/run"; echo "  state_dir => $work/run"
    echo "}"
  } >"$work/gdnsd.conf.in"
  if [ -z "$list" ]; then
    for f in "$dir"/*.zone; do ln -s "$f" "$g/zones/$(basename "$f" .zone)"; done
  else
    awk '!/^#/ && NF >= 2 { print $1 " => " $2 }' "$list" >"$g/geoip/nets"
    ln -s "$GEO" "$g/geoip/geo.mmdb"
    cat >>"$work/gdnsd.conf.in" <<EOF
plugins => { geoip => {
  maps => { m => {
    geoip2_db => geo.mmdb
    datacenters => [ ams, iad, sin ]
    map => { EU => [ams, iad, sin], AF => [ams, iad, sin], NA => [iad, ams, sin], SA => [iad, ams, sin], AS => [sin, ams, iad], OC => [sin, iad, ams], AN => [iad, ams, sin] }
    nets => nets
  } }
  resources => { www => { map => m, dcmap => { ams => 192.0.2.10, iad => 198.51.100.10, sin => 203.0.113.10 } } }
} }
EOF
    printf '$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 3600\n@ NS ns1\nns1 A 192.0.2.1\nwww DYNA geoip!www\n' \
      >"$g/zones/$last"
  fi
  ln -s "$work/server.conf" "$g/config"
  serve gdnsd "$last" "$work/gdnsd.conf.in" gdnsd -c "$g" start
}

# reload LABEL DIR ZONE-FILE ORIGIN: RELOADS reloads, each after raising the zone's serial.
reload_meridian() {
  local label=$1 dir=$2 file=$3 origin=$4 port api pid i t0 serial before
  port=$(free_port); api=$(free_port)
  "$BIN" serve --zones "$dir" --geo "$GEO" --listen "127.0.0.1:$port" --api "127.0.0.1:$api" \
    --state "$work/state.json" --no-watch >"$work/serve.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_soa "$port" "$origin" >/dev/null
  before=$(rss_mb "$pid")
  for i in $(seq 1 "$RELOADS"); do
    sed -i "0,/SOA ns1 hostmaster [0-9]*/s//SOA ns1 hostmaster $((i + 1))/" "$file"
    t0=$(now)
    curl -sf -X POST "http://127.0.0.1:$api/reload" >/dev/null
    echo "$(now) - $t0" | bc >>"$work/reloads"
    serial=$(wait_soa "$port" "$origin")
    [ "$serial" = "$((i + 1))" ] || { echo "$label: serial $serial after reload $i" >&2; break; }
  done
  printf '| %s | %s s | %s MB | %s MB | %s MB |\n' "$label" "$(median <"$work/reloads" | xargs printf '%.3f')" \
    "$before" "$(rss_mb "$pid")" "$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
  rm -f "$work/reloads"
  sed -i "0,/SOA ns1 hostmaster [0-9]*/s//SOA ns1 hostmaster 1/" "$file"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for corpus in $CORPORA; do
  case $corpus in
    zone)
      zone=$work/c/zone/big.test.zone
      echo; echo "## One zone of $RECORDS A records"; echo
      echo "| check | time | peak memory |"; echo "| --- | --- | --- |"
      check "meridian check" "$BIN" check --origin big.test "$zone"
      command -v nsd-checkzone >/dev/null && check "nsd-checkzone" nsd-checkzone big.test "$zone"
      command -v named-checkzone >/dev/null && check "named-checkzone" named-checkzone big.test "$zone"
      echo; echo "| serve | until it answers | resident |"; echo "| --- | --- | --- |"
      serve_all "$work/c/zone" big.test
      echo; echo "| reload after changing it | reload | resident before | after $RELOADS | peak |"
      echo "| --- | --- | --- | --- | --- |"
      reload_meridian "meridian" "$work/c/zone" "$zone" big.test
      ;;
    zones)
      last="z$((ZONES - 1)).test"
      echo; echo "## $ZONES small zones"; echo
      echo "| check | time | peak memory |"; echo "| --- | --- | --- |"
      check "meridian check" "$BIN" check --zones "$work/c/zones" --geo "$GEO"
      echo; echo "| serve | until it answers | resident |"; echo "| --- | --- | --- |"
      serve_all "$work/c/zones" "$last"
      echo; echo "| reload after changing one | reload | resident before | after $RELOADS | peak |"
      echo "| --- | --- | --- | --- | --- |"
      reload_meridian "meridian" "$work/c/zones" "$work/c/zones/z7.test.zone" z7.test
      ;;
    nets)
      echo; echo "## $NETWORKS operator networks (plain-text list)"; echo
      echo "| check | time | peak memory |"; echo "| --- | --- | --- |"
      check "meridian check" "$BIN" check --zones "$work/c/nets" --geo "$GEO"
      echo; echo "| serve | until it answers | resident |"; echo "| --- | --- | --- |"
      serve_meridian "$work/c/nets" example.com
      serve_gdnsd "$work/c/nets" example.com "$work/c/nets/networks.list"
      echo; echo "| reload after changing the zone | reload | resident before | after $RELOADS | peak |"
      echo "| --- | --- | --- | --- | --- |"
      reload_meridian "meridian" "$work/c/nets" "$work/c/nets/change.test.zone" change.test
      ;;
    pools)
      echo; echo "## $POOLS pools"; echo
      echo "| check | time | peak memory |"; echo "| --- | --- | --- |"
      check "meridian check" "$BIN" check --zones "$work/c/pools" --geo "$GEO"
      echo; echo "| serve | until it answers | resident |"; echo "| --- | --- | --- |"
      serve_meridian "$work/c/pools" pool.test
      echo; echo "| reload after changing a zone | reload | resident before | after $RELOADS | peak |"
      echo "| --- | --- | --- | --- | --- |"
      reload_meridian "meridian" "$work/c/pools" "$work/c/pools/pool.test.zone" pool.test
      ;;
    *) echo "unknown corpus $corpus (zone, zones, nets, pools)" >&2; exit 2 ;;
  esac
done
