//! Operator overrides: drain, force up, force down, for a member or a whole data center, with
//! an optional expiry; kept in a state file so that they survive restarts.
//!
//! Precedence: a member's own override beats its data center's, and any override beats the
//! probes. Overrides name pools, members and data centers by name, so they survive reloads
//! that renumber them; an override for something that no longer exists is kept (it applies
//! again if the name comes back) and shown as such.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// What an override does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Take no new answers (the member or data center is skipped), whatever the probes say.
    Drain,
    /// Answer as up whatever the probes say.
    ForceUp,
    /// Answer as down whatever the probes say.
    ForceDown,
    /// A data center's traffic dial set at run time: the percent of its client networks it
    /// keeps (over the configuration's `dial`); health is still the checks'. Data centers
    /// only, in every pool or in one.
    Dial(u8),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Drain => f.write_str("drain"),
            Action::ForceUp => f.write_str("force-up"),
            Action::ForceDown => f.write_str("force-down"),
            Action::Dial(p) => write!(f, "dial {p}%"),
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "drain" => Ok(Action::Drain),
            "force-up" => Ok(Action::ForceUp),
            "force-down" => Ok(Action::ForceDown),
            _ => Err(format!("unknown action '{s}' (expected drain, force-up or force-down)")),
        }
    }
}

/// What an override applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// One member of one pool.
    Member {
        /// Pool name.
        pool: String,
        /// Member name.
        member: String,
    },
    /// Every member in a data center, in every pool.
    Datacenter {
        /// Data center name.
        datacenter: String,
    },
    /// A data center in one pool only: its members of that pool, or that pool's traffic dial.
    #[serde(rename = "pool-datacenter")]
    PoolDatacenter {
        /// Pool name.
        pool: String,
        /// Data center name.
        datacenter: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Member { pool, member } => write!(f, "member {pool}/{member}"),
            Target::Datacenter { datacenter } => write!(f, "data center {datacenter}"),
            Target::PoolDatacenter { pool, datacenter } => write!(f, "data center {datacenter} in pool {pool}"),
        }
    }
}

/// One override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// What it applies to.
    pub target: Target,
    /// What it does.
    pub action: Action,
    /// When it stops applying, if ever (seconds since the Unix epoch in the file).
    #[serde(default, with = "epoch_opt")]
    pub expires: Option<SystemTime>,
    /// When it was set.
    #[serde(with = "epoch")]
    pub created: SystemTime,
    /// The fleet instance that set it (none outside a fleet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
}

impl Override {
    /// True while it applies at `now`.
    pub fn active(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

/// What the state file keeps: the overrides in force (at most one per target) and each
/// member's health history (for the availability figures).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    /// The list, in the order set.
    pub overrides: Vec<Override>,
    /// Health history by `pool/member`.
    #[serde(default)]
    pub history: std::collections::BTreeMap<String, super::history::History>,
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a state file.
    #[error("{path}: not a Meridian state file: {reason} (move it aside to start without overrides)")]
    Parse {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Overrides {
    /// Sets (or replaces) the override of `target`.
    pub fn set(&mut self, target: Target, action: Action, ttl: Option<Duration>, now: SystemTime) {
        self.install(Override { target, action, expires: ttl.map(|t| now + t), created: now, set_by: None });
    }

    /// Puts `o` in force in place of any override of its target.
    pub fn install(&mut self, o: Override) {
        self.overrides.retain(|x| x.target != o.target);
        self.overrides.push(o);
    }

    /// Removes the override of `target`; true when there was one.
    pub fn clear(&mut self, target: &Target) -> bool {
        let before = self.overrides.len();
        self.overrides.retain(|o| o.target != *target);
        before != self.overrides.len()
    }

    /// Drops expired overrides; true when any was dropped.
    pub fn expire(&mut self, now: SystemTime) -> bool {
        let before = self.overrides.len();
        self.overrides.retain(|o| o.active(now));
        before != self.overrides.len()
    }

    /// The earliest expiry still ahead.
    pub fn next_expiry(&self) -> Option<SystemTime> {
        self.overrides.iter().filter_map(|o| o.expires).min()
    }

    /// The overrides in force that apply to member `member` of `pool` in data center `dc`,
    /// nearest first: the member's own, its data center's in that pool, its data center's.
    pub fn applying<'a>(
        &'a self,
        pool: &str,
        member: &str,
        dc: &str,
        now: SystemTime,
    ) -> impl Iterator<Item = &'a Override> + 'a {
        let targets = [
            Target::Member { pool: pool.to_string(), member: member.to_string() },
            Target::PoolDatacenter { pool: pool.to_string(), datacenter: dc.to_string() },
            Target::Datacenter { datacenter: dc.to_string() },
        ];
        targets.into_iter().filter_map(move |want| self.overrides.iter().find(|o| o.target == want && o.active(now)))
    }

    /// The health action that applies to member `member` of `pool` in data center `dc`: the
    /// nearest target's. A dial is not one (its members' health stays the checks'), and it
    /// never hides a drain: a dial on ams in pool www leaves a drain of ams in force there.
    pub fn effective(&self, pool: &str, member: &str, dc: &str, now: SystemTime) -> Option<Action> {
        self.applying(pool, member, dc, now).map(|o| o.action).find(|a| !matches!(a, Action::Dial(_)))
    }

    /// The traffic dial set at run time on data center `dc` for every pool, if one is in force.
    pub fn dial(&self, dc: &str, now: SystemTime) -> Option<u8> {
        self.overrides.iter().find_map(|o| match (&o.target, o.action) {
            (Target::Datacenter { datacenter }, Action::Dial(p)) if datacenter == dc && o.active(now) => Some(p),
            _ => None,
        })
    }

    /// The traffic dial set at run time on data center `dc` for pool `pool` only, if one is in
    /// force (it wins over a dial on the data center).
    pub fn pool_dial(&self, pool: &str, dc: &str, now: SystemTime) -> Option<u8> {
        self.overrides.iter().find_map(|o| match (&o.target, o.action) {
            (Target::PoolDatacenter { pool: p, datacenter }, Action::Dial(pct))
                if p == pool && datacenter == dc && o.active(now) =>
            {
                Some(pct)
            }
            _ => None,
        })
    }

    /// Reads the state file; a missing file is an empty set.
    pub fn load(path: &Path) -> Result<Overrides, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Overrides::default()),
            Err(source) => {
                return Err(StateError::Io { path: path.to_path_buf(), source });
            }
        };
        serde_json::from_str(&text).map_err(|e| StateError::Parse { path: path.to_path_buf(), reason: e.to_string() })
    }

    /// Reads the state file at `path` for a start: a missing file is no overrides; a file
    /// that cannot be read or is not a state file (an empty file a config tool touched, a
    /// truncated write) is moved aside, so that DNS never stays down over it, and the second
    /// value says what happened, naming the overrides it held when they can be read.
    pub fn load_or_set_aside(path: &Path) -> (Overrides, Option<String>) {
        let error = match Overrides::load(path) {
            Ok(o) => return (o, None),
            Err(e) => e,
        };
        let held: Vec<String> = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("overrides").and_then(|o| o.as_array()).cloned())
            .map(|list| {
                list.iter().map(|o| o.get("target").map_or_else(|| o.to_string(), ToString::to_string)).collect()
            })
            .unwrap_or_default();
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let aside = path.with_file_name(format!(
            "{}.bad-{stamp}",
            path.file_name().map_or_else(|| "state".into(), |n| n.to_string_lossy())
        ));
        let moved = match std::fs::rename(path, &aside) {
            Ok(()) => format!("moved aside to {}", aside.display()),
            Err(e) => format!("could not be moved aside ({e})"),
        };
        let lost =
            if held.is_empty() { String::new() } else { format!("; overrides not applied: {}", held.join(", ")) };
        (Overrides::default(), Some(format!("{error}; {moved}; starting without overrides{lost}")))
    }

    /// Writes the state file atomically (a temporary file renamed over it), so a crash
    /// mid-write leaves the old file, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io { path: path.to_path_buf(), source };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

mod epoch {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(d)?))
    }
}

mod epoch_opt {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(|s| UNIX_EPOCH + Duration::from_secs(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn member(p: &str, m: &str) -> Target {
        Target::Member { pool: p.into(), member: m.into() }
    }

    #[test]
    fn member_beats_data_center_and_expiry_ends_it() {
        let mut o = Overrides::default();
        o.set(Target::Datacenter { datacenter: "ams".into() }, Action::Drain, None, t(0));
        o.set(member("www", "ams-1"), Action::ForceUp, Some(Duration::from_secs(60)), t(100));
        assert_eq!(o.effective("www", "ams-1", "ams", t(120)), Some(Action::ForceUp));
        assert_eq!(o.effective("www", "ams-2", "ams", t(120)), Some(Action::Drain));
        assert_eq!(o.effective("www", "iad-1", "iad", t(120)), None);
        // At 160 s the member override has expired: the data center's applies again.
        assert_eq!(o.effective("www", "ams-1", "ams", t(160)), Some(Action::Drain));
        assert_eq!(o.next_expiry(), Some(t(160)));
        assert!(o.expire(t(160)));
        assert_eq!(o.overrides.len(), 1);
        assert!(o.clear(&Target::Datacenter { datacenter: "ams".into() }));
        assert_eq!(o.effective("www", "ams-2", "ams", t(200)), None);
    }

    #[test]
    fn setting_again_replaces() {
        let mut o = Overrides::default();
        o.set(member("www", "a"), Action::Drain, None, t(0));
        o.set(member("www", "a"), Action::ForceDown, None, t(1));
        assert_eq!(o.overrides.len(), 1);
        assert_eq!(o.effective("www", "a", "x", t(2)), Some(Action::ForceDown));
    }

    #[test]
    fn a_dial_is_a_data_centers_traffic_not_its_members_health() {
        let mut o = Overrides::default();
        let ams = Target::Datacenter { datacenter: "ams".into() };
        o.set(ams.clone(), Action::Dial(30), Some(Duration::from_secs(60)), t(0));
        assert_eq!(o.dial("ams", t(1)), Some(30));
        assert_eq!(o.dial("iad", t(1)), None);
        assert_eq!(o.effective("www", "a", "ams", t(1)), None, "members keep their checks' health");
        assert_eq!(o.dial("ams", t(61)), None, "expired");
        // In the state file (and the fleet's store) as {"dial": 30}; read back the same.
        let text = serde_json::to_string(&o).unwrap();
        assert!(text.contains("\"action\":{\"dial\":30}"), "{text}");
        assert_eq!(serde_json::from_str::<Overrides>(&text).unwrap(), o);
        // A drain of the same data center replaces the dial (one override per target).
        o.set(ams, Action::Drain, None, t(2));
        assert_eq!((o.dial("ams", t(3)), o.effective("www", "a", "ams", t(3))), (None, Some(Action::Drain)));
        assert_eq!(Action::Dial(5).to_string(), "dial 5%");
    }

    #[test]
    fn a_data_center_in_one_pool_sits_between_the_member_and_the_data_center() {
        let mut o = Overrides::default();
        let ams = Target::Datacenter { datacenter: "ams".into() };
        let www_ams = Target::PoolDatacenter { pool: "www".into(), datacenter: "ams".into() };
        o.set(ams.clone(), Action::Dial(80), None, t(0));
        o.set(www_ams.clone(), Action::Dial(20), Some(Duration::from_secs(60)), t(0));
        // The pool's own dial wins for that pool; other pools keep the data center's.
        assert_eq!((o.pool_dial("www", "ams", t(1)), o.dial("ams", t(1))), (Some(20), Some(80)));
        assert_eq!(o.pool_dial("api", "ams", t(1)), None);
        assert_eq!(o.pool_dial("www", "ams", t(61)), None, "expired");
        // A drain of ams in www only: www's ams members, not api's; a member's own wins.
        o.set(www_ams.clone(), Action::Drain, None, t(2));
        o.set(member("www", "ams-2"), Action::ForceUp, None, t(2));
        assert_eq!(o.effective("www", "ams-1", "ams", t(3)), Some(Action::Drain));
        assert_eq!(o.effective("www", "ams-2", "ams", t(3)), Some(Action::ForceUp));
        assert_eq!(o.effective("api", "ams-1", "ams", t(3)), None);
        // A dial never hides a drain further out: ams drained everywhere, www dialed at ams.
        o.set(ams, Action::Drain, None, t(4));
        o.set(www_ams.clone(), Action::Dial(50), None, t(4));
        assert_eq!(o.effective("www", "ams-1", "ams", t(5)), Some(Action::Drain));
        assert_eq!(o.applying("www", "ams-1", "ams", t(5)).next().map(|x| x.action), Some(Action::Dial(50)));
        // Kept and read back under its own kind.
        let text = serde_json::to_string(&o).unwrap();
        assert!(text.contains("\"kind\":\"pool-datacenter\",\"pool\":\"www\",\"datacenter\":\"ams\""), "{text}");
        assert_eq!(serde_json::from_str::<Overrides>(&text).unwrap(), o);
        assert_eq!(www_ams.to_string(), "data center ams in pool www");
    }

    #[test]
    fn the_state_file_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(Overrides::load(&path).unwrap(), Overrides::default());
        let mut o = Overrides::default();
        o.set(member("www", "ams-1"), Action::Drain, Some(Duration::from_secs(30)), t(1000));
        o.set(Target::Datacenter { datacenter: "sin".into() }, Action::ForceDown, None, t(1001));
        o.save(&path).unwrap();
        assert_eq!(Overrides::load(&path).unwrap(), o);
        std::fs::write(&path, "{ not json").unwrap();
        let err = Overrides::load(&path).unwrap_err().to_string();
        assert!(err.contains("state.json: not a Meridian state file"), "{err}");
    }
}
