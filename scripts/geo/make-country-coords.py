#!/usr/bin/env python3
"""Derive geo/country-coords.csv and geo/continent-coords.csv.

Sources (registry packages, fetched with `npm pack`, never committed):
  - world-countries 5.1.0 (npm): `cca2` and `latlng` per country, the usual country
    "centroid" used by geo-DNS tools. Licence: ODbL 1.0 (Open Data Commons Open Database
    License); the derived table is therefore also offered under ODbL 1.0, see geo/NOTICE.
  - countries-list 3.4.1 (npm, MIT): the continent of each country code.
  - the shipped geo/dbip-country.mmdb, only to check that every country code it contains
    has a row.

Rerun:
  mkdir -p /tmp/geosrc && cd /tmp/geosrc
  npm pack world-countries@5.1.0 countries-list@3.4.1
  for f in *.tgz; do mkdir -p "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
  pip install maxminddb
  python3 scripts/geo/make-country-coords.py /tmp/geosrc/world-countries-5.1.0/package \
      /tmp/geosrc/countries-list-3.4.1/package geo/dbip-country.mmdb geo

The continent points are the approximate geographic centres of each continent's land mass
(rounded to whole tenths of a degree), chosen by hand; they only place clients whose database
record names a continent and no country.
"""

import csv
import json
import sys
from pathlib import Path

CONTINENT_CODES = {
    "Africa": "AF",
    "Antarctica": "AN",
    "Asia": "AS",
    "Europe": "EU",
    "North America": "NA",
    "Oceania": "OC",
    "South America": "SA",
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

# Codes that databases use but that are not (or not separately) in world-countries, with a
# representative point. EU and AP are DB-IP/MaxMind pseudo-codes for "somewhere in Europe /
# Asia-Pacific": they get their continent's point.
EXTRA = {
    "EU": ("EU", 48.7, 9.1, "Europe (unspecified)"),
    "AP": ("AS", 29.8, 89.3, "Asia-Pacific (unspecified)"),
}


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    world, clist, mmdb, out = (Path(a) for a in sys.argv[1:])
    countries = json.loads((world / "countries.json").read_text())
    continent_of = {}
    with open(clist / "countries.csv", newline="") as f:
        for row in csv.DictReader(f):
            continent_of[row["Code"]] = CONTINENT_CODES[row["Continent"]]
    rows = {}
    for c in countries:
        code = c["cca2"]
        lat, lon = c["latlng"]
        continent = continent_of.get(code)
        if continent is None:
            print(f"no continent for {code} ({c['name']['common']}); skipped", file=sys.stderr)
            continue
        rows[code] = (continent, round(lat, 2), round(lon, 2), c["name"]["common"])
    for code, row in EXTRA.items():
        rows.setdefault(code, row)

    import maxminddb  # only needed for the coverage check

    missing = set()
    with maxminddb.open_database(str(mmdb)) as reader:
        for _network, record in reader:
            code = (record or {}).get("country_code")
            if code and code not in rows:
                missing.add(code)
    if missing:
        print(f"codes in {mmdb} without a row: {sorted(missing)}", file=sys.stderr)
        return 1

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
    print(f"wrote {len(rows)} countries and {len(CONTINENT_POINTS)} continents to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
