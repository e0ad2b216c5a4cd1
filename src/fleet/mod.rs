//! A fleet of Meridians sharing one etcd: overrides set through any instance apply on every
//! instance.
//!
//! Keys live under the cluster's prefix (`/meridian` by default):
//! `PREFIX/overrides/datacenter/DC` and `PREFIX/overrides/member/POOL/MEMBER`, each holding the
//! override as JSON (action, expiry, when and by which instance it was set). An instance
//! writes there when its API or CLI is asked to set or clear an override, and every instance
//! (the writer included) applies what it watches, so the fleet converges on etcd's copy. Each
//! keeps that copy in its state file, so a restart while etcd is down starts with the last
//! overrides known. The query path never waits for etcd: it reads the health snapshot, which
//! the watcher republishes.
//!
//! Health is shared the same way: each instance writes its own probe verdict of every member
//! to `PREFIX/health/INSTANCE/POOL/MEMBER` (`up` or `down`) under a lease it keeps alive, and
//! watches the others'. A member's state is then the verdict of every view under the pool's
//! `health_quorum` (majority by default), so one instance's broken path to a data center
//! fails nothing over, and the fleet gives one answer. An instance that dies stops renewing
//! its lease, and its views vanish with it after [`LEASE_TTL`].
//!
//! When etcd cannot be reached, the instance goes on serving with the overrides it has,
//! refuses new overrides (503: setting one on this instance alone would split the fleet), says
//! so in `/status`, and reconciles with etcd's copy as soon as it is back.

pub mod etcd;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::health::HealthTable;
use crate::health::overrides::{Override, Target};
use etcd::{Access, Etcd, EtcdError, Event, Op};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "/meridian";
/// How long to wait before trying etcd again after it failed.
const RETRY: Duration = Duration::from_secs(1);
/// Seconds an instance's health views outlive its last lease renewal.
pub const LEASE_TTL: u64 = 10;
/// How long changes of this instance's views are gathered before they are written.
const GATHER: Duration = Duration::from_millis(100);
/// How often the lease is renewed (a third of its life, so two renewals may fail).
const KEEP_ALIVE: Duration = Duration::from_secs(LEASE_TTL / 3);

/// `[cluster]` in the settings file, `--cluster-*` on the command line.
#[derive(clap::Args, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterSettings {
    /// etcd client URLs (repeat for each member); sets up a fleet. `[cluster] endpoints`.
    #[arg(long = "cluster-endpoint", id = "cluster-endpoint", value_name = "URL")]
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// This instance's name in the fleet; default the host name. `[cluster] name`.
    #[arg(long = "cluster-name", id = "cluster-name", value_name = "NAME")]
    pub name: Option<String>,
    /// The etcd key prefix the fleet shares; default /meridian. `[cluster] prefix`.
    #[arg(long = "cluster-prefix", id = "cluster-prefix", value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// PEM file of the CAs that sign etcd's certificates (https:// endpoints), trusted in place
    /// of the system's. `[cluster] ca-file`.
    #[arg(long = "cluster-ca-file", id = "cluster-ca-file", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for etcd's `--client-cert-auth`; needs key-file. `[cluster] cert-file`.
    #[arg(long = "cluster-cert-file", id = "cluster-cert-file", value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of cert-file. `[cluster] key-file`.
    #[arg(long = "cluster-key-file", id = "cluster-key-file", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// etcd user to authenticate as; needs password-file. `[cluster] user`.
    #[arg(long = "cluster-user", id = "cluster-user", value_name = "NAME")]
    pub user: Option<String>,
    /// File whose first line is the etcd user's password. `[cluster] password-file`.
    #[arg(long = "cluster-password-file", id = "cluster-password-file", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl ClusterSettings {
    /// These settings (from flags) over `file`'s, key by key.
    pub fn over(self, file: ClusterSettings) -> ClusterSettings {
        ClusterSettings {
            endpoints: if self.endpoints.is_empty() { file.endpoints } else { self.endpoints },
            name: self.name.or(file.name),
            prefix: self.prefix.or(file.prefix),
            ca_file: self.ca_file.or(file.ca_file),
            cert_file: self.cert_file.or(file.cert_file),
            key_file: self.key_file.or(file.key_file),
            user: self.user.or(file.user),
            password_file: self.password_file.or(file.password_file),
        }
    }

    /// Makes the file names relative to `dir` (the settings file's).
    pub fn rebase(&mut self, dir: &Path) {
        for path in
            [&mut self.ca_file, &mut self.cert_file, &mut self.key_file, &mut self.password_file].into_iter().flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }

    /// Reads the TLS and credential files named; errors name the key and the file.
    pub fn access(&self) -> Result<Access, String> {
        let read = |key: &str, path: &Path| {
            std::fs::read(path).map_err(|e| format!("cluster.{key}: {}: cannot read: {e}", path.display()))
        };
        let mut access = Access::default();
        if let Some(path) = &self.ca_file {
            access.ca = Some(read("ca-file", path)?);
        }
        if let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) {
            let mut identity = read("cert-file", cert)?;
            identity.push(b'\n');
            identity.extend(read("key-file", key)?);
            access.identity = Some(identity);
        }
        if let (Some(user), Some(path)) = (&self.user, &self.password_file) {
            let text = read("password-file", path)?;
            let password = String::from_utf8_lossy(&text).lines().next().unwrap_or_default().to_string();
            if password.is_empty() {
                return Err(format!("cluster.password-file: {}: the first line is empty", path.display()));
            }
            access.user = Some((user.clone(), password));
        }
        Ok(access)
    }

    /// Checks the values: URLs, a prefix that starts with `/`.
    pub fn check(&self) -> Result<(), String> {
        if self.endpoints.is_empty() && *self != ClusterSettings::default() {
            return Err("cluster: name, prefix and the rest need endpoints".into());
        }
        if !self.endpoints.is_empty() {
            Etcd::check_endpoints(&self.endpoints).map_err(|e| format!("cluster.endpoints: {e}"))?;
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err("cluster: cert-file and key-file go together".into());
        }
        if self.user.is_some() != self.password_file.is_some() {
            return Err("cluster: user and password-file go together".into());
        }
        let tls = self.ca_file.is_some() || self.cert_file.is_some();
        if tls && let Some(plain) = self.endpoints.iter().find(|e| e.starts_with("http://")) {
            return Err(format!("cluster: ca-file and cert-file are for https:// endpoints, not {plain}"));
        }
        if let Some(p) = &self.prefix
            && (!p.starts_with('/') || p.len() < 2)
        {
            return Err(format!("cluster.prefix: '{p}' must start with / and name something"));
        }
        if self.name.as_deref().is_some_and(|n| n.is_empty() || n.contains('/')) {
            return Err("cluster.name: must be a non-empty name without /".into());
        }
        Ok(())
    }
}

/// What an instance is to the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A nameserver: checks, publishes its views and answers DNS.
    #[default]
    Server,
    /// `meridian checker`: checks and publishes its views, answers no DNS.
    Checker,
}

/// What an instance tells the fleet about itself, renewed with its lease: enough to see that
/// every instance runs the same version, zones and geo data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The instance's name.
    pub name: String,
    /// Nameserver or checker.
    #[serde(default)]
    pub role: Role,
    /// Meridian's version.
    pub version: String,
    /// The source revision built.
    pub revision: String,
    /// The SHA-256 of the GSLB definitions loaded (the `*.toml` files of the zones directory
    /// and the network files they name).
    #[serde(default)]
    pub config: String,
    /// Zone origin -> serial served.
    pub zones: std::collections::BTreeMap<String, u32>,
    /// The geo database's build time (seconds since the epoch).
    pub geo_build: u64,
    /// When the instance started (seconds since the epoch).
    pub started: u64,
    /// When it last renewed its lease (seconds since the epoch).
    pub heartbeat: u64,
}

/// Seconds since the epoch.
fn epoch(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What differs between instances: the names of the fields (`version`, `config`, `zones`,
/// `geo`) on which not every instance agrees.
pub fn drift(instances: &[InstanceInfo]) -> Vec<&'static str> {
    let differs = |f: &dyn Fn(&InstanceInfo) -> String| {
        instances.first().is_some_and(|first| instances.iter().any(|i| f(i) != f(first)))
    };
    let mut out = Vec::new();
    if differs(&|i| format!("{} {}", i.version, i.revision)) {
        out.push("version");
    }
    if differs(&|i| i.config.clone()) {
        out.push("config");
    }
    if differs(&|i| format!("{:?}", i.zones)) {
        out.push("zones");
    }
    if differs(&|i| i.geo_build.to_string()) {
        out.push("geo");
    }
    out
}

/// One instance's part in a fleet.
#[derive(Debug)]
pub struct Fleet {
    etcd: Etcd,
    /// This instance's name.
    pub name: String,
    /// What this instance is to the fleet.
    pub role: Role,
    prefix: String,
    health: Arc<Mutex<HealthTable>>,
    connected: AtomicBool,
    /// Times the connection to etcd was lost.
    pub disconnects: AtomicU64,
    last_error: Mutex<Option<String>>,
    started: SystemTime,
    /// Every instance of the fleet as last seen, by name.
    instances: Mutex<std::collections::BTreeMap<String, InstanceInfo>>,
}

/// Escapes `/` and `%` in a name used as a key segment.
fn segment(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// The name a key segment escaped by [`segment`] stands for.
fn unsegment(segment: &str) -> String {
    segment.replace("%2F", "/").replace("%25", "%")
}

impl Fleet {
    /// Joins the fleet `settings` names (endpoints given), applying overrides to `health`.
    /// Nothing is asked of etcd yet: [`Fleet::run`] does that, and retries while it is down.
    pub fn new(settings: &ClusterSettings, role: Role, health: Arc<Mutex<HealthTable>>) -> Result<Arc<Fleet>, String> {
        let etcd = Etcd::new(&settings.endpoints, &settings.access()?).map_err(|e| format!("cluster: {e}"))?;
        let name = match &settings.name {
            Some(n) => n.clone(),
            None => crate::config::Identity::of_host().server_id.unwrap_or_else(|| "meridian".into()),
        };
        let prefix = settings.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.to_string());
        Ok(Arc::new(Fleet {
            etcd,
            name,
            role,
            prefix: prefix.trim_end_matches('/').to_string(),
            health,
            connected: AtomicBool::new(false),
            disconnects: AtomicU64::new(0),
            last_error: Mutex::new(None),
            started: SystemTime::now(),
            instances: Mutex::new(std::collections::BTreeMap::new()),
        }))
    }

    fn overrides_prefix(&self) -> String {
        format!("{}/overrides/", self.prefix)
    }

    fn key_of(&self, target: &Target) -> String {
        match target {
            Target::Datacenter { datacenter } => {
                format!("{}datacenter/{}", self.overrides_prefix(), segment(datacenter))
            }
            Target::Member { pool, member } => {
                format!("{}member/{}/{}", self.overrides_prefix(), segment(pool), segment(member))
            }
            Target::PoolDatacenter { pool, datacenter } => {
                format!("{}pool-datacenter/{}/{}", self.overrides_prefix(), segment(pool), segment(datacenter))
            }
        }
    }

    /// True while the last exchange with etcd worked.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Why etcd last failed, while it does.
    pub fn last_error(&self) -> Option<String> {
        crate::sync::lock(&self.last_error).clone()
    }

    fn up(&self) {
        if !self.connected.swap(true, Ordering::Relaxed) {
            tracing::info!(instance = %self.name, "fleet store reached: overrides are shared");
        }
        *crate::sync::lock(&self.last_error) = None;
    }

    fn down(&self, e: &EtcdError) {
        if self.connected.swap(false, Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "fleet store lost: serving with the overrides known; new ones refused until it is back");
        }
        *crate::sync::lock(&self.last_error) = Some(e.to_string());
    }

    /// Stores an override for the whole fleet (this instance applies it at once too).
    pub async fn put_override(&self, over: &Override) -> Result<(), EtcdError> {
        let value = serde_json::to_vec(over).unwrap_or_default();
        match self.etcd.put(&self.key_of(&over.target), &value, None).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.down(&e);
                Err(e)
            }
        }
    }

    /// Removes an override from the whole fleet; true when etcd had it.
    pub async fn delete_override(&self, target: &Target) -> Result<bool, EtcdError> {
        self.etcd.delete(&self.key_of(target)).await.inspect_err(|e| self.down(e))
    }

    /// Takes part in the fleet for ever: follows its overrides, publishes this instance's
    /// health views and record, follows the others'. Each loop starts again after any
    /// failure, which reconciles whatever changed meanwhile.
    pub async fn run(self: Arc<Self>) {
        tokio::join!(
            self.again(|| self.follow()),
            self.again(|| self.publish_health()),
            self.again(|| self.follow_health()),
            self.again(|| self.follow_instances()),
        );
    }

    /// Runs `step` for ever, again one [`RETRY`] after each failure.
    async fn again<F: std::future::Future<Output = Result<(), EtcdError>>>(&self, step: impl Fn() -> F) {
        loop {
            if let Err(e) = step().await {
                self.down(&e);
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    fn health_prefix(&self) -> String {
        format!("{}/health/", self.prefix)
    }

    fn health_key(&self, (pool, member): &(String, String)) -> String {
        format!("{}{}/{}/{}", self.health_prefix(), segment(&self.name), segment(pool), segment(member))
    }

    fn instances_prefix(&self) -> String {
        format!("{}/instances/", self.prefix)
    }

    /// This instance as the fleet sees it now.
    fn info(&self) -> InstanceInfo {
        let config = crate::sync::lock(&self.health).config().clone();
        InstanceInfo {
            name: self.name.clone(),
            role: self.role,
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: env!("MERIDIAN_REVISION").to_string(),
            config: config.gslb.digest.clone(),
            zones: config.zones.zones().iter().map(|z| (z.origin().to_string(), z.serial())).collect(),
            geo_build: config.geo.build_epoch(),
            started: epoch(self.started),
            heartbeat: epoch(SystemTime::now()),
        }
    }

    async fn put_info(&self, lease: i64) -> Result<(), EtcdError> {
        let value = serde_json::to_vec(&self.info()).unwrap_or_default();
        self.etcd.put(&format!("{}{}", self.instances_prefix(), segment(&self.name)), &value, Some(lease)).await?;
        Ok(())
    }

    /// Every instance of the fleet as last seen (this one included), by name.
    pub fn instances(&self) -> Vec<InstanceInfo> {
        crate::sync::lock(&self.instances).values().cloned().collect()
    }

    /// Follows `instances/` into [`Fleet::instances`].
    async fn follow_instances(&self) -> Result<(), EtcdError> {
        let prefix = self.instances_prefix();
        self.etcd
            .mirror_prefix(&prefix, |reset, events| {
                let mut instances = crate::sync::lock(&self.instances);
                if reset {
                    instances.clear();
                }
                for event in events {
                    match event {
                        Event::Put(kv) => {
                            if let Ok(i) = serde_json::from_slice::<InstanceInfo>(&kv.value) {
                                instances.insert(i.name.clone(), i);
                            }
                        }
                        Event::Delete(key) => {
                            instances.remove(&unsegment(key.strip_prefix(&prefix).unwrap_or(&key)));
                        }
                    }
                }
            })
            .await
    }

    /// Writes this instance's view of every member it has a result for, under a lease, and
    /// each change as it happens; renews the lease, and with it what the instance says of
    /// itself (`instances/NAME`: version, zone serials, geo build, heartbeat).
    async fn publish_health(&self) -> Result<(), EtcdError> {
        let lease = self.etcd.grant(LEASE_TTL).await?;
        self.put_info(lease).await?;
        // Whatever an earlier life of this instance left is replaced.
        self.etcd.delete_prefix(&format!("{}{}/", self.health_prefix(), segment(&self.name))).await?;
        let changed = crate::sync::lock(&self.health).changed();
        let mut written: std::collections::HashMap<(String, String), bool> = std::collections::HashMap::new();
        let mut renewed = tokio::time::Instant::now();
        let mut renew = renewed + KEEP_ALIVE;
        loop {
            let view = crate::sync::lock(&self.health).own_view();
            // Every change since the last round, written in as few transactions as etcd
            // allows: a start or a data center going down is tens of requests, not thousands.
            let mut ops = Vec::new();
            for (key, &up) in &view {
                if written.get(key) != Some(&up) {
                    let value = if up { b"up".to_vec() } else { b"down".to_vec() };
                    ops.push(Op::Put { key: self.health_key(key), value, lease: Some(lease) });
                }
            }
            let gone: Vec<_> = written.keys().filter(|k| !view.contains_key(*k)).cloned().collect();
            ops.extend(gone.iter().map(|key| Op::Delete { key: self.health_key(key) }));
            self.etcd.write_all(&ops).await?;
            for key in gone {
                written.remove(&key);
            }
            written.extend(view);
            self.up();
            tokio::select! {
                // Checks finish one by one across their interval: gathering what changes in
                // the next moment makes a data center going down a few transactions, not one
                // request per member.
                _ = changed.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep_until(renew) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= renew {
                match self.etcd.keep_alive(lease).await {
                    Ok(true) => {
                        self.put_info(lease).await?;
                        renewed = now;
                        renew = now + KEEP_ALIVE;
                    }
                    Ok(false) => return Err(EtcdError::Refused("the health lease expired".into())),
                    // A renewal that failed while the lease still has life left (a busy etcd,
                    // a slow answer) is tried again in a second; starting over would write
                    // every view again.
                    Err(e) if now.duration_since(renewed) + RETRY < Duration::from_secs(LEASE_TTL) => {
                        self.down(&e);
                        renew = now + RETRY;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Follows the other instances' views into the health table.
    async fn follow_health(&self) -> Result<(), EtcdError> {
        let mut peers = crate::health::Peers::new();
        self.etcd
            .mirror_prefix(&self.health_prefix(), |reset, events| {
                if reset {
                    peers.clear();
                }
                for event in events {
                    match event {
                        Event::Put(kv) => self.note_view(&mut peers, &kv.key, Some(&kv.value)),
                        Event::Delete(key) => self.note_view(&mut peers, &key, None),
                    }
                }
                crate::sync::lock(&self.health).set_peers(peers.clone(), SystemTime::now());
            })
            .await
    }

    /// Records (or with `None` forgets) one view of another instance.
    fn note_view(&self, peers: &mut crate::health::Peers, key: &str, value: Option<&[u8]>) {
        let Some(rest) = key.strip_prefix(&self.health_prefix()) else { return };
        let parts: Vec<&str> = rest.split('/').collect();
        let [instance, pool, member] = parts.as_slice() else { return };
        let instance = unsegment(instance);
        if instance == self.name {
            return;
        }
        let member_key = (unsegment(pool), unsegment(member));
        match value {
            Some(v) => {
                peers.entry(instance).or_default().insert(member_key, v == b"up");
            }
            None => {
                if let Some(view) = peers.get_mut(&instance) {
                    view.remove(&member_key);
                    if view.is_empty() {
                        peers.remove(&instance);
                    }
                }
            }
        }
    }

    /// Follows the fleet's overrides into the health table: all of them in place of the local
    /// ones when read whole, then each change watched.
    async fn follow(&self) -> Result<(), EtcdError> {
        self.etcd
            .mirror_prefix(&self.overrides_prefix(), |reset, events| {
                let now = SystemTime::now();
                let mut table = crate::sync::lock(&self.health);
                if reset {
                    let all = events.iter().filter_map(|e| match e {
                        Event::Put(kv) => self.decode(&kv.key, &kv.value),
                        Event::Delete(_) => None,
                    });
                    table.replace_overrides(all.collect(), now);
                    drop(table);
                    self.up();
                    return;
                }
                for event in events {
                    match event {
                        Event::Put(kv) => {
                            if let Some(o) = self.decode(&kv.key, &kv.value) {
                                table.install_override(o, now);
                            }
                        }
                        Event::Delete(key) => {
                            if let Some(target) = self.target_of(&key) {
                                table.remove_override(&target, now);
                            }
                        }
                    }
                }
            })
            .await
    }

    fn decode(&self, key: &str, value: &[u8]) -> Option<Override> {
        match serde_json::from_slice::<Override>(value) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!(key, error = %e, "fleet store: not an override, ignored");
                None
            }
        }
    }

    fn target_of(&self, key: &str) -> Option<Target> {
        let rest = key.strip_prefix(&self.overrides_prefix())?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["datacenter", dc] => Some(Target::Datacenter { datacenter: unsegment(dc) }),
            ["member", pool, member] => Some(Target::Member { pool: unsegment(pool), member: unsegment(member) }),
            ["pool-datacenter", pool, dc] => {
                Some(Target::PoolDatacenter { pool: unsegment(pool), datacenter: unsegment(dc) })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_target_and_read_back() {
        let config = crate::config::Config::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones"),
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb"),
        )
        .unwrap();
        let health = Arc::new(Mutex::new(HealthTable::new(Arc::new(config), None).unwrap()));
        let settings = ClusterSettings {
            endpoints: vec!["http://127.0.0.1:1".into()],
            name: Some("a".into()),
            prefix: Some("/m/".into()),
            ..ClusterSettings::default()
        };
        let fleet = Fleet::new(&settings, Role::Server, health).unwrap();
        for target in [
            Target::Datacenter { datacenter: "ams".into() },
            Target::Member { pool: "www".into(), member: "ams-1".into() },
            Target::Member { pool: "odd/pool%".into(), member: "x".into() },
            Target::PoolDatacenter { pool: "www".into(), datacenter: "ams".into() },
        ] {
            let key = fleet.key_of(&target);
            assert!(key.starts_with("/m/overrides/"), "{key}");
            assert_eq!(fleet.target_of(&key), Some(target));
        }
        assert_eq!(fleet.target_of("/m/overrides/other/x"), None);
        let bad = |s: ClusterSettings| s.check().unwrap_err();
        assert!(
            bad(ClusterSettings { name: Some("a".into()), ..ClusterSettings::default() }).contains("need endpoints")
        );
        assert!(bad(ClusterSettings { prefix: Some("m".into()), ..settings.clone() }).contains("must start with /"));
        assert!(bad(ClusterSettings { endpoints: vec!["etcd:2379".into()], ..settings.clone() }).contains("endpoints"));
        assert!(
            bad(ClusterSettings { cert_file: Some("c.pem".into()), ..settings.clone() })
                .contains("cert-file and key-file go together")
        );
        assert!(
            bad(ClusterSettings { ca_file: Some("ca.pem".into()), ..settings.clone() })
                .contains("for https:// endpoints, not http://127.0.0.1:1")
        );
        assert!(bad(ClusterSettings { user: Some("m".into()), ..settings.clone() }).contains("password-file"));
        let missing = ClusterSettings {
            endpoints: vec!["https://127.0.0.1:1".into()],
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..ClusterSettings::default()
        };
        assert!(missing.check().is_ok());
        assert!(missing.access().unwrap_err().starts_with("cluster.ca-file: /nonexistent/ca.pem: cannot read"));
        assert!(settings.check().is_ok());
    }
}
