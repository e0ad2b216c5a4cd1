//! Scheduling checks: one task per checked member, jittered, with a bound on checks in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::HealthTable;
use super::probe::{Prober, initial_delay};
use crate::config::Config;
use crate::config::check::Check;

/// Checks allowed in flight at once. Each holds a socket and perhaps a TLS session; 256 keeps
/// file descriptors and memory bounded while a thousand members at a 5 s interval and a
/// 2 s timeout still fit (1000 × 2 / 5 = 400 in the worst case, all timing out, which then
/// only delays checks, never answers).
pub const MAX_CHECKS_IN_FLIGHT: usize = 256;

/// Spread of each interval: ±10%, so members checked on the same schedule drift apart.
const JITTER: f64 = 0.1;

type Key = (String, String, SocketAddr, String);

/// Runs the checks of the current configuration.
pub struct Runner {
    table: Arc<Mutex<HealthTable>>,
    tasks: HashMap<Key, JoinHandle<()>>,
    permits: Arc<Semaphore>,
    expiry: Option<JoinHandle<()>>,
    /// The address probes are sent from, if chosen.
    source: Option<std::net::IpAddr>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("tasks", &self.tasks.len()).finish_non_exhaustive()
    }
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

impl Runner {
    /// Starts checking every member of the table's configuration.
    pub fn start(table: Arc<Mutex<HealthTable>>) -> Runner {
        Runner::start_from(table, None)
    }

    /// Starts checking every member, the probes sent from `source` when given.
    pub fn start_from(table: Arc<Mutex<HealthTable>>, source: Option<std::net::IpAddr>) -> Runner {
        let mut runner = Runner {
            table,
            source,
            tasks: HashMap::new(),
            permits: Arc::new(Semaphore::new(MAX_CHECKS_IN_FLIGHT)),
            expiry: None,
        };
        let config = crate::sync::lock(&runner.table).config().clone();
        runner.sync_with(&config);
        runner.expiry = Some(tokio::spawn(expire_loop(runner.table.clone())));
        runner
    }

    /// Follows a new configuration (the table was already told): checks of removed members
    /// stop, new ones start, unchanged ones go on with their schedule.
    pub fn sync_with(&mut self, config: &Config) {
        let mut wanted: HashMap<Key, Check> = HashMap::new();
        for pool in &config.gslb.pools {
            for m in &pool.members {
                if let Some((check, addr)) = &m.probe {
                    wanted.insert((pool.name.clone(), m.name.clone(), *addr, format!("{check:?}")), check.clone());
                }
            }
        }
        self.tasks.retain(|key, task| {
            let keep = wanted.contains_key(key);
            if !keep {
                task.abort();
            }
            keep
        });
        for (key, check) in wanted {
            if self.tasks.contains_key(&key) {
                continue;
            }
            let prober = match Prober::from_source(check, key.2, self.source) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(pool = key.0, member = key.1, error = %e, "cannot prepare the check");
                    continue;
                }
            };
            let task = tokio::spawn(check_loop(
                self.table.clone(),
                self.permits.clone(),
                key.0.clone(),
                key.1.clone(),
                prober,
            ));
            self.tasks.insert(key, task);
        }
    }

    /// Number of members being checked.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when nothing is checked.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every check.
    pub fn stop(&mut self) {
        for (_, t) in self.tasks.drain() {
            t.abort();
        }
        if let Some(e) = self.expiry.take() {
            e.abort();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn check_loop(
    table: Arc<Mutex<HealthTable>>,
    permits: Arc<Semaphore>,
    pool: String,
    member: String,
    prober: Prober,
) {
    let interval = prober.check().interval;
    let seed = hash(&pool) ^ hash(&member).rotate_left(17);
    tokio::time::sleep(initial_delay(interval, seed)).await;
    let mut n: u64 = 0;
    loop {
        let started = tokio::time::Instant::now();
        let result = match permits.acquire().await {
            Ok(_permit) => prober.run_reading().await,
            Err(_) => return,
        };
        let (ok, reason, load) = match result {
            Ok((r, load)) => (true, r, load),
            Err(r) => (false, r, None),
        };
        // Reporting may write the state file: off the runtime's threads.
        let (t, p, m, took) = (table.clone(), pool.clone(), member.clone(), started.elapsed());
        let _ = tokio::task::spawn_blocking(move || {
            crate::sync::lock(&t).report_load(&p, &m, ok, &reason, took, load, SystemTime::now());
        })
        .await;
        n = n.wrapping_add(1);
        let spread =
            ((seed.wrapping_add(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
        let next = interval.mul_f64(1.0 + JITTER * spread);
        tokio::time::sleep_until(started + next).await;
    }
}

/// Republishes when an override expires, so that the query path (which reads no clock) sees
/// the expiry on time.
async fn expire_loop(table: Arc<Mutex<HealthTable>>) {
    loop {
        let next = crate::sync::lock(&table).expire(SystemTime::now());
        let wait = next
            .and_then(|n| n.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::time::sleep(wait).await;
    }
}
