//! Client address -> location.
//!
//! A [`GeoDb`] wraps a MaxMind DB file (read leniently, see [`mmdb`]) and the shipped tables
//! of country and continent coordinates (`geo/country-coords.csv`, `geo/continent-coords.csv`,
//! compiled in). [`GeoDb::locate`] returns the [`Location`] of an address, or none for
//! addresses the database does not know (private, loopback, unallocated), with the prefix
//! length of the database network that matched: the ECS scope of an answer decided by it.
//! [`NetworkTable`] is the longest-prefix match the operator's own networks use.

pub mod code;
pub mod distance;
pub mod mmdb;
pub mod networks;
mod tree;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use code::Code;
pub use distance::{Point, Unit, distance_km};
pub use networks::NetworkTable;

/// Country code -> continent and coordinates, derived by `scripts/geo/make-country-coords.py`.
const COUNTRY_TABLE: &str = include_str!("../../geo/country-coords.csv");
/// Continent code -> coordinates.
const CONTINENT_TABLE: &str = include_str!("../../geo/continent-coords.csv");

/// How precise a location is: where its coordinates came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The database record's own coordinates (a city, usually).
    Record,
    /// The country's representative point.
    Country,
    /// The continent's representative point.
    Continent,
}

/// Where a client is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    /// Coordinates.
    pub point: Point,
    /// Where the coordinates came from.
    pub precision: Precision,
    /// Continent code.
    pub continent: Option<Code>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<Code>,
    /// ISO 3166-2 subdivision code without the country part (`CA` of `US-CA`).
    pub subdivision: Option<Code>,
}

/// The result of a database lookup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoHit {
    /// The location, when the database knows the address and it can be placed.
    pub location: Option<Location>,
    /// Prefix length of the database network that matched (with or without data).
    pub prefix: u8,
    /// The location's point as a unit vector (worked out with the location).
    pub unit: Option<Unit>,
}

impl GeoHit {
    /// A hit on a network of `prefix` bits, placed or not.
    fn at(place: Option<(Location, Unit)>, prefix: u8) -> GeoHit {
        GeoHit { location: place.map(|p| p.0), prefix, unit: place.map(|p| p.1) }
    }
}

/// A location with its point's unit vector.
fn with_unit(location: Location) -> (Location, Unit) {
    (location, Unit::of(location.point))
}

/// Why a geo database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read or is not a MaxMind DB.
    #[error("{path}: cannot open the geo database: {reason} (use --geo FILE to pick another)")]
    Open {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Most database records whose locations are worked out when the database is opened. A
/// country database has a few hundred distinct records and a city database up to a few
/// million; past this many (about 10 MiB of table) the rest are decoded at each lookup.
const MAX_PLACED_RECORDS: usize = 200_000;

/// The bytes of a database file, shared by the crate's reader and our own tree walk.
#[derive(Clone)]
struct Bytes(std::sync::Arc<[u8]>);

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A geo database with its coordinate tables.
pub struct GeoDb {
    reader: maxminddb::Reader<Bytes>,
    /// The file's bytes, shared with `reader`: the search tree is at their start.
    bytes: Bytes,
    /// The first 16 steps of every IPv4 walk of the tree, when it has an IPv4 part.
    v4: Option<tree::TreeIndex>,
    /// The first 16 steps of every IPv6 walk, for an IPv6 tree.
    v6: Option<tree::TreeIndex>,
    path: PathBuf,
    countries: HashMap<Code, (Code, Point)>,
    continents: HashMap<Code, Point>,
    /// The location of each record (by its offset in the data section), worked out once when
    /// the file is read: a lookup is then a walk of the search tree and one table probe,
    /// rather than decoding a record per query. The table belongs to this database, so a
    /// reload, which opens a new one, can never answer from the old file's records.
    places: HashMap<usize, Option<(Location, Unit)>, rustc_hash::FxBuildHasher>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).finish_non_exhaustive()
    }
}

impl GeoDb {
    /// Opens and verifies the database at `path`.
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        let err = |reason: String| GeoError::Open { path: path.to_path_buf(), reason };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        GeoDb::from_bytes(bytes, path).map_err(|e| match e {
            GeoError::Open { reason, .. } => err(reason),
        })
    }

    /// Builds a database from the bytes of a MaxMind DB file; `path` is used in messages.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<GeoDb, GeoError> {
        let err = |reason: String| GeoError::Open { path: path.to_path_buf(), reason };
        let bytes = Bytes(bytes.into());
        let reader = maxminddb::Reader::from_source(bytes.clone()).map_err(|e| err(e.to_string()))?;
        // A truncated or corrupt file can open and still fail on lookups: walk the whole
        // search tree and decode every record now, once, rather than fail mid-query.
        // (`Reader::verify` would do more, but it also refuses files whose metadata has an
        // empty description map, which the DB-IP files we ship have.)
        let records = check_records(&reader).map_err(|e| err(format!("the file is damaged: {e}")))?;
        let meta = reader.metadata();
        let (nodes, size, version) = (meta.node_count as usize, meta.record_size, meta.ip_version);
        let v4 = tree::TreeIndex::build(bytes.as_ref(), nodes, size, version);
        let v6 = tree::TreeIndex::build_v6(bytes.as_ref(), nodes, size, version);
        let mut db = GeoDb {
            reader,
            bytes,
            v4,
            v6,
            path: path.to_path_buf(),
            countries: country_table(),
            continents: continent_table(),
            places: HashMap::default(),
        };
        let places = records.into_iter().map(|(offset, raw)| (offset, db.place(&raw).map(with_unit))).collect();
        db.places = places;
        Ok(db)
    }

    /// The file this database was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database's build time, seconds since the Unix epoch.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The database type string from its metadata (`DBIP-Country-Lite`, `GeoIP2-City`, ...).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Locates `addr`.
    pub fn locate(&self, addr: IpAddr) -> GeoHit {
        // Through the index when the walk ends somewhere known; anything else (no index, a
        // record not in the table of places) through the crate.
        let tree = self.bytes.as_ref();
        let walk = match addr {
            IpAddr::V4(a) => self.v4.as_ref().and_then(|i| i.walk(tree, u32::from(a))),
            IpAddr::V6(a) => self.v6.as_ref().and_then(|i| i.walk_v6(tree, u128::from(a))),
        };
        match walk {
            Some(tree::Walk::NoData(prefix)) => GeoHit::at(None, prefix),
            Some(tree::Walk::Data(offset, prefix)) => match self.places.get(&offset) {
                Some(&place) => GeoHit::at(place, prefix),
                None => self.locate_by_crate(addr),
            },
            None => self.locate_by_crate(addr),
        }
    }

    /// Calls `f(first, len, record)` for every network of the database in one address family
    /// (`v6`), in address order, covering the whole space: `first` is the network's first
    /// address as a number (32 or 128 bits), `len` its prefix length, `record` the offset of its
    /// record (`None`: no data; [`GeoDb::place_at`] tells where a record is). False when the
    /// tree cannot be walked this way or has more than `limit` networks.
    pub fn for_each_network(&self, v6: bool, limit: usize, mut f: impl FnMut(u128, u8, Option<usize>)) -> bool {
        let meta = self.reader.metadata();
        let (nodes, size, version) = (meta.node_count as usize, meta.record_size, meta.ip_version);
        tree::for_each_network(self.bytes.as_ref(), nodes, size, version, v6, limit, |first, len, walk| {
            f(
                first,
                len,
                match walk {
                    tree::Walk::Data(offset, _) => Some(offset),
                    tree::Walk::NoData(_) => None,
                },
            )
        })
    }

    /// The number of nodes of the search tree.
    pub fn node_count(&self) -> usize {
        self.reader.metadata().node_count as usize
    }

    /// Where the record at `offset` places a client (the record a network of `addr` has, from
    /// [`GeoDb::for_each_network`]), with the point's unit vector: worked out at load, or
    /// decoded now for a database with more records than are placed at load.
    pub fn place_at(&self, offset: usize, addr: IpAddr) -> Option<(Location, Unit)> {
        match self.places.get(&offset) {
            Some(&place) => place,
            None => {
                let hit = self.locate_by_crate(addr);
                hit.location.zip(hit.unit)
            }
        }
    }

    /// [`GeoDb::locate`] by the `maxminddb` crate's lookup alone.
    fn locate_by_crate(&self, addr: IpAddr) -> GeoHit {
        let Ok(result) = self.reader.lookup(addr) else {
            // An IPv6 address in an IPv4-only database: nothing is known.
            return GeoHit::at(None, 0);
        };
        let prefix = result.network().map_or(0, |n| n.prefix());
        if let Some(&place) = result.offset().and_then(|o| self.places.get(&o)) {
            return GeoHit::at(place, prefix);
        }
        let place = match result.decode::<mmdb::RawLocation>() {
            Ok(Some(raw)) => self.place(&raw).map(with_unit),
            _ => None,
        };
        GeoHit::at(place, prefix)
    }

    /// Turns a record into a location: the record's coordinates when it has them, else its
    /// country's, else its continent's.
    pub fn place(&self, raw: &mmdb::RawLocation) -> Option<Location> {
        let from_country = raw.country.and_then(|c| self.countries.get(&c));
        let continent = raw.continent.or(from_country.map(|(c, _)| *c));
        let (point, precision) = match (raw.latitude, raw.longitude) {
            (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                (Point { lat, lon }, Precision::Record)
            }
            _ => match (from_country, continent.and_then(|c| self.continents.get(&c))) {
                (Some((_, p)), _) => (*p, Precision::Country),
                (None, Some(p)) => (*p, Precision::Continent),
                (None, None) => return None,
            },
        };
        Some(Location { point, precision, continent, country: raw.country, subdivision: raw.subdivision })
    }

    /// The representative point and continent of a country code, from the shipped table.
    pub fn country(&self, code: Code) -> Option<(Code, Point)> {
        self.countries.get(&code).copied()
    }

    /// The representative point of a continent code.
    pub fn continent(&self, code: Code) -> Option<Point> {
        self.continents.get(&code).copied()
    }
}

/// Walks every network of the database and decodes each distinct record once; returns the
/// first [`MAX_PLACED_RECORDS`] of them by offset. The walk is bounded by three times the node
/// count, so a cyclic tree cannot make it loop forever.
fn check_records(reader: &maxminddb::Reader<Bytes>) -> Result<Vec<(usize, mmdb::RawLocation)>, String> {
    let limit = (reader.metadata().node_count as usize).saturating_mul(3).max(1);
    let mut seen = std::collections::HashSet::new();
    let mut records = Vec::new();
    let networks = reader.networks(Default::default()).map_err(|e| e.to_string())?;
    for (count, lookup) in networks.enumerate() {
        if count > limit {
            return Err("the search tree does not end (a cycle?)".into());
        }
        let lookup = lookup.map_err(|e| e.to_string())?;
        if let Some(offset) = lookup.offset()
            && seen.insert(offset)
        {
            let raw = lookup.decode::<mmdb::RawLocation>().map_err(|e| e.to_string())?;
            if let Some(raw) = raw.filter(|_| records.len() < MAX_PLACED_RECORDS) {
                records.push((offset, raw));
            }
        }
    }
    Ok(records)
}

/// The English name of a country code, from the shipped table.
pub fn country_name(code: &str) -> Option<&'static str> {
    COUNTRY_TABLE.lines().skip(1).find_map(|l| {
        let mut f = l.split(',');
        (f.next()? == code).then(|| f.nth(3)).flatten().map(str::trim)
    })
}

fn csv_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(str::trim).collect())
}

fn country_table() -> HashMap<Code, (Code, Point)> {
    csv_rows(COUNTRY_TABLE)
        .filter_map(|f| {
            let code = Code::new(f.first()?)?;
            let continent = Code::new(f.get(1)?)?;
            let lat = f.get(2)?.parse().ok()?;
            let lon = f.get(3)?.parse().ok()?;
            Some((code, (continent, Point { lat, lon })))
        })
        .collect()
}

fn continent_table() -> HashMap<Code, Point> {
    csv_rows(CONTINENT_TABLE)
        .filter_map(|f| {
            let code = Code::new(f.first()?)?;
            let lat = f.get(1)?.parse().ok()?;
            let lon = f.get(2)?.parse().ok()?;
            Some((code, Point { lat, lon }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexed IPv4 walk against the crate's, over the shipped database: every address
    /// at the start and end of each /16, /24 and a spread of others, and 200 000 more.
    #[test]
    fn the_ipv4_index_locates_exactly_like_the_crate() {
        let db = GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb")).unwrap();
        assert!(db.v4.is_some(), "the shipped database has an IPv4 part");
        let mut x: u32 = 0x9e37_79b9;
        let mut checked = 0;
        let mut located = 0;
        let mut check = |a: u32| {
            let addr = IpAddr::V4(a.into());
            let (fast, slow) = (db.locate(addr), db.locate_by_crate(addr));
            assert_eq!(fast, slow, "{addr}");
            checked += 1;
            located += usize::from(fast.location.is_some());
        };
        for high in 0u32..1 << 16 {
            for low in [0, 0xff, 0x100, 0x7fff, 0xff00, 0xffff] {
                check(high << 16 | low);
            }
        }
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            check(x);
        }
        assert!(checked > 500_000 && located > checked / 2, "{located} of {checked} located");
    }

    /// The same for IPv6: random addresses in the global unicast space and in the special
    /// ranges (IPv4-mapped and -compatible, documentation, unique local).
    #[test]
    fn the_ipv6_index_locates_exactly_like_the_crate() {
        let db = GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb")).unwrap();
        assert!(db.v6.is_some(), "the shipped database is an IPv6 tree");
        let mut x: u128 = 0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15;
        let mut located = 0;
        let prefixes: [(u128, u32); 6] = [
            (0x2000 << 112, 3),
            (0xffff << 32, 96),
            (0, 96),
            (0x2001_0db8 << 96, 32),
            (0xfc00 << 112, 7),
            (0x2a00 << 112, 12),
        ];
        for n in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (base, len) = prefixes[n % prefixes.len()];
            let a = base | (x >> len);
            let addr = IpAddr::V6(a.into());
            let (fast, slow) = (db.locate(addr), db.locate_by_crate(addr));
            assert_eq!(fast, slow, "{addr}");
            located += usize::from(fast.location.is_some());
        }
        assert!(located > 50_000, "{located} located");
    }

    #[test]
    fn shipped_tables_cover_the_continents_and_common_countries() {
        let countries = country_table();
        let continents = continent_table();
        assert_eq!(continents.len(), 7);
        assert!(countries.len() > 200);
        let nl = countries[&Code::new("NL").unwrap()];
        assert_eq!(nl.0.as_str(), "EU");
        assert!((nl.1.lat - 52.0).abs() < 2.0 && (nl.1.lon - 5.5).abs() < 2.0);
        assert_eq!(countries[&Code::new("US").unwrap()].0.as_str(), "NA");
        assert_eq!(countries[&Code::new("SG").unwrap()].0.as_str(), "AS");
        assert_eq!(countries[&Code::new("BR").unwrap()].0.as_str(), "SA");
    }
}
