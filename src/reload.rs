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

/// Quiet time after the last file change before a reload starts: editors and deploy tools
/// write several files (and temporary files) in a burst; half a second covers a `git pull` or
/// an `rsync` of a zones directory while still feeling immediate.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

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
    /// Reloads refused since start.
    pub failures: u64,
}

/// Rebuilds and swaps the configuration.
pub struct Reloader {
    zones: PathBuf,
    geo: PathBuf,
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
    /// A reloader for the files `zones` and `geo`, swapping into `shared`.
    pub fn new(
        zones: PathBuf,
        geo: PathBuf,
        shared: Arc<Shared>,
        health: Arc<Mutex<HealthTable>>,
        runner: Arc<Mutex<Runner>>,
    ) -> Reloader {
        let current = shared.config.load_full();
        let cache = file_stamp(&geo).map(|(t, n)| (t, n, current.geo.clone()));
        Reloader {
            zones,
            geo,
            shared,
            health,
            runner,
            // The start-up load succeeded (or the daemon would not run): no reload yet, ok.
            status: Mutex::new(ReloadStatus { ok: true, ..ReloadStatus::default() }),
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

    /// The last reload's outcome.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn load(&self) -> Result<Config, Vec<String>> {
        let stamp = file_stamp(&self.geo);
        let cached = {
            let cache = self.geo_cache.lock().unwrap_or_else(|p| p.into_inner());
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
                        *self.geo_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((t, n, db.clone()));
                    }
                    db
                }
                Err(e) => return Err(vec![e.to_string()]),
            },
        };
        Config::load_with_geo(&self.zones, geo).map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    /// Reloads now; returns the outcome. Must run inside the tokio runtime (checks are
    /// started and stopped).
    pub async fn reload(self: &Arc<Self>) -> ReloadStatus {
        let _one_at_a_time = self.running.lock().await;
        let this = self.clone();
        let loaded = tokio::task::spawn_blocking(move || this.load())
            .await
            .unwrap_or_else(|e| Err(vec![format!("the reload task failed: {e}")]));
        let now = SystemTime::now();
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.last = now.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs());
        match loaded {
            Ok(config) => {
                let config = Arc::new(config);
                for w in &config.warnings {
                    tracing::warn!("{w}");
                }
                // Health first, then the configuration: between the two stores a query sees
                // the old configuration with a snapshot of the new generation and answers as
                // all-up for that instant; never a wrong member.
                if let Ok(mut t) = self.health.lock() {
                    t.reconfigure(config.clone(), now);
                }
                self.shared.install(config.clone());
                if let Ok(mut r) = self.runner.lock() {
                    r.sync_with(&config);
                }
                status.ok = true;
                status.errors.clear();
                status.successes += 1;
                let zones: Vec<String> =
                    config.zones.zones().iter().map(|z| format!("{} (serial {})", z.origin(), z.serial())).collect();
                tracing::info!(
                    "reloaded: {} zone(s): {}; {} pool(s)",
                    zones.len(),
                    zones.join(", "),
                    config.gslb.pools.len()
                );
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!("reload refused: {e}");
                }
                tracing::error!("reload refused with {} error(s); still serving the previous data", errors.len());
                status.ok = false;
                status.errors = errors;
                status.failures += 1;
            }
        }
        status.clone()
    }

    /// Watches the zones directory and the geo database; reloads after each burst of changes.
    /// The watcher lives as long as the returned task.
    pub fn watch(self: &Arc<Self>) -> notify::Result<tokio::task::JoinHandle<()>> {
        use notify::{RecursiveMode, Watcher};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let geo_name = self.geo.file_name().map(|n| n.to_os_string());
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(e) = event {
                if matches!(e.kind, notify::EventKind::Access(_)) {
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
                // Debounce: wait until the files have been quiet for DEBOUNCE.
                loop {
                    match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                tracing::info!("files changed: reloading");
                this.reload().await;
            }
        }))
    }
}
