#!/bin/bash
# Builds the XDP program's object, xdp/meridian_xdp.o, from xdp/meridian_xdp.c.
#
# The object is committed, so building Meridian needs no BPF toolchain; run this after changing
# the C file and commit both. It needs clang and llvm (Debian: apt-get install clang llvm;
# the committed object was made with Debian 12's clang 14).
#
# `--check` builds into a temporary file and compares its instructions and relocations with
# the committed object's (scripts/test.sh runs it): a source changed without its object fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build() {
    clang -target bpf -mcpu=v3 -O2 -g -Wall -Werror -c xdp/meridian_xdp.c -o "$1"
    # Drops the DWARF, keeps BTF (the maps are declared through it).
    llvm-strip -g "$1"
}
if [ "${1:-}" != "--check" ]; then
    build xdp/meridian_xdp.o
    exit 0
fi
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
build "$fresh"
code() { llvm-objdump -d -r "$1" | tail -n +3; }
if ! diff <(code xdp/meridian_xdp.o) <(code "$fresh") >/dev/null; then
    echo "xdp/meridian_xdp.o does not match xdp/meridian_xdp.c: run scripts/build-xdp.sh and commit the object" >&2
    diff <(code xdp/meridian_xdp.o) <(code "$fresh") | head -20 >&2
    exit 1
fi
echo "xdp/meridian_xdp.o matches xdp/meridian_xdp.c"
