#!/usr/bin/env bash
# Runs every test. On a fresh Debian machine it first installs what the tests talk to:
# dig (dnsutils), named-checkzone (bind9-utils), NSD (nsd) for the differential test and
# Unbound (unbound) for the resolver tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dig >/dev/null || need+=(dnsutils)
command -v named-checkzone >/dev/null || need+=(bind9-utils)
[ -x /usr/sbin/nsd ] || need+=(nsd)
[ -x /usr/sbin/unbound ] || need+=(unbound)
if ((${#need[@]})); then
  echo "installing test tools: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The nsd and unbound packages may start system daemons on port 53; the tests run their own
  # on loopback ports.
  $sudo systemctl disable --now nsd unbound >/dev/null 2>&1 || true
fi

cargo test --locked "$@"
