//! The catchment map: a world map, as SVG, with each country filled by the data center that
//! answers its clients for one pool, and the data centers marked with their state.
//!
//! Each country's clients are placed where the geo database places a country-level record
//! (the shipped country table's point, continent and code) and ordered by the same code that
//! answers queries ([`policy::choose`]), so maps, bias, health, drains and overrides count as
//! they do for a query. Traffic dials split a country's networks between data centers: the
//! map colours a country by the data center that keeps it whole, so a dial of 0 (a graceful
//! drain) moves the country and a partial dial is shown in the legend, not as a colour.
//! Operator networks are not countries: they are listed under the map with their answer.
//!
//! Pure: a snapshot in, a string out; `meridian map` renders from files (every member up),
//! `GET /map.svg` from what the server answers with now.

use std::fmt::Write;

use crate::config::gslb::{DcId, Pool};
use crate::geo::distance::Unit;
use crate::geo::{Code, Location, Precision};
use crate::health::{HealthSnapshot, Snapshot};
use crate::policy::{self, Ask, Client, Family, Health, Located, View};

/// Country shapes: `CODE<TAB>SVG path`, made by `scripts/geo/make-world-map.py` from Natural
/// Earth's 1:110m countries (see `geo/NOTICE`), in the projection of [`project`].
const SHAPES: &str = include_str!("../geo/world-110m.tsv");

/// Width of the map in SVG units; the height follows from the latitudes shown.
const WIDTH: f64 = 960.0;
/// The latitudes the map shows (Antarctica is left out: no DNS client lives there).
const NORTH: f64 = 84.0;
const SOUTH: f64 = -58.0;
/// Height of the map part (the legend and networks go below it).
const HEIGHT: f64 = (NORTH - SOUTH) * WIDTH / 360.0;
/// Operator networks listed at most (a list of a million networks is not a picture).
const MAX_NETWORKS: usize = 40;

/// Fill colours of data centers, in the configuration's order (Tableau 10: distinct and
/// readable for the common forms of colour blindness).
pub const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
/// Fill of a country no data center answers (no member of the family, SERVFAIL fallback).
pub const NO_ANSWER: &str = "#e0e0e0";

/// The colour of data center `dc`.
pub fn colour(dc: DcId) -> &'static str {
    PALETTE[dc % PALETTE.len()]
}

/// `(lon, lat)` on the map.
fn project(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(SOUTH, NORTH);
    ((lon + 180.0) * WIDTH / 360.0, (NORTH - lat) * WIDTH / 360.0)
}

/// What to draw.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// The pool (by name); the first pool when `None`.
    pub pool: Option<&'a str>,
    /// Data centers simulated as failed (by name), as `explain --down` does.
    pub down: &'a [String],
    /// Where the health comes from, shown under the title.
    pub source: &'a str,
}

/// The health the map is drawn with: the snapshot's, with the simulated failures, and each
/// traffic dial reduced to keeping all (above 0) or none (0) of a country.
struct MapHealth<'a> {
    inner: &'a HealthSnapshot,
    gslb: &'a crate::config::gslb::Gslb,
    pool: &'a Pool,
    down: &'a [DcId],
}

impl MapHealth<'_> {
    fn kept(&self, pool: usize, dc: DcId) -> u8 {
        if policy::dial_in_force(self.gslb, pool, dc, self.inner).1 == 0 { 0 } else { 100 }
    }
}

impl Health for MapHealth<'_> {
    fn view(&self, pool: usize, member: usize) -> View {
        if self.down.contains(&self.pool.members[member].dc) { View::Down } else { self.inner.view(pool, member) }
    }

    fn rtt(&self, pool: usize, member: usize) -> Option<f64> {
        self.inner.rtt(pool, member)
    }

    fn pool_dial(&self, pool: usize, dc: DcId) -> Option<u8> {
        Some(self.kept(pool, dc))
    }

    fn spill(&self, _dc: DcId) -> u8 {
        100
    }
}

/// A data center's state for this pool, as the legend says it, and whether it can serve.
fn state(snapshot: &Snapshot, health: &MapHealth<'_>, pool_id: usize, dc: DcId) -> (String, bool) {
    let pool = health.pool;
    let members: Vec<usize> = (0..pool.members.len()).filter(|&m| pool.members[m].dc == dc).collect();
    let views: Vec<View> = members.iter().map(|&m| health.view(pool_id, m)).collect();
    let up = views.iter().filter(|v| **v == View::Up).count();
    let serving = up > 0;
    let mut words = if health.down.contains(&dc) {
        "simulated down".to_string()
    } else if !views.is_empty() && views.iter().all(|v| *v == View::Drained) {
        "drained".to_string()
    } else if up == 0 {
        "down".to_string()
    } else {
        format!("{up}/{} members up", views.len())
    };
    let (set, dial) = policy::dial_in_force(health.gslb, pool_id, dc, &snapshot.health);
    if dial < 100 {
        let by = if dial < set { " (capacity spillover)" } else { "" };
        let _ = write!(words, ", dial {dial}%{by}");
    }
    (words, serving)
}

/// Text for XML or HTML (text or a quoted attribute) with `&`, `<`, `>`, `"` and `'`
/// escaped; the status page uses it too.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The SVG map of `request.pool` for `snapshot`; errors name an unknown pool or data center
/// and list the known ones.
pub fn render(snapshot: &Snapshot, request: &Request<'_>) -> Result<String, String> {
    let config = &snapshot.config;
    let gslb = &config.gslb;
    let names = |v: &mut dyn Iterator<Item = &str>| v.collect::<Vec<_>>().join(", ");
    let pool_id = match request.pool {
        None => 0,
        Some(name) => gslb.pools.iter().position(|p| p.name == name).ok_or_else(|| {
            format!("unknown pool '{name}' (defined: {})", names(&mut gslb.pools.iter().map(|p| p.name.as_str())))
        })?,
    };
    let Some(pool) = gslb.pools.get(pool_id) else {
        return Err("the configuration defines no pool".into());
    };
    let mut down = Vec::new();
    for d in request.down {
        down.push(gslb.datacenter(d).ok_or_else(|| {
            format!(
                "unknown data center '{d}' (defined: {})",
                names(&mut gslb.datacenters.iter().map(|d| d.name.as_str()))
            )
        })?);
    }
    let health = MapHealth { inner: &snapshot.health, gslb, pool, down: &down };
    let family =
        if pool.members.iter().any(|m| m.ipv4.is_some() || m.cname.is_some()) { Family::V4 } else { Family::V6 };
    let client = Client { addr: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), prefix: 0, from_ecs: true };
    let answer = |located: &Located<'_>, client: &Client| {
        let ask = Ask { pool: pool_id, family, located, client, seed: 0 };
        policy::choose(gslb, &ask, &health, None)
    };

    // The pool's data centers, in the configuration's order.
    let mut in_pool: Vec<DcId> = pool.members.iter().map(|m| m.dc).collect();
    in_pool.sort_unstable();
    in_pool.dedup();
    let mut countries_of = vec![0usize; gslb.datacenters.len()];

    let mut shapes = String::new();
    for line in SHAPES.lines() {
        let Some((code, path)) = line.split_once('\t') else { continue };
        let place = Code::new(code).and_then(|c| config.geo.country(c).map(|(continent, point)| (c, continent, point)));
        let (fill, served_by, fallback) = match place {
            Some((country, continent, point)) => {
                let location = Location {
                    point,
                    precision: Precision::Country,
                    continent: Some(continent),
                    country: Some(country),
                    subdivision: None,
                };
                let located = Located::Geo { location, prefix: 0, unit: Unit::of(point) };
                let decision = answer(&located, &client);
                match decision.datacenter {
                    Some(dc) => {
                        countries_of[dc] += 1;
                        (colour(dc), Some(dc), decision.fallback.is_some())
                    }
                    None => (NO_ANSWER, None, decision.fallback.is_some()),
                }
            }
            None => (NO_ANSWER, None, false),
        };
        let name = crate::geo::country_name(code).unwrap_or(code);
        let who = served_by.map_or("no answer".to_string(), |dc| gslb.datacenters[dc].name.clone());
        let class = match (served_by, fallback) {
            (Some(dc), false) => format!("dc-{}", esc(&gslb.datacenters[dc].name)),
            (Some(dc), true) => format!("dc-{} fallback", esc(&gslb.datacenters[dc].name)),
            (None, _) => "none".to_string(),
        };
        let _ = writeln!(
            shapes,
            r#"<path id="country-{code}" class="{class}" fill="{fill}" d="{path}"><title>{} ({code}): {}{}</title></path>"#,
            esc(name),
            esc(&who),
            if fallback { " (fallback: no data center could serve)" } else { "" }
        );
    }

    // Data centers: a dot where they are, crossed out when they cannot serve.
    let mut points = String::new();
    let mut legend = String::new();
    let mut y = HEIGHT + 40.0;
    for &dc in &in_pool {
        let d = &gslb.datacenters[dc];
        let (x, py) = project(d.point.lon, d.point.lat);
        let (words, serving) = state(snapshot, &health, pool_id, dc);
        let class = if serving { "datacenter" } else { "datacenter out" };
        let name = esc(&d.name);
        let _ = write!(
            points,
            r##"<g id="dc-{name}" class="{class}"><circle cx="{x:.1}" cy="{py:.1}" r="6" fill="{}" stroke="#222" stroke-width="1.5"/>"##,
            colour(dc)
        );
        if !serving {
            let _ = write!(
                points,
                r##"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="#c00" stroke-width="2.5"/>"##,
                x - 7.0,
                py - 7.0,
                x + 7.0,
                py + 7.0,
                x - 7.0,
                py + 7.0,
                x + 7.0,
                py - 7.0
            );
        }
        let _ = writeln!(
            points,
            r#"<text x="{:.1}" y="{:.1}" class="label">{name}</text><title>{name}: {}</title></g>"#,
            x + 9.0,
            py + 4.0,
            esc(&words)
        );
        let _ = writeln!(
            legend,
            r##"<g class="legend-entry" id="legend-{name}"><rect x="12" y="{:.1}" width="14" height="14" fill="{}" stroke="#222"/><text x="32" y="{:.1}">{name}: {} countries; {}</text></g>"##,
            y - 11.0,
            colour(dc),
            y,
            countries_of[dc],
            esc(&words)
        );
        y += 20.0;
    }

    // Operator networks, with what they are answered.
    let mut networks = String::new();
    let mut listed: Vec<crate::config::gslb::Network<'_>> = gslb.networks.iter().collect();
    listed.sort_by_key(|n| n.net);
    if !listed.is_empty() {
        y += 8.0;
        let _ = writeln!(networks, r#"<text x="12" y="{y:.1}" class="heading">Operator networks</text>"#);
        y += 18.0;
    }
    for n in listed.iter().take(MAX_NETWORKS) {
        let client = Client { addr: n.net.addr(), prefix: n.net.prefix_len(), from_ecs: true };
        let located = policy::locate(gslb, &config.geo, &client);
        let decision = answer(&located, &client);
        let who = decision.datacenter.map_or("no answer".to_string(), |dc| gslb.datacenters[dc].name.clone());
        let fill = decision.datacenter.map_or(NO_ANSWER, colour);
        let _ = writeln!(
            networks,
            r##"<g class="network"><rect x="12" y="{:.1}" width="10" height="10" fill="{fill}" stroke="#222"/><text x="28" y="{y:.1}">{} → {}</text></g>"##,
            y - 9.0,
            n.net,
            esc(&who)
        );
        y += 16.0;
    }
    if listed.len() > MAX_NETWORKS {
        let _ = writeln!(networks, r#"<text x="12" y="{y:.1}">and {} more</text>"#, listed.len() - MAX_NETWORKS);
        y += 16.0;
    }

    let total = y + 4.0;
    let mut out = String::with_capacity(SHAPES.len() + 8192);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total:.0}" width="{WIDTH}" height="{total:.0}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        out,
        "<title>Meridian: who answers pool {} around the world</title>\n<desc>{}</desc>",
        esc(&pool.name),
        esc(request.source)
    );
    out.push_str(
        "<style>.label{font-weight:bold;paint-order:stroke;stroke:#fff;stroke-width:3px}\
         .fallback{fill-opacity:0.45}.heading{font-weight:bold}path{stroke:#fff;stroke-width:0.4}</style>\n",
    );
    let _ = writeln!(out, r##"<rect width="{WIDTH}" height="{HEIGHT:.1}" fill="#f4f8fb"/>"##);
    let _ = writeln!(out, "<g id=\"countries\">\n{shapes}</g>");
    let _ = writeln!(out, "<g id=\"datacenters\">\n{points}</g>");
    let mut caption = format!("pool {}", pool.name);
    if !request.down.is_empty() {
        let _ = write!(caption, "; simulated down: {}", request.down.join(", "));
    }
    let _ = writeln!(
        out,
        r#"<g id="legend"><text x="12" y="{:.1}" class="heading">{}</text><text x="12" y="{:.1}" font-size="11">{}</text>"#,
        HEIGHT + 20.0,
        esc(&caption),
        HEIGHT - 6.0,
        esc(request.source)
    );
    out.push_str(&legend);
    out.push_str(&networks);
    out.push_str("</g>\n</svg>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shape_is_a_country_the_geo_tables_can_place_and_name() {
        let db =
            crate::geo::GeoDb::open(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb"))
                .unwrap();
        let mut shapes = 0;
        for line in super::SHAPES.lines() {
            let (code, path) = line.split_once('\t').unwrap();
            let c = crate::geo::Code::new(code).unwrap();
            assert!(db.country(c).is_some(), "{code} has a shape but no point");
            assert!(crate::geo::country_name(code).is_some(), "{code} has no name");
            assert!(path.starts_with('M') && path.ends_with('Z'), "{code}");
            shapes += 1;
        }
        assert!(shapes > 170, "{shapes}");
        assert_eq!(crate::geo::country_name("FR"), Some("France"));
    }

    #[test]
    fn text_from_the_configuration_is_escaped() {
        assert_eq!(super::esc(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
