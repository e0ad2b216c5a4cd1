//! Health: probes -> one state machine per member -> an immutable snapshot for the query path.
//!
//! [`probe`] runs one check and says pass or fail with a reason. [`runner`] schedules checks
//! (jittered, bounded in flight) and reports results to the [`HealthTable`], which owns every
//! member's [`state::MemberState`] and the operator [`overrides`]. Whenever what a query would
//! see changes, the table publishes a new [`HealthSnapshot`] through an `ArcSwap`; the query
//! path only ever loads that snapshot, so it never waits for a probe or a lock.

pub mod history;
pub mod overrides;
pub mod probe;
pub mod runner;
pub mod spill;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

pub use history::{Figures, History};
pub use overrides::{Action, Override, Overrides, StateError, Target};
pub use state::{MemberState, Status};

use crate::config::Config;
use crate::policy::{Health, View};

/// Each member's view and smoothed check round-trip time, indexed like the configuration's
/// pools and members. It only exists inside a [`Snapshot`], built from the configuration it
/// is paired with, so its indexes always name the members of that configuration.
#[derive(Debug, Clone, Default)]
pub struct HealthSnapshot {
    /// Different for every snapshot this process builds: what a worker's memory of decisions
    /// made against one health view is checked by (`query::gslb::Walks`).
    serial: u64,
    views: Vec<Vec<View>>,
    rtts: Vec<Vec<Option<f64>>>,
    /// Traffic dials set at run time, by data center (over the configuration's).
    dials: Vec<Option<u8>>,
    /// Traffic dials set at run time on a data center for one pool, by pool (over the rest).
    pool_dials: Vec<Vec<(usize, u8)>>,
    /// The dial capacity spillover allows, by data center (100: no shedding).
    spills: Vec<u8>,
    /// The load spillover last read, by data center (for explain).
    loads: Vec<Option<f64>>,
}

/// The next [`HealthSnapshot::serial`].
static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl HealthSnapshot {
    /// Different for every snapshot built (0 only for `Default`).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The same views with `other`'s dials, spillover and loads: what `explain --down`
    /// simulates on top of the live state keeps everything but the views it changes.
    pub fn with_steering_of(mut self, other: &HealthSnapshot) -> HealthSnapshot {
        self.dials.clone_from(&other.dials);
        self.pool_dials.clone_from(&other.pool_dials);
        self.spills.clone_from(&other.spills);
        self.loads.clone_from(&other.loads);
        self
    }
}

impl Health for HealthSnapshot {
    fn view(&self, pool: usize, member: usize) -> View {
        // Built from the paired configuration, every member has a view; the fallback is the
        // documented initial state.
        self.views.get(pool).and_then(|p| p.get(member)).copied().unwrap_or(View::Up)
    }

    fn rtt(&self, pool: usize, member: usize) -> Option<f64> {
        self.rtts.get(pool).and_then(|p| p.get(member)).copied().flatten()
    }

    fn dial(&self, dc: usize) -> Option<u8> {
        self.dials.get(dc).copied().flatten()
    }

    fn pool_dial(&self, pool: usize, dc: usize) -> Option<u8> {
        self.pool_dials.get(pool).and_then(|p| p.iter().find(|(d, _)| *d == dc)).map(|&(_, pct)| pct)
    }

    fn spill(&self, dc: usize) -> u8 {
        self.spills.get(dc).copied().unwrap_or(100)
    }

    fn load(&self, dc: usize) -> Option<f64> {
        self.loads.get(dc).copied().flatten()
    }
}

/// What a query reads: one configuration and the health view built for it, published as one
/// value through one `ArcSwap`, so that no query can ever see a configuration with the health
/// of another (a reload swaps both at once; a health change swaps in a new view of the same
/// configuration).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The configuration.
    pub config: Arc<Config>,
    /// Its members' health.
    pub health: HealthSnapshot,
}

impl Snapshot {
    /// `config` with each member's view and round-trip time given by `view` and `rtt`
    /// (called with pool and member indexes of `config`).
    pub fn new(
        config: Arc<Config>,
        view: impl Fn(usize, usize) -> View,
        rtt: impl Fn(usize, usize) -> Option<f64>,
    ) -> Snapshot {
        let pools = &config.gslb.pools;
        let views = pools.iter().enumerate().map(|(p, pool)| (0..pool.members.len()).map(|m| view(p, m)).collect());
        let rtts = pools.iter().enumerate().map(|(p, pool)| (0..pool.members.len()).map(|m| rtt(p, m)).collect());
        let health = HealthSnapshot {
            serial: SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            views: views.collect(),
            rtts: rtts.collect(),
            dials: Vec::new(),
            pool_dials: Vec::new(),
            spills: Vec::new(),
            loads: Vec::new(),
        };
        Snapshot { config, health }
    }

    /// `config` with every member up (before any check result; benches and tests).
    pub fn all_up(config: Arc<Config>) -> Snapshot {
        Snapshot::new(config, |_, _| View::Up, |_, _| None)
    }
}

/// Smoothing of check round-trip times (EWMA weight of a new sample): 0.3 follows a lasting
/// change within a handful of checks while one odd sample moves the average little.
pub const RTT_ALPHA: f64 = 0.3;
/// A sample counts as at most this many times the current average (and at least its inverse),
/// so that one very slow check cannot swing `fastest` away from a member.
pub const RTT_CLAMP: f64 = 3.0;

/// Round-trip times alone republish the snapshot at most this often: a republish costs a
/// pass over every member, and with thousands of members checked every few seconds one per
/// moved average would be most of the process's work. A later publish of any kind carries
/// the averages as they are then.
pub const RTT_PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Bounds of the probe duration histogram, in seconds (Prometheus's default buckets).
pub const DURATION_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Check durations of one member.
#[derive(Debug, Clone, Default)]
pub struct Durations {
    /// Cumulative counts per bucket of [`DURATION_BUCKETS`].
    pub buckets: [u64; 11],
    /// Number of checks.
    pub count: u64,
    /// Sum of durations in seconds.
    pub sum: f64,
    /// Smoothed round-trip time of passing checks, in seconds.
    pub ewma: Option<f64>,
}

/// Every member's state and the overrides; publishes snapshots.
pub struct HealthTable {
    config: Arc<Config>,
    states: HashMap<(String, String), MemberState>,
    durations: HashMap<(String, String), Durations>,
    overrides: Overrides,
    state_file: Option<PathBuf>,
    published: Arc<ArcSwap<Snapshot>>,
    save_failures: u64,
    /// The other instances' views of the members, in a fleet: instance -> member -> up.
    peers: Peers,
    /// Woken when a member's own status changes, so the fleet publishes it at once.
    changed: Arc<tokio::sync::Notify>,
    /// When the snapshot was last published.
    published_at: SystemTime,
    /// Each member's last reported load (checks with a `load` source), cleared by a failure.
    loads: HashMap<(String, String), f64>,
    /// Capacity spillover by data center name, and when it last moved a step.
    spills: HashMap<String, (spill::Spill, SystemTime)>,
}

/// Other instances' views: instance name -> (pool, member) -> seen up.
pub type Peers = HashMap<String, HashMap<(String, String), bool>>;

impl std::fmt::Debug for HealthTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthTable").field("members", &self.states.len()).finish_non_exhaustive()
    }
}

/// One member's state as the status API and `meridian explain` show it.
#[derive(Debug, Clone)]
pub struct MemberReport {
    /// Pool name.
    pub pool: String,
    /// Member name.
    pub member: String,
    /// Data center name.
    pub datacenter: String,
    /// What the probes say (unknown when not checked).
    pub state: MemberState,
    /// True when the member has a check.
    pub checked: bool,
    /// The override in force, if any, and where it comes from.
    pub override_: Option<Override>,
    /// What queries see.
    pub view: View,
}

impl HealthTable {
    /// A table for `config`, with the overrides from `state_file` (if any), publishing into a
    /// new `ArcSwap`.
    pub fn new(config: Arc<Config>, state_file: Option<PathBuf>) -> Result<HealthTable, StateError> {
        let overrides = match &state_file {
            Some(p) => {
                let (overrides, problem) = Overrides::load_or_set_aside(p);
                if let Some(problem) = problem {
                    tracing::warn!("state file: {problem}");
                }
                overrides
            }
            None => Overrides::default(),
        };
        let published = Arc::new(ArcSwap::from_pointee(Snapshot::all_up(config.clone())));
        let mut table = HealthTable {
            config,
            states: HashMap::new(),
            durations: HashMap::new(),
            overrides,
            state_file,
            published,
            save_failures: 0,
            peers: HashMap::new(),
            changed: Arc::new(tokio::sync::Notify::new()),
            published_at: std::time::UNIX_EPOCH,
            loads: HashMap::new(),
            spills: HashMap::new(),
        };
        table.publish(SystemTime::now());
        Ok(table)
    }

    /// Where snapshots (configuration and health together) are published: what every query
    /// reads.
    pub fn snapshots(&self) -> Arc<ArcSwap<Snapshot>> {
        self.published.clone()
    }

    /// The configuration the table follows.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Records a probe result for `member` of `pool` (by name), and how long the check took.
    pub fn report(&mut self, pool: &str, member: &str, ok: bool, reason: &str, took: Duration, now: SystemTime) {
        self.report_load(pool, member, ok, reason, took, None, now);
    }

    /// [`HealthTable::report`] with the load the member reported (checks with a `load`
    /// source); its data center's spillover takes a step from it.
    #[allow(clippy::too_many_arguments)]
    pub fn report_load(
        &mut self,
        pool: &str,
        member: &str,
        ok: bool,
        reason: &str,
        took: Duration,
        load: Option<f64>,
        now: SystemTime,
    ) {
        let Some(check) = self.check_of(pool, member) else {
            return; // Removed by a reload while the probe ran.
        };
        let key = (pool.to_string(), member.to_string());
        match load.filter(|_| ok) {
            Some(l) => self.loads.insert(key, l),
            None => self.loads.remove(&key),
        };
        let spilled = self.spill_step(pool, member, now);
        let d = self.durations.entry((pool.to_string(), member.to_string())).or_default();
        let secs = took.as_secs_f64();
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                d.buckets[i] += 1;
            }
        }
        d.count += 1;
        d.sum += secs;
        let mut rtt_moved = false;
        if ok {
            let next = match d.ewma {
                None => secs,
                Some(avg) => avg + RTT_ALPHA * (secs.clamp(avg / RTT_CLAMP, avg * RTT_CLAMP) - avg),
            };
            rtt_moved = d.ewma.is_none_or(|avg| (next - avg).abs() > avg * 0.1);
            d.ewma = Some(next);
        }
        let state = self.states.entry((pool.to_string(), member.to_string())).or_default();
        if state.report(ok, reason, check.0, check.1, now) {
            tracing::info!(pool, member, status = ?state.status, reason, "member health changed");
            self.changed.notify_one();
            let up = state.status == Status::Up;
            self.overrides.history.entry(format!("{pool}/{member}")).or_default().record(now, up);
            self.publish(now);
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "cannot save the state file");
            }
        } else if spilled
            || (rtt_moved && now.duration_since(self.published_at).is_ok_and(|since| since >= RTT_PUBLISH_EVERY))
        {
            self.publish(now);
        }
    }

    fn check_of(&self, pool: &str, member: &str) -> Option<(u32, u32)> {
        let p = self.config.gslb.pools.iter().find(|p| p.name == pool)?;
        let m = p.members.iter().find(|m| m.name == member)?;
        m.probe.as_ref().map(|(c, _)| (c.rise, c.fall))
    }

    /// Sets an override, saves the state file, and publishes. Errors only when saving fails;
    /// the override is in force either way.
    pub fn set_override(
        &mut self,
        target: Target,
        action: Action,
        ttl: Option<Duration>,
        now: SystemTime,
    ) -> Result<(), StateError> {
        tracing::info!(%target, ?action, ?ttl, "override set");
        self.overrides.set(target, action, ttl, now);
        self.publish(now);
        self.save()
    }

    /// One step of the spillover of `member`'s data center, from the mean load its serving
    /// members report, at most once per check interval of the member; true when the dial
    /// moved.
    fn spill_step(&mut self, pool: &str, member: &str, now: SystemTime) -> bool {
        let gslb = &self.config.gslb;
        let Some(p) = gslb.pools.iter().find(|p| p.name == pool) else { return false };
        let Some(m) = p.members.iter().find(|m| m.name == member) else { return false };
        let dc = &gslb.datacenters[m.dc];
        let Some(config) = dc.spillover else { return false };
        let interval = m.probe.as_ref().map_or(Duration::from_secs(5), |(c, _)| c.interval);
        let (current, last) =
            self.spills.get(&dc.name).copied().unwrap_or((spill::Spill::default(), std::time::UNIX_EPOCH));
        if now.duration_since(last).is_ok_and(|since| since < interval.mul_f64(0.9)) {
            return false;
        }
        // The mean load of the data center's members (every pool) that report one and are up.
        let readings: Vec<f64> = gslb
            .pools
            .iter()
            .flat_map(|p| p.members.iter().filter(|x| x.dc == m.dc).map(move |x| (p, x)))
            .filter(|(p, x)| self.states.get(&(p.name.clone(), x.name.clone())).is_some_and(MemberState::is_up))
            .filter_map(|(p, x)| self.loads.get(&(p.name.clone(), x.name.clone())).copied())
            .collect();
        if readings.is_empty() {
            return false;
        }
        let load = readings.iter().sum::<f64>() / readings.len() as f64;
        let next = spill::step(current, load, &config);
        self.spills.insert(dc.name.clone(), (next, now));
        if next.dial != current.dial {
            tracing::info!(
                datacenter = %dc.name,
                load = format!("{load:.2}"),
                above = config.above,
                below = config.below,
                dial = next.dial,
                "spillover: dial {} -> {}",
                current.dial,
                next.dial
            );
            return true;
        }
        false
    }

    /// The spillover state of each data center that has one (name -> state).
    pub fn spills(&self) -> HashMap<String, spill::Spill> {
        self.spills.iter().map(|(k, (s, _))| (k.clone(), *s)).collect()
    }

    /// Woken whenever a member's own status changes.
    pub fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// This instance's own view of every checked member it has a result for: (pool, member)
    /// -> up. What the fleet publishes.
    pub fn own_view(&self) -> HashMap<(String, String), bool> {
        self.states.iter().filter(|(_, s)| s.status != Status::Unknown).map(|(k, s)| (k.clone(), s.is_up())).collect()
    }

    /// Replaces the other instances' views and republishes when they changed.
    pub fn set_peers(&mut self, peers: Peers, now: SystemTime) {
        if peers != self.peers {
            self.peers = peers;
            self.publish(now);
        }
    }

    /// The other instances' views.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// How each member of `pool` gets what queries see of it, one line per member: the
    /// override in force, or every view (this instance's, named `me`, and the others') and the
    /// pool's quorum over them, e.g. `ams-1: up by majority, 2 of 3 views up (a down, b up,
    /// c up)`. Empty for an unknown pool.
    pub fn votes(&self, pool: &str, me: &str, now: SystemTime) -> Vec<String> {
        let Some(p) = self.config.gslb.pools.iter().find(|p| p.name == pool) else { return Vec::new() };
        let mut out = Vec::new();
        for m in &p.members {
            let dc = &self.config.gslb.datacenters[m.dc].name;
            if let Some(action) = self.overrides.effective(&p.name, &m.name, dc, now) {
                let what = match action {
                    Action::Drain => "drained",
                    Action::ForceUp => "up (forced)",
                    Action::ForceDown | Action::Dial(_) => "down (forced)",
                };
                out.push(format!("{}: {what} by override", m.name));
                continue;
            }
            let key = (p.name.clone(), m.name.clone());
            let own = self.states.get(&key).filter(|s| s.status != Status::Unknown).map(MemberState::is_up);
            let mut views: Vec<(&str, bool)> =
                self.peers.iter().filter_map(|(who, view)| Some((who.as_str(), *view.get(&key)?))).collect();
            views.extend(own.map(|up| (me, up)));
            views.sort();
            let up = views.iter().filter(|(_, up)| *up).count();
            // The verdict is what queries see, from the one function that decides it.
            let seen = view_of(&self.config, &self.states, &self.overrides, &self.peers, p, m, now);
            let verdict = if seen == View::Up { "up" } else { "down" };
            let list: Vec<String> =
                views.iter().map(|(who, up)| format!("{who} {}", if *up { "up" } else { "down" })).collect();
            out.push(if views.is_empty() {
                format!("{}: {verdict}, no view has a result (unchecked or not yet checked)", m.name)
            } else {
                format!(
                    "{}: {verdict} by {}, {up} of {} views up ({})",
                    m.name,
                    p.health_quorum,
                    views.len(),
                    list.join(", ")
                )
            });
        }
        out
    }

    /// Puts an override made elsewhere (the fleet's store) in force, as it was made; saves and
    /// publishes. A save failure is logged and counted (the override applies either way).
    pub fn install_override(&mut self, o: Override, now: SystemTime) {
        if self.overrides.overrides.contains(&o) {
            return;
        }
        tracing::info!(target = %o.target, action = ?o.action, set_by = ?o.set_by, "override from the fleet");
        self.overrides.install(o);
        self.publish(now);
        self.save_logged();
    }

    /// Removes an override the fleet's store no longer has.
    pub fn remove_override(&mut self, target: &Target, now: SystemTime) {
        if self.overrides.clear(target) {
            tracing::info!(%target, "override cleared by the fleet");
            self.publish(now);
            self.save_logged();
        }
    }

    /// Replaces every override with the fleet's (reconciliation when the store is reached).
    pub fn replace_overrides(&mut self, mut list: Vec<Override>, now: SystemTime) {
        list.sort_by_key(|o| o.created);
        if list == self.overrides.overrides {
            return;
        }
        tracing::info!(count = list.len(), "overrides reconciled with the fleet");
        self.overrides.overrides = list;
        self.publish(now);
        self.save_logged();
    }

    fn save_logged(&mut self) {
        if let Err(e) = self.save() {
            tracing::warn!(error = %e, "cannot save the state file");
        }
    }

    /// Clears an override; true when there was one.
    pub fn clear_override(&mut self, target: &Target, now: SystemTime) -> Result<bool, StateError> {
        let had = self.overrides.clear(target);
        if had {
            tracing::info!(%target, "override cleared");
            self.publish(now);
            self.save()?;
        }
        Ok(had)
    }

    /// Drops expired overrides and republishes when any was dropped. Returns the next expiry.
    pub fn expire(&mut self, now: SystemTime) -> Option<SystemTime> {
        if self.overrides.expire(now) {
            self.publish(now);
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "cannot save the state file");
            }
        }
        self.overrides.next_expiry()
    }

    /// The overrides in force.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    fn save(&mut self) -> Result<(), StateError> {
        let saved = match &self.state_file {
            Some(p) => self.overrides.save(p),
            None => Ok(()),
        };
        self.save_failures += u64::from(saved.is_err());
        saved
    }

    /// State file writes that failed since start (`meridian_state_save_failures_total`).
    pub fn save_failures(&self) -> u64 {
        self.save_failures
    }

    /// Follows a new configuration: members that still exist keep their state, new ones
    /// start unknown, removed ones are forgotten. Publishes the new configuration and its
    /// health view as one snapshot: this is how a reload installs a configuration.
    ///
    /// Everything new is built before anything is changed, and the change is the assignments
    /// at the end: a panic on the way leaves the table and the published snapshot as they were
    /// (the lock rule in ARCHITECTURE.md).
    pub fn reconfigure(&mut self, config: Arc<Config>, now: SystemTime) {
        #[cfg(test)]
        if test_hooks::FAIL_RECONFIGURE.with(|f| f.replace(false)) {
            panic!("injected failure while following a new configuration");
        }
        let exists = |pool: &str, member: &str| {
            config.gslb.pools.iter().any(|p| p.name == pool && p.members.iter().any(|m| m.name == member))
        };
        let states: HashMap<_, _> =
            self.states.iter().filter(|(k, _)| exists(&k.0, &k.1)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let durations: HashMap<_, _> =
            self.durations.iter().filter(|(k, _)| exists(&k.0, &k.1)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let snapshot = snapshot_of(&config, &states, &durations, &self.overrides, &self.peers, now);
        self.states = states;
        self.durations = durations;
        self.config = config;
        self.published.store(Arc::new(snapshot));
    }

    /// What queries see for every member now.
    fn views(&self, now: SystemTime) -> Vec<Vec<View>> {
        let gslb = &self.config.gslb;
        gslb.pools
            .iter()
            .map(|pool| {
                pool.members
                    .iter()
                    .map(|m| view_of(&self.config, &self.states, &self.overrides, &self.peers, pool, m, now))
                    .collect()
            })
            .collect()
    }

    fn publish(&mut self, now: SystemTime) {
        let mut snapshot = snapshot_of(&self.config, &self.states, &self.durations, &self.overrides, &self.peers, now);
        snapshot.health.spills = self
            .config
            .gslb
            .datacenters
            .iter()
            .map(|d| match (d.spillover, self.spills.get(&d.name)) {
                (Some(_), Some((s, _))) => s.dial,
                _ => 100,
            })
            .collect();
        snapshot.health.loads = self
            .config
            .gslb
            .datacenters
            .iter()
            .map(|d| self.spills.get(&d.name).filter(|_| d.spillover.is_some()).and_then(|(s, _)| s.load))
            .collect();
        self.published.store(Arc::new(snapshot));
        self.published_at = now;
    }

    /// Availability figures of every member, data center and pool of the configuration:
    /// (kind, name, figures), kind being "member" (name `pool/member`), "datacenter" or "pool".
    pub fn figures(&self, now: SystemTime) -> Vec<(&'static str, String, Figures)> {
        let gslb = &self.config.gslb;
        let mut out = Vec::new();
        let empty = History::default();
        let of = |p: &str, m: &str| self.overrides.history.get(&format!("{p}/{m}")).unwrap_or(&empty);
        for pool in &gslb.pools {
            for m in &pool.members {
                out.push(("member", format!("{}/{}", pool.name, m.name), of(&pool.name, &m.name).figures(now)));
            }
        }
        for (d, dc) in gslb.datacenters.iter().enumerate() {
            let parts: Vec<&History> = gslb
                .pools
                .iter()
                .flat_map(|p| p.members.iter().filter(|m| m.dc == d).map(|m| of(&p.name, &m.name)))
                .collect();
            out.push(("datacenter", dc.name.clone(), History::any_up(parts).figures(now)));
        }
        for pool in &gslb.pools {
            let parts: Vec<&History> = pool.members.iter().map(|m| of(&pool.name, &m.name)).collect();
            out.push(("pool", pool.name.clone(), History::any_up(parts).figures(now)));
        }
        out
    }

    /// Check durations per (pool, member).
    pub fn durations(&self) -> &HashMap<(String, String), Durations> {
        &self.durations
    }

    /// Every member's state, for status displays.
    pub fn report_all(&self, now: SystemTime) -> Vec<MemberReport> {
        let gslb = &self.config.gslb;
        let views = self.views(now);
        let mut out = Vec::new();
        for (pi, pool) in gslb.pools.iter().enumerate() {
            for (mi, m) in pool.members.iter().enumerate() {
                let dc = gslb.datacenters[m.dc].name.clone();
                // The health override in force, else the nearest dial.
                let applying: Vec<&Override> = self.overrides.applying(&pool.name, &m.name, &dc, now).collect();
                let health = applying.iter().find(|o| !matches!(o.action, Action::Dial(_)));
                let override_ = health.or(applying.first()).map(|o| (*o).clone());
                out.push(MemberReport {
                    pool: pool.name.clone(),
                    member: m.name.clone(),
                    datacenter: dc,
                    state: self.states.get(&(pool.name.clone(), m.name.clone())).cloned().unwrap_or_default(),
                    checked: m.probe.is_some(),
                    override_,
                    view: views[pi][mi],
                });
            }
        }
        out
    }
}

type MemberKey = (String, String);

/// What queries may do with one member: an override in force wins, then the checks.
/// What queries see of `member`: an override if one applies; else the verdict of the views
/// that exist (this instance's own probes, and in a fleet the other instances') under the
/// pool's `health_quorum`; a member nobody has a result for answers as up.
fn view_of(
    config: &Config,
    states: &HashMap<MemberKey, MemberState>,
    overrides: &Overrides,
    peers: &Peers,
    pool: &crate::config::gslb::Pool,
    member: &crate::config::gslb::Member,
    now: SystemTime,
) -> View {
    let dc = &config.gslb.datacenters[member.dc].name;
    match overrides.effective(&pool.name, &member.name, dc, now) {
        Some(Action::Drain) => View::Drained,
        Some(Action::ForceUp) => View::Up,
        Some(Action::ForceDown) => View::Down,
        // `effective` never returns a dial (it is not a health action).
        Some(Action::Dial(_)) | None => {
            let key = (pool.name.clone(), member.name.clone());
            let own = states.get(&key).filter(|s| s.status != Status::Unknown).map(MemberState::is_up);
            let others = peers.values().filter_map(|view| view.get(&key).copied());
            let (mut up, mut known) = (0, 0);
            for seen_up in own.into_iter().chain(others) {
                known += 1;
                up += usize::from(seen_up);
            }
            if pool.health_quorum.up(up, known) { View::Up } else { View::Down }
        }
    }
}

/// The snapshot queries read for `config` with these states, durations and overrides.
fn snapshot_of(
    config: &Arc<Config>,
    states: &HashMap<MemberKey, MemberState>,
    durations: &HashMap<MemberKey, Durations>,
    overrides: &Overrides,
    peers: &Peers,
    now: SystemTime,
) -> Snapshot {
    let pools = &config.gslb.pools;
    let mut snapshot = Snapshot::new(
        config.clone(),
        |p, m| view_of(config, states, overrides, peers, &pools[p], &pools[p].members[m], now),
        |p, m| durations.get(&(pools[p].name.clone(), pools[p].members[m].name.clone())).and_then(|d| d.ewma),
    );
    let dcs = &config.gslb.datacenters;
    snapshot.health.dials = dcs.iter().map(|d| overrides.dial(&d.name, now)).collect();
    snapshot.health.pool_dials = pools
        .iter()
        .map(|p| {
            let dials =
                dcs.iter().enumerate().filter_map(|(i, d)| overrides.pool_dial(&p.name, &d.name, now).map(|x| (i, x)));
            dials.collect()
        })
        .collect();
    snapshot
}

#[cfg(test)]
pub(crate) mod test_hooks {
    use std::cell::Cell;

    thread_local! {
        /// Makes the next [`super::HealthTable::reconfigure`] on this thread panic before it
        /// changes anything: how the reload tests make a reconfiguration fail.
        pub static FAIL_RECONFIGURE: Cell<bool> = const { Cell::new(false) };
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn failed_state_saves_are_counted_and_the_override_stays_in_force() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&root.join("tests/data/gslb"), &root.join("geo/dbip-country.mmdb")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // A state file in a directory that does not exist: every save fails.
        let state = dir.path().join("gone").join("state.json");
        let mut table = HealthTable::new(Arc::new(config), Some(state)).unwrap();
        let target = Target::Datacenter { datacenter: "ams".into() };
        assert!(table.set_override(target, Action::Drain, None, SystemTime::now()).is_err());
        assert_eq!(table.save_failures(), 1);
        assert_eq!(table.overrides().overrides.len(), 1, "in force although not saved");
    }
}
