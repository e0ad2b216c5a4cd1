#!/usr/bin/env python3
"""Derive geo/world-110m.tsv: one SVG path per country, for `meridian map` and `/map.svg`.

Sources (registry packages, fetched with `npm pack`, never committed):
  - world-atlas 2.0.2 (npm, https://github.com/topojson/world-atlas): countries-110m.json,
    Natural Earth's 1:110m Admin 0 countries (public domain) as TopoJSON, ISC licence,
    Copyright 2013-2019 Michael Bostock. Each country's `id` is its ISO 3166-1 numeric code.
  - i18n-iso-countries 7.14.0 (npm, https://github.com/michaelwittig/node-i18n-iso-countries):
    codes.json, ISO 3166-1 numeric -> alpha-2. MIT licence.

Rerun (from the repository root; python3's standard library only):
  mkdir -p /tmp/mapsrc && (cd /tmp/mapsrc && npm pack world-atlas@2.0.2 i18n-iso-countries@7.14.0 \
      && for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done)
  python3 scripts/geo/make-world-map.py /tmp/mapsrc/world-atlas-2.0.2/package \
      /tmp/mapsrc/i18n-iso-countries-7.14.0/package geo/world-110m.tsv

What it does: decodes the TopoJSON arcs (quantized, delta-encoded) into each country's rings,
projects them equirectangularly onto a 960-wide canvas cut at 84 N and 58 S (Antarctica is
left out: no DNS client lives there), rounds to 0.1 pixel, drops points that round onto the
previous one, draws rings that cross the antimeridian on both sides of it, and writes `CODE<TAB>path` lines sorted by code. Three Natural Earth features
have no ISO code: Kosovo is XK (as IP databases code it), N. Cyprus and Somaliland are drawn
as part of CY and SO. The projection is the one src/map.rs uses to place data centers:
x = (lon + 180) * 960 / 360, y = (84 - lat) * 960 / 360.
"""

import json
import os
import sys

WIDTH = 960.0
NORTH, SOUTH = 84.0, -58.0
SCALE = WIDTH / 360.0
NO_CODE = {"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO"}
PINNED = {"world-atlas": "2.0.2", "i18n-iso-countries": "7.14.0"}


def version_of(package_dir):
    with open(os.path.join(package_dir, "package.json")) as f:
        meta = json.load(f)
    return meta["name"], meta["version"]


def project(lon, lat):
    lat = max(min(lat, NORTH), SOUTH)
    return round((lon + 180.0) * SCALE, 1), round((NORTH - lat) * SCALE, 1)


def main(atlas_dir, codes_dir, out_path):
    for d in (atlas_dir, codes_dir):
        name, version = version_of(d)
        if PINNED.get(name) != version:
            sys.exit(f"{d}: {name} {version}, expected one of {PINNED} (change PINNED and geo/NOTICE together)")
    with open(os.path.join(atlas_dir, "countries-110m.json")) as f:
        topo = json.load(f)
    with open(os.path.join(codes_dir, "codes.json")) as f:
        alpha2 = {numeric: a2 for a2, _a3, numeric, *_ in json.load(f)}
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes):
        points = []
        for i in indexes:
            arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
            points.extend(arc if not points else arc[1:])
        return points

    paths = {}
    for g in topo["objects"]["countries"]["geometries"]:
        name = g["properties"]["name"]
        code = NO_CODE.get(name) if not g.get("id") else alpha2.get(g["id"])
        if code is None:
            sys.exit(f"no ISO code for {name} ({g.get('id')})")
        if code == "AQ":
            continue
        polygons = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        out = []
        for polygon in polygons:
            for r in polygon:
                lonlats = ring(r)
                # A ring across the antimeridian (Chukotka, Fiji) would streak across the map:
                # drawn east of 180 instead, and again shifted a whole map west, so that the
                # canvas shows both sides of the line.
                crosses = any(abs(a[0] - b[0]) > 180 for a, b in zip(lonlats, lonlats[1:]))
                if crosses:
                    lonlats = [(lon + 360 if lon < 0 else lon, lat) for lon, lat in lonlats]
                for shift in ([0, -360] if crosses else [0]):
                    pts = []
                    for lon, lat in lonlats:
                        p = project(lon + shift, lat)
                        if not pts or pts[-1] != p:
                            pts.append(p)
                    if len(pts) < 3:
                        continue
                    out.append("M" + "L".join(f"{x:g} {y:g}" for x, y in pts) + "Z")
        if out:
            paths[code] = paths.get(code, "") + "".join(out)
    with open(out_path, "w") as f:
        for code in sorted(paths):
            f.write(f"{code}\t{paths[code]}\n")
    print(f"{out_path}: {len(paths)} countries, {os.path.getsize(out_path)} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
