//! Hot reload: build everything new, validate all of it, then swap; on any error keep serving
//! the old data.
//!
//! Triggers: SIGHUP, `POST /reload`, and changes to files under the zones directory or to the
//! geo database (watched with `notify`, debounced so that a burst of writes makes one reload).
//! Health carries over: members that still exist keep their state and overrides, new ones
//! start unknown, removed ones' checks stop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Config;
use crate::geo::GeoDb;
use crate::health::HealthTable;
use crate::health::runner::Runner;
use crate::server::Shared;
use crate::sync::lock;

/// How long the watched files must stay unchanged before a reload reads them (`--watch-quiet`):
/// editors, `scp` and deploy tools write a file in pieces, and a file cut at a line boundary
/// parses, so reading it early would serve half a zone. Two seconds covers a slow copy's
/// pauses and a `git pull` of many files while still feeling prompt; a write-then-rename is
/// safe at any setting.
pub const QUIET: Duration = Duration::from_secs(2);

/// The outcome of the last reload, for `/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// When the last reload finished (seconds since the Unix epoch).
    pub last: Option<u64>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its errors, each `file:line: message`.
    pub errors: Vec<String>,
    /// Reloads that succeeded since start.
    pub successes: u64,
    /// Reloads refused, or applied with some zone or the GSLB definitions left at their
    /// previous version, since start.
    pub failures: u64,
    /// Zones loaded with new content but a serial that did not increase, since start.
    pub serials_not_increased: u64,
    /// When the configuration last loaded without any error (seconds since the Unix epoch;
    /// the start counts).
    pub last_success: u64,
}

/// Logs the errors of a load that isolated them, and what is served for each zone that had
/// some: the version read earlier, or SERVFAIL.
pub fn log_zone_errors(config: &Config) {
    for e in &config.errors {
        tracing::error!("{e}");
    }
    for z in config.zone_status.iter().filter(|z| !z.errors.is_empty()) {
        let n = z.errors.len();
        match &z.loaded {
            Some(kept) => tracing::error!(
                "zone {}: {n} error(s) in {}; still serving the version read earlier (serial {})",
                z.origin,
                z.file.display(),
                kept.serial()
            ),
            None => tracing::error!(
                "zone {}: {n} error(s) in {}; not served: its names get SERVFAIL until the file is fixed",
                z.origin,
                z.file.display()
            ),
        }
    }
}

/// Returns the free memory of the heap to the system after a load or reload. The binary
/// allocates with mimalloc (`src/main.rs`), whose pages a collection returns; glibc's
/// allocator (the library's tests, or code that calls `malloc` itself) keeps what a replaced
/// configuration freed inside its heaps, one per thread that allocated, unless trimmed.
pub(crate) fn trim_heap() {
    // SAFETY: mi_collect only frees and returns pages mimalloc holds for nothing.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a plain integer and only returns free pages of the allocator's
    // own heaps to the kernel; no memory in use is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Most zones a reload's log line names (the rest are counted).
const RELOAD_LOG_ZONES: usize = 20;

/// Rebuilds and swaps the configuration.
pub struct Reloader {
    zones: PathBuf,
    geo: PathBuf,
    strict: bool,
    cookie_file: Option<PathBuf>,
    /// Tells secondaries when a zone's serial moves.
    notifier: crate::transfer::notify::Notifier,
    shared: Arc<Shared>,
    health: Arc<Mutex<HealthTable>>,
    runner: Arc<Mutex<Runner>>,
    status: Mutex<ReloadStatus>,
    /// The geo database last loaded, with the file's modification time and size, so that a
    /// reload of the zones does not re-read and re-verify an unchanged database.
    geo_cache: Mutex<Option<(SystemTime, u64, Arc<GeoDb>)>>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").field("zones", &self.zones).field("geo", &self.geo).finish_non_exhaustive()
    }
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Reloader {
    /// A reloader for the files `zones` and `geo`, swapping into `shared`; `strict` refuses a
    /// reload with any error instead of isolating zones. The server's identity and cookie
    /// secrets are carried over from the configuration served, except that a `cookie_file`
    /// is read again (a new secret put first rotates them).
    pub fn new(
        zones: PathBuf,
        geo: PathBuf,
        strict: bool,
        cookie_file: Option<PathBuf>,
        shared: Arc<Shared>,
        health: Arc<Mutex<HealthTable>>,
        runner: Arc<Mutex<Runner>>,
    ) -> Reloader {
        let current = shared.snapshot.load_full();
        let cache = file_stamp(&geo).map(|(t, n)| (t, n, current.config.geo.clone()));
        // Secondaries hear of every zone at start (they may have missed changes meanwhile).
        let notifier = crate::transfer::notify::Notifier::default();
        notifier.announce(&current.config);
        Reloader {
            notifier,
            zones,
            geo,
            strict,
            cookie_file,
            shared,
            health,
            runner,
            // The start-up load succeeded (or the daemon would not run): no reload yet, ok.
            status: Mutex::new(ReloadStatus {
                ok: true,
                last_success: SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                ..ReloadStatus::default()
            }),
            geo_cache: Mutex::new(cache),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The zones directory watched.
    pub fn zones(&self) -> &Path {
        &self.zones
    }

    /// The geo database watched.
    pub fn geo(&self) -> &Path {
        &self.geo
    }

    /// The configuration served now.
    pub fn current(&self) -> Arc<Config> {
        self.shared.snapshot.load().config.clone()
    }

    /// Starts the tasks that keep the secondary zones of the configuration served.
    pub fn start_secondaries(self: &Arc<Self>) {
        self.shared.secondaries.start(&self.current(), self);
    }

    /// The last reload's outcome.
    pub fn status(&self) -> ReloadStatus {
        lock(&self.status).clone()
    }

    fn load(&self) -> Result<Config, Vec<String>> {
        let stamp = file_stamp(&self.geo);
        let cached = {
            let cache = lock(&self.geo_cache);
            match (&*cache, stamp) {
                (Some((t, n, db)), Some((t2, n2))) if *t == t2 && *n == n2 => Some(db.clone()),
                _ => None,
            }
        };
        let geo = match cached {
            Some(db) => db,
            None => match GeoDb::open(&self.geo) {
                Ok(db) => {
                    let db = Arc::new(db);
                    if let Some((t, n)) = stamp {
                        *lock(&self.geo_cache) = Some((t, n, db.clone()));
                    }
                    db
                }
                Err(e) => return Err(vec![e.to_string()]),
            },
        };
        let previous = self.shared.snapshot.load_full();
        let mut config = Config::load_serving(&self.zones, geo, Some(&previous.config), self.strict)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        config.identity = previous.config.identity.clone();
        config.journals = crate::transfer::journal::follow(&previous.config, &config);
        config.cookies = match &self.cookie_file {
            // A secrets file that no longer reads keeps the whole reload out: the secrets,
            // like every other file, are never replaced by a broken version.
            Some(path) => Arc::new(crate::cookie::Secrets::read(path).map_err(|e| vec![e])?),
            None => previous.config.cookies.clone(),
        };
        Ok(config)
    }

    /// When a file under the zones directory, or the geo database, was last modified.
    fn newest_change(&self) -> Option<SystemTime> {
        let mut newest = std::fs::metadata(&self.geo).and_then(|m| m.modified()).ok();
        for entry in std::fs::read_dir(&self.zones).ok()?.filter_map(Result::ok) {
            if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                newest = newest.max(Some(t));
            }
        }
        newest
    }

    /// Reloads now; returns the outcome. Must run inside the tokio runtime (checks are
    /// started and stopped).
    pub async fn reload(self: &Arc<Self>) -> ReloadStatus {
        let _one_at_a_time = self.running.lock().await;
        crate::notify::reloading();
        // READY=1 again however the reload ends: the old data or the new is being served.
        struct Ready;
        impl Drop for Ready {
            fn drop(&mut self) {
                crate::notify::notify("READY=1");
            }
        }
        let _ready = Ready;
        // The encrypted listeners' certificate, on its own: a pair that no longer reads is
        // refused (the one in use stays) without holding back the zones, and the reverse.
        let mut certificate_errors = Vec::new();
        if let Some(certificates) = &self.shared.tls
            && let Err(e) = certificates.reload()
        {
            tracing::error!("{e}; still presenting the previous certificate");
            certificate_errors.push(e);
        }
        let this = self.clone();
        let loaded = tokio::task::spawn_blocking(move || this.load())
            .await
            .unwrap_or_else(|e| Err(vec![format!("the reload task failed: {e}")]));
        let now = SystemTime::now();
        let mut status = lock(&self.status);
        status.last = now.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs());
        match loaded {
            Ok(config) => {
                let config = Arc::new(config);
                for w in &config.warnings {
                    tracing::warn!("{w}");
                }
                // One step installs the configuration: the health table follows it and
                // publishes it with its health view as one snapshot, so no query ever sees the
                // new configuration with the old health or the reverse. If that step fails,
                // nothing was published and the previous configuration keeps serving.
                let before = self.shared.snapshot.load_full();
                let counters = self.shared.bound.load_full();
                self.shared.bind_counters(&config);
                let installed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    lock(&self.health).reconfigure(config.clone(), now);
                }));
                if installed.is_err() {
                    self.shared.bound.store(counters);
                    let error = "the health table could not follow the new configuration (a bug: see the panic above)";
                    tracing::error!("reload refused: {error}; still serving the previous data");
                    status.ok = false;
                    status.errors = vec![error.to_string()];
                    status.failures += 1;
                    return status.clone();
                }
                lock(&self.runner).sync_with(&config);
                self.notifier.announce(&config);
                self.shared.secondaries.follow(&config, self);
                log_zone_errors(&config);
                status.ok = config.errors.is_empty() && certificate_errors.is_empty();
                status.errors = config.errors.iter().map(ToString::to_string).collect();
                status.errors.extend(certificate_errors);
                status.serials_not_increased += config.serials_not_increased as u64;
                if status.ok {
                    status.successes += 1;
                    status.last_success = status.last.unwrap_or_default();
                } else {
                    status.failures += 1;
                }
                // Thousands of zones make a line nobody reads: the ones read again are named.
                let read: Vec<String> = config
                    .read_since(&before.config)
                    .map(|s| format!("{} (serial {})", s.origin, s.loaded.as_ref().map_or(0, |z| z.serial())))
                    .collect();
                let named = read.iter().take(RELOAD_LOG_ZONES).cloned().collect::<Vec<_>>().join(", ");
                let more = read.len().saturating_sub(RELOAD_LOG_ZONES);
                tracing::info!(
                    "reloaded: {} zone(s), {} read again{}{}{}; {} pool(s)",
                    config.zones.zones().len(),
                    read.len(),
                    if read.is_empty() { "" } else { ": " },
                    named,
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    config.gslb.pools.len()
                );
                // The replaced configuration is gone once the last query holding it is done
                // (microseconds): give what it freed back to the system.
                drop(before);
                tokio::task::spawn_blocking(trim_heap);
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!("reload refused: {e}");
                }
                tracing::error!("reload refused with {} error(s); still serving the previous data", errors.len());
                status.ok = false;
                status.errors = errors;
                status.errors.extend(certificate_errors);
                status.failures += 1;
            }
        }
        status.clone()
    }

    /// Watches the zones directory and the geo database; reloads once the files have stayed
    /// unchanged for `quiet` after a burst of changes. The watcher lives as long as the
    /// returned task.
    pub fn watch(self: &Arc<Self>, quiet: Duration) -> notify::Result<tokio::task::JoinHandle<()>> {
        use notify::{RecursiveMode, Watcher};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let geo_name = self.geo.file_name().map(|n| n.to_os_string());
        let shared = self.shared.clone();
        let zones = self.zones.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(e) = event {
                if matches!(e.kind, notify::EventKind::Access(_)) {
                    return;
                }
                // A secondary zone's copy being written or touched (or its directory made): its
                // task reloads itself.
                let config = &shared.snapshot.load().config;
                let copy = |p: &std::path::PathBuf| {
                    config.gslb.secondaries.values().any(|s| {
                        *p == s.file
                            || p.as_os_str().to_string_lossy() == format!("{}.new", s.file.display())
                            || (s.file.parent() == Some(p.as_path()) && p != &zones)
                    })
                };
                if !e.paths.is_empty() && e.paths.iter().all(copy) {
                    return;
                }
                let _ = tx.send(());
            }
        })?;
        watcher.watch(&self.zones, RecursiveMode::Recursive)?;
        let geo_dir = self.geo.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // The geo database's directory is watched (files are often replaced by rename, which a
        // watch on the file itself would miss); changes to other files there are ignored by
        // the geo cache, which compares the database's own time stamp and size.
        let _ = watcher.watch(geo_dir, RecursiveMode::NonRecursive);
        let _ = geo_name;
        let this = self.clone();
        Ok(tokio::spawn(async move {
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                // Wait until no change has been seen for `quiet`, and no file was modified
                // within `quiet` (a writer's events can arrive late or merged).
                loop {
                    match tokio::time::timeout(quiet, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => {}
                    }
                    match this.newest_change().and_then(|t| t.elapsed().ok()) {
                        Some(age) if age < quiet => tokio::time::sleep(quiet - age).await,
                        _ => break,
                    }
                }
                tracing::info!("files changed: reloading");
                this.reload().await;
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::config::Config;
    use crate::daemon::{Daemon, Options};
    use crate::query::{Request, Transport, answer};

    const ZONE: &str = "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n";

    /// A zones directory serving `static.reload.test A address` and a pool `www` of two members.
    fn write(dir: &Path, address: &str) {
        std::fs::write(dir.join("reload.test.zone"), format!("{ZONE}static A {address}\n")).unwrap();
        std::fs::write(
            dir.join("gslb.toml"),
            "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.www]\nnames = [\"www.reload.test.\"]\n\
             [pools.www.members]\na = { datacenter = \"ams\", ipv4 = \"192.0.2.10\" }\n",
        )
        .unwrap();
    }

    fn geo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb")
    }

    /// The address the published snapshot answers for `static.reload.test A`.
    fn served(daemon: &Daemon) -> [u8; 4] {
        let q = b"\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06static\x06reload\x04test\x00\x00\x01\x00\x01";
        let snapshot = daemon.running.shared.snapshot.load_full();
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut out = Vec::new();
        answer(&Request::new(&snapshot, q, peer, Transport::Udp, 0), &mut out).unwrap();
        out[out.len() - 4..].try_into().unwrap()
    }

    async fn start(dir: &Path) -> Daemon {
        let config = Config::load(dir, &geo()).unwrap();
        let options = Options::new(dir.to_path_buf(), geo(), vec!["127.0.0.1:0".parse().unwrap()]);
        Daemon::start(config, &options).await.unwrap()
    }

    #[tokio::test]
    async fn a_reload_whose_health_reconfiguration_fails_leaves_the_old_configuration_serving() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "192.0.2.1");
        let daemon = start(dir.path()).await;
        let before = daemon.running.shared.snapshot.load_full();
        write(dir.path(), "192.0.2.2");
        // The health table panics while following the new configuration (this thread runs it).
        crate::health::test_hooks::FAIL_RECONFIGURE.with(|f| f.set(true));
        let status = daemon.reloader.reload().await;
        assert!(!status.ok);
        assert!(status.errors[0].contains("the health table could not follow the new configuration"), "{status:?}");
        let after = daemon.running.shared.snapshot.load_full();
        assert!(Arc::ptr_eq(&before, &after), "nothing was published");
        assert_eq!(served(&daemon), [192, 0, 2, 1], "the old configuration still answers");
        // The table is whole: the next reload installs the new files, health and all.
        let status = daemon.reloader.reload().await;
        assert!(status.ok, "{status:?}");
        assert_eq!(served(&daemon), [192, 0, 2, 2]);
        let snapshot = daemon.running.shared.snapshot.load_full();
        assert_eq!(crate::sync::lock(&daemon.health).config().generation, snapshot.config.generation);
        daemon.stop();
    }

    #[tokio::test]
    async fn a_poisoned_health_lock_is_recovered_and_the_reload_applies_whole() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "192.0.2.1");
        let daemon = start(dir.path()).await;
        // A thread panics while holding the health table (say, a bug in an API handler).
        let table = daemon.health.clone();
        let _ = std::thread::spawn(move || {
            let _held = table.lock().unwrap();
            panic!("a bug while holding the health table");
        })
        .join();
        assert!(daemon.health.is_poisoned());
        write(dir.path(), "192.0.2.2");
        let status = daemon.reloader.reload().await;
        assert!(status.ok, "{status:?}");
        assert_eq!(served(&daemon), [192, 0, 2, 2]);
        // The configuration and the health view are one snapshot, and the table follows it.
        let snapshot = daemon.running.shared.snapshot.load_full();
        let mut table = crate::sync::lock(&daemon.health);
        assert!(Arc::ptr_eq(table.config(), &snapshot.config));
        // Overrides still work on the recovered table and reach the query path.
        let target = crate::health::Target::Datacenter { datacenter: "ams".into() };
        table.set_override(target, crate::health::Action::ForceDown, None, SystemTime::now()).unwrap();
        drop(table);
        let snapshot = daemon.running.shared.snapshot.load_full();
        use crate::policy::Health;
        assert_eq!(snapshot.health.view(0, 0), crate::policy::View::Down);
        daemon.stop();
    }
}
