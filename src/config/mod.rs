//! The `zones/` directory and the geo database -> a validated, immutable [`Config`].
//!
//! Each `<origin>.zone` file holds one zone whose origin is the file name without `.zone`
//! (`zones/example.com.zone` is the zone `example.com.`); `*.toml` files beside them hold the
//! GSLB definitions ([`gslb`]). Everything is read and checked before anything is used.
//!
//! Zones are isolated from each other ([`Config::load_serving`]): a zone whose file has an
//! error is not served from that file. It keeps the version an earlier load read (a reload
//! never replaces good data with bad), or, with none, its names get SERVFAIL; every other zone
//! is served. The GSLB definitions are one unit (pools share data centers and maps): with an
//! error in them, a reload keeps the previous definitions whole, and a start is refused.
//! [`Config::load`] is strict: any error refuses everything (`meridian check`, `--strict`).

pub mod check;
pub mod gslb;
pub mod toml_walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::geo::GeoDb;
use crate::zone::{Diagnostic, Location, Name, Zone, ZoneSet};

/// Where the shipped geo database lives, relative to the working directory.
pub const DEFAULT_GEO: &str = "geo/dbip-country.mmdb";

/// Everything the query path needs, immutable once built.
#[derive(Debug)]
pub struct Config {
    /// The authoritative zones.
    pub zones: ZoneSet,
    /// GSLB data centers, pools, maps and networks (shared with the previous configuration
    /// when a reload kept them).
    pub gslb: Arc<gslb::Gslb>,
    /// The geo database.
    pub geo: Arc<GeoDb>,
    /// Each pool's data center order for every client address, compiled from `gslb` and
    /// `geo` (shared with the previous configuration when a reload kept both).
    pub decisions: Arc<crate::policy::compiled::Compiled>,
    /// Problems that did not stop loading.
    pub warnings: Vec<Diagnostic>,
    /// Errors that kept a zone's file (or the GSLB definitions) from being used while
    /// everything else was: what `/status` and the log report.
    pub errors: Vec<Diagnostic>,
    /// Each zone file's outcome, in file order.
    pub zone_status: Vec<ZoneStatus>,
    /// Zones whose content changed while their SOA serial did not increase.
    pub serials_not_increased: usize,
    /// A number that differs for every configuration loaded by this process, so that a health
    /// snapshot can tell whether it was built for this configuration.
    pub generation: u64,
    /// How this server names itself (NSID, `id.server`, `version.bind`); set by the daemon
    /// from its options, the host name by default.
    pub identity: Arc<Identity>,
    /// The DNS Cookie secrets (off unless the daemon sets them from its options).
    pub cookies: Arc<crate::cookie::Secrets>,
    /// Each transferable zone's IXFR journal (kept by reloads: see [`crate::transfer::journal`]).
    pub journals: std::collections::HashMap<Box<[u8]>, Arc<crate::transfer::journal::Journal>>,
    /// The signed zones' keys (from `keys/` in the zones directory) and the signatures made.
    pub keyring: Arc<crate::dnssec::Keyring>,
    /// What the GSLB definitions were read from, when they loaded without errors and no file
    /// was changing while read: a later load that finds the same keeps them as they are.
    pub gslb_sources: Option<GslbSources>,
}

/// The files GSLB definitions were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GslbSources {
    /// The directory's `*.toml` files then (a file added later means reading them again).
    pub definitions: Vec<PathBuf>,
    /// Every file read (definitions, network lists, key files), each with its stamp.
    pub files: Sources,
}

/// How a server names itself to those who ask: which node of a fleet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The NSID sent when a query asks for it (RFC 5001); `None` sends none.
    pub nsid: Option<Box<[u8]>>,
    /// The TXT answer to `id.server` and `hostname.bind` in class CH (RFC 4892); `None`
    /// refuses them.
    pub server_id: Option<String>,
    /// The TXT answer to `version.bind` and `version.server`; `None` (the default) refuses
    /// them, as operators who hide versions expect.
    pub version: Option<String>,
}

/// Longest identity sent: RFC 5001 sets no limit, but an NSID or a TXT string far longer than
/// a host name only costs response size; 64 octets hold any host name's first label and more.
pub const MAX_IDENTITY: usize = 64;

/// The directory of DNSSEC keys, inside the zones directory: a zone with a key there is signed.
pub const KEYS_DIR: &str = "keys";

impl Identity {
    /// The host name as NSID and server id, no version.
    pub fn of_host() -> Identity {
        let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
        let host = if host.is_empty() { "meridian".to_string() } else { host };
        Identity::new(Some(&host), Some(&host), None)
    }

    /// An identity from the given texts, each cut to [`MAX_IDENTITY`] octets.
    pub fn new(nsid: Option<&str>, server_id: Option<&str>, version: Option<&str>) -> Identity {
        let cut = |s: &str| {
            let mut end = s.len().min(MAX_IDENTITY);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_string()
        };
        Identity {
            nsid: nsid.map(|n| cut(n).into_bytes().into_boxed_slice()),
            server_id: server_id.map(cut),
            version: version.map(cut),
        }
    }
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What became of one zone file at a load.
#[derive(Debug, Clone)]
pub struct ZoneStatus {
    /// The zone.
    pub origin: Name,
    /// Its file.
    pub file: PathBuf,
    /// What is served for it.
    pub state: ZoneState,
    /// The errors of this load's attempt (empty when it loaded).
    pub errors: Vec<Diagnostic>,
    /// The version read from the file, before GSLB pools were attached: what a later load
    /// keeps serving if the file then fails. `None` when it never loaded.
    pub loaded: Option<Arc<Zone>>,
    /// The warnings of the version loaded.
    pub warnings: Vec<Diagnostic>,
    /// Every file the loaded version was read from (its `$INCLUDE`s too), each with its
    /// modification time, size and inode when read: a later load that finds them all unchanged
    /// reuses `loaded` instead of reading them again. `None` when a file was changing while it
    /// was read (it is then read again).
    pub sources: Option<Sources>,
}

/// What tells a file changed: modification time, size, inode.
pub type Stamp = (std::time::SystemTime, u64, u64);

/// The files a zone was read from, each with its stamp.
pub type Sources = Vec<(PathBuf, Stamp)>;

/// A zone read from its file, with its warnings, or the errors that kept it from loading.
type ReadZone = crate::zone::Loaded;

/// The stamp of the file at `path` now.
fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Reads the zone file at `path` (and what it includes), with the stamps of every file read,
/// unless one was modified since shortly before the reading started (it may have been read
/// half-written, or changed after: the next load reads it again).
fn read_zone(path: &Path, origin: &Name) -> (ReadZone, Option<Sources>) {
    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    let (result, files) = Zone::read(path, origin);
    let sources: Option<Sources> =
        files.into_iter().map(|f| stamp(&f).filter(|s| s.0 < started).map(|s| (f, s))).collect();
    (result, sources)
}

/// Whether `previous`'s GSLB definitions hold for this load as they are: read from the same
/// definitions files and network lists, all unchanged, and checked against the same zones (the
/// same origins, served or failed alike, and none of those holding a pool name read again:
/// the checks of a pool name look only at its own zone).
fn definitions_unchanged(previous: &Config, definitions: &[PathBuf], zones: &ZoneSet, status: &[ZoneStatus]) -> bool {
    let Some(sources) = &previous.gslb_sources else { return false };
    if sources.definitions != definitions || !sources.files.iter().all(|(f, st)| stamp(f) == Some(*st)) {
        return false;
    }
    let origins = |set: &ZoneSet| -> Vec<(Box<[u8]>, bool)> {
        let mut v: Vec<_> = set
            .zones()
            .iter()
            .map(|z| (z.origin().key(), true))
            .chain(set.failed().map(|n| (n.key(), false)))
            .collect();
        v.sort_unstable();
        v
    };
    if origins(zones) != origins(&previous.zones) {
        return false;
    }
    let changed: rustc_hash::FxHashSet<Box<[u8]>> =
        read_again(status, &previous.zone_status).map(|s| s.origin.key()).collect();
    changed.is_empty()
        || previous.gslb.by_owner.keys().all(|owner| match zones.lookup(owner) {
            Some(Ok(zone)) => !changed.contains(&zone.origin().key()),
            _ => true,
        })
}

/// What one zone file needs at a load, decided in file order before any is read.
enum Plan {
    /// The file cannot be used (its name, or a second file for one zone).
    Error(Diagnostic),
    /// Nothing to read: the earlier version, or a secondary zone still waiting for its copy.
    Ready(ZoneStatus),
    /// To be read (`read` is filled in by [`read_in_parallel`], or already by a transfer).
    Read { path: PathBuf, origin: Name, copy: bool, read: Option<(ReadZone, Option<Sources>)> },
}

impl Config {
    /// The zones this configuration read from their files rather than took unchanged from
    /// `earlier` (every zone, when `earlier` did not load it).
    pub fn read_since<'a>(&'a self, earlier: &Config) -> impl Iterator<Item = &'a ZoneStatus> {
        read_again(&self.zone_status, &earlier.zone_status)
    }
}

/// The zones of `status` read from their files rather than taken unchanged from `earlier`.
fn read_again<'a>(status: &'a [ZoneStatus], earlier: &[ZoneStatus]) -> impl Iterator<Item = &'a ZoneStatus> {
    let before: FxHashMap<&Name, &Arc<Zone>> =
        earlier.iter().filter_map(|s| Some((&s.origin, s.loaded.as_ref()?))).collect();
    status.iter().filter(move |s| match (&s.loaded, before.get(&s.origin)) {
        (Some(now), Some(then)) => !Arc::ptr_eq(now, then),
        (loaded, _) => loaded.is_some(),
    })
}

/// Reads every zone the plan says to read, on as many threads as the machine has cores, each
/// taking the next zone when it is done with one (so a big zone holds up one thread, and a load
/// holds at most that many zones half-built).
fn read_in_parallel(plan: &mut [Plan]) {
    let mut outs: Vec<&mut Option<(ReadZone, Option<Sources>)>> = Vec::new();
    let mut jobs: Vec<(&Path, &Name)> = Vec::new();
    for p in plan.iter_mut() {
        if let Plan::Read { path, origin, read: read @ None, .. } = p {
            jobs.push((path.as_path(), &*origin));
            outs.push(read);
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(path, origin)) = jobs.get(i) else { return done };
            done.push((i, read_zone(path, origin)));
        }
    };
    let results: Vec<_> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    };
    for (i, read) in results {
        *outs[i] = Some(read);
    }
}

/// What is served for a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneState {
    /// The file loaded; it is served.
    Loaded,
    /// The file has errors; the version an earlier load read is served.
    Kept,
    /// The file has errors and no earlier version exists: SERVFAIL for its names.
    Failed,
    /// A secondary zone not transferred yet: SERVFAIL for its names until the first transfer.
    Pending,
    /// A secondary zone whose copy is older than its SOA expire without a successful refresh:
    /// SERVFAIL for its names until a primary answers again (RFC 1035 §3.3.13).
    Expired,
}

impl ZoneState {
    /// The state's name, as `/status` and the metrics show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Loaded => "loaded",
            ZoneState::Kept => "kept",
            ZoneState::Failed => "failed",
            ZoneState::Pending => "pending",
            ZoneState::Expired => "expired",
        }
    }

    /// Every state, in the order metrics list them.
    pub const ALL: [ZoneState; 5] =
        [ZoneState::Loaded, ZoneState::Kept, ZoneState::Failed, ZoneState::Pending, ZoneState::Expired];

    /// True when the zone's data is served.
    pub fn serves(self) -> bool {
        matches!(self, ZoneState::Loaded | ZoneState::Kept)
    }
}

/// Why the configuration could not be loaded: every problem found, each with its place.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct LoadError(pub Vec<Diagnostic>);

impl Config {
    /// Reads and validates every zone file and GSLB definition in `dir`, and the geo
    /// database at `geo`. Strict: any error refuses everything.
    pub fn load(dir: &Path, geo: &Path) -> Result<Config, LoadError> {
        Config::load_with_geo(dir, open_geo(geo)?)
    }

    /// What a server starts with: [`Config::load_serving`] with no earlier configuration.
    pub fn load_to_serve(dir: &Path, geo: &Path, strict: bool) -> Result<Config, LoadError> {
        Config::load_serving(dir, open_geo(geo)?, None, strict)
    }

    /// As [`Config::load`], with a geo database already open: strict, any error refuses.
    pub fn load_with_geo(dir: &Path, geo: Arc<GeoDb>) -> Result<Config, LoadError> {
        Config::load_serving(dir, geo, None, true)
    }

    /// Loads what a server serves. Unless `strict`, zones are isolated: a zone whose file has
    /// an error keeps its version in `previous` (or, with none, is answered with SERVFAIL), and
    /// is listed in [`Config::errors`]; with an error in the GSLB definitions the previous
    /// definitions are kept whole. Fails only on what leaves nothing sensible to serve: the
    /// directory cannot be read, holds no zone files, or the GSLB definitions have errors with
    /// no previous ones to keep, or, at start (no `previous`), not one zone loads. `strict`
    /// fails on any error.
    pub fn load_serving(
        dir: &Path,
        geo: Arc<GeoDb>,
        previous: Option<&Config>,
        strict: bool,
    ) -> Result<Config, LoadError> {
        let mut zone_errors = Vec::new();
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
        // The entry's type comes with the listing: only a link costs a look at its target.
        let is_file =
            |e: &std::fs::DirEntry| e.file_type().is_ok_and(|t| t.is_file() || (t.is_symlink() && e.path().is_file()));
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| Path::new(&e.file_name()).extension().is_some_and(|x| x == "zone") && is_file(e))
            .map(|e| e.path())
            .collect();
        // By the octets of the names: one directory, so the same order as by path components.
        files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        // Secondary zones' copies come after the operator's own files.
        let secondaries = gslb::declared_secondaries(dir);
        let copies: Vec<&Path> = secondaries.iter().map(|(_, p)| p.as_path()).collect();
        files.extend(copies.iter().map(|p| p.to_path_buf()));
        // The previous load's zones by origin (a reload of thousands of zones looks each up once).
        let before: FxHashMap<&Name, &ZoneStatus> =
            previous.map(|p| p.zone_status.iter().map(|s| (&s.origin, s)).collect()).unwrap_or_default();
        let earlier = |origin: &Name| before.get(origin).and_then(|s| s.loaded.clone());

        // First, in file order, what each file needs: most of a reload's zones are unchanged
        // and taken as they were; the rest are read below, in parallel.
        let mut plan: Vec<Plan> = Vec::with_capacity(files.len());
        let mut seen: FxHashMap<Name, PathBuf> = FxHashMap::default();
        for path in files {
            let copy_of = secondaries.iter().find(|(_, p)| *p == path).map(|(origin, _)| origin.clone());
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let text = if stem.ends_with('.') { stem.clone() } else { format!("{stem}.") };
            let origin = match copy_of.clone().map_or_else(|| Name::parse(&text, None), Ok) {
                Ok(origin) => origin,
                Err(e) => {
                    plan.push(Plan::Error(Diagnostic {
                        at: whole(&path),
                        message: format!("file name '{stem}' is not a zone name ({e}): name zone files <origin>.zone"),
                    }));
                    continue;
                }
            };
            if let Some(other) = seen.get(&origin) {
                let message = if copy_of.is_some() {
                    format!(
                        "zone {origin} is declared [secondary] and has its own zone file {} too: remove one \
                         (the zone file is served)",
                        other.display()
                    )
                } else {
                    format!("zone {origin} is defined by more than one file; this one is not used")
                };
                plan.push(Plan::Error(Diagnostic { at: whole(&path), message }));
                continue;
            }
            seen.insert(origin.clone(), path.clone());
            if copy_of.is_some() && !path.exists() {
                plan.push(Plan::Ready(ZoneStatus {
                    origin,
                    file: path,
                    state: ZoneState::Pending,
                    errors: Vec::new(),
                    loaded: None,
                    warnings: Vec::new(),
                    sources: None,
                }));
                continue;
            }
            // Unchanged files: the version read before, as it was. A copy just transferred:
            // the zone built from it. Otherwise the file is read.
            let unchanged = before
                .get(&origin)
                .filter(|s| s.file == path)
                .filter(|s| s.loaded.is_some() && matches!(s.state, ZoneState::Loaded | ZoneState::Expired))
                .filter(|s| s.sources.as_ref().is_some_and(|v| v.iter().all(|(f, st)| stamp(f) == Some(*st))));
            if let Some(s) = unchanged {
                let zone = s.loaded.clone().unwrap_or_else(|| unreachable!("filtered on loaded"));
                warnings.extend(s.warnings.iter().cloned());
                let state =
                    if copy_of.is_some() && expired(&path, &zone) { ZoneState::Expired } else { ZoneState::Loaded };
                plan.push(Plan::Ready(ZoneStatus {
                    origin,
                    file: path,
                    state,
                    errors: Vec::new(),
                    loaded: Some(zone),
                    warnings: s.warnings.clone(),
                    sources: s.sources.clone(),
                }));
                continue;
            }
            let built = copy_of.as_ref().and_then(|_| crate::transfer::secondary::take_built(&path));
            let read = built.map(|b| (Ok(b), stamp(&path).map(|s| vec![(path.clone(), s)])));
            plan.push(Plan::Read { path, origin, copy: copy_of.is_some(), read });
        }
        read_in_parallel(&mut plan);

        let mut status: Vec<ZoneStatus> = Vec::with_capacity(plan.len());
        let mut serials_not_increased = 0;
        for step in plan {
            let (path, origin, copy, (read, sources)) = match step {
                Plan::Error(e) => {
                    zone_errors.push(e);
                    continue;
                }
                Plan::Ready(s) => {
                    status.push(s);
                    continue;
                }
                Plan::Read { path, origin, copy, read } => {
                    (path, origin, copy, read.unwrap_or_else(|| unreachable!("every zone was read")))
                }
            };
            let mut zone_warnings = Vec::new();
            let (state, errors, loaded) = match read {
                Ok((zone, w)) => {
                    warnings.extend(w.iter().cloned());
                    zone_warnings = w;
                    if let Some(before) = earlier(&origin)
                        && !serial_increased(before.serial(), zone.serial())
                        && !zone.same_data(&before)
                    {
                        serials_not_increased += 1;
                        warnings.push(Diagnostic {
                            at: whole(&path),
                            message: format!(
                                "zone {origin} changed but its SOA serial {} did not increase (was {}): secondaries and \
                                 caches will not see the change; raise the serial",
                                zone.serial(),
                                before.serial()
                            ),
                        });
                    }
                    let state = if copy && expired(&path, &zone) { ZoneState::Expired } else { ZoneState::Loaded };
                    (state, Vec::new(), Some(Arc::new(zone)))
                }
                Err(errors) => match earlier(&origin) {
                    Some(before) => (ZoneState::Kept, errors, Some(before)),
                    None => (ZoneState::Failed, errors, None),
                },
            };
            zone_errors.extend(errors.iter().cloned());
            let sources = if errors.is_empty() { sources } else { None };
            status.push(ZoneStatus { origin, file: path, state, errors, loaded, warnings: zone_warnings, sources });
        }
        if status.is_empty() && zone_errors.is_empty() {
            return Err(LoadError(vec![Diagnostic {
                at: whole(dir),
                message: "no zone files (<origin>.zone) found".into(),
            }]));
        }
        // Starting with not one zone to serve helps nobody: refuse, so that the failure shows
        // where the service is started (a reload always has the earlier versions to keep).
        if status.iter().all(|s| s.loaded.is_none() && s.state != ZoneState::Pending) && previous.is_none() {
            return Err(LoadError(zone_errors));
        }
        let mut zones = zone_set(&status);
        let mut gslb_errors = Vec::new();
        // The definitions are kept as they are when nothing they were read from or checked
        // against changed (most reloads with many zones, big network lists or many pools);
        // otherwise read again, whole.
        let definitions = gslb::definition_files(dir);
        let gslb_started = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        let kept = previous.filter(|p| definitions_unchanged(p, &definitions, &zones, &status));
        let mut gslb = match kept {
            Some(p) => p.gslb.clone(),
            None => Arc::new(gslb::load(dir, &zones, &mut gslb_errors)),
        };
        let gslb_sources = match kept {
            Some(p) => p.gslb_sources.clone(),
            None if gslb_errors.is_empty() => {
                let files: Option<Sources> = gslb
                    .inputs
                    .iter()
                    .map(|f| stamp(f).filter(|s| s.0 < gslb_started).map(|s| (f.clone(), s)))
                    .collect();
                files.map(|files| GslbSources { definitions, files })
            }
            None => None,
        };
        // At start, errors only in definitions files named after zones (`example.com.toml`)
        // belong to those zones: they are not served (SERVFAIL), the rest is, when the other
        // files make sense without them.
        if !strict && previous.is_none() && !gslb_errors.is_empty() {
            let zone_of = |file: &Path| {
                let stem = file.file_stem()?.to_string_lossy().into_owned();
                let text = if stem.ends_with('.') { stem } else { format!("{stem}.") };
                let origin = Name::parse(&text, None).ok()?;
                status.iter().position(|s| s.origin == origin)
            };
            let owners: Option<Vec<usize>> = gslb_errors.iter().map(|e| zone_of(&e.at.file)).collect();
            if let Some(owners) = owners {
                let files: Vec<PathBuf> = gslb_errors.iter().map(|e| e.at.file.to_path_buf()).collect();
                let mut tried = status.clone();
                for (error, &i) in gslb_errors.iter().zip(&owners) {
                    tried[i].state = ZoneState::Failed;
                    tried[i].errors.push(error.clone());
                }
                let tried_zones = zone_set(&tried);
                let mut retry_errors = Vec::new();
                let retry = gslb::load_except(dir, &tried_zones, &mut retry_errors, &files);
                if retry_errors.is_empty() {
                    status = tried;
                    zones = tried_zones;
                    gslb = Arc::new(retry);
                    zone_errors.append(&mut gslb_errors);
                }
            }
        }
        warnings.extend(gslb.warnings.iter().cloned());
        if strict && !(zone_errors.is_empty() && gslb_errors.is_empty()) {
            zone_errors.append(&mut gslb_errors);
            return Err(LoadError(zone_errors));
        }
        if !gslb_errors.is_empty() {
            let Some(previous) = previous else {
                zone_errors.append(&mut gslb_errors);
                return Err(LoadError(zone_errors));
            };
            // The definitions are one unit: keep the previous ones whole rather than a part.
            gslb = previous.gslb.clone();
            // Zones left out at start for errors in their definitions file (their data loaded)
            // have no pools in what is kept: they stay out until their definitions load.
            for z in &mut status {
                // Failed with its data loaded: only a definitions file's errors do that.
                let left_out = previous
                    .zone_status
                    .iter()
                    .any(|p| p.origin == z.origin && p.state == ZoneState::Failed && p.loaded.is_some());
                if left_out {
                    z.state = ZoneState::Failed;
                }
            }
            zones = zone_set(&status);
            gslb_errors.push(Diagnostic {
                at: whole(dir),
                message: "the GSLB definitions have errors: the previous ones are kept until they are fixed".into(),
            });
            zone_errors.append(&mut gslb_errors);
        }
        for (i, pool) in gslb.pools.iter().enumerate() {
            for owner in &pool.owners {
                zones.attach_pool(owner, i, pool.is_alias());
            }
        }
        // The decisions compiled from these definitions and this database, as they were when
        // neither changed.
        let decisions = match previous {
            Some(p) if Arc::ptr_eq(&p.gslb, &gslb) && Arc::ptr_eq(&p.geo, &geo) => p.decisions.clone(),
            _ => Arc::new(crate::policy::compiled::Compiled::build(&gslb, &geo)),
        };
        if let Some(note) = &decisions.note {
            warnings.push(Diagnostic { at: whole(dir), message: note.clone() });
        }
        // DNSSEC keys, from `keys/` beside the zone files: all of them or, on a reload with a
        // bad key file, the previous ones whole (a signed zone losing its keys would turn bogus).
        let signatures = previous.map_or_else(Default::default, |p| p.keyring.signatures.clone());
        let origins: Vec<&Name> = status.iter().map(|s| &s.origin).collect();
        let (read, key_errors) = crate::dnssec::Keyring::read(&dir.join(KEYS_DIR), &origins, signatures);
        let mut keyring = Arc::new(read);
        if !key_errors.is_empty() {
            let mut diagnostics: Vec<Diagnostic> = key_errors
                .into_iter()
                .map(|(file, line, message)| Diagnostic { at: Location { file: file.into(), line }, message })
                .collect();
            match previous {
                Some(p) if !strict => {
                    keyring = p.keyring.clone();
                    diagnostics.push(Diagnostic {
                        at: whole(&dir.join(KEYS_DIR)),
                        message: "the DNSSEC keys have errors: the previous ones are kept until they are fixed".into(),
                    });
                    zone_errors.append(&mut diagnostics);
                }
                _ => {
                    zone_errors.append(&mut diagnostics);
                    return Err(LoadError(zone_errors));
                }
            }
        }
        Ok(Config {
            keyring,
            zones,
            gslb,
            decisions,
            geo,
            warnings,
            errors: zone_errors,
            zone_status: status,
            serials_not_increased,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            identity: Arc::new(Identity::of_host()),
            cookies: Arc::new(crate::cookie::Secrets::off()),
            journals: std::collections::HashMap::new(),
            gslb_sources,
        })
    }
}

/// Opens the geo database, or says which file could not be opened and how to pick another.
fn open_geo(geo: &Path) -> Result<Arc<GeoDb>, LoadError> {
    match GeoDb::open(geo) {
        Ok(db) => Ok(Arc::new(db)),
        Err(crate::geo::GeoError::Open { reason, .. }) => Err(LoadError(vec![Diagnostic {
            at: Location { file: geo.into(), line: 0 },
            message: format!("cannot open the geo database: {reason} (use --geo FILE to pick another)"),
        }])),
    }
}

/// The zone set of `status`: zones that loaded (or kept a version) are served, failed ones
/// answer SERVFAIL.
fn zone_set(status: &[ZoneStatus]) -> ZoneSet {
    let served = status.iter().filter(|s| s.state.serves()).filter_map(|s| s.loaded.clone()).collect();
    let failed = status.iter().filter(|s| !s.state.serves()).map(|s| s.origin.clone()).collect();
    ZoneSet::with_failed(served, failed)
}

/// Whether the copy of a secondary zone at `path` is older than its SOA expire: its
/// modification time is the last time a primary confirmed it (each transfer writes it, each
/// refresh that finds the serial current touches it), as BIND reads its secondaries' files.
fn expired(path: &Path, zone: &Zone) -> bool {
    let Some(expire) = zone.soa_timers().map(|t| t.expire) else { return false };
    let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else { return false };
    modified.elapsed().is_ok_and(|age| age.as_secs() > u64::from(expire))
}

/// Whether `new` is a later serial than `old` in RFC 1982 serial number arithmetic (RFC 1982
/// §3.2: within 2^31 ahead).
fn serial_increased(old: u32, new: u32) -> bool {
    new != old && new.wrapping_sub(old) < (1 << 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    const SOA: &str = "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n";

    /// Writes `text` to `path`, dated `age` seconds ago.
    fn write(path: &Path, text: &str, age: u64) {
        std::fs::write(path, text).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
    }

    fn zone<'c>(config: &'c Config, origin: &str) -> &'c Arc<Zone> {
        let z = config.zone_status.iter().find(|z| z.origin.to_string() == origin).unwrap();
        z.loaded.as_ref().unwrap()
    }

    #[test]
    fn a_load_reuses_the_zones_whose_files_and_includes_did_not_change() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(&d.join("a.test.zone"), &format!("{SOA}$INCLUDE inc.txt\n"), 60);
        write(&d.join("inc.txt"), "www A 192.0.2.1\n", 60);
        write(&d.join("b.test.zone"), SOA, 60);
        let geo = Arc::new(GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_GEO)).unwrap());
        let first = Config::load_serving(d, geo.clone(), None, false).unwrap();
        let second = Config::load_serving(d, geo.clone(), Some(&first), false).unwrap();
        assert!(Arc::ptr_eq(zone(&first, "a.test."), zone(&second, "a.test.")), "unchanged: reused");
        assert!(Arc::ptr_eq(zone(&first, "b.test."), zone(&second, "b.test.")));
        // An included file changed: its zone is read again, the other is not.
        write(&d.join("inc.txt"), "www A 192.0.2.1\nmore A 192.0.2.2\n", 30);
        let third = Config::load_serving(d, geo.clone(), Some(&second), false).unwrap();
        assert!(!Arc::ptr_eq(zone(&second, "a.test."), zone(&third, "a.test.")));
        assert_eq!(zone(&third, "a.test.").len(), zone(&second, "a.test.").len() + 1);
        assert!(Arc::ptr_eq(zone(&second, "b.test."), zone(&third, "b.test.")));
        // A file modified just now may have been read half-written: read again next time too.
        write(&d.join("b.test.zone"), &format!("{SOA}x A 192.0.2.9\n"), 0);
        let fourth = Config::load_serving(d, geo.clone(), Some(&third), false).unwrap();
        let fifth = Config::load_serving(d, geo, Some(&fourth), false).unwrap();
        assert!(!Arc::ptr_eq(zone(&fourth, "b.test."), zone(&fifth, "b.test.")));
        assert!(Arc::ptr_eq(zone(&fourth, "a.test."), zone(&fifth, "a.test.")));
    }

    #[test]
    fn many_zones_are_read_in_parallel_and_reported_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for i in 0..40 {
            let extra = if i % 10 == 3 { "bad A 300.1.1.1\n" } else { "www A 192.0.2.1\n" };
            write(&d.join(format!("z{i:02}.test.zone")), &format!("{SOA}{extra}"), 60);
        }
        let geo = Arc::new(GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_GEO)).unwrap());
        let first = Config::load_serving(d, geo.clone(), None, false).unwrap();
        let origins: Vec<String> = first.zone_status.iter().map(|s| s.origin.to_string()).collect();
        let want: Vec<String> = (0..40).map(|i| format!("z{i:02}.test.")).collect();
        assert_eq!(origins, want, "zones in file order");
        let failed: Vec<String> =
            first.errors.iter().map(|e| e.at.file.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(failed, ["z03.test.zone", "z13.test.zone", "z23.test.zone", "z33.test.zone"]);
        assert_eq!(first.read_since(&first).count(), 0, "nothing read again against itself");
        // One zone changes: it alone is read again.
        write(&d.join("z17.test.zone"), &format!("{SOA}www A 192.0.2.1\nnew A 192.0.2.2\n"), 30);
        let second = Config::load_serving(d, geo, Some(&first), false).unwrap();
        let read: Vec<String> = second.read_since(&first).map(|s| s.origin.to_string()).collect();
        assert_eq!(read, ["z17.test."]);
        assert!(zone(&second, "z17.test.").len() == zone(&first, "z17.test.").len() + 1);
    }

    #[test]
    fn definitions_are_kept_until_what_they_were_read_from_or_checked_against_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        for name in ["example.com.zone", "example.com.toml"] {
            let mut text = std::fs::read_to_string(shipped.join(name)).unwrap();
            if name.ends_with(".toml") {
                text = format!("network_files = [\"nets.txt\"]\n{text}");
            }
            write(&d.join(name), &text, 60);
        }
        write(&d.join("nets.txt"), "100.64.9.0/24 ams\n", 60);
        write(&d.join("other.test.zone"), SOA, 60);
        let geo = Arc::new(GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_GEO)).unwrap());
        let load = |previous: Option<&Config>| Config::load_serving(d, geo.clone(), previous, false).unwrap();
        let kept = |a: &Config, b: &Config| Arc::ptr_eq(&a.gslb, &b.gslb);
        let first = load(None);
        assert!(first.gslb_sources.is_some() && first.errors.is_empty(), "{:?}", first.errors);
        let second = load(Some(&first));
        assert!(kept(&first, &second), "nothing changed");
        // A zone without pool names changed: the definitions still hold.
        write(&d.join("other.test.zone"), &format!("{SOA}x A 192.0.2.9\n"), 30);
        let third = load(Some(&second));
        assert!(kept(&second, &third), "a zone without pools");
        // The zone holding a pool name changed: checked again, and a clash is reported.
        let zone = std::fs::read_to_string(d.join("example.com.zone")).unwrap();
        let zone = zone.replace("2026112401", "2026112402") + "www IN TXT \"hello\"\n";
        write(&d.join("example.com.zone"), &zone, 30);
        let fourth = load(Some(&third));
        assert!(!kept(&third, &fourth), "the pool's zone changed");
        assert!(fourth.errors.is_empty(), "{:?}", fourth.errors);
        write(&d.join("example.com.zone"), &zone.replace("www IN TXT", "www IN A 192.0.2.1\n; "), 20);
        let fifth = load(Some(&fourth));
        assert!(fifth.errors.iter().any(|e| e.message.contains("also has static A data")), "{:?}", fifth.errors);
        assert!(fifth.gslb_sources.is_none(), "definitions with errors are never kept by stamps");
        write(&d.join("example.com.zone"), &zone, 10);
        let sixth = load(Some(&fifth));
        assert!(sixth.errors.is_empty() && sixth.gslb_sources.is_some(), "{:?}", sixth.errors);
        // A network list changed: read again.
        write(&d.join("nets.txt"), "100.64.9.0/24 sin\n", 5);
        let seventh = load(Some(&sixth));
        assert!(!kept(&sixth, &seventh), "a network list changed");
        // A new definitions file: read again.
        let eighth = load(Some(&seventh));
        assert!(kept(&seventh, &eighth));
        write(&d.join("more.toml"), "", 5);
        let ninth = load(Some(&eighth));
        assert!(!kept(&eighth, &ninth), "a definitions file was added");
    }
}
