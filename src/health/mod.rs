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

/// What the query path reads: each member's view, indexed like the configuration's pools and
/// members, for the configuration generation it was built for.
#[derive(Debug, Clone, Default)]
pub struct HealthSnapshot {
    /// The [`Config::generation`] this snapshot matches.
    pub generation: u64,
    views: Vec<Vec<View>>,
    rtts: Vec<Vec<Option<f64>>>,
}

impl HealthSnapshot {
    /// A snapshot in which every member is up, for `generation`.
    pub fn all_up(generation: u64) -> Self {
        HealthSnapshot { generation, views: Vec::new(), rtts: Vec::new() }
    }

    /// A snapshot with the given views (indexed by pool, then member) and no round-trip times:
    /// for tests and benchmarks of the query path.
    pub fn from_views(generation: u64, views: Vec<Vec<View>>) -> Self {
        HealthSnapshot { generation, views, rtts: Vec::new() }
    }
}

impl Health for HealthSnapshot {
    fn view(&self, pool: usize, member: usize) -> View {
        // A member the snapshot does not know (a snapshot of another generation during a
        // reload, or an all-up snapshot) answers as up: the documented initial state.
        self.views.get(pool).and_then(|p| p.get(member)).copied().unwrap_or(View::Up)
    }

    fn rtt(&self, pool: usize, member: usize) -> Option<f64> {
        self.rtts.get(pool).and_then(|p| p.get(member)).copied().flatten()
    }
}

/// Smoothing of check round-trip times (EWMA weight of a new sample): 0.3 follows a lasting
/// change within a handful of checks while one odd sample moves the average little.
pub const RTT_ALPHA: f64 = 0.3;
/// A sample counts as at most this many times the current average (and at least its inverse),
/// so that one very slow check cannot swing `fastest` away from a member.
pub const RTT_CLAMP: f64 = 3.0;

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
    published: Arc<ArcSwap<HealthSnapshot>>,
}

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
            Some(p) => Overrides::load(p)?,
            None => Overrides::default(),
        };
        let published = Arc::new(ArcSwap::from_pointee(HealthSnapshot::all_up(config.generation)));
        let mut table =
            HealthTable { config, states: HashMap::new(), durations: HashMap::new(), overrides, state_file, published };
        table.publish(SystemTime::now());
        Ok(table)
    }

    /// Where snapshots are published.
    pub fn snapshots(&self) -> Arc<ArcSwap<HealthSnapshot>> {
        self.published.clone()
    }

    /// The configuration the table follows.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Records a probe result for `member` of `pool` (by name), and how long the check took.
    pub fn report(&mut self, pool: &str, member: &str, ok: bool, reason: &str, took: Duration, now: SystemTime) {
        let Some(check) = self.check_of(pool, member) else {
            return; // Removed by a reload while the probe ran.
        };
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
            let up = state.status == Status::Up;
            self.overrides.history.entry(format!("{pool}/{member}")).or_default().record(now, up);
            self.publish(now);
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "cannot save the state file");
            }
        } else if rtt_moved {
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

    fn save(&self) -> Result<(), StateError> {
        match &self.state_file {
            Some(p) => self.overrides.save(p),
            None => Ok(()),
        }
    }

    /// Follows a new configuration: members that still exist keep their state, new ones
    /// start unknown, removed ones are forgotten. Publishes a snapshot for the new generation.
    pub fn reconfigure(&mut self, config: Arc<Config>, now: SystemTime) {
        let mut keep = HashMap::new();
        for pool in &config.gslb.pools {
            for m in &pool.members {
                let key = (pool.name.clone(), m.name.clone());
                if let Some(s) = self.states.remove(&key) {
                    keep.insert(key, s);
                }
            }
        }
        self.states = keep;
        self.config = config;
        let gslb = &self.config.gslb;
        self.durations
            .retain(|k, _| gslb.pools.iter().any(|p| p.name == k.0 && p.members.iter().any(|m| m.name == k.1)));
        self.publish(now);
    }

    /// What queries see for every member now.
    fn views(&self, now: SystemTime) -> Vec<Vec<View>> {
        let gslb = &self.config.gslb;
        gslb.pools
            .iter()
            .map(|pool| {
                pool.members
                    .iter()
                    .map(|m| {
                        let dc = &gslb.datacenters[m.dc].name;
                        match self.overrides.effective(&pool.name, &m.name, dc, now) {
                            Some(Action::Drain) => View::Drained,
                            Some(Action::ForceUp) => View::Up,
                            Some(Action::ForceDown) => View::Down,
                            None => match self.states.get(&(pool.name.clone(), m.name.clone())) {
                                Some(s) if !s.is_up() => View::Down,
                                _ => View::Up,
                            },
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn publish(&mut self, now: SystemTime) {
        let rtts = self
            .config
            .gslb
            .pools
            .iter()
            .map(|p| {
                p.members
                    .iter()
                    .map(|m| self.durations.get(&(p.name.clone(), m.name.clone())).and_then(|d| d.ewma))
                    .collect()
            })
            .collect();
        let snapshot = HealthSnapshot { generation: self.config.generation, views: self.views(now), rtts };
        self.published.store(Arc::new(snapshot));
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
                let member_target = Target::Member { pool: pool.name.clone(), member: m.name.clone() };
                let dc_target = Target::Datacenter { datacenter: dc.clone() };
                let override_ = self
                    .overrides
                    .overrides
                    .iter()
                    .find(|o| o.target == member_target && o.active(now))
                    .or_else(|| self.overrides.overrides.iter().find(|o| o.target == dc_target && o.active(now)))
                    .cloned();
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
