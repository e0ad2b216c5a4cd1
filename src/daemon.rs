//! A whole running server: DNS listeners, the health table and its checks, reloads, the API
//! and the query log, wired together.
//!
//! `main` and the integration tests both start Meridian through [`Daemon::start`], so the
//! tests exercise exactly what the binary runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::api::{self, ApiError, AppState};
use crate::config::Config;
use crate::health::runner::Runner;
use crate::health::{HealthTable, StateError};
use crate::querylog::QueryLog;
use crate::reload::Reloader;
use crate::server::{self, Limits, Running};

/// What a daemon is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The zones directory (reloaded from).
    pub zones: PathBuf,
    /// The geo database (reloaded from).
    pub geo: PathBuf,
    /// Addresses to serve DNS on (port 0 picks one).
    pub listen: Vec<SocketAddr>,
    /// Where overrides are kept across restarts; `None` keeps them in memory only.
    pub state_file: Option<PathBuf>,
    /// Client limits.
    pub limits: Limits,
    /// Where to serve the HTTP API, if anywhere.
    pub api: Option<SocketAddr>,
    /// The bearer token for mutating API requests.
    pub api_token: Option<String>,
    /// Reads of the API need the token too.
    pub api_token_for_reads: bool,
    /// Query log target (`-` or a file) and sampling rate.
    pub query_log: Option<(String, f64)>,
    /// Reload when files change.
    pub watch: bool,
    /// How long a changed file must stay unchanged before a watched reload.
    pub watch_quiet: std::time::Duration,
    /// Refuse a reload with any error (`--strict`), instead of isolating zones.
    pub strict: bool,
    /// How the server names itself (NSID, `id.server`, `version.bind`).
    pub identity: crate::config::Identity,
    /// Answer DNS Cookies (RFC 7873).
    pub cookies: bool,
    /// The cookie secrets file (read at start and at every reload); a random secret for this
    /// process when `None`.
    pub cookie_secret_file: Option<PathBuf>,
    /// The fleet to share overrides with (none without endpoints).
    pub cluster: crate::fleet::ClusterSettings,
    /// The address health probes are sent from; the system's choice when `None`.
    pub probe_source: Option<std::net::IpAddr>,
    /// A nameserver, or a checker of the fleet (which listens for no DNS).
    pub role: crate::fleet::Role,
    /// The encrypted listeners (DoT, DoH, DoQ) and their certificate.
    pub tls: crate::server::tls::TlsOptions,
    /// The XDP path (`--xdp`), opened before the start (it needs privileges the process may
    /// have given up since).
    pub xdp: Option<Arc<crate::server::Xdp>>,
}

impl Options {
    /// Options for serving `zones` and `geo` on `listen`, everything else off.
    pub fn new(zones: PathBuf, geo: PathBuf, listen: Vec<SocketAddr>) -> Options {
        Options {
            zones,
            geo,
            listen,
            state_file: None,
            limits: Limits::default(),
            api: None,
            api_token: None,
            api_token_for_reads: false,
            query_log: None,
            watch: false,
            watch_quiet: crate::reload::QUIET,
            strict: false,
            identity: crate::config::Identity::of_host(),
            cookies: true,
            cookie_secret_file: None,
            cluster: crate::fleet::ClusterSettings::default(),
            probe_source: None,
            role: crate::fleet::Role::Server,
            tls: crate::server::tls::TlsOptions::default(),
            xdp: None,
        }
    }
}

/// Why a daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state file could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// An address could not be bound.
    #[error("cannot listen on {addrs:?}: {source}")]
    Listen {
        /// The addresses asked for.
        addrs: Vec<SocketAddr>,
        /// The error.
        source: std::io::Error,
    },
    /// The API could not start.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The query log could not be opened.
    #[error("cannot open the query log {0}: {1}")]
    QueryLog(String, std::io::Error),
    /// The cookie secrets file could not be read.
    #[error("cookie-secret-file {0}")]
    Cookies(String),
    /// The fleet settings are wrong.
    #[error("{0}")]
    Fleet(String),
    /// The file watcher could not start.
    #[error("cannot watch the zones for changes: {0}")]
    Watch(String),
    /// The encrypted listeners' certificate or key is missing, unreadable or mismatched.
    #[error("{0}")]
    Tls(String),
}

/// A running Meridian.
pub struct Daemon {
    /// The DNS listeners and their shared state.
    pub running: Running,
    /// The health table (state machines, overrides).
    pub health: Arc<Mutex<HealthTable>>,
    /// The checks.
    pub runner: Arc<Mutex<Runner>>,
    /// Reloads.
    pub reloader: Arc<Reloader>,
    /// Where the API listens, if it does.
    pub api: Option<SocketAddr>,
    /// The fleet this instance is part of, if any.
    pub fleet: Option<Arc<crate::fleet::Fleet>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Daemon {
    /// Starts serving `config`. Must be called inside a tokio runtime.
    pub async fn start(mut config: Config, options: &Options) -> Result<Daemon, StartError> {
        config.identity = Arc::new(options.identity.clone());
        config.cookies = Arc::new(match (&options.cookie_secret_file, options.cookies) {
            (_, false) => crate::cookie::Secrets::off(),
            (Some(path), true) => crate::cookie::Secrets::read(path).map_err(StartError::Cookies)?,
            (None, true) => crate::cookie::Secrets::random(),
        });
        let config = Arc::new(config);
        let table = HealthTable::new(config.clone(), options.state_file.clone())?;
        let snapshots = table.snapshots();
        let health = Arc::new(Mutex::new(table));
        let runner = Arc::new(Mutex::new(Runner::start_from(health.clone(), options.probe_source)));
        let query_log = match &options.query_log {
            Some((target, rate)) => {
                Some(QueryLog::start(target, *rate).map_err(|e| StartError::QueryLog(target.clone(), e))?)
            }
            None => None,
        };
        let certificates = match (&options.tls.certificate, &options.tls.key) {
            (Some(cert), Some(key)) if options.tls.any() => {
                Some(Arc::new(server::tls::Certificates::load(cert, key).map_err(StartError::Tls)?))
            }
            _ if options.tls.any() => {
                return Err(StartError::Tls("dot, doh and doq need tls-certificate and tls-key".into()));
            }
            _ => None,
        };
        let running = server::start(
            snapshots,
            &options.listen,
            options.limits,
            query_log,
            &options.tls,
            certificates,
            options.xdp.clone(),
        )
        .await
        .map_err(|source| StartError::Listen { addrs: options.listen.clone(), source })?;
        let reloader = Arc::new(Reloader::new(
            options.zones.clone(),
            options.geo.clone(),
            options.strict,
            options.cookie_secret_file.clone().filter(|_| options.cookies),
            running.shared.clone(),
            health.clone(),
            runner.clone(),
        ));
        // A checker serves no DNS, so it keeps no secondary zones either.
        if options.role == crate::fleet::Role::Server {
            reloader.start_secondaries();
        }
        // What reading the files left free (tokens, records, TOML documents) goes back now.
        tokio::task::spawn_blocking(crate::reload::trim_heap);
        let mut tasks = Vec::new();
        if options.watch {
            tasks.push(reloader.watch(options.watch_quiet).map_err(|e| StartError::Watch(e.to_string()))?);
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // SIGHUP: reload, and reopen the query log (logrotate's postrotate sends it).
            let (r, shared) = (reloader.clone(), running.shared.clone());
            if let Ok(mut hup) = signal(SignalKind::hangup()) {
                tasks.push(tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading and reopening the query log");
                        if let Some(log) = &shared.query_log {
                            log.reopen();
                        }
                        r.reload().await;
                    }
                }));
            }
            // SIGUSR1: reopen the query log only.
            let shared = running.shared.clone();
            if let Ok(mut usr1) = signal(SignalKind::user_defined1()) {
                tasks.push(tokio::spawn(async move {
                    while usr1.recv().await.is_some() {
                        if let Some(log) = &shared.query_log {
                            tracing::info!("SIGUSR1: reopening the query log");
                            log.reopen();
                        }
                    }
                }));
            }
        }
        tasks.push(tokio::spawn(crate::dnssec::log_key_steps(running.shared.snapshot.clone())));
        let mut fleet = None;
        if !options.cluster.endpoints.is_empty() {
            let joined =
                crate::fleet::Fleet::new(&options.cluster, options.role, health.clone()).map_err(StartError::Fleet)?;
            tasks.push(tokio::spawn(joined.clone().run()));
            fleet = Some(joined);
        }
        let mut api_addr = None;
        if let Some(addr) = options.api {
            let state = AppState {
                shared: running.shared.clone(),
                health: health.clone(),
                reloader: reloader.clone(),
                token: options.api_token.clone(),
                token_for_reads: options.api_token_for_reads,
                fleet: fleet.clone(),
            };
            let (bound, task) = api::start(addr, state).await?;
            api_addr = Some(bound);
            tasks.push(task);
        }
        Ok(Daemon { running, health, runner, reloader, api: api_addr, fleet, tasks })
    }

    /// The addresses DNS is served on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.running.addrs
    }

    /// Number of members being checked.
    pub fn checked_members(&self) -> usize {
        crate::sync::lock(&self.runner).len()
    }

    /// Stops the listeners, the checks, the API and the watchers.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
        crate::sync::lock(&self.runner).stop();
        self.running.stop();
    }
}
