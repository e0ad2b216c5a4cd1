//! The `zones/` directory and the geo database -> a validated, immutable [`Config`].
//!
//! Each `<origin>.zone` file holds one zone whose origin is the file name without `.zone`
//! (`zones/example.com.zone` is the zone `example.com.`); `*.toml` files beside them hold the
//! GSLB definitions ([`gslb`]). Everything is read and checked before anything is used; any
//! error refuses the whole set, so a bad file never replaces good data.

pub mod check;
pub mod gslb;
pub mod toml_walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::geo::GeoDb;
use crate::zone::{Diagnostic, Location, Name, Zone, ZoneSet};

/// Where the shipped geo database lives, relative to the working directory.
pub const DEFAULT_GEO: &str = "geo/dbip-country.mmdb";

/// Everything the query path needs, immutable once built.
#[derive(Debug)]
pub struct Config {
    /// The authoritative zones.
    pub zones: ZoneSet,
    /// GSLB data centers, pools, maps and networks.
    pub gslb: gslb::Gslb,
    /// The geo database.
    pub geo: Arc<GeoDb>,
    /// Problems that did not stop loading.
    pub warnings: Vec<Diagnostic>,
    /// A number that differs for every configuration loaded by this process, so that a health
    /// snapshot can tell whether it was built for this configuration.
    pub generation: u64,
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why the configuration could not be loaded: every problem found, each with its place.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct LoadError(pub Vec<Diagnostic>);

impl Config {
    /// Reads and validates every zone file and GSLB definition in `dir`, and the geo
    /// database at `geo`.
    pub fn load(dir: &Path, geo: &Path) -> Result<Config, LoadError> {
        let geo = match GeoDb::open(geo) {
            Ok(db) => Arc::new(db),
            Err(e) => {
                return Err(LoadError(vec![Diagnostic {
                    at: Location { file: geo.into(), line: 0 },
                    message: match e {
                        crate::geo::GeoError::Open { reason, .. } => {
                            format!("cannot open the geo database: {reason} (use --geo FILE to pick another)")
                        }
                    },
                }]));
            }
        };
        Config::load_with_geo(dir, geo)
    }

    /// As [`Config::load`], with a geo database already open (a reload that keeps it).
    pub fn load_with_geo(dir: &Path, geo: Arc<GeoDb>) -> Result<Config, LoadError> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let whole = |path: &Path| Location { file: path.into(), line: 0 };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                return Err(LoadError(vec![Diagnostic {
                    at: whole(dir),
                    message: format!("cannot read the zones directory: {e}"),
                }]));
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "zone") && p.is_file())
            .collect();
        files.sort();
        let mut zones: Vec<Zone> = Vec::new();
        for path in files {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let text = if stem.ends_with('.') { stem.clone() } else { format!("{stem}.") };
            let origin = match Name::parse(&text, None) {
                Ok(origin) => origin,
                Err(e) => {
                    errors.push(Diagnostic {
                        at: whole(&path),
                        message: format!("file name '{stem}' is not a zone name ({e}): name zone files <origin>.zone"),
                    });
                    continue;
                }
            };
            if zones.iter().any(|z| *z.origin() == origin) {
                errors.push(Diagnostic {
                    at: whole(&path),
                    message: format!("zone {origin} is defined by more than one file"),
                });
                continue;
            }
            match Zone::load(&path, &origin) {
                Ok((zone, w)) => {
                    warnings.extend(w);
                    zones.push(zone);
                }
                Err(e) => errors.extend(e),
            }
        }
        if zones.is_empty() && errors.is_empty() {
            errors.push(Diagnostic { at: whole(dir), message: "no zone files (<origin>.zone) found".into() });
        }
        let mut zones = ZoneSet::new(zones);
        let gslb = gslb::load(dir, &zones, &mut errors);
        if !errors.is_empty() {
            return Err(LoadError(errors));
        }
        for (i, pool) in gslb.pools.iter().enumerate() {
            for owner in &pool.owners {
                zones.attach_pool(owner, i);
            }
        }
        Ok(Config {
            zones,
            gslb,
            geo,
            warnings,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }
}
