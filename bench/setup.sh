#!/usr/bin/env bash
# Prepares the side-by-side benchmark on a Debian machine: installs the peer servers and
# tools from Debian's packages (only what is missing), then writes one shared workload into
# a fresh work directory, whose path is printed on the last line of standard output.
#
# usage: bench/setup.sh [--no-install]
#
# The workload (everything the servers and the load generator read):
#   geo.mmdb, networks.tsv, countries.tsv   the geo database and its tables (make-geo.pl)
#   q/*.txt, q/check.tsv                     query files and correctness samples (make-geo.pl)
#   zones/example.test.zone                  plain zone (Knot, NSD; www is a plain A)
#   zones/example.test.gdnsd.zone            gdnsd: www is DYNA geoip!www
#   zones/example.test.pdnslua.zone          PowerDNS bind backend: www is a LUA pickclosest()
#   zones/pdns-geoip.yaml                    PowerDNS GeoIP backend: www by country -> nearest DC
#   meridian/example.test.{zone,toml}        Meridian: zone + GSLB pool over the three DCs
# The three data centers everywhere: eu (50.11, 8.68) 192.0.2.1, us (39.04, -77.49)
# 198.51.100.1, ap (1.35, 103.82) 203.0.113.1; GSLB answers: one address, TTL 300.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(dnsperf gdnsd knot nsd pdns-server pdns-backend-bind pdns-backend-geoip
              libmaxmind-db-writer-perl gcc util-linux procps bind9-dnsutils valgrind)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  # Debian starts a packaged daemon on port 53 when no policy-rc.d forbids it. The benchmark
  # never uses port 53, but an idle daemon still takes memory and wakes up now and then, so
  # stop each through its own init script (never by process name).
  local svc
  for svc in gdnsd knot nsd pdns; do
    if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then
      service "$svc" stop >&2 || true
    fi
  done
}

[[ "${1:-}" == "--no-install" ]] || install_packages

W="$(mktemp -d "${TMPDIR:-/tmp}/meridian-bench.XXXXXX")"
mkdir -p "$W/zones" "$W/meridian" "$W/q"

# ---- geo database, its tables, query files --------------------------------------------
perl "$HERE/make-geo.pl" "$W" >&2

# ---- zones ------------------------------------------------------------------------------
# The shared head: every server serves exactly these records; only www differs.
zone_head() {
  cat <<'EOF'
$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 86400 60
@       3600 IN NS  ns1.example.test.
ns1          IN A   127.0.0.1
static       IN A   192.0.2.10
EOF
}
{ zone_head; echo 'www          IN A   192.0.2.1'; } > "$W/zones/example.test.zone"
{ zone_head; echo 'www      300 DYNA  geoip!www'; } > "$W/zones/example.test.gdnsd.zone"
# pickclosest() orders the candidate ADDRESSES by their own location in the geo database
# (make-geo.pl puts each documentation network at its data center).
{ zone_head; echo "www          IN LUA A \"pickclosest({'192.0.2.1','198.51.100.1','203.0.113.1'})\""; } \
  > "$W/zones/example.test.pdnslua.zone"

# PowerDNS GeoIP backend: it has no notion of distance, so www goes through its custom
# mapping: country code (lower case, as the backend expands %cc) -> the data center nearest
# the country (countries.tsv, computed by make-geo.pl with the same formula as the others).
# Clients it cannot place get eu, the first data center, as gdnsd and Meridian do.
{
  cat <<'EOF'
mapping_lookup_formats: ['%cc']
custom_mapping:
EOF
  while IFS=$'\t' read -r cc _ near; do
    printf "  %s: %s\n" "${cc,,}" "$near"
  done < "$W/countries.tsv"
  cat <<'EOF'
domains:
- domain: example.test
  ttl: 300
  records:
    example.test:
      - soa: ns1.example.test. hostmaster.example.test. 1 7200 3600 86400 60
      - ns: ns1.example.test.
    ns1.example.test:
      - a: 127.0.0.1
    static.example.test:
      - a: 192.0.2.10
    eu.www.example.test:
      - a: 192.0.2.1
    us.www.example.test:
      - a: 198.51.100.1
    ap.www.example.test:
      - a: 203.0.113.1
    unknown.www.example.test:
      - a: 192.0.2.1
  services:
    www.example.test: '%mp.www.example.test'
EOF
} > "$W/zones/pdns-geoip.yaml"

# Meridian: the zone without www (a pool name may not also have a static A) and the pool.
zone_head > "$W/meridian/example.test.zone"
cat > "$W/meridian/example.test.toml" <<'EOF'
# The benchmark's GSLB pool: www over three data centers, one member each, no health checks
# (an unchecked member always counts as up), the nearest data center by the client subnet.
[datacenters.eu]
lat = 50.11
lon = 8.68

[datacenters.us]
lat = 39.04
lon = -77.49

[datacenters.ap]
lat = 1.35
lon = 103.82

[pools.www]
names = ["www"]
ttl = 300
answers = 1
ecs = true
default_order = ["eu", "us", "ap"]

[pools.www.members.eu-1]
datacenter = "eu"
ipv4 = "192.0.2.1"

[pools.www.members.us-1]
datacenter = "us"
ipv4 = "198.51.100.1"

[pools.www.members.ap-1]
datacenter = "ap"
ipv4 = "203.0.113.1"
EOF

printf 'setup: %s queries in gslb-ecs.txt, %s distinct client subnets\n' \
  "$(wc -l < "$W/q/gslb-ecs.txt")" "$(awk '{print $3}' "$W/q/gslb-ecs.txt" | sort -u | wc -l)" >&2
echo "$W"
