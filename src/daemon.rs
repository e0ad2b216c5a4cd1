//! A whole running server: DNS listeners, the health table and its checks, wired together.
//!
//! `main` and the integration tests both start Meridian through [`Daemon::start`], so the
//! tests exercise exactly what the binary runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::health::runner::Runner;
use crate::health::{HealthTable, StateError};
use crate::server::{self, Limits, Running};

/// What a daemon is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// Addresses to serve DNS on (port 0 picks one).
    pub listen: Vec<SocketAddr>,
    /// Where overrides are kept across restarts; `None` keeps them in memory only.
    pub state_file: Option<PathBuf>,
    /// Client limits.
    pub limits: Limits,
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
}

/// A running Meridian.
pub struct Daemon {
    /// The DNS listeners and their shared state.
    pub running: Running,
    /// The health table (state machines, overrides).
    pub health: Arc<Mutex<HealthTable>>,
    /// The checks.
    pub runner: Runner,
}

impl Daemon {
    /// Starts serving `config`. Must be called inside a tokio runtime.
    pub async fn start(config: Config, options: &Options) -> Result<Daemon, StartError> {
        let config = Arc::new(config);
        let table = HealthTable::new(config.clone(), options.state_file.clone())?;
        let snapshots = table.snapshots();
        let health = Arc::new(Mutex::new(table));
        let runner = Runner::start(health.clone());
        let running = server::start(config, snapshots, &options.listen, options.limits)
            .await
            .map_err(|source| StartError::Listen {
                addrs: options.listen.clone(),
                source,
            })?;
        Ok(Daemon {
            running,
            health,
            runner,
        })
    }

    /// The addresses DNS is served on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.running.addrs
    }

    /// Stops the listeners and the checks.
    pub fn stop(mut self) {
        self.runner.stop();
        self.running.stop();
    }
}
