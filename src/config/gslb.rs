//! GSLB definitions: `zones/*.toml` -> data centers, pools, region maps, operator networks.
//!
//! Every `*.toml` file in the zones directory is read; data centers, pools, maps and networks
//! share one namespace across files. Pool names without a final dot are relative to the zone
//! named by the file (`zones/example.com.toml` -> `example.com.`). Everything is checked
//! before use and every problem is reported with `file:line: key.path: message`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use toml::de::DeTable;

use super::check::{self, Check, CheckKind};
use super::toml_walk::{Walker, get, join};
use crate::dns::rtype;
use crate::geo::{Code, NetworkTable, Point, Unit};
use crate::transfer::tsig::Key;
use crate::zone::{Diagnostic, Location, Name, ZoneSet};

/// TTL of pool answers when a pool sets none: short enough that a failover is seen within a
/// minute, the value Route 53 and NS1 document for health-checked records.
pub const DEFAULT_POOL_TTL: u32 = 60;
/// Largest TTL a pool may set (RFC 2181 §8).
pub const MAX_TTL: i64 = 0x7fff_ffff;
/// Most addresses a pool may answer with: 16 A records fit a 512-octet reply with room to
/// spare, and no client uses more.
pub const MAX_ANSWERS: i64 = 16;
/// Largest member weight, as in SRV weights (RFC 2782).
pub const MAX_WEIGHT: i64 = 65_535;

/// Continent codes used by GeoIP2 and DB-IP.
pub const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Index of a data center in [`Gslb::datacenters`].
pub type DcId = usize;

/// A data center.
#[derive(Debug, Clone, PartialEq)]
pub struct Datacenter {
    /// Name, as in the file.
    pub name: String,
    /// Coordinates.
    pub point: Point,
    /// The coordinates as a unit vector, for ordering by distance.
    pub unit: Unit,
    /// Continent code, if given.
    pub continent: Option<Code>,
    /// Country code, if given.
    pub country: Option<Code>,
    /// The traffic dial: the share of its clients (percent) it keeps; the rest go on to the
    /// next data center in their order. 100 unless set; a pool's `dials` override it.
    pub dial: u8,
    /// Geoproximity bias (Route 53's): -99..=99; the distance to it counts as
    /// `distance * (1 - bias / 100)`, so a positive bias stretches its catchment.
    pub bias: i8,
    /// A hash of the name: which clients a dial keeps depends on it (and the client's
    /// network), not on the data center's place in the file, so every instance and every
    /// reload keeps the same clients.
    pub key: u64,
    /// Capacity spillover: the dial lowered automatically while its members report a load
    /// above a threshold.
    pub spillover: Option<Spillover>,
}

/// When and how far a data center sheds load (`spillover = { above = 0.8 }`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spillover {
    /// Above this mean load of its serving members, the dial is lowered, in proportion to
    /// the excess, at each check.
    pub above: f64,
    /// Below this, the dial is raised again by `step` at each check; between the two it holds
    /// (the hysteresis that keeps a load near the threshold from flapping).
    pub below: f64,
    /// The dial is never lowered below this.
    pub floor: u8,
    /// Percentage points the dial is raised by per check while the load is below `below`.
    pub step: u8,
}

/// The FNV-1a hash of a data center's name ([`Datacenter::key`]).
pub fn datacenter_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// How the addresses of the chosen data center are ordered and picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Random order, every member alike.
    Shuffle,
    /// Weighted random order without replacement.
    Weighted,
    /// A stable order per client network (rendezvous hashing), so a client keeps its address
    /// while the set of members is unchanged.
    Sticky,
    /// Weighted random order with weights from the members' recent check round-trip times:
    /// faster members get more answers, slow ones fewer but never none.
    Fastest,
}

/// A server in a data center.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Name, unique in the pool.
    pub name: String,
    /// Its data center.
    pub dc: DcId,
    /// IPv4 address answered for A queries.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address answered for AAAA queries.
    pub ipv6: Option<Ipv6Addr>,
    /// The name a CNAME pool's member answers with (its pool's names become aliases of it);
    /// such a member has no addresses.
    pub cname: Option<Name>,
    /// Relative weight for the `weighted` selection.
    pub weight: u32,
    /// The health check and the address it probes; `None` when the member is not checked
    /// (no check configured, or `type = "none"`): it always counts as up.
    pub probe: Option<(Check, SocketAddr)>,
}

/// How many members a data center needs up to serve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinHealthy {
    /// At least this many.
    Count(usize),
    /// At least this fraction (0-1] of the data center's members, rounded up.
    Fraction(f64),
}

impl MinHealthy {
    /// The number of members needed out of `total`.
    pub fn needed(&self, total: usize) -> usize {
        match *self {
            MinHealthy::Count(n) => n,
            MinHealthy::Fraction(f) => ((total as f64) * f).ceil().max(1.0) as usize,
        }
    }
}

/// What a pool answers when no data center can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The configured addresses of the first data center in the client's order, as if all
    /// were up: a guess that is right when the checks, not the servers, are broken.
    Nearest,
    /// Every configured address of the pool.
    All,
    /// SERVFAIL, so that resolvers try again later (and clients see a failure).
    ServFail,
}

/// How a fleet's instances' views of a member make its verdict (`health_quorum`): the member
/// is up when enough of the instances that have a view see it up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quorum {
    /// More than half of them (the default): one instance's broken path fails nothing over.
    Majority,
    /// At least one of them.
    Any,
    /// All of them.
    All,
    /// At least this share of them (0 < f <= 1).
    Fraction(f64),
}

impl std::fmt::Display for Quorum {
    /// As written in the definitions: `majority`, `any`, `all` or the fraction.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quorum::Majority => f.write_str("majority"),
            Quorum::Any => f.write_str("any"),
            Quorum::All => f.write_str("all"),
            Quorum::Fraction(x) => write!(f, "{x}"),
        }
    }
}

impl Quorum {
    /// The verdict from `up` instances seeing the member up out of `known` with a view; with
    /// no view at all the member counts as up (unknown answers as up, as for one instance).
    pub fn up(self, up: usize, known: usize) -> bool {
        if known == 0 {
            return true;
        }
        match self {
            Quorum::Majority => up * 2 > known,
            Quorum::Any => up >= 1,
            Quorum::All => up == known,
            Quorum::Fraction(f) => up as f64 >= f * known as f64 - 1e-9,
        }
    }
}

/// Default `min_healthy`: one member up is enough (gdnsd's and PowerDNS's behaviour).
pub const DEFAULT_MIN_HEALTHY: MinHealthy = MinHealthy::Count(1);

/// A pool: the names it answers and the members it answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// Name of the pool (its key in the file).
    pub name: String,
    /// Owner names answered from the pool.
    pub owners: Vec<Name>,
    /// TTL of the answers.
    pub ttl: u32,
    /// Most addresses per answer; `None` for every member of the chosen data center.
    pub answers: Option<usize>,
    /// Order of the addresses.
    pub selection: Selection,
    /// Whether the EDNS Client Subnet address locates the client (else the resolver's).
    pub ecs: bool,
    /// The data centers of the pool in the order used when the client cannot be located.
    pub default_order: Vec<DcId>,
    /// The region map that pins orders, if any.
    pub map: Option<usize>,
    /// Members.
    pub members: Vec<Member>,
    /// Members a data center needs up to serve.
    pub min_healthy: MinHealthy,
    /// What to answer when no data center can serve.
    pub fallback: Fallback,
    /// TTL while the client's first data center cannot serve, or for a fallback answer, so
    /// that clients come back soon after a recovery.
    pub degraded_ttl: u32,
    /// How the instances of a fleet agree on a member's health.
    pub health_quorum: Quorum,
    /// Traffic dials of this pool that override the data centers' own (percent kept).
    pub dials: Vec<(DcId, u8)>,
    /// How many serving data centers an answer lists members of (1 unless set).
    pub datacenters_per_answer: usize,
    /// The SvcParams of the HTTPS record answered at the pool's names (RFC 9460 ServiceMode,
    /// target "."), in key order, without the address hints, which come from the answer;
    /// `None` when the pool answers no HTTPS record.
    pub https: Option<Vec<(u16, Vec<u8>)>>,
    /// The same for the SVCB record (RFC 9460 §2) answered at the pool's names.
    pub svcb: Option<Vec<(u16, Vec<u8>)>>,
}

impl Pool {
    /// True for a CNAME pool: its members answer with a target name, not addresses.
    pub fn is_alias(&self) -> bool {
        self.members.first().is_some_and(|m| m.cname.is_some())
    }

    /// The SvcParams of the service binding record of type `rtype` (HTTPS or SVCB) the pool
    /// answers, if it answers one.
    pub fn service(&self, rtype: u16) -> Option<&[(u16, Vec<u8>)]> {
        match rtype {
            crate::dns::rtype::HTTPS => self.https.as_deref(),
            crate::dns::rtype::SVCB => self.svcb.as_deref(),
            _ => None,
        }
    }

    /// The traffic dial of data center `dc` for this pool: the pool's own, else the data
    /// center's.
    pub fn dial(&self, datacenters: &[Datacenter], dc: DcId) -> u8 {
        self.dials.iter().find(|(d, _)| *d == dc).map_or(datacenters[dc].dial, |&(_, p)| p)
    }
}

/// Ordered data center lists pinned to regions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionMap {
    /// Name of the map.
    pub name: String,
    /// Continent code -> order.
    pub continents: HashMap<Code, Vec<DcId>>,
    /// Country code -> order.
    pub countries: HashMap<Code, Vec<DcId>>,
    /// (country, subdivision) -> order.
    pub subdivisions: HashMap<(Code, Code), Vec<DcId>>,
}

/// What an operator network says about its clients.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkTarget {
    /// Use these data centers, in this order.
    Datacenters(Vec<DcId>),
    /// Treat the clients as located in this region.
    Region {
        /// Continent code.
        continent: Option<Code>,
        /// Country code.
        country: Option<Code>,
        /// Subdivision code (with `country`).
        subdivision: Option<Code>,
    },
    /// Treat the clients as located here.
    Point(Point),
}

/// An operator network: the network and what it says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network<'a> {
    /// The network.
    pub net: IpNet,
    /// What it says.
    pub target: &'a NetworkTarget,
}

/// The operator networks, compact: a longest-prefix table from each network to the index of
/// its target, the distinct targets kept once (a million customer prefixes pointing at three
/// data centers hold three target lists, not a million).
#[derive(Debug, Default)]
pub struct Networks {
    table: NetworkTable<u32>,
    targets: Vec<NetworkTarget>,
    /// Target -> index, while the definitions are read.
    interned: HashMap<TargetKey, u32>,
    count: usize,
}

/// A target as a hash key (a point by the bits of its coordinates).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TargetKey {
    Datacenters(Vec<DcId>),
    Region(Option<Code>, Option<Code>, Option<Code>),
    Point(u64, u64),
}

impl Networks {
    /// Adds `net` saying `target`; false (nothing changed) when `net` is already there.
    pub fn insert(&mut self, net: IpNet, target: NetworkTarget) -> bool {
        if self.table.lookup_exact(net).is_some() {
            return false;
        }
        let key = match &target {
            NetworkTarget::Datacenters(list) => TargetKey::Datacenters(list.clone()),
            NetworkTarget::Region { continent, country, subdivision } => {
                TargetKey::Region(*continent, *country, *subdivision)
            }
            NetworkTarget::Point(p) => TargetKey::Point(p.lat.to_bits(), p.lon.to_bits()),
        };
        let next = self.targets.len() as u32;
        let index = *self.interned.entry(key).or_insert_with(|| {
            self.targets.push(target);
            next
        });
        self.table.insert(net, index);
        self.count += 1;
        true
    }

    /// The longest network holding `addr`, with its prefix length.
    pub fn lookup(&self, addr: IpAddr) -> Option<(Network<'_>, u8)> {
        let (&index, prefix) = self.table.lookup(addr)?;
        let net = IpNet::new(addr, prefix).ok()?.trunc();
        Some((Network { net, target: &self.targets[index as usize] }, prefix))
    }

    /// Every network, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Network<'_>> {
        self.table.iter().map(|(net, &index)| Network { net, target: &self.targets[index as usize] })
    }

    /// Every network of one family (`v6`) as (first address as a number, prefix length,
    /// target index), in no particular order; [`Networks::target`] gives the target.
    pub fn indexed(&self, v6: bool) -> Box<dyn Iterator<Item = (u128, u8, u32)> + '_> {
        if v6 {
            Box::new(self.table.v6_entries().map(|(a, l, &t)| (a, l, t)))
        } else {
            Box::new(self.table.v4_entries().map(|(a, l, &t)| (u128::from(a), l, t)))
        }
    }

    /// The target at `index` (from [`Networks::indexed`]).
    pub fn target(&self, index: u32) -> &NetworkTarget {
        &self.targets[index as usize]
    }

    /// How many networks there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Drops what only reading needed.
    fn done(&mut self) {
        self.interned = HashMap::new();
        self.targets.shrink_to_fit();
    }
}

/// All GSLB definitions, validated.
#[derive(Debug, Default)]
pub struct Gslb {
    /// Data centers.
    pub datacenters: Vec<Datacenter>,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Region maps.
    pub maps: Vec<RegionMap>,
    /// Operator networks, longest prefix first.
    pub networks: Networks,
    /// Lower-cased wire owner name -> pool index.
    pub by_owner: HashMap<Box<[u8]>, usize>,
    /// What the files hold that is accepted but suspicious.
    pub warnings: Vec<Diagnostic>,
    /// Each zone's `[transfer]` (who may transfer it, whom to NOTIFY), by the zone's
    /// lower-cased wire name. A zone not here is not transferred.
    pub transfers: HashMap<Box<[u8]>, Transfer>,
    /// The zones declared `[secondary]`, by lower-cased wire name.
    pub secondaries: HashMap<Box<[u8]>, Secondary>,
    /// TSIG keys from the files `tsig_key_files` names, by name.
    pub tsig_keys: crate::transfer::tsig::Keys,
    /// SHA-256 (hex) over the definition files and the network files they name, each with
    /// its name as written: equal on two instances that were given the same definitions,
    /// wherever their directories are.
    pub digest: String,
    /// Every file the definitions were read from: the `*.toml` files, then the network lists
    /// and key files they name, as found (a load that finds them unchanged may keep these
    /// definitions: `Config::load_serving`).
    pub inputs: Vec<PathBuf>,
}

/// A zone's `[transfer]`: who may transfer it, and whom to tell when its serial changes.
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    /// Addresses that may transfer it (`allow`); empty means any address, when `keys` is not.
    pub allow: Vec<IpNet>,
    /// TSIG keys one of which must sign a transfer request (`keys`); empty means none needed,
    /// when `allow` is not.
    pub keys: Vec<Arc<Key>>,
    /// Whom to NOTIFY (RFC 1996) when the zone's serial changes (`notify`); signed with the
    /// first of `keys` when there are keys.
    pub notify: Vec<SocketAddr>,
}

impl Transfer {
    /// Whether a request from `peer`, signed with `key` (verified) or not, may transfer the
    /// zone: the address must be listed when `allow` lists any, and the key must be one of
    /// `keys` when it names any (both, when both are given, as Knot's ACLs do).
    pub fn permits(&self, peer: IpAddr, key: Option<&Key>) -> bool {
        if self.allow.is_empty() && self.keys.is_empty() {
            return false;
        }
        let address_ok = self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&peer));
        let key_ok = self.keys.is_empty() || key.is_some_and(|k| self.keys.iter().any(|x| x.name == k.name));
        address_ok && key_ok
    }
}

/// A zone declared `[secondary]`: transferred from its primaries rather than read from a file
/// the operator writes.
#[derive(Debug, Clone)]
pub struct Secondary {
    /// Where to transfer it from, in order of preference (`primaries`); NOTIFY is accepted
    /// from these addresses only.
    pub primaries: Vec<SocketAddr>,
    /// The TSIG key transfers and NOTIFY are signed with (`key`), if any.
    pub key: Option<Arc<Key>>,
    /// The largest transfer accepted, in octets of DNS messages (`max_size`).
    pub max_size: u64,
    /// Where the transferred copy is kept (`file`, relative to the definitions file; by
    /// default `secondary/<origin>.zone` beside it).
    pub file: PathBuf,
}

/// Where the copy of the secondary zone `origin` declared in `toml` is kept: `file` as written
/// (relative to the definitions file's directory), or `secondary/<origin>.zone` there.
pub fn copy_path(toml: &Path, file: Option<&str>, origin: &Name) -> PathBuf {
    let dir = toml.parent().unwrap_or(Path::new("."));
    match file {
        Some(f) => dir.join(f),
        None => {
            let name = origin.to_string();
            dir.join("secondary").join(format!("{}.zone", name.trim_end_matches('.')))
        }
    }
}

/// The zones `dir`'s definitions declare `[secondary]`, with where each one's copy is kept:
/// read before the zones are (a secondary zone has no zone file of the operator's), and
/// leniently: the full reading of the definitions reports any mistake.
pub fn declared_secondaries(dir: &Path) -> Vec<(Name, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if !text.contains("secondary") {
            continue;
        }
        let Ok(doc) = DeTable::parse(&text) else { continue };
        let Some(section) = get(doc.get_ref(), "secondary") else { continue };
        let Some(table) = section.get_ref().as_table() else { continue };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let text = if stem.ends_with('.') { stem } else { format!("{stem}.") };
        let Ok(origin) = Name::parse(&text, None) else { continue };
        let file = get(table, "file").and_then(|v| v.get_ref().as_str().map(str::to_string));
        let copy = copy_path(&path, file.as_deref(), &origin);
        out.push((origin, copy));
    }
    out
}

/// The default `[secondary] max_size`: 512 MiB of transfer messages (a zone of ten million
/// short records).
pub const DEFAULT_MAX_TRANSFER: u64 = 512 << 20;

impl Gslb {
    /// The pool answering `key` (lower-cased wire name), if any.
    pub fn pool_for(&self, key: &[u8]) -> Option<(usize, &Pool)> {
        self.by_owner.get(key).map(|&i| (i, &self.pools[i]))
    }

    /// The data center named `name`.
    pub fn datacenter(&self, name: &str) -> Option<DcId> {
        self.datacenters.iter().position(|d| d.name == name)
    }
}

/// Reads every `*.toml` in `dir` against the loaded `zones`.
pub fn load(dir: &Path, zones: &ZoneSet, errors: &mut Vec<Diagnostic>) -> Gslb {
    load_except(dir, zones, errors, &[])
}

/// As [`load`], leaving out the files in `except`.
pub fn load_except(dir: &Path, zones: &ZoneSet, errors: &mut Vec<Diagnostic>, except: &[PathBuf]) -> Gslb {
    let files: Vec<PathBuf> = definition_files(dir).into_iter().filter(|p| !except.contains(p)).collect();
    let mut texts = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((path, text)),
            Err(e) => errors.push(Diagnostic {
                at: Location { file: path.as_path().into(), line: 0 },
                message: format!("cannot read: {e}"),
            }),
        }
    }
    let mut gslb = from_texts(&texts, zones, errors);
    let named = std::mem::take(&mut gslb.inputs);
    gslb.inputs = texts.into_iter().map(|(path, _)| path).chain(named).collect();
    gslb
}

/// The definitions files of `dir`: every `*.toml` file, in name order.
pub fn definition_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Builds the definitions from already-read files `(path, text)`, as [`load`] does.
pub fn from_texts(texts: &[(PathBuf, String)], zones: &ZoneSet, errors: &mut Vec<Diagnostic>) -> Gslb {
    let mut builder = Builder::default();
    // Data centers and maps first (pools and networks refer to them), across all files.
    let mut docs = Vec::new();
    for (path, text) in texts {
        builder.source(&path.file_name().unwrap_or_default().to_string_lossy(), text);
        let mut w = Walker::new(path, text);
        if let Some(doc) = w.parse() {
            docs.push((path.clone(), text.as_str(), doc));
        }
        errors.append(&mut w.errors);
    }
    for pass in [Pass::Datacenters, Pass::Maps, Pass::Rest] {
        for (path, text, doc) in &docs {
            let mut w = Walker::new(path, text);
            builder.pass(&mut w, pass, doc.get_ref(), path, zones);
            errors.append(&mut w.errors);
            builder.gslb.warnings.append(&mut w.warnings);
        }
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &builder.sources);
    builder.gslb.digest = data_encoding::HEXLOWER.encode(digest.as_ref());
    builder.gslb.networks.done();
    builder.gslb
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Datacenters,
    Maps,
    Rest,
}

#[derive(Default)]
struct Builder {
    gslb: Gslb,
    map_names: Vec<String>,
    /// Each source's name, a NUL and its SHA-256, in the order read; hashed into the digest.
    sources: Vec<u8>,
}

impl Builder {
    /// Counts one source file into the digest.
    fn source(&mut self, name: &str, text: &str) {
        self.source_digest(name, ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
    }

    /// Counts one source file, by the SHA-256 of its text, into the digest.
    fn source_digest(&mut self, name: &str, sha256: &[u8]) {
        self.sources.extend_from_slice(name.as_bytes());
        self.sources.push(0);
        self.sources.extend_from_slice(sha256);
    }
}

const TOP_KEYS: &[&str] =
    &["datacenters", "pools", "maps", "networks", "network_files", "transfer", "secondary", "tsig_key_files"];

impl Builder {
    fn pass(&mut self, w: &mut Walker<'_>, pass: Pass, doc: &DeTable<'_>, path: &Path, zones: &ZoneSet) {
        if pass == Pass::Datacenters {
            w.allow_keys(doc, "", TOP_KEYS);
        }
        for (key, value) in doc.iter() {
            match (pass, key.get_ref().as_ref()) {
                (Pass::Datacenters, "datacenters") => {
                    if let Some(t) = w.table(value, "datacenters") {
                        for (name, dc) in t.iter() {
                            self.datacenter(w, name.get_ref(), &name.span(), dc);
                        }
                    }
                }
                (Pass::Maps, "maps") => {
                    if let Some(t) = w.table(value, "maps") {
                        for (name, map) in t.iter() {
                            self.map(w, name.get_ref(), &name.span(), map);
                        }
                    }
                }
                (Pass::Rest, "pools") => {
                    let origin = zone_of_file(path, zones);
                    if let Some(t) = w.table(value, "pools") {
                        for (name, pool) in t.iter() {
                            self.pool(w, name.get_ref(), &name.span(), pool, origin.as_ref(), zones);
                        }
                    }
                }
                (Pass::Rest, "networks") => {
                    if let Some(t) = w.table(value, "networks") {
                        self.networks(w, t, "networks");
                    }
                }
                (Pass::Datacenters, "tsig_key_files") => {
                    if let Some(list) = w.strings(value, "tsig_key_files") {
                        for (i, (file, span)) in list.into_iter().enumerate() {
                            self.key_file(w, path, file, &span, &format!("tsig_key_files[{i}]"));
                        }
                    }
                }
                (Pass::Rest, "transfer") => self.transfer(w, value, path, zones),
                (Pass::Rest, "secondary") => self.secondary(w, value, path, zones),
                (Pass::Rest, "network_files") => {
                    if let Some(list) = w.strings(value, "network_files") {
                        for (i, (file, span)) in list.into_iter().enumerate() {
                            self.network_file(w, path, file, &span, &format!("network_files[{i}]"));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// `[transfer]` of a zone's definitions file: `allow`, the networks that may transfer the
    /// zone.
    fn transfer(&mut self, w: &mut Walker<'_>, value: &super::toml_walk::Value<'_>, path: &Path, zones: &ZoneSet) {
        let Some(t) = w.table(value, "transfer") else { return };
        w.allow_keys(t, "transfer", &["allow", "keys", "notify"]);
        let Some(origin) = zone_of_file(path, zones) else {
            w.error(
                &value.span(),
                "transfer",
                "this file is not named after a zone (<origin>.toml), so it names no zone to transfer",
            );
            return;
        };
        let mut allow = Vec::new();
        if let Some(v) = get(t, "allow")
            && let Some(list) = w.strings(v, "transfer.allow")
        {
            for (i, (text, span)) in list.into_iter().enumerate() {
                match text.parse::<IpNet>().or_else(|_| text.parse::<IpAddr>().map(IpNet::from)) {
                    Ok(n) if n.trunc() == n => allow.push(n),
                    Ok(n) => w.error(
                        &span,
                        &format!("transfer.allow[{i}]"),
                        format!("host bits are set; did you mean {}?", n.trunc()),
                    ),
                    Err(_) => w.error(
                        &span,
                        &format!("transfer.allow[{i}]"),
                        "not an address or a network in CIDR form (like 192.0.2.53 or 2001:db8::/32)",
                    ),
                }
            }
        }
        let mut notify = Vec::new();
        if let Some(v) = get(t, "notify")
            && let Some(list) = w.strings(v, "transfer.notify")
        {
            for (i, (text, span)) in list.into_iter().enumerate() {
                match socket_addr(text) {
                    Some(a) => notify.push(a),
                    None => w.error(
                        &span,
                        &format!("transfer.notify[{i}]"),
                        "not an address (192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)",
                    ),
                }
            }
        }
        let mut keys = Vec::new();
        if let Some(v) = get(t, "keys")
            && let Some(list) = w.strings(v, "transfer.keys")
        {
            for (i, (text, span)) in list.into_iter().enumerate() {
                if let Some(key) = self.key_named(w, text, &span, &format!("transfer.keys[{i}]")) {
                    keys.push(key);
                }
            }
        }
        if allow.is_empty() && keys.is_empty() && get(t, "allow").is_some() {
            w.warn(&value.span(), "transfer", "allow is empty and no keys are named: nobody may transfer this zone");
        }
        self.gslb.transfers.insert(origin.key(), Transfer { allow, keys, notify });
    }

    /// The key named `text` among those read from `tsig_key_files`, or an error at `span`.
    fn key_named(
        &mut self,
        w: &mut Walker<'_>,
        text: &str,
        span: &std::ops::Range<usize>,
        path: &str,
    ) -> Option<Arc<Key>> {
        let name = Name::parse(text, Some(&Name::root())).ok()?;
        let key = self.gslb.tsig_keys.get(&name.key()).cloned();
        if key.is_none() {
            let known: Vec<String> = self.gslb.tsig_keys.values().map(|k| k.name.to_string()).collect();
            w.error(
                span,
                path,
                if known.is_empty() {
                    format!("no TSIG key '{text}': no key is defined (list BIND key files in tsig_key_files)")
                } else {
                    format!("no TSIG key '{text}' in tsig_key_files (known: {})", known.join(", "))
                },
            );
        }
        key
    }

    /// `[secondary]` of a zone's definitions file: `primaries`, `key`, `max_size`.
    fn secondary(&mut self, w: &mut Walker<'_>, value: &super::toml_walk::Value<'_>, path: &Path, zones: &ZoneSet) {
        let Some(t) = w.table(value, "secondary") else { return };
        w.allow_keys(t, "secondary", &["primaries", "key", "max_size", "file"]);
        let Some(origin) = zone_of_file(path, zones) else {
            w.error(
                &value.span(),
                "secondary",
                "this file is not named after a zone (<origin>.toml), so it names no zone to transfer in",
            );
            return;
        };
        let mut primaries = Vec::new();
        match get(t, "primaries") {
            None => w.error(&value.span(), "secondary.primaries", "missing: the addresses to transfer the zone from"),
            Some(v) => {
                if let Some(list) = w.strings(v, "secondary.primaries") {
                    if list.is_empty() {
                        w.error(&v.span(), "secondary.primaries", "empty: name at least one primary");
                    }
                    for (i, (text, span)) in list.into_iter().enumerate() {
                        match socket_addr(text) {
                            Some(a) => primaries.push(a),
                            None => w.error(
                                &span,
                                &format!("secondary.primaries[{i}]"),
                                "not an address (192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)",
                            ),
                        }
                    }
                }
            }
        }
        let key = get(t, "key").and_then(|v| {
            let text = w.string(v, "secondary.key")?;
            self.key_named(w, text, &v.span(), "secondary.key")
        });
        let max_size = get(t, "max_size")
            .and_then(|v| w.integer(v, "secondary.max_size", 512, i64::MAX))
            .map_or(DEFAULT_MAX_TRANSFER, |n| n as u64);
        let file = get(t, "file").and_then(|v| w.string(v, "secondary.file"));
        let file = copy_path(path, file, &origin);
        self.gslb.secondaries.insert(origin.key(), Secondary { primaries, key, max_size, file });
    }

    /// Reads the TSIG keys of a BIND key file named by `tsig_key_files`.
    fn key_file(&mut self, w: &mut Walker<'_>, from: &Path, file: &str, span: &std::ops::Range<usize>, path: &str) {
        let full = from.parent().unwrap_or(Path::new(".")).join(file);
        self.gslb.inputs.push(full.clone());
        if let Ok(text) = std::fs::read(&full) {
            self.sources.extend_from_slice(file.as_bytes());
            self.sources.push(0);
            self.sources.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &text).as_ref());
        }
        match crate::transfer::tsig::read_key_file(&full) {
            Ok(keys) => {
                for key in keys {
                    if self.gslb.tsig_keys.contains_key(&key.name.key()) {
                        w.error(
                            span,
                            path,
                            format!("{}: key {} is defined in another key file too", full.display(), key.name),
                        );
                        continue;
                    }
                    self.gslb.tsig_keys.insert(key.name.key(), Arc::new(key));
                }
            }
            Err(errors) => {
                if errors.iter().all(|e| e.at.line == 0) {
                    for e in errors {
                        w.error(span, path, format!("{}: {}", e.at.file.display(), e.message));
                    }
                } else {
                    w.errors.extend(errors);
                }
            }
        }
    }

    fn datacenter(
        &mut self,
        w: &mut Walker<'_>,
        name: &str,
        span: &std::ops::Range<usize>,
        v: &super::toml_walk::Value<'_>,
    ) {
        let path = join("datacenters", name);
        if self.gslb.datacenter(name).is_some() {
            w.error(span, &path, "data center defined twice");
            return;
        }
        let Some(t) = w.table(v, &path) else { return };
        w.allow_keys(t, &path, &["lat", "lon", "continent", "country", "dial", "bias", "spillover"]);
        let lat = required(w, t, &path, "lat", span).and_then(|v| w.number(v, &join(&path, "lat"), -90.0, 90.0));
        let lon = required(w, t, &path, "lon", span).and_then(|v| w.number(v, &join(&path, "lon"), -180.0, 180.0));
        let continent = get(t, "continent").and_then(|v| continent_code(w, v, &join(&path, "continent")));
        let country = get(t, "country").and_then(|v| country_code(w, v, &join(&path, "country")));
        let dial = match get(t, "dial") {
            Some(v) => w.integer(v, &join(&path, "dial"), 0, 100).map(|n| n as u8),
            None => Some(100),
        };
        let bias = match get(t, "bias") {
            Some(v) => w.integer(v, &join(&path, "bias"), -99, 99).map(|n| n as i8),
            None => Some(0),
        };
        let spillover = match get(t, "spillover") {
            None => Some(None),
            Some(v) => spillover(w, v, &join(&path, "spillover")).map(Some),
        };
        if let (Some(lat), Some(lon), Some(dial), Some(bias), Some(spillover)) = (lat, lon, dial, bias, spillover) {
            self.gslb.datacenters.push(Datacenter {
                name: name.to_string(),
                point: Point { lat, lon },
                unit: Unit::of(Point { lat, lon }),
                continent,
                country,
                dial,
                bias,
                key: datacenter_key(name),
                spillover,
            });
        }
    }

    fn dc_list(&self, w: &mut Walker<'_>, v: &super::toml_walk::Value<'_>, path: &str) -> Option<Vec<DcId>> {
        let names = w.strings(v, path)?;
        if names.is_empty() {
            w.error(&v.span(), path, "list at least one data center");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (name, span) in names {
            match self.gslb.datacenter(name) {
                Some(id) if out.contains(&id) => {
                    w.error(&span, path, format!("data center '{name}' is listed twice"));
                    ok = false;
                }
                Some(id) => out.push(id),
                None => {
                    w.error(&span, path, format!("unknown data center '{name}' (defined: {})", self.dc_names()));
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn dc_names(&self) -> String {
        let names: Vec<&str> = self.gslb.datacenters.iter().map(|d| d.name.as_str()).collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    }

    fn map(&mut self, w: &mut Walker<'_>, name: &str, span: &std::ops::Range<usize>, v: &super::toml_walk::Value<'_>) {
        let path = join("maps", name);
        if self.map_names.iter().any(|m| m == name) {
            w.error(span, &path, "map defined twice");
            return;
        }
        let Some(t) = w.table(v, &path) else { return };
        w.allow_keys(t, &path, &["continents", "countries", "subdivisions"]);
        let mut map = RegionMap { name: name.to_string(), ..RegionMap::default() };
        for section in ["continents", "countries", "subdivisions"] {
            let Some(sv) = get(t, section) else { continue };
            let spath = join(&path, section);
            let Some(st) = w.table(sv, &spath) else {
                continue;
            };
            for (key, list) in st.iter() {
                let kpath = join(&spath, key.get_ref());
                let region: &str = key.get_ref();
                let Some(order) = self.dc_list(w, list, &kpath) else {
                    continue;
                };
                match section {
                    "continents" => match Code::new(region).filter(|c| CONTINENTS.contains(&c.as_str())) {
                        Some(c) => {
                            map.continents.insert(c, order);
                        }
                        None => w.error(
                            &key.span(),
                            &kpath,
                            format!("not a continent code (use one of {})", CONTINENTS.join(" ")),
                        ),
                    },
                    "countries" => match Code::new(region).filter(|c| c.as_str().len() == 2) {
                        Some(c) => {
                            map.countries.insert(c, order);
                        }
                        None => w.error(&key.span(), &kpath, "not an ISO 3166-1 alpha-2 country code (like NL)"),
                    },
                    _ => match region
                        .split_once('-')
                        .and_then(|(c, s)| Some((Code::new(c).filter(|c| c.as_str().len() == 2)?, Code::new(s)?)))
                    {
                        Some(k) => {
                            map.subdivisions.insert(k, order);
                        }
                        None => w.error(&key.span(), &kpath, "not an ISO 3166-2 subdivision code (like US-CA)"),
                    },
                }
            }
        }
        self.map_names.push(name.to_string());
        self.gslb.maps.push(map);
    }

    fn pool(
        &mut self,
        w: &mut Walker<'_>,
        name: &str,
        span: &std::ops::Range<usize>,
        v: &super::toml_walk::Value<'_>,
        origin: Option<&Name>,
        zones: &ZoneSet,
    ) {
        let path = join("pools", name);
        if self.gslb.pools.iter().any(|p| p.name == name) {
            w.error(span, &path, "pool defined twice (pool names are shared by all files)");
            return;
        }
        let Some(t) = w.table(v, &path) else { return };
        w.allow_keys(
            t,
            &path,
            &[
                "names",
                "ttl",
                "answers",
                "policy",
                "ecs",
                "default_order",
                "map",
                "members",
                "check",
                "min_healthy",
                "fallback",
                "degraded_ttl",
                "health_quorum",
                "dials",
                "datacenters_per_answer",
                "https",
                "svcb",
            ],
        );
        let pool_index = self.gslb.pools.len();
        let mut ok = true;

        let mut owners = Vec::new();
        let npath = join(&path, "names");
        match required(w, t, &path, "names", span).and_then(|v| Some((v, w.strings(v, &npath)?))) {
            Some((v, list)) if list.is_empty() => {
                w.error(&v.span(), &npath, "list at least one owner name");
                ok = false;
            }
            Some((_, list)) => {
                for (text, nspan) in list {
                    match self.owner(w, text, &nspan, &npath, origin, zones) {
                        Some(n) => owners.push(n),
                        None => ok = false,
                    }
                }
            }
            None => ok = false,
        }
        let ttl = match get(t, "ttl") {
            Some(v) => w.integer(v, &join(&path, "ttl"), 0, MAX_TTL).map(|n| n as u32),
            None => Some(DEFAULT_POOL_TTL),
        };
        let answers = match get(t, "answers") {
            Some(v) => w.integer(v, &join(&path, "answers"), 1, MAX_ANSWERS).map(|n| Some(n as usize)),
            None => Some(None),
        };
        let selection = match get(t, "policy") {
            None => Some(Selection::Shuffle),
            Some(v) => match w.string(v, &join(&path, "policy")) {
                Some("shuffle") => Some(Selection::Shuffle),
                Some("weighted") => Some(Selection::Weighted),
                Some("sticky") => Some(Selection::Sticky),
                Some("fastest") => Some(Selection::Fastest),
                Some(other) => {
                    w.error(
                        &v.span(),
                        &join(&path, "policy"),
                        format!("unknown policy '{other}' (expected shuffle, weighted, sticky or fastest)"),
                    );
                    None
                }
                None => None,
            },
        };
        let ecs = match get(t, "ecs") {
            Some(v) => w.boolean(v, &join(&path, "ecs")),
            None => Some(true),
        };
        let map = match get(t, "map") {
            None => Some(None),
            Some(v) => match w.string(v, &join(&path, "map")) {
                Some(m) => match self.map_names.iter().position(|n| n == m) {
                    Some(i) => Some(Some(i)),
                    None => {
                        w.error(&v.span(), &join(&path, "map"), format!("unknown map '{m}'"));
                        None
                    }
                },
                None => None,
            },
        };

        let pool_check = match get(t, "check") {
            None => None,
            Some(cv) => match check::parse(w, cv, &join(&path, "check")) {
                Some(c) => Some(c),
                None => {
                    ok = false;
                    None
                }
            },
        };
        let min_healthy = match get(t, "min_healthy") {
            None => Some(DEFAULT_MIN_HEALTHY),
            Some(mv) => {
                let mp = join(&path, "min_healthy");
                match mv.get_ref() {
                    toml::de::DeValue::Float(_) => fraction(w, mv, &mp).map(MinHealthy::Fraction),
                    _ => w.integer(mv, &mp, 1, 1000).map(|n| MinHealthy::Count(n as usize)),
                }
            }
        };
        let fallback = match get(t, "fallback") {
            None => Some(Fallback::Nearest),
            Some(fv) => match w.string(fv, &join(&path, "fallback")) {
                Some("nearest") => Some(Fallback::Nearest),
                Some("all") => Some(Fallback::All),
                Some("servfail") => Some(Fallback::ServFail),
                Some(other) => {
                    w.error(
                        &fv.span(),
                        &join(&path, "fallback"),
                        format!("unknown fallback '{other}' (expected nearest, all or servfail)"),
                    );
                    None
                }
                None => None,
            },
        };
        let health_quorum = match get(t, "health_quorum") {
            None => Some(Quorum::Majority),
            Some(qv) => {
                let qp = join(&path, "health_quorum");
                match qv.get_ref() {
                    toml::de::DeValue::Float(_) => fraction(w, qv, &qp).map(Quorum::Fraction),
                    _ => {
                        match w.string(qv, &qp) {
                            Some("majority") => Some(Quorum::Majority),
                            Some("any") => Some(Quorum::Any),
                            Some("all") => Some(Quorum::All),
                            Some(other) => {
                                w.error(
                                &qv.span(),
                                &qp,
                                format!("unknown quorum '{other}' (expected majority, any, all or a fraction such as 0.3)"),
                            );
                                None
                            }
                            None => None,
                        }
                    }
                }
            }
        };
        let degraded_ttl = match get(t, "degraded_ttl") {
            Some(v) => w.integer(v, &join(&path, "degraded_ttl"), 0, MAX_TTL).map(|n| n as u32),
            None => Some(
                pool_check
                    .as_ref()
                    .map_or(DEFAULT_POOL_TTL, |c| c.interval.as_secs().max(1) as u32)
                    .min(ttl.unwrap_or(DEFAULT_POOL_TTL)),
            ),
        };

        let mut members = Vec::new();
        let mpath = join(&path, "members");
        if let Some(mv) = required(w, t, &path, "members", span) {
            if let Some(mt) = w.table(mv, &mpath) {
                if mt.is_empty() {
                    w.error(&mv.span(), &mpath, "a pool needs at least one member");
                    ok = false;
                }
                for (mname, m) in mt.iter() {
                    let mp = join(&mpath, mname.get_ref());
                    match self.member(w, mname.get_ref(), m, &mp, pool_check.as_ref(), origin) {
                        Some(member) => members.push(member),
                        None => ok = false,
                    }
                }
            } else {
                ok = false;
            }
        } else {
            ok = false;
        }

        // A CNAME pool: every member has a cname, and its names hold nothing else (RFC 1034
        // §3.6.2: a CNAME is alone at its name).
        let aliases = members.iter().filter(|m| m.cname.is_some()).count();
        if aliases > 0 && aliases < members.len() {
            w.error(span, &mpath, "a pool's members all answer with a cname, or none do");
            ok = false;
        }
        if aliases > 0 && aliases == members.len() {
            for key in ["https", "svcb"] {
                if get(t, key).is_some() {
                    let text = format!("a CNAME pool answers every type with its CNAME: no {key} here");
                    w.error(span, &join(&path, key), text);
                    ok = false;
                }
            }
            for owner in &owners {
                if let Some(Ok(zone)) = zones.lookup(&owner.key())
                    && let Some(node) = zone.node(&owner.key())
                    && !node.rrsets.is_empty()
                    && owner != zone.origin()
                {
                    let types: Vec<String> = node.rrsets.iter().map(|r| crate::dns::type_to_text(r.rtype)).collect();
                    w.error(
                        span,
                        &npath,
                        format!(
                            "{owner} is a CNAME pool's name but the zone has {} there (a CNAME is alone at its name)",
                            types.join(", ")
                        ),
                    );
                    ok = false;
                } else if let Some(Ok(zone)) = zones.lookup(&owner.key())
                    && owner == zone.origin()
                {
                    w.error(span, &npath, format!("{owner} is a zone's apex, which cannot be a CNAME"));
                    ok = false;
                }
            }
        }

        // The pool's data centers, in the order their members first appear.
        let mut in_pool: Vec<DcId> = Vec::new();
        for m in &members {
            if !in_pool.contains(&m.dc) {
                in_pool.push(m.dc);
            }
        }
        let default_order = match get(t, "default_order") {
            None => Some(in_pool.clone()),
            Some(v) => {
                let dpath = join(&path, "default_order");
                self.dc_list(w, v, &dpath).and_then(|order| {
                    let missing: Vec<&str> = in_pool
                        .iter()
                        .filter(|d| !order.contains(d))
                        .map(|&d| self.gslb.datacenters[d].name.as_str())
                        .collect();
                    let extra: Vec<&str> = order
                        .iter()
                        .filter(|d| !in_pool.contains(d))
                        .map(|&d| self.gslb.datacenters[d].name.as_str())
                        .collect();
                    if !missing.is_empty() || !extra.is_empty() {
                        w.error(
                            &v.span(),
                            &dpath,
                            format!(
                                "must list exactly the pool's data centers (missing: {}; without members: {})",
                                if missing.is_empty() { "none".into() } else { missing.join(", ") },
                                if extra.is_empty() { "none".into() } else { extra.join(", ") }
                            ),
                        );
                        None
                    } else {
                        Some(order)
                    }
                })
            }
        };
        // Traffic dials of this pool, by data center of the pool.
        let dials = match get(t, "dials") {
            None => Some(Vec::new()),
            Some(v) => {
                let dpath = join(&path, "dials");
                w.table(v, &dpath).and_then(|dt| {
                    let mut out = Vec::new();
                    let mut good = true;
                    for (dname, dv) in dt.iter() {
                        let key = join(&dpath, dname.get_ref());
                        match self.gslb.datacenter(dname.get_ref()) {
                            Some(d) if in_pool.contains(&d) => match w.integer(dv, &key, 0, 100) {
                                Some(n) => out.push((d, n as u8)),
                                None => good = false,
                            },
                            Some(_) => {
                                w.error(&dv.span(), &key, "the pool has no member in this data center");
                                good = false;
                            }
                            None => {
                                w.error(
                                    &dv.span(),
                                    &key,
                                    format!("unknown data center '{}' (defined: {})", dname.get_ref(), self.dc_names()),
                                );
                                good = false;
                            }
                        }
                    }
                    good.then_some(out)
                })
            }
        };
        let datacenters_per_answer = match get(t, "datacenters_per_answer") {
            None => Some(1),
            Some(v) => {
                let most = in_pool.len().max(1) as i64;
                w.integer(v, &join(&path, "datacenters_per_answer"), 1, most).map(|n| n as usize)
            }
        };
        let mut service = |key: &str, rtype: u16| match get(t, key) {
            None => Some(None),
            Some(v) => {
                let hpath = join(&path, key);
                let params = w.string(v, &hpath).and_then(|text| match service_params(text) {
                    Ok(params) => Some(params),
                    Err(e) => {
                        w.error(&v.span(), &hpath, e);
                        None
                    }
                })?;
                // The pool answers this type at its names: a zone's own record there would
                // never be seen.
                let mut clash = false;
                for owner in &owners {
                    if let Some(Ok(zone)) = zones.lookup(&owner.key())
                        && zone.node(&owner.key()).is_some_and(|n| n.get(rtype).is_some())
                    {
                        let what = crate::dns::type_to_text(rtype);
                        w.error(
                            &v.span(),
                            &hpath,
                            format!("{owner} has its own {what} record in the zone: keep that or this key, not both"),
                        );
                        clash = true;
                    }
                }
                (!clash).then_some(Some(params))
            }
        };
        let https = service("https", crate::dns::rtype::HTTPS);
        let svcb = service("svcb", crate::dns::rtype::SVCB);
        if let (
            true,
            Some(https),
            Some(svcb),
            Some(dials),
            Some(datacenters_per_answer),
            Some(ttl),
            Some(answers),
            Some(selection),
            Some(ecs),
            Some(map),
            Some(default_order),
            Some(min_healthy),
            Some(fallback),
            Some(degraded_ttl),
            Some(health_quorum),
        ) = (
            ok,
            https,
            svcb,
            dials,
            datacenters_per_answer,
            ttl,
            answers,
            selection,
            ecs,
            map,
            default_order,
            min_healthy,
            fallback,
            degraded_ttl,
            health_quorum,
        ) {
            for owner in &owners {
                self.gslb.by_owner.insert(owner.key(), pool_index);
            }
            self.gslb.pools.push(Pool {
                name: name.to_string(),
                owners,
                ttl,
                answers,
                selection,
                ecs,
                default_order,
                map,
                members,
                min_healthy,
                fallback,
                degraded_ttl,
                health_quorum,
                dials,
                datacenters_per_answer,
                https,
                svcb,
            });
        }
    }

    fn owner(
        &self,
        w: &mut Walker<'_>,
        text: &str,
        span: &std::ops::Range<usize>,
        path: &str,
        origin: Option<&Name>,
        zones: &ZoneSet,
    ) -> Option<Name> {
        let name = match Name::parse(text, origin) {
            Ok(n) => {
                if let Some(origin) = origin
                    && crate::zone::name::looks_absolute(text, origin)
                {
                    w.warn(span, path, crate::zone::name::missing_dot_warning(text, &n));
                }
                n
            }
            Err(crate::zone::name::NameError::NoOrigin) => {
                w.error(
                    span,
                    path,
                    format!("'{text}' is relative but this file is not named after a zone: write it with a final dot"),
                );
                return None;
            }
            Err(e) => {
                w.error(span, path, format!("'{text}' is not a valid name: {e}"));
                return None;
            }
        };
        let key = name.key();
        if let Some(&other) = self.gslb.by_owner.get(&key) {
            w.error(span, path, format!("{name} is already answered by pool '{}'", self.gslb.pools[other].name));
            return None;
        }
        let zone = match zones.lookup(&key) {
            Some(Ok(zone)) => zone,
            // Its zone failed to load (that error is reported with the zone's file): the pool
            // is kept, and answers once the zone loads.
            Some(Err(_)) => return Some(name),
            None => {
                w.error(span, path, format!("{name} is not inside any zone of the zones directory"));
                return None;
            }
        };
        if let Some(node) = zone.node(&key) {
            for t in [rtype::A, rtype::AAAA, rtype::CNAME, rtype::NS, rtype::DNAME] {
                if node.has(t) && !(t == rtype::NS && name == *zone.origin()) {
                    w.error(
                        span,
                        path,
                        format!(
                            "{name} also has static {} data in {}; a pool name may not (remove one or the other)",
                            crate::dns::type_to_text(t),
                            zone.source().display()
                        ),
                    );
                    return None;
                }
            }
        }
        if zone.is_delegated(&name) {
            w.error(
                span,
                path,
                format!("{name} is below a delegation in zone {}; its answers belong to the child zone", zone.origin()),
            );
            return None;
        }
        Some(name)
    }

    fn member(
        &self,
        w: &mut Walker<'_>,
        name: &str,
        v: &super::toml_walk::Value<'_>,
        path: &str,
        pool_check: Option<&Check>,
        origin: Option<&Name>,
    ) -> Option<Member> {
        let t = w.table(v, path)?;
        w.allow_keys(t, path, &["datacenter", "ipv4", "ipv6", "cname", "weight", "probe", "check"]);
        let dc = match required(w, t, path, "datacenter", &v.span()) {
            Some(dv) => match w.string(dv, &join(path, "datacenter")) {
                Some(d) => match self.gslb.datacenter(d) {
                    Some(id) => Some(id),
                    None => {
                        w.error(
                            &dv.span(),
                            &join(path, "datacenter"),
                            format!("unknown data center '{d}' (defined: {})", self.dc_names()),
                        );
                        None
                    }
                },
                None => None,
            },
            None => None,
        };
        let mut ok = true;
        let ipv4 = optional_addr::<Ipv4Addr>(w, t, path, "ipv4", "IPv4", &mut ok);
        let ipv6 = optional_addr::<Ipv6Addr>(w, t, path, "ipv6", "IPv6", &mut ok);
        let cname = match get(t, "cname") {
            None => None,
            Some(cv) => {
                let cpath = join(path, "cname");
                match w.string(cv, &cpath).map(|text| (text, Name::parse(text, origin))) {
                    Some((_, Ok(n))) => Some(n),
                    Some((text, Err(e))) => {
                        w.error(&cv.span(), &cpath, format!("'{text}' is not a domain name: {e}"));
                        ok = false;
                        None
                    }
                    None => {
                        ok = false;
                        None
                    }
                }
            }
        };
        if cname.is_some() && (ipv4.is_some() || ipv6.is_some()) {
            w.error(&v.span(), path, "a member answers with a cname or with addresses, not both");
            ok = false;
        }
        if ok && ipv4.is_none() && ipv6.is_none() && cname.is_none() {
            w.error(&v.span(), path, "a member needs an ipv4 or an ipv6 address (or both), or a cname");
            ok = false;
        }
        let weight = match get(t, "weight") {
            None => Some(1),
            Some(wv) => w.integer(wv, &join(path, "weight"), 1, MAX_WEIGHT).map(|n| n as u32),
        };
        let check = match get(t, "check") {
            None => pool_check.cloned(),
            Some(cv) => match check::parse(w, cv, &join(path, "check")) {
                Some(c) => Some(c),
                None => {
                    ok = false;
                    None
                }
            },
        };
        let probe_text = match get(t, "probe") {
            None => None,
            Some(pv) => match w.string(pv, &join(path, "probe")) {
                Some(s) => match check::parse_probe(s) {
                    Some(p) => Some(p),
                    None => {
                        w.error(&pv.span(), &join(path, "probe"), format!("'{s}' is not an address or address:port"));
                        ok = false;
                        None
                    }
                },
                None => {
                    ok = false;
                    None
                }
            },
        };
        let probe = match check {
            Some(c) if c.kind != CheckKind::None => {
                let ip = probe_text.map(|(ip, _)| ip).or(ipv4.map(IpAddr::V4)).or(ipv6.map(IpAddr::V6));
                let port = probe_text.and_then(|(_, p)| p).or(c.port).unwrap_or(c.default_port());
                match ip {
                    Some(_) if port == 0 => {
                        w.error(
                            &v.span(),
                            path,
                            "a tcp check needs a port: set check.port or probe = \"address:port\"",
                        );
                        ok = false;
                        None
                    }
                    Some(ip) => Some((c, SocketAddr::new(ip, port))),
                    None if ok => {
                        w.error(&v.span(), path, "a cname member that is checked needs probe = \"address[:port]\"");
                        ok = false;
                        None
                    }
                    None => None,
                }
            }
            _ => None,
        };
        match (ok, dc, weight) {
            (true, Some(dc), Some(weight)) => {
                Some(Member { name: name.to_string(), dc, ipv4, ipv6, cname, weight, probe })
            }
            _ => None,
        }
    }

    fn networks(&mut self, w: &mut Walker<'_>, t: &DeTable<'_>, path: &str) {
        for (cidr, v) in t.iter() {
            let npath = join(path, cidr.get_ref());
            let net = match cidr.get_ref().parse::<IpNet>() {
                Ok(n) if n.trunc() != n => {
                    w.error(&cidr.span(), &npath, format!("host bits are set; did you mean {}?", n.trunc()));
                    continue;
                }
                Ok(n) => n,
                Err(_) => match cidr.get_ref().parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => {
                        w.error(
                            &cidr.span(),
                            &npath,
                            "not a network in CIDR form (like 192.0.2.0/24 or 2001:db8::/32)",
                        );
                        continue;
                    }
                },
            };
            let Some(et) = w.table(v, &npath) else {
                continue;
            };
            w.allow_keys(et, &npath, &["datacenters", "continent", "country", "subdivision", "lat", "lon"]);
            let has = |k: &str| get(et, k).is_some();
            let kinds = [
                has("datacenters"),
                has("continent") || has("country") || has("subdivision"),
                has("lat") || has("lon"),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                w.error(&v.span(), &npath, "give exactly one of: datacenters = [...], a region (continent, country, subdivision), or lat and lon");
                continue;
            }
            let target = if let Some(dv) = get(et, "datacenters") {
                match self.dc_list(w, dv, &join(&npath, "datacenters")) {
                    Some(list) => NetworkTarget::Datacenters(list),
                    None => continue,
                }
            } else if kinds[1] {
                let continent = get(et, "continent").and_then(|v| continent_code(w, v, &join(&npath, "continent")));
                let country = get(et, "country").and_then(|v| country_code(w, v, &join(&npath, "country")));
                let subdivision = match get(et, "subdivision") {
                    None => None,
                    Some(sv) => match w.string(sv, &join(&npath, "subdivision")) {
                        Some(s) => match s.split_once('-').and_then(|(c, s)| Some((Code::new(c)?, Code::new(s)?))) {
                            Some((c, s)) if country.is_none_or(|k| k == c) => Some((c, s)),
                            _ => {
                                w.error(
                                    &sv.span(),
                                    &join(&npath, "subdivision"),
                                    "not an ISO 3166-2 code of the network's country (like US-CA)",
                                );
                                continue;
                            }
                        },
                        None => continue,
                    },
                };
                if (has("continent") && continent.is_none()) || (has("country") && country.is_none()) {
                    continue;
                }
                NetworkTarget::Region {
                    continent,
                    country: country.or(subdivision.map(|(c, _)| c)),
                    subdivision: subdivision.map(|(_, s)| s),
                }
            } else {
                let lat = required(w, et, &npath, "lat", &v.span())
                    .and_then(|x| w.number(x, &join(&npath, "lat"), -90.0, 90.0));
                let lon = required(w, et, &npath, "lon", &v.span())
                    .and_then(|x| w.number(x, &join(&npath, "lon"), -180.0, 180.0));
                match (lat, lon) {
                    (Some(lat), Some(lon)) => NetworkTarget::Point(Point { lat, lon }),
                    _ => continue,
                }
            };
            if !self.gslb.networks.insert(net, target) {
                w.error(&cidr.span(), &npath, "network defined twice");
            }
        }
    }

    fn network_file(&mut self, w: &mut Walker<'_>, from: &Path, file: &str, span: &std::ops::Range<usize>, path: &str) {
        let full = from.parent().unwrap_or(Path::new(".")).join(file);
        self.gslb.inputs.push(full.clone());
        if full.extension().is_none_or(|e| e != "toml") {
            // A list is read a line at a time: a million lines never sit in memory as text.
            let read = std::fs::File::open(&full)
                .and_then(|f| self.network_list(&mut std::io::BufReader::new(f), &full, &mut w.errors));
            match read {
                Ok(digest) => self.source_digest(file, digest.as_ref()),
                Err(e) => w.error(span, path, format!("cannot read {}: {e}", full.display())),
            }
            return;
        }
        let text = match std::fs::read_to_string(&full) {
            Ok(t) => t,
            Err(e) => {
                w.error(span, path, format!("cannot read {}: {e}", full.display()));
                return;
            }
        };
        self.source(file, &text);
        let mut inner = Walker::new(&full, &text);
        if let Some(doc) = inner.parse() {
            inner.allow_keys(doc.get_ref(), "", &["networks"]);
            if let Some(v) = get(doc.get_ref(), "networks")
                && let Some(t) = inner.table(v, "networks")
            {
                self.networks(&mut inner, t, "networks");
            }
        }
        w.errors.append(&mut inner.errors);
    }
}

impl Builder {
    /// A plain-text network list (any `network_files` entry not named `*.toml`): one network
    /// per line, `CIDR TARGET`, the two separated by spaces, a tab or a comma (so that CSV
    /// exports read as they are). TARGET is data centers in order (`ams,iad`), or one of
    /// `continent=EU`, `country=NL`, `subdivision=US-CA`, `point=52.37,4.90`. `#` starts a
    /// comment; blank lines are skipped. Each mistake is reported with its line.
    /// Returns the SHA-256 of the file's text (for the definitions' digest).
    fn network_list(
        &mut self,
        input: &mut impl std::io::BufRead,
        file: &Path,
        errors: &mut Vec<Diagnostic>,
    ) -> std::io::Result<ring::digest::Digest> {
        let file: Arc<Path> = file.into();
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut raw = String::new();
        let mut number = 0;
        loop {
            raw.clear();
            if input.read_line(&mut raw)? == 0 {
                return Ok(digest.finish());
            }
            digest.update(raw.as_bytes());
            number += 1;
            let mut error = |cidr: &str, message: String| {
                let at = Location { file: file.clone(), line: number };
                errors.push(Diagnostic { at, message: format!("{cidr}: {message}") });
            };
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let (cidr, target) = match line.find(|c: char| c.is_whitespace() || c == ',') {
                Some(i) => {
                    (&line[..i], line[i + 1..].trim_start_matches(|c: char| c.is_whitespace() || c == ',').trim())
                }
                None => (line, ""),
            };
            let net = match cidr.parse::<IpNet>() {
                Ok(n) if n.trunc() != n => {
                    error(cidr, format!("host bits are set; did you mean {}?", n.trunc()));
                    continue;
                }
                Ok(n) => n,
                Err(_) => match cidr.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => {
                        error(cidr, "not a network in CIDR form (like 192.0.2.0/24 or 2001:db8::/32)".into());
                        continue;
                    }
                },
            };
            match self.list_target(target) {
                Ok(target) => {
                    if !self.gslb.networks.insert(net, target) {
                        error(cidr, "network defined twice".into());
                    }
                }
                Err(e) => error(cidr, e),
            }
        }
    }

    /// The target of a network list's line.
    fn list_target(&self, text: &str) -> Result<NetworkTarget, String> {
        const FORMS: &str = "data centers (ams,iad), continent=XX, country=XX, subdivision=XX-YY or point=LAT,LON";
        if text.is_empty() {
            return Err(format!("no target: write {FORMS} after the network"));
        }
        let Some((key, value)) = text.split_once('=') else {
            let mut out = Vec::new();
            for name in text.split(',').map(str::trim) {
                match self.gslb.datacenter(name) {
                    Some(id) if out.contains(&id) => return Err(format!("data center '{name}' is listed twice")),
                    Some(id) => out.push(id),
                    None => {
                        return Err(format!("unknown data center '{name}' (defined: {}; or {FORMS})", self.dc_names()));
                    }
                }
            }
            return Ok(NetworkTarget::Datacenters(out));
        };
        let value = value.trim();
        let region = |continent, country, subdivision| Ok(NetworkTarget::Region { continent, country, subdivision });
        match key.trim() {
            "continent" => match Code::new(value).filter(|c| CONTINENTS.contains(&c.as_str())) {
                Some(c) => region(Some(c), None, None),
                None => Err(format!("'{value}' is not a continent code (use one of {})", CONTINENTS.join(" "))),
            },
            "country" => match Code::new(value)
                .filter(|c| c.as_str().len() == 2 && c.as_str().bytes().all(|b| b.is_ascii_alphabetic()))
            {
                Some(c) => region(None, Some(c), None),
                None => Err(format!("'{value}' is not an ISO 3166-1 alpha-2 country code (like NL)")),
            },
            "subdivision" => match value.split_once('-').and_then(|(c, s)| Some((Code::new(c)?, Code::new(s)?))) {
                Some((c, s)) => region(None, Some(c), Some(s)),
                None => Err(format!("'{value}' is not an ISO 3166-2 code (like US-CA)")),
            },
            "point" => {
                let parsed = value
                    .split_once(',')
                    .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
                match parsed {
                    Some((lat, lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                        Ok(NetworkTarget::Point(Point { lat, lon }))
                    }
                    _ => Err(format!("'{value}' is not a point: write point=LAT,LON (-90..90, -180..180)")),
                }
            }
            other => Err(format!("unknown target '{other}=': write {FORMS}")),
        }
    }
}

/// An optional address key (`ipv4`, `ipv6`); a bad value is reported and clears `ok`.
fn optional_addr<A: std::str::FromStr>(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    path: &str,
    key: &str,
    family: &str,
    ok: &mut bool,
) -> Option<A> {
    let v = get(t, key)?;
    let text = w.string(v, &join(path, key)).or_else(|| {
        *ok = false;
        None
    })?;
    text.parse::<A>().ok().or_else(|| {
        w.error(&v.span(), &join(path, key), format!("'{text}' is not an {family} address"));
        *ok = false;
        None
    })
}

fn required<'v, 'i>(
    w: &mut Walker<'_>,
    t: &'v DeTable<'i>,
    path: &str,
    key: &str,
    span: &std::ops::Range<usize>,
) -> Option<&'v super::toml_walk::Value<'i>> {
    let v = get(t, key);
    if v.is_none() {
        w.error(span, path, format!("missing required key '{key}'"));
    }
    v
}

fn continent_code(w: &mut Walker<'_>, v: &super::toml_walk::Value<'_>, path: &str) -> Option<Code> {
    let s = w.string(v, path)?;
    let code = Code::new(s).filter(|c| CONTINENTS.contains(&c.as_str()));
    if code.is_none() {
        w.error(&v.span(), path, format!("'{s}' is not a continent code (use one of {})", CONTINENTS.join(" ")));
    }
    code
}

fn country_code(w: &mut Walker<'_>, v: &super::toml_walk::Value<'_>, path: &str) -> Option<Code> {
    let s = w.string(v, path)?;
    let code = Code::new(s).filter(|c| c.as_str().len() == 2 && c.as_str().bytes().all(|b| b.is_ascii_alphabetic()));
    if code.is_none() {
        w.error(&v.span(), path, format!("'{s}' is not an ISO 3166-1 alpha-2 country code (like NL)"));
    }
    code
}

/// The zone a definitions file is named after (`example.com.toml` -> `example.com.`).
/// An address with a port, or without one (port 53).
fn socket_addr(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

fn zone_of_file(path: &Path, zones: &ZoneSet) -> Option<Name> {
    let stem = path.file_stem()?.to_string_lossy();
    let text = if stem.ends_with('.') { stem.to_string() } else { format!("{stem}.") };
    let name = Name::parse(&text, None).ok()?;
    let key = name.key();
    (zones.zones().iter().any(|z| *z.origin() == name) || zones.failed().any(|f| f.key() == key)).then_some(name)
}

/// The SvcParams of a pool's `https` key, written as in a zone file's HTTPS record after the
/// priority and target (`alpn=h2,h3 port=8443`), read by the zone file's own HTTPS parser; the
/// address hints are refused (each answer's come from its data center).
fn service_params(text: &str) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let line = format!("1 . {text}");
    let entry = crate::zone::lexer::entries(&line)
        .map_err(|e| e.message)?
        .into_iter()
        .next()
        .ok_or("write SvcParams such as \"alpn=h2,h3\"")?;
    let wire = crate::zone::rdata::parse(crate::dns::rtype::HTTPS, &entry.tokens, &Name::root())?;
    let mut params = Vec::new();
    let mut rest = wire.get(3..).unwrap_or_default();
    while rest.len() >= 4 {
        let key = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest.get(4..4 + len).ok_or("a SvcParam overruns the record")?;
        if key == SVC_IPV4HINT || key == SVC_IPV6HINT {
            let which = if key == SVC_IPV4HINT { "ipv4hint" } else { "ipv6hint" };
            return Err(format!("{which} comes from the members each answer picks: leave it out"));
        }
        params.push((key, value.to_vec()));
        rest = &rest[4 + len..];
    }
    Ok(params)
}

/// The RDATA of a ServiceMode record (priority 1, target ".": the owner itself) with
/// `params` and the address hints (each the concatenated addresses, left out when empty),
/// all in key order as RFC 9460 §2.2 requires.
pub fn service_rdata(params: &[(u16, Vec<u8>)], hint4: &[u8], hint6: &[u8]) -> Vec<u8> {
    let mut rdata = vec![0, 1, 0];
    let mut put = |key: u16, value: &[u8]| {
        rdata.extend_from_slice(&key.to_be_bytes());
        rdata.extend_from_slice(&(value.len() as u16).to_be_bytes());
        rdata.extend_from_slice(value);
    };
    let (mut wrote4, mut wrote6) = (hint4.is_empty(), hint6.is_empty());
    for (key, value) in params {
        if !wrote4 && *key > SVC_IPV4HINT {
            put(SVC_IPV4HINT, hint4);
            wrote4 = true;
        }
        if !wrote6 && *key > SVC_IPV6HINT {
            put(SVC_IPV6HINT, hint6);
            wrote6 = true;
        }
        put(*key, value);
    }
    if !wrote4 {
        put(SVC_IPV4HINT, hint4);
    }
    if !wrote6 {
        put(SVC_IPV6HINT, hint6);
    }
    rdata
}

/// SvcParamKey ipv4hint (RFC 9460 §14.3.2).
pub const SVC_IPV4HINT: u16 = 4;
/// SvcParamKey ipv6hint.
pub const SVC_IPV6HINT: u16 = 6;

/// A `spillover` table: `above` required (a load, above 0, at most 10), `below` (default three
/// quarters of `above`, below it), `floor` (0-100, default 10), `step` (1-100, default 10).
fn spillover(w: &mut Walker<'_>, v: &toml::Spanned<toml::de::DeValue<'_>>, path: &str) -> Option<Spillover> {
    let t = w.table(v, path)?;
    w.allow_keys(t, path, &["above", "below", "floor", "step"]);
    let above = match get(t, "above") {
        Some(a) => w.number(a, &join(path, "above"), 0.0, 10.0).filter(|a| {
            let positive = *a > 0.0;
            if !positive {
                w.error(&v.span(), &join(path, "above"), "must be above 0");
            }
            positive
        }),
        None => {
            w.error(
                &v.span(),
                path,
                "missing required key 'above' (the load above which the data center sheds clients)",
            );
            None
        }
    }?;
    let below = match get(t, "below") {
        Some(b) => {
            let b = w.number(b, &join(path, "below"), 0.0, 10.0)?;
            if b >= above {
                w.error(&v.span(), &join(path, "below"), format!("{b} must be below above ({above})"));
                return None;
            }
            b
        }
        None => above * 0.75,
    };
    let floor = match get(t, "floor") {
        Some(f) => w.integer(f, &join(path, "floor"), 0, 100)? as u8,
        None => 10,
    };
    let step = match get(t, "step") {
        Some(s) => w.integer(s, &join(path, "step"), 1, 100)? as u8,
        None => 10,
    };
    Some(Spillover { above, below, floor, step })
}

/// A share written as a float: above 0, at most 1 (`min_healthy = 0.5`, `health_quorum = 0.2`).
fn fraction(w: &mut Walker<'_>, v: &toml::Spanned<toml::de::DeValue<'_>>, path: &str) -> Option<f64> {
    let f = w.number(v, path, 0.0, 1.0)?;
    if f > 0.0 {
        Some(f)
    } else {
        w.error(&v.span(), path, "a fraction must be above 0");
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Quorum;

    #[test]
    fn networks_keep_each_target_once_and_answer_with_their_own_prefix() {
        let mut n = super::Networks::default();
        for i in 0..1000u32 {
            let net = ipnet::IpNet::new(std::net::IpAddr::V4((0x0a00_0000 + (i << 8)).into()), 24).unwrap();
            assert!(n.insert(net, super::NetworkTarget::Datacenters(vec![(i % 2) as usize])));
        }
        let six: ipnet::IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n.insert(six, super::NetworkTarget::Datacenters(vec![1])));
        assert!(!n.insert("10.0.5.0/24".parse().unwrap(), super::NetworkTarget::Datacenters(vec![0])), "twice");
        assert_eq!((n.len(), n.targets.len()), (1001, 2), "two distinct targets, kept once each");
        let (hit, prefix) = n.lookup("10.0.5.77".parse().unwrap()).unwrap();
        assert_eq!(
            (hit.net.to_string(), prefix, hit.target),
            ("10.0.5.0/24".to_string(), 24, &super::NetworkTarget::Datacenters(vec![1]))
        );
        assert_eq!(n.lookup("2001:db8:1::1".parse().unwrap()).unwrap().0.net, six);
        assert_eq!(n.iter().count(), 1001);
        assert!(n.iter().any(|x| x.net == six));
    }

    #[test]
    fn service_records_put_the_hints_among_the_parameters_in_key_order() {
        // (SvcParams text, IPv4 hint, IPv6 hint, what the record reads back as in zone syntax)
        let v6 = std::net::Ipv6Addr::LOCALHOST.octets();
        let cases: [(&str, &[u8], &[u8], &str); 4] = [
            ("alpn=h2", &[192, 0, 2, 1], &[], "1 . alpn=h2 ipv4hint=192.0.2.1"),
            ("alpn=h2 port=8443 ech=AAAA", &[192, 0, 2, 1, 192, 0, 2, 2], &v6, ""),
            ("key65000=x", &[], &v6, "1 . ipv6hint=::1 key65000=x"),
            ("mandatory=alpn alpn=h3", &[], &[], "1 . mandatory=alpn alpn=h3"),
        ];
        for (text, hint4, hint6, want) in cases {
            let params = super::service_params(text).unwrap();
            let rdata = super::service_rdata(&params, hint4, hint6);
            // The zone parser's own order check accepts what we wrote: keys strictly ascending.
            let mut keys = Vec::new();
            let mut rest = &rdata[3..];
            while rest.len() >= 4 {
                keys.push(u16::from_be_bytes([rest[0], rest[1]]));
                let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                rest = &rest[4 + len..];
            }
            assert!(rest.is_empty() && keys.windows(2).all(|k| k[0] < k[1]), "{text}: {keys:?}");
            assert_eq!(keys.contains(&super::SVC_IPV4HINT), !hint4.is_empty(), "{text}");
            assert_eq!(keys.contains(&super::SVC_IPV6HINT), !hint6.is_empty(), "{text}");
            if !want.is_empty() {
                let line = crate::zone::lexer::entries(want).unwrap().remove(0);
                let root = crate::zone::Name::root();
                assert_eq!(rdata, crate::zone::rdata::parse(crate::dns::rtype::SVCB, &line.tokens, &root).unwrap());
            }
        }
        let e = super::service_params("alpn=h2 ipv4hint=192.0.2.1").unwrap_err();
        assert!(e.contains("ipv4hint comes from the members"), "{e}");
    }

    #[test]
    fn health_quorum_is_read_and_a_bad_one_named_with_its_line() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let origin = crate::zone::Name::parse("gslb.test.", None).unwrap();
        let (zone, _) = crate::zone::Zone::load(&root.join("tests/data/gslb/gslb.test.zone"), &origin).unwrap();
        let zones = crate::zone::ZoneSet::new(vec![zone]);
        let text = |q: &str| {
            format!(
                "[datacenters.ams]\nlat = 1.0\nlon = 2.0\n[pools.p]\nnames = [\"www\"]\nhealth_quorum = {q}\n\
                 [pools.p.members.a]\ndatacenter = \"ams\"\nipv4 = \"192.0.2.1\"\n"
            )
        };
        for (q, want) in [("\"any\"", Quorum::Any), ("\"all\"", Quorum::All), ("0.25", Quorum::Fraction(0.25))] {
            let mut errors = Vec::new();
            let files = vec![(std::path::PathBuf::from("gslb.test.toml"), text(q))];
            let g = super::from_texts(&files, &zones, &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(g.pools[0].health_quorum, want);
        }
        for (q, want) in [("\"most\"", "unknown quorum 'most'"), ("0.0", "above 0"), ("2.5", "")] {
            let mut errors = Vec::new();
            let files = vec![(std::path::PathBuf::from("gslb.test.toml"), text(q))];
            super::from_texts(&files, &zones, &mut errors);
            let e = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            assert!(e.contains("gslb.test.toml:6:") && e.contains("health_quorum") && e.contains(want), "{q}: {e}");
        }
    }

    #[test]
    fn dials_bias_and_datacenters_per_answer_are_read_and_bad_ones_named_with_key_and_line() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let origin = crate::zone::Name::parse("gslb.test.", None).unwrap();
        let (zone, _) = crate::zone::Zone::load(&root.join("tests/data/gslb/gslb.test.zone"), &origin).unwrap();
        let zones = crate::zone::ZoneSet::new(vec![zone]);
        let text = |dc: &str, pool: &str| {
            format!(
                "[datacenters.ams]\nlat = 1.0\nlon = 2.0\n{dc}\n[datacenters.iad]\nlat = 3.0\nlon = 4.0\n\
                 [datacenters.sin]\nlat = 5.0\nlon = 6.0\n\
                 [pools.p]\nnames = [\"www\"]\n{pool}\n\
                 [pools.p.members.a]\ndatacenter = \"ams\"\nipv4 = \"192.0.2.1\"\n\
                 [pools.p.members.b]\ndatacenter = \"iad\"\nipv4 = \"192.0.2.2\"\n"
            )
        };
        let load = |dc: &str, pool: &str| {
            let mut errors = Vec::new();
            let files = vec![(std::path::PathBuf::from("gslb.test.toml"), text(dc, pool))];
            let g = super::from_texts(&files, &zones, &mut errors);
            (g, errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        };
        let (g, e) = load("dial = 30\nbias = -20", "dials = { iad = 0 }\ndatacenters_per_answer = 2");
        assert!(e.is_empty(), "{e}");
        assert_eq!((g.datacenters[0].dial, g.datacenters[0].bias, g.datacenters[1].dial), (30, -20, 100));
        assert_eq!((g.pools[0].dial(&g.datacenters, 1), g.pools[0].datacenters_per_answer), (0, 2));
        let (g, e) = load("spillover = { above = 0.8 }", "check = { type = \"http\", load = \"header:X-Load\" }");
        assert!(e.is_empty(), "{e}");
        let (separate, e) = load(
            "",
            "check = { type = \"tcp\", port = 22, load = \"json:load\", load_url = \"http://{address}:9100/\" }",
        );
        assert!(e.is_empty(), "{e}");
        let want = crate::config::check::Load {
            source: crate::config::check::LoadSource::Json("load".into()),
            url: Some("http://{address}:9100/".into()),
        };
        assert_eq!(separate.pools[0].members[0].probe.as_ref().map(|c| c.0.load.clone()), Some(Some(want)));
        assert_eq!(
            g.datacenters[0].spillover,
            Some(super::Spillover { above: 0.8, below: 0.8 * 0.75, floor: 10, step: 10 })
        );
        let cases = [
            ("dial = 101", "", "gslb.test.toml:4: datacenters.ams.dial"),
            ("bias = 100", "", "gslb.test.toml:4: datacenters.ams.bias"),
            ("dial = \"half\"", "", "datacenters.ams.dial"),
            ("", "dials = { nyc = 50 }", "pools.p.dials.nyc: unknown data center 'nyc'"),
            ("", "dials = { sin = 50 }", "pools.p.dials.sin: the pool has no member in this data center"),
            ("", "dials = { iad = -1 }", "pools.p.dials.iad"),
            ("", "datacenters_per_answer = 3", "pools.p.datacenters_per_answer"),
            ("", "datacenters_per_answer = 0", "pools.p.datacenters_per_answer"),
            ("spillover = { below = 0.5 }", "", "datacenters.ams.spillover: missing required key 'above'"),
            (
                "spillover = { above = 0.8, below = 0.9 }",
                "",
                "datacenters.ams.spillover.below: 0.9 must be below above",
            ),
            ("spillover = { above = 0.8, flor = 5 }", "", "datacenters.ams.spillover.flor: unknown key"),
            (
                "",
                "check = { type = \"http\", load = \"xml:load\" }",
                "pools.p.check.load: 'xml:load' is not a load source",
            ),
            (
                "",
                "check = { type = \"tcp\", load = \"json:load\" }",
                "pools.p.check.load: a tcp check reads no HTTP response: add load_url to say where the load is",
            ),
            (
                "",
                "check = { type = \"tcp\", load = \"agent\", load_url = \"/load\" }",
                "pools.p.check.load_url: a path reads the load from the check's own HTTP server",
            ),
            (
                "",
                "check = { type = \"http\", load_url = \"/load\" }",
                "pools.p.check.load_url: needs load = \"json:FIELD\"",
            ),
            (
                "",
                "check = { type = \"dns\", qname = \"x.\", load = \"agent\", load_url = \"ftp://{address}/\" }",
                "pools.p.check.load_url: 'ftp://{address}/' is neither a path (/load) nor an http:// or https:// URL",
            ),
            (
                "",
                "check = { type = \"tcp\", load = \"agent\", load_url = \"http://{address}:99999/\" }",
                "pools.p.check.load_url: 'http://{address}:99999/' is not a URL",
            ),
            (
                "",
                "check = { type = \"none\", load = \"agent\" }",
                "pools.p.check.load: a check of type none runs nothing",
            ),
        ];
        for (dc, pool, want) in cases {
            let (_, e) = load(dc, pool);
            assert!(e.contains(want), "{dc} / {pool}: {e}");
        }
    }

    #[test]
    fn the_digest_follows_the_definitions_and_their_network_files_not_their_directory() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb");
        let origin = crate::zone::Name::parse("gslb.test.", None).unwrap();
        let (zone, _) = crate::zone::Zone::load(&root.join("gslb.test.zone"), &origin).unwrap();
        let zones = crate::zone::ZoneSet::new(vec![zone]);
        let copy = |dir: &std::path::Path| {
            std::fs::create_dir_all(dir.join("networks")).unwrap();
            for f in ["gslb.test.toml", "networks/office.toml"] {
                std::fs::copy(root.join(f), dir.join(f)).unwrap();
            }
        };
        let digest = |dir: &std::path::Path| {
            let mut errors = Vec::new();
            let g = super::load(dir, &zones, &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            g.digest
        };
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        copy(one.path());
        copy(two.path());
        let first = digest(one.path());
        assert_eq!(first.len(), 64);
        assert_eq!(digest(two.path()), first, "same files elsewhere");
        let office = two.path().join("networks/office.toml");
        let text = std::fs::read_to_string(&office).unwrap();
        std::fs::write(&office, format!("{text}\n# a comment is a change too\n")).unwrap();
        assert_ne!(digest(two.path()), first, "a network file changed");
    }

    #[test]
    fn quorums_decide_from_the_views_that_exist() {
        // (quorum, up, known, verdict)
        let table = [
            (Quorum::Majority, 2, 3, true),
            (Quorum::Majority, 1, 3, false),
            (Quorum::Majority, 1, 2, false), // a tie is not a majority
            (Quorum::Majority, 1, 1, true),
            (Quorum::Majority, 0, 0, true), // nobody has a result: unknown answers as up
            (Quorum::Any, 1, 5, true),
            (Quorum::Any, 0, 5, false),
            (Quorum::All, 4, 5, false),
            (Quorum::All, 5, 5, true),
            (Quorum::Fraction(0.2), 1, 5, true),
            (Quorum::Fraction(0.2), 1, 6, false),
            (Quorum::Fraction(1.0 / 3.0), 1, 3, true),
        ];
        for (quorum, up, known, want) in table {
            assert_eq!(quorum.up(up, known), want, "{quorum:?} {up}/{known}");
        }
    }
}
