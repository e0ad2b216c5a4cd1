//! Zone files -> an immutable zone set with lookup by name.
//!
//! [`parser`] reads master files into records; [`Zone::build`] groups them into nodes and
//! RRsets and applies the checks BIND's `named-checkzone` applies (one SOA at the apex, NS at
//! the apex, no CNAME beside other data, NS targets with addresses, no data outside the zone);
//! [`ZoneSet::resolve`] answers a question by RFC 1034 §4.3.2 with RFC 4592 wildcards and
//! RFC 6672 DNAME. Nothing here knows about transports or the DNS library: the result is a
//! [`Resolution`] of plain records that `server` encodes.

pub mod lexer;
pub mod name;
pub mod parser;
pub mod rdata;
mod resolve;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::dns::rtype;
pub use name::Name;
pub use parser::{Diagnostic, Location, Record};
pub use resolve::{PoolRef, Rcode, Resolution, Rr};

/// The records of one owner name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRset {
    /// Record type.
    pub rtype: u16,
    /// TTL shared by the set (RFC 2181 §5.2).
    pub ttl: u32,
    /// Each record's data in uncompressed wire format, in file order, without duplicates.
    pub rdatas: Vec<Box<[u8]>>,
}

/// A name in a zone: its RRsets, or none for an empty non-terminal.
#[derive(Debug, Clone)]
pub struct Node {
    /// The owner name as the zone file spelled it.
    pub name: Name,
    /// The RRsets, at most one per type.
    pub rrsets: Vec<RRset>,
    /// The GSLB pool answering A and AAAA questions for this name, if any.
    pub pool: Option<usize>,
    /// True when that pool is a CNAME pool: it answers every question at the name.
    pub pool_alias: bool,
}

impl Node {
    /// The RRset of `rtype`, if any.
    pub fn get(&self, rtype: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// True when the node holds records of `rtype`.
    pub fn has(&self, rtype: u16) -> bool {
        self.get(rtype).is_some()
    }
}

/// One authoritative zone, immutable once built.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    nodes: HashMap<Box<[u8]>, Node>,
    soa: RRset,
    serial: u32,
    source: Arc<Path>,
}

/// The timers of an SOA record (RFC 1035 §3.3.13), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    /// The serial.
    pub serial: u32,
    /// How often a secondary checks the serial.
    pub refresh: u32,
    /// How soon a secondary tries again after a failed check.
    pub retry: u32,
    /// How long a secondary serves the zone without a successful check.
    pub expire: u32,
    /// The negative caching TTL (RFC 2308).
    pub minimum: u32,
}

impl SoaTimers {
    /// The timers of SOA data in wire form (names uncompressed).
    pub fn of(rdata: &[u8]) -> Option<SoaTimers> {
        let mut i = 0;
        for _ in 0..2 {
            while *rdata.get(i)? != 0 {
                i += 1 + usize::from(rdata[i]);
            }
            i += 1;
        }
        let n = |k: usize| rdata.get(i + 4 * k..i + 4 * k + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        Some(SoaTimers { serial: n(0)?, refresh: n(1)?, retry: n(2)?, expire: n(3)?, minimum: n(4)? })
    }
}

/// What building a zone found wrong.
#[derive(Debug, Default)]
pub struct Checked {
    /// Problems that stop the zone from loading.
    pub errors: Vec<Diagnostic>,
    /// Problems reported while the zone still loads.
    pub warnings: Vec<Diagnostic>,
}

impl Checked {
    /// Records a problem at `at`: an error when `fatal`, else a warning.
    fn report(&mut self, fatal: bool, at: &Location, message: String) {
        let d = Diagnostic { at: at.clone(), message };
        if fatal { self.errors.push(d) } else { self.warnings.push(d) }
    }
}

/// Record types allowed beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
const CNAME_COMPANIONS: [u16; 2] = [rtype::RRSIG, rtype::NSEC];

impl Zone {
    /// Reads the master file at `path` for `origin` and builds the zone.
    pub fn load(path: &Path, origin: &Name) -> Result<(Zone, Vec<Diagnostic>), Vec<Diagnostic>> {
        let parsed = parser::parse_file(path, origin);
        let mut checked = Checked { errors: parsed.errors, warnings: parsed.warnings };
        let zone = Zone::build(origin, path, parsed.records, &mut checked);
        match zone {
            Some(zone) if checked.errors.is_empty() => Ok((zone, checked.warnings)),
            _ => Err(checked.errors),
        }
    }

    /// Groups `records` into the zone `origin`, adding every problem to `checked`. Returns
    /// `None` when the zone cannot be built at all (no SOA).
    pub fn build(origin: &Name, source: &Path, records: Vec<Record>, checked: &mut Checked) -> Option<Zone> {
        let source: Arc<Path> = source.into();
        let whole_file = Location { file: source.clone(), line: 0 };
        let mut nodes: HashMap<Box<[u8]>, Node> = HashMap::new();
        // TTLs as BIND's loader sets them: lines in a row with the same owner form a batch;
        // within a batch a set keeps its first TTL, and a later batch's TTL replaces it. `batch`
        // numbers the batches; `set_batch` is the batch that last set each set's TTL.
        let mut batch = 0u64;
        let mut previous_owner: Option<Box<[u8]>> = None;
        let mut set_batch: HashMap<(Box<[u8]>, u16), u64> = HashMap::new();
        for record in records {
            let owner_key = record.owner.key();
            if previous_owner.as_ref() != Some(&owner_key) {
                batch += 1;
                previous_owner = Some(owner_key.clone());
            }
            let same_batch = set_batch.insert((owner_key, record.rtype), batch) == Some(batch);
            if !record.owner.is_subdomain_of(origin) {
                // BIND ignores such records with a warning; a record that silently vanishes
                // hides typos (a missing final dot), so Meridian refuses the zone instead.
                checked.errors.push(Diagnostic {
                    at: record.at,
                    message: format!(
                        "owner {} is outside the zone {origin} (a missing or extra final dot?)",
                        record.owner
                    ),
                });
                continue;
            }
            if record.rtype == rtype::NS && record.owner.wire().starts_with(b"\x01*") {
                checked.errors.push(Diagnostic {
                    at: record.at,
                    message: format!(
                        "NS record at the wildcard {}: a wildcard cannot be a delegation (RFC 4592 section 4.2)",
                        record.owner
                    ),
                });
                continue;
            }
            if record.rtype == rtype::DS && record.owner == *origin {
                // DS is the parent's data (RFC 4035 §5); BIND refuses a zone with one at its top.
                checked.errors.push(Diagnostic {
                    at: record.at,
                    message: format!("DS record at the top of the zone {origin}: DS belongs in the parent zone"),
                });
                continue;
            }
            if record.rtype == rtype::SOA && record.owner != *origin {
                checked.errors.push(Diagnostic {
                    at: record.at,
                    message: format!("SOA record for {} is not at the top of the zone {origin}", record.owner),
                });
                continue;
            }
            let node = nodes.entry(record.owner.key()).or_insert_with(|| Node {
                name: record.owner.clone(),
                rrsets: Vec::new(),
                pool: None,
                pool_alias: false,
            });
            let existing_types: Vec<u16> = node.rrsets.iter().map(|s| s.rtype).collect();
            if let Some(set) = node.rrsets.iter_mut().find(|s| s.rtype == record.rtype) {
                if set.ttl != record.ttl && !same_batch && !matches!(record.rtype, rtype::SOA | rtype::CNAME) {
                    // Records of one set written apart: the later TTL applies to the whole set,
                    // as BIND merges them (silently; said here, since it changes earlier lines).
                    checked.warnings.push(Diagnostic {
                        at: record.at.clone(),
                        message: format!(
                            "TTL {} of this {} {} record replaces the TTL {} of the earlier ones, which are not in \
                             the run of lines of this owner just before it",
                            record.ttl,
                            record.owner,
                            crate::dns::type_to_text(record.rtype),
                            set.ttl
                        ),
                    });
                    set.ttl = record.ttl;
                }
                if set.rdatas.iter().any(|r| **r == record.rdata[..]) {
                    continue; // An exact duplicate: BIND drops it silently.
                }
                if matches!(record.rtype, rtype::SOA | rtype::CNAME | rtype::DNAME) {
                    checked.errors.push(Diagnostic {
                        at: record.at,
                        message: format!(
                            "{} already has a {} record; a name holds at most one",
                            record.owner,
                            crate::dns::type_to_text(record.rtype)
                        ),
                    });
                    continue;
                }
                if set.ttl != record.ttl {
                    checked.warnings.push(Diagnostic {
                        at: record.at.clone(),
                        message: format!(
                            "TTL {} differs from the TTL {} of the rest of the {} {} set; using {}",
                            record.ttl,
                            set.ttl,
                            record.owner,
                            crate::dns::type_to_text(record.rtype),
                            set.ttl
                        ),
                    });
                }
                set.rdatas.push(record.rdata.into());
            } else {
                let conflict = if record.rtype == rtype::CNAME {
                    existing_types.iter().any(|t| !CNAME_COMPANIONS.contains(t))
                } else {
                    !CNAME_COMPANIONS.contains(&record.rtype) && existing_types.contains(&rtype::CNAME)
                };
                if conflict {
                    checked.errors.push(Diagnostic {
                        at: record.at,
                        message: format!(
                            "{} has a CNAME and other data; a CNAME must stand alone (RFC 1034 section 3.6.2)",
                            record.owner
                        ),
                    });
                    continue;
                }
                node.rrsets.push(RRset { rtype: record.rtype, ttl: record.ttl, rdatas: vec![record.rdata.into()] });
            }
        }

        let apex_key = origin.key();
        let Some(soa) = nodes.get(&apex_key).and_then(|n| n.get(rtype::SOA)).cloned() else {
            checked
                .errors
                .push(Diagnostic { at: whole_file, message: format!("zone {origin} has no SOA record at its apex") });
            return None;
        };
        if !nodes.get(&apex_key).is_some_and(|n| n.has(rtype::NS)) {
            checked.errors.push(Diagnostic {
                at: whole_file.clone(),
                message: format!("zone {origin} has no NS records at its apex"),
            });
        }

        let serial = soa_serial(&soa.rdatas[0]);
        let mut zone = Zone { origin: origin.clone(), nodes, soa, serial, source };
        // Empty non-terminals: every name between the apex and an owner exists (RFC 4592
        // §2.2.2), so that lookups below tell NODATA from NXDOMAIN by presence alone.
        let owners: Vec<Name> = zone.nodes.values().map(|n| n.name.clone()).collect();
        for owner in owners {
            zone.ensure_node(&owner);
        }
        zone.check_targets(&whole_file, checked);
        zone.check_cds(&whole_file, checked);
        Some(zone)
    }

    /// Makes sure `name` (inside the zone) and every name between it and the apex exist.
    fn ensure_node(&mut self, name: &Name) -> &mut Node {
        let mut cur = name.clone();
        while cur.label_count() > self.origin.label_count() {
            let key = cur.key();
            if self.nodes.contains_key(&key) && cur != *name {
                break;
            }
            self.nodes.entry(key).or_insert_with(|| Node {
                name: cur.clone(),
                rrsets: Vec::new(),
                pool: None,
                pool_alias: false,
            });
            cur = cur.parent();
        }
        self.nodes.get_mut(&*name.key()).expect("node was just ensured")
    }

    /// True when `name` is at or below a zone cut (a non-apex NS), so its data is the child's.
    pub fn is_delegated(&self, name: &Name) -> bool {
        let at_cut = name != &self.origin && self.nodes.get(&*name.key()).is_some_and(|n| n.has(rtype::NS));
        at_cut || self.delegation_above(name).is_some()
    }

    /// The zone's own NS targets inside the zone must have addresses, and no NS target may be
    /// an alias (RFC 1912 §2.4, RFC 2181 §10.3), as named-checkzone enforces; targets of a
    /// delegation's NS, and MX and SRV targets, without addresses are warnings, as
    /// named-checkzone reports them.
    fn check_targets(&self, at: &Location, checked: &mut Checked) {
        let mut names: Vec<&Node> = self.nodes.values().collect();
        names.sort_by_key(|n| n.name.to_string());
        for node in names {
            for set in &node.rrsets {
                let (targets, fatal): (Vec<Name>, bool) = match set.rtype {
                    rtype::NS => {
                        (set.rdatas.iter().map(|r| Name::from_wire_unchecked(r)).collect(), node.name == self.origin)
                    }
                    rtype::MX => (set.rdatas.iter().map(|r| Name::from_wire_unchecked(&r[2..])).collect(), false),
                    rtype::SRV => (set.rdatas.iter().map(|r| Name::from_wire_unchecked(&r[6..])).collect(), false),
                    _ => continue,
                };
                for target in targets {
                    if !target.is_subdomain_of(&self.origin) || target.is_root() {
                        continue;
                    }
                    if let Some(dname) = self.dname_above(&target) {
                        // A name below a DNAME is rewritten, never looked up: it cannot be a target.
                        let what = crate::dns::type_to_text(set.rtype);
                        let message = format!(
                            "{what} target {target} of {} is below the DNAME at {dname}, which rewrites it",
                            node.name
                        );
                        checked.report(fatal, at, message);
                        continue;
                    }
                    let found = self.nodes.get(&target.key());
                    if set.rtype == rtype::NS && found.is_some_and(|n| n.has(rtype::CNAME)) {
                        // As named-checkzone: fatal for the zone's own NS, a warning for a delegation's.
                        let message = format!(
                            "NS target {target} of {} is a CNAME, which NS may not name (RFC 2181 section 10.3)",
                            node.name
                        );
                        checked.report(fatal, at, message);
                        continue;
                    }
                    if found.is_some_and(|n| n.has(rtype::A) || n.has(rtype::AAAA)) {
                        continue;
                    }
                    // Glue: at or below a zone cut (a non-apex NS), the child's data.
                    let at_cut = target != self.origin && found.is_some_and(|n| n.has(rtype::NS));
                    let is_glue = at_cut || self.delegation_above(&target).is_some();
                    let what = crate::dns::type_to_text(set.rtype);
                    let message = format!(
                        "{what} target {target} of {} has no address records (A or AAAA){}",
                        node.name,
                        if is_glue { " (missing glue)" } else { "" }
                    );
                    checked.report(fatal && !is_glue, at, message);
                }
            }
        }
    }

    /// True when `other` holds exactly the same records (names compared without case, every
    /// RRset with its TTL and data): how a load tells a changed zone from a re-read one.
    pub fn same_data(&self, other: &Zone) -> bool {
        self.nodes.len() == other.nodes.len()
            && self.nodes.iter().all(|(key, node)| {
                other.nodes.get(key).is_some_and(|o| {
                    node.rrsets.len() == o.rrsets.len() && node.rrsets.iter().all(|set| o.get(set.rtype) == Some(set))
                })
            })
    }

    /// CDS and CDNSKEY at the apex (RFC 7344 §4): as named-checkzone, each must use an
    /// algorithm of the zone's DNSKEYs (the delete forms of RFC 8078 §4 aside), or the zone is
    /// refused; one that names no DNSKEY of the zone (a CDNSKEY that is none of them, a CDS
    /// whose digest fits none) is a warning, since the parent would publish a DS for a key the
    /// zone does not serve.
    fn check_cds(&self, at: &Location, checked: &mut Checked) {
        let Some(apex) = self.nodes.get(&*self.origin.key()) else {
            return;
        };
        let keys: &[Box<[u8]>] = apex.get(rtype::DNSKEY).map_or(&[], |s| &s.rdatas);
        let has_algorithm = |alg: u8| keys.iter().any(|k| k.get(3) == Some(&alg));
        let sets = [(rtype::CDNSKEY, "CDNSKEY", 3, [0u8, 0, 3, 0, 0]), (rtype::CDS, "CDS", 2, [0u8, 0, 0, 0, 0])];
        for (t, what, alg_at, delete) in sets {
            for data in apex.get(t).map_or(&[][..], |s| &s.rdatas) {
                if data[..] == delete {
                    continue;
                }
                let alg = data.get(alg_at).copied().unwrap_or(0);
                if !has_algorithm(alg) {
                    let message =
                        format!("{what} at {} uses algorithm {alg}, which no DNSKEY of the zone uses", self.origin);
                    checked.report(true, at, message);
                } else if (t == rtype::CDNSKEY && !keys.contains(data))
                    || (t == rtype::CDS && !keys.iter().any(|key| ds_matches(&self.origin, key, data)))
                {
                    checked.report(false, at, format!("{what} at {} matches no DNSKEY of the zone", self.origin));
                }
            }
        }
    }

    /// The zone's apex name.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The SOA's timers (RFC 1035 §3.3.13), read from its data.
    pub fn soa_timers(&self) -> Option<SoaTimers> {
        SoaTimers::of(self.soa.rdatas.first()?)
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The file the zone was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> &RRset {
        &self.soa
    }

    /// The node at `key` (lower-cased wire name), occluded names included.
    pub fn node(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// Number of names in the zone, empty non-terminals included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a zone has at least its apex.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// The owner of a DNAME strictly above `name` (the apex included), if any.
    fn dname_above(&self, name: &Name) -> Option<&Name> {
        let mut cur = name.parent();
        while cur.label_count() >= self.origin.label_count() {
            if let Some(node) = self.nodes.get(&cur.key())
                && node.has(rtype::DNAME)
            {
                return Some(&node.name);
            }
            if cur.label_count() == self.origin.label_count() {
                break;
            }
            cur = cur.parent();
        }
        None
    }

    /// The closest delegation (a non-apex NS node) strictly above `name`, if any.
    fn delegation_above(&self, name: &Name) -> Option<&Node> {
        let mut cur = name.parent();
        let mut found = None;
        while cur.label_count() > self.origin.label_count() {
            if let Some(node) = self.nodes.get(&cur.key())
                && node.has(rtype::NS)
            {
                found = Some(node);
            }
            cur = cur.parent();
        }
        found
    }
}

/// Whether the DS (or CDS) data `ds` is a digest of `key`, DNSKEY data owned by `owner`
/// (RFC 4034 §5.1.4; SHA-1, SHA-256 and SHA-384 digests; others are not checked).
fn ds_matches(owner: &Name, key: &[u8], ds: &[u8]) -> bool {
    if ds.len() < 4 || key.len() < 4 || ds[2] != key[3] || u16::from_be_bytes([ds[0], ds[1]]) != key_tag(key) {
        return false;
    }
    let algorithm = match ds[3] {
        1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &ring::digest::SHA256,
        4 => &ring::digest::SHA384,
        _ => return true,
    };
    let mut ctx = ring::digest::Context::new(algorithm);
    ctx.update(&owner.key());
    ctx.update(key);
    ctx.finish().as_ref() == &ds[4..]
}

/// The key tag of DNSKEY data (RFC 4034 Appendix B).
fn key_tag(key: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, &b) in key.iter().enumerate() {
        acc += if i % 2 == 0 { u32::from(b) << 8 } else { u32::from(b) };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

fn soa_serial(rdata: &[u8]) -> u32 {
    let n = rdata.len();
    u32::from_be_bytes([rdata[n - 20], rdata[n - 19], rdata[n - 18], rdata[n - 17]])
}

/// Every zone this server is authoritative for, immutable once built, and the zones it should
/// serve but cannot: their files failed to load and no earlier version exists, so their names
/// get SERVFAIL (as BIND and Knot answer for a zone that failed to load), never REFUSED or a
/// parent zone's NXDOMAIN.
#[derive(Debug, Default)]
pub struct ZoneSet {
    zones: Vec<Arc<Zone>>,
    by_apex: HashMap<Box<[u8]>, usize>,
    failed: HashMap<Box<[u8]>, Name>,
}

impl ZoneSet {
    /// A set of `zones`; origins must be distinct (the caller checks).
    pub fn new(zones: Vec<Zone>) -> ZoneSet {
        ZoneSet::with_failed(zones.into_iter().map(Arc::new).collect(), Vec::new())
    }

    /// A set of `zones` (shared with the configuration they were loaded for, or with an
    /// earlier one), and the origins of zones that failed to load and are not served.
    pub fn with_failed(zones: Vec<Arc<Zone>>, failed: Vec<Name>) -> ZoneSet {
        let by_apex = zones.iter().enumerate().map(|(i, z)| (z.origin.key(), i)).collect();
        let failed = failed.into_iter().map(|n| (n.key(), n)).collect();
        ZoneSet { zones, by_apex, failed }
    }

    /// The zones, in the order given.
    pub fn zones(&self) -> &[Arc<Zone>] {
        &self.zones
    }

    /// The origins of the zones that failed to load and are answered with SERVFAIL.
    pub fn failed(&self) -> impl Iterator<Item = &Name> {
        self.failed.values()
    }

    /// Marks `owner` as answered by pool `pool`, creating its node if the zone file has none.
    /// Nothing happens when the owner is in no served zone (its zone failed to load). A zone
    /// shared with another configuration is copied first, so that one keeps its own pools.
    pub fn attach_pool(&mut self, owner: &Name, pool: usize, alias: bool) {
        let key = owner.key();
        let Some(origin) = self.find_zone(&key).map(|z| z.origin.key()) else {
            return;
        };
        let index = self.by_apex[&origin];
        let node = Arc::make_mut(&mut self.zones[index]).ensure_node(owner);
        node.pool = Some(pool);
        node.pool_alias = alias;
    }

    /// The zone with the longest origin that `key` (lower-cased wire name) lies in: a served
    /// zone, or the origin of one that failed to load.
    pub fn lookup(&self, key: &[u8]) -> Option<Result<&Zone, &Name>> {
        name::label_starts(key).map(|i| &key[i..]).chain(std::iter::once(&key[key.len() - 1..])).find_map(|suffix| {
            match self.by_apex.get(suffix) {
                Some(&i) => Some(Ok(&*self.zones[i])),
                None => self.failed.get(suffix).map(Err),
            }
        })
    }

    /// The served zone with the longest origin that `key` lies in; `None` when that is a zone
    /// that failed to load, or when no zone holds it.
    pub fn find_zone(&self, key: &[u8]) -> Option<&Zone> {
        self.lookup(key)?.ok()
    }
}
