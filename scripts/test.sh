#!/usr/bin/env bash
# Runs every test. On a fresh Debian machine it first installs what the tests talk to:
# dig (dnsutils), named-checkzone (bind9-utils), NSD (nsd) for the differential test,
# Unbound (unbound) for the resolver tests, etcd (etcd-server, and etcdctl from etcd-client)
# for the fleet tests, Knot (knot) as a secondary in the transfer tests and kdig
# (knot-dnsutils) for DNS over TLS and HTTPS, headless Chromium (chromium) for the status
# page test and README's screenshots, libfaketime (faketime) for the DNSSEC test of
# expired signatures, and DNSViz (dnsviz, python3-pygraphviz) with BIND's named (bind9), which
# it runs, for the DNSSEC analysis of the signed example; clang and llvm to check that the
# committed XDP program's object matches its source, iproute2 for the XDP tests' namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dig >/dev/null || need+=(dnsutils)
command -v named-checkzone >/dev/null || need+=(bind9-utils)
[ -x /usr/sbin/nsd ] || need+=(nsd)
[ -x /usr/sbin/unbound ] || need+=(unbound)
[ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
[ -x /usr/sbin/knotd ] || need+=(knot)
command -v kdig >/dev/null || need+=(knot-dnsutils)
command -v chromium >/dev/null || need+=(chromium)
command -v faketime >/dev/null || need+=(faketime)
command -v dnsviz >/dev/null || need+=(dnsviz python3-pygraphviz)
[ -x /usr/sbin/named ] || need+=(bind9)
command -v clang >/dev/null || need+=(clang)
command -v llvm-objdump >/dev/null || need+=(llvm)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
  echo "installing test tools: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The nsd, unbound, etcd and knot packages may start system daemons (port 53, 2379); the
  # tests run their own on loopback ports chosen at run time.
  $sudo systemctl disable --now nsd unbound etcd knot named >/dev/null 2>&1 || true
fi

./scripts/build-xdp.sh --check
cargo test --locked "$@"
