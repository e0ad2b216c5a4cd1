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
use std::path::{Path, PathBuf};

use hashbrown::HashTable;
use std::sync::Arc;

use crate::dns::rtype;
pub use name::Name;
pub use parser::{Diagnostic, Location, Record};
pub(crate) use resolve::Found;
pub use resolve::{PoolRef, Rcode, Resolution, Rr};

/// The records of one owner name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRset {
    /// Record type.
    pub rtype: u16,
    /// TTL shared by the set (RFC 2181 §5.2).
    pub ttl: u32,
    /// Each record's data in uncompressed wire format, in file order, without duplicates, each
    /// after its length in two octets (as RDLENGTH precedes RDATA on the wire): one allocation
    /// for the whole set.
    data: Box<[u8]>,
}

impl RRset {
    /// A set of `rtype` holding the one record `rdata` (at most 65535 octets).
    pub fn new(rtype: u16, ttl: u32, rdata: &[u8]) -> RRset {
        let mut set = RRset { rtype, ttl, data: Box::default() };
        set.push(rdata);
        set
    }

    /// Each record's data, in order.
    pub fn rdatas(&self) -> Rdatas<'_> {
        Rdatas { rest: &self.data }
    }

    /// The first record's data (every set has one).
    pub fn first(&self) -> &[u8] {
        self.rdatas().next().unwrap_or_default()
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.rdatas().count()
    }

    /// Always false: a set has at least one record.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// True when the set holds a record with exactly this data.
    pub fn contains(&self, rdata: &[u8]) -> bool {
        self.rdatas().any(|r| r == rdata)
    }

    /// Adds a record at the end (the caller has checked it is not there yet).
    fn push(&mut self, rdata: &[u8]) {
        let length = u16::try_from(rdata.len()).expect("record data is at most 65535 octets (the parser checks)");
        let mut data = std::mem::take(&mut self.data).into_vec();
        data.reserve_exact(2 + rdata.len());
        data.extend_from_slice(&length.to_be_bytes());
        data.extend_from_slice(rdata);
        self.data = data.into_boxed_slice();
    }
}

/// The records' data of an [`RRset`], in order.
#[derive(Debug, Clone)]
pub struct Rdatas<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Rdatas<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let [a, b, rest @ ..] = self.rest else {
            return None;
        };
        let (rdata, rest) = rest.split_at(usize::from(u16::from_be_bytes([*a, *b])));
        self.rest = rest;
        Some(rdata)
    }
}

/// A name in a zone: its RRsets, or none for an empty non-terminal.
#[derive(Debug, Clone)]
pub struct Node {
    /// The owner name as the zone file spelled it.
    pub name: Name,
    /// The RRsets, at most one per type.
    pub rrsets: Box<[RRset]>,
}

impl Node {
    fn new(name: Name) -> Node {
        Node { name, rrsets: Box::default() }
    }

    /// The RRset of `rtype`, if any.
    pub fn get(&self, rtype: u16) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// True when the node holds records of `rtype`.
    pub fn has(&self, rtype: u16) -> bool {
        self.get(rtype).is_some()
    }

    fn add_set(&mut self, set: RRset) {
        let mut sets = std::mem::take(&mut self.rrsets).into_vec();
        sets.push(set);
        self.rrsets = sets.into_boxed_slice();
    }
}

/// The hash of a name in wire form, whatever its case: names are found without making a
/// lower-cased copy. Eight octets at a time, each lower-cased as ASCII by bit arithmetic (as
/// the standard library's `make_ascii_lowercase` does).
fn name_hash(wire: &[u8]) -> u64 {
    use std::hash::Hasher;
    fn lower(word: u64) -> u64 {
        const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let ascii = !word & HIGH;
        let heptets = word & LOW;
        let above_z = heptets.wrapping_add(0x0101_0101_0101_0101 * u64::from(0x7f - b'Z'));
        let from_a = heptets.wrapping_add(0x0101_0101_0101_0101 * u64::from(0x80 - b'A'));
        word | (((from_a ^ above_z) & ascii) >> 2)
    }
    let mut h = rustc_hash::FxHasher::default();
    let mut chunks = wire.chunks_exact(8);
    for chunk in &mut chunks {
        h.write_u64(lower(u64::from_le_bytes(chunk.try_into().expect("eight octets"))));
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h.write_u64(lower(u64::from_le_bytes(last)));
    h.write_usize(wire.len());
    h.finish()
}

/// The nodes of a zone and the index that finds them by name: the nodes in one vector, the
/// index a table of their positions (four octets a name, where a map keyed by a copy of each
/// name cost a second allocation per name).
#[derive(Debug, Clone, Default)]
struct Nodes {
    list: Vec<Node>,
    index: HashTable<u32>,
}

impl Nodes {
    /// The position of the node named `wire` (any case).
    fn find(&self, wire: &[u8]) -> Option<usize> {
        let list = &self.list;
        let found = self.index.find(name_hash(wire), |&i| list[i as usize].name.wire().eq_ignore_ascii_case(wire));
        found.map(|&i| i as usize)
    }

    fn get(&self, wire: &[u8]) -> Option<&Node> {
        self.find(wire).map(|i| &self.list[i])
    }

    /// The position of the node named `name`, added empty when there is none.
    fn find_or_add(&mut self, name: &[u8]) -> usize {
        match self.find(name) {
            Some(i) => i,
            None => self.add(Name::from_wire_unchecked(name)),
        }
    }

    fn add(&mut self, name: Name) -> usize {
        let i = self.list.len();
        let position = u32::try_from(i).expect("fewer than 2^32 names in a zone");
        let hash = name_hash(name.wire());
        self.list.push(Node::new(name));
        let list = &self.list;
        self.index.insert_unique(hash, position, |&j| name_hash(list[j as usize].name.wire()));
        i
    }

    /// Makes sure `name` and every name between it and `origin` (not included) exist, so that
    /// a lookup below tells NODATA from NXDOMAIN by presence alone (RFC 4592 §2.2.2); returns
    /// the position of `name`'s node.
    fn ensure(&mut self, name: &[u8], origin: &Name) -> usize {
        let at = self.find_or_add(name);
        let mut offset = 0;
        loop {
            offset += 1 + usize::from(name[offset]);
            if name.len() - offset <= origin.wire().len() || self.find(&name[offset..]).is_some() {
                return at;
            }
            self.find_or_add(&name[offset..]);
        }
    }
}

/// One authoritative zone, immutable once built: what its files say, shared by every
/// configuration that serves this version of them, and the pool names the GSLB definitions
/// of one configuration attach to it (so attaching never copies the files' data).
#[derive(Debug, Clone)]
pub struct Zone {
    files: Arc<Files>,
    /// Names only the GSLB definitions make: pool names the files do not have, and the
    /// (empty) names between them and the nodes the files have.
    added: Nodes,
    /// The pool answering at each pool name.
    pools: HashTable<PoolAt>,
}

/// What a zone's files say.
#[derive(Debug)]
struct Files {
    origin: Name,
    nodes: Nodes,
    apex: usize,
    soa: RRset,
    serial: u32,
    source: Arc<Path>,
}

/// A pool name of a zone.
#[derive(Debug, Clone)]
struct PoolAt {
    name: Name,
    pool: usize,
    /// A CNAME pool: it answers every question at the name.
    alias: bool,
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

/// A zone read from its file with its warnings, or the errors that kept it from loading.
pub type Loaded = Result<(Zone, Vec<Diagnostic>), Vec<Diagnostic>>;

/// Record types allowed beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
const CNAME_COMPANIONS: [u16; 2] = [rtype::RRSIG, rtype::NSEC];

impl Zone {
    /// Reads the master file at `path` for `origin` and builds the zone.
    pub fn load(path: &Path, origin: &Name) -> Loaded {
        Zone::read(path, origin).0
    }

    /// Reads the master file at `path` for `origin` and builds the zone as the file is read,
    /// record by record (a file of any size is never held as a list of records); also returns
    /// every file read (the zone file, then its `$INCLUDE`s).
    pub fn read(path: &Path, origin: &Name) -> (Loaded, Vec<PathBuf>) {
        let mut built = Checked::default();
        let mut builder = Builder::new(origin, path);
        let parsed = parser::read_file_into(path, origin, &mut |record| builder.add(record, &mut built));
        let mut checked = Checked { errors: parsed.errors, warnings: parsed.warnings };
        checked.errors.append(&mut built.errors);
        checked.warnings.append(&mut built.warnings);
        let zone = builder.finish(&mut checked);
        let result = match zone {
            Some(zone) if checked.errors.is_empty() => Ok((zone, checked.warnings)),
            _ => Err(checked.errors),
        };
        (result, parsed.files)
    }

    /// Groups `records` into the zone `origin`, adding every problem to `checked`. Returns
    /// `None` when the zone cannot be built at all (no SOA).
    pub fn build(origin: &Name, source: &Path, records: Vec<Record>, checked: &mut Checked) -> Option<Zone> {
        let mut builder = Builder::new(origin, source);
        for record in records {
            builder.add(record, checked);
        }
        builder.finish(checked)
    }
}

/// A zone being built from its records, one at a time, in file order.
pub struct Builder {
    origin: Name,
    source: Arc<Path>,
    nodes: Nodes,
    /// The owner of the run of lines being read (records in a row with one owner), and the
    /// types the run has set: TTLs as BIND's loader sets them. Within a run a set keeps its
    /// first TTL; a later run's TTL replaces it.
    run_owner: Vec<u8>,
    run_types: Vec<u16>,
}

impl Builder {
    /// A builder of the zone `origin` read from `source`.
    pub fn new(origin: &Name, source: &Path) -> Builder {
        Builder {
            origin: origin.clone(),
            source: source.into(),
            nodes: Nodes::default(),
            run_owner: Vec::new(),
            run_types: Vec::new(),
        }
    }

    /// Adds one record, or reports in `checked` why it cannot be added.
    pub fn add(&mut self, record: Record, checked: &mut Checked) {
        let origin = &self.origin;
        if !self.run_owner.eq_ignore_ascii_case(record.owner.wire()) {
            self.run_owner.clear();
            self.run_owner.extend_from_slice(record.owner.wire());
            self.run_types.clear();
        }
        let same_run = self.run_types.contains(&record.rtype);
        if !same_run {
            self.run_types.push(record.rtype);
        }
        if !record.owner.is_subdomain_of(origin) {
            // BIND ignores such records with a warning; a record that silently vanishes
            // hides typos (a missing final dot), so Meridian refuses the zone instead.
            checked.errors.push(Diagnostic {
                at: record.at,
                message: format!("owner {} is outside the zone {origin} (a missing or extra final dot?)", record.owner),
            });
            return;
        }
        if record.rtype == rtype::NS && record.owner.wire().starts_with(b"\x01*") {
            checked.errors.push(Diagnostic {
                at: record.at,
                message: format!(
                    "NS record at the wildcard {}: a wildcard cannot be a delegation (RFC 4592 section 4.2)",
                    record.owner
                ),
            });
            return;
        }
        if record.rtype == rtype::DS && record.owner == *origin {
            // DS is the parent's data (RFC 4035 §5); BIND refuses a zone with one at its top.
            checked.errors.push(Diagnostic {
                at: record.at,
                message: format!("DS record at the top of the zone {origin}: DS belongs in the parent zone"),
            });
            return;
        }
        if record.rtype == rtype::SOA && record.owner != *origin {
            checked.errors.push(Diagnostic {
                at: record.at,
                message: format!("SOA record for {} is not at the top of the zone {origin}", record.owner),
            });
            return;
        }
        let Some(at) = self.nodes.find(record.owner.wire()) else {
            // A new name (most records of a large zone): it takes the record's owner.
            let at = self.nodes.add(record.owner);
            self.nodes.list[at].add_set(RRset::new(record.rtype, record.ttl, &record.rdata));
            return;
        };
        let node = &mut self.nodes.list[at];
        if let Some(set) = node.rrsets.iter_mut().find(|s| s.rtype == record.rtype) {
            if set.ttl != record.ttl && !same_run && !matches!(record.rtype, rtype::SOA | rtype::CNAME) {
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
            if set.contains(&record.rdata) {
                return; // An exact duplicate: BIND drops it silently.
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
                return;
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
            set.push(&record.rdata);
        } else {
            let conflict = if record.rtype == rtype::CNAME {
                node.rrsets.iter().any(|s| !CNAME_COMPANIONS.contains(&s.rtype))
            } else {
                !CNAME_COMPANIONS.contains(&record.rtype) && node.has(rtype::CNAME)
            };
            if conflict {
                checked.errors.push(Diagnostic {
                    at: record.at,
                    message: format!(
                        "{} has a CNAME and other data; a CNAME must stand alone (RFC 1034 section 3.6.2)",
                        record.owner
                    ),
                });
                return;
            }
            node.add_set(RRset::new(record.rtype, record.ttl, &record.rdata));
        }
    }

    /// The zone, checked as named-checkzone checks it; `None` when it cannot be built at all
    /// (no SOA).
    pub fn finish(self, checked: &mut Checked) -> Option<Zone> {
        let Builder { origin, source, mut nodes, .. } = self;
        let whole_file = Location { file: source.clone(), line: 0 };
        let apex = nodes.find(origin.wire());
        let Some(soa) = apex.and_then(|i| nodes.list[i].get(rtype::SOA)).cloned() else {
            checked
                .errors
                .push(Diagnostic { at: whole_file, message: format!("zone {origin} has no SOA record at its apex") });
            return None;
        };
        let apex = apex.expect("the SOA was found at the apex");
        if !nodes.list[apex].has(rtype::NS) {
            checked.errors.push(Diagnostic {
                at: whole_file.clone(),
                message: format!("zone {origin} has no NS records at its apex"),
            });
        }
        // Empty non-terminals: every name between the apex and an owner exists (RFC 4592
        // §2.2.2). Most owners' parents exist: only theirs are copied to be added.
        for i in 0..nodes.list.len() {
            let wire = nodes.list[i].name.wire();
            if wire.len() <= origin.wire().len() {
                continue;
            }
            let parent = &wire[1 + usize::from(wire[0])..];
            if parent.len() > origin.wire().len() && nodes.find(parent).is_none() {
                let name: Box<[u8]> = wire.into();
                nodes.ensure(&name, &origin);
            }
        }
        nodes.list.shrink_to_fit();
        let serial = soa_serial(soa.first());
        let files = Arc::new(Files { origin, nodes, apex, soa, serial, source });
        let zone = Zone { files, added: Nodes::default(), pools: HashTable::new() };
        zone.check_targets(&whole_file, checked);
        zone.check_cds(&whole_file, checked);
        Some(zone)
    }
}

impl Zone {
    /// Makes `owner` (inside the zone) a name of `pool`, adding it, and every name between it
    /// and a name the files have, when the files do not have it.
    fn attach(&mut self, owner: &Name, pool: usize, alias: bool) {
        let wire = owner.wire();
        let mut offset = 0;
        while wire.len() - offset > self.files.origin.wire().len() {
            let name = &wire[offset..];
            if self.files.nodes.find(name).is_some() || self.added.find(name).is_some() {
                break;
            }
            self.added.add(Name::from_wire_unchecked(name));
            offset += 1 + usize::from(wire[offset]);
        }
        let hash = name_hash(wire);
        match self.pools.find_mut(hash, |p| p.name.wire().eq_ignore_ascii_case(wire)) {
            Some(at) => (at.pool, at.alias) = (pool, alias),
            None => {
                let at = PoolAt { name: owner.clone(), pool, alias };
                self.pools.insert_unique(hash, at, |p| name_hash(p.name.wire()));
            }
        }
    }

    /// The pool answering at the node named `wire`, and whether it is a CNAME pool.
    pub fn pool_at(&self, wire: &[u8]) -> Option<(usize, bool)> {
        if self.pools.is_empty() {
            return None;
        }
        let at = self.pools.find(name_hash(wire), |p| p.name.wire().eq_ignore_ascii_case(wire))?;
        Some((at.pool, at.alias))
    }

    /// True when `name` is at or below a zone cut (a non-apex NS), so its data is the child's.
    pub fn is_delegated(&self, name: &Name) -> bool {
        let at_cut = name != &self.files.origin && self.files.nodes.get(name.wire()).is_some_and(|n| n.has(rtype::NS));
        at_cut || self.delegation_above(name).is_some()
    }

    /// The zone's own NS targets inside the zone must have addresses, and no NS target may be
    /// an alias (RFC 1912 §2.4, RFC 2181 §10.3), as named-checkzone enforces; targets of a
    /// delegation's NS, and MX and SRV targets, without addresses are warnings, as
    /// named-checkzone reports them.
    fn check_targets(&self, at: &Location, checked: &mut Checked) {
        // Only names with targets are looked at, in the order of their text, so the report
        // reads the same at every load.
        let mut names: Vec<&Node> = self
            .files
            .nodes
            .list
            .iter()
            .filter(|n| n.rrsets.iter().any(|s| matches!(s.rtype, rtype::NS | rtype::MX | rtype::SRV)))
            .collect();
        names.sort_by_cached_key(|n| n.name.to_string());
        for node in names {
            for set in &node.rrsets {
                let (targets, fatal): (Vec<Name>, bool) = match set.rtype {
                    rtype::NS => {
                        (set.rdatas().map(Name::from_wire_unchecked).collect(), node.name == self.files.origin)
                    }
                    rtype::MX => (set.rdatas().map(|r| Name::from_wire_unchecked(&r[2..])).collect(), false),
                    rtype::SRV => (set.rdatas().map(|r| Name::from_wire_unchecked(&r[6..])).collect(), false),
                    _ => continue,
                };
                for target in targets {
                    if !target.is_subdomain_of(&self.files.origin) || target.is_root() {
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
                    let found = self.files.nodes.get(target.wire());
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
                    let at_cut = target != self.files.origin && found.is_some_and(|n| n.has(rtype::NS));
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
        self.files.nodes.list.len() == other.files.nodes.list.len()
            && self.files.nodes.list.iter().all(|node| {
                other.files.nodes.get(node.name.wire()).is_some_and(|o| {
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
        let apex = self.apex();
        let keys: Vec<&[u8]> = apex.get(rtype::DNSKEY).map_or_else(Vec::new, |s| s.rdatas().collect());
        let has_algorithm = |alg: u8| keys.iter().any(|k| k.get(3) == Some(&alg));
        let sets = [(rtype::CDNSKEY, "CDNSKEY", 3, [0u8, 0, 3, 0, 0]), (rtype::CDS, "CDS", 2, [0u8, 0, 0, 0, 0])];
        for (t, what, alg_at, delete) in sets {
            for data in apex.get(t).into_iter().flat_map(RRset::rdatas) {
                if data == delete {
                    continue;
                }
                let alg = data.get(alg_at).copied().unwrap_or(0);
                if !has_algorithm(alg) {
                    let message = format!(
                        "{what} at {} uses algorithm {alg}, which no DNSKEY of the zone uses",
                        self.files.origin
                    );
                    checked.report(true, at, message);
                } else if (t == rtype::CDNSKEY && !keys.contains(&data))
                    || (t == rtype::CDS && !keys.iter().any(|key| ds_matches(&self.files.origin, key, data)))
                {
                    checked.report(false, at, format!("{what} at {} matches no DNSKEY of the zone", self.files.origin));
                }
            }
        }
    }

    /// The zone's apex name.
    pub fn origin(&self) -> &Name {
        &self.files.origin
    }

    /// The SOA's timers (RFC 1035 §3.3.13), read from its data.
    pub fn soa_timers(&self) -> Option<SoaTimers> {
        SoaTimers::of(self.files.soa.first())
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.files.serial
    }

    /// The file the zone was read from.
    pub fn source(&self) -> &Path {
        &self.files.source
    }

    /// The apex SOA RRset.
    pub fn soa(&self) -> &RRset {
        &self.files.soa
    }

    /// The node named `wire` (a wire-format name, any case), occluded names included.
    pub fn node(&self, wire: &[u8]) -> Option<&Node> {
        self.files.nodes.get(wire).or_else(|| self.added.get(wire))
    }

    /// The apex node.
    pub fn apex(&self) -> &Node {
        &self.files.nodes.list[self.files.apex]
    }

    /// Number of names in the zone, empty non-terminals included.
    pub fn len(&self) -> usize {
        self.files.nodes.list.len() + self.added.list.len()
    }

    /// Always false: a zone has at least its apex.
    pub fn is_empty(&self) -> bool {
        self.files.nodes.list.is_empty()
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.files.nodes.list.iter().chain(&self.added.list)
    }

    /// The owner of a DNAME strictly above `name` (the apex included), if any.
    fn dname_above(&self, name: &Name) -> Option<&Name> {
        let mut cur = name.parent();
        while cur.label_count() >= self.files.origin.label_count() {
            if let Some(node) = self.files.nodes.get(cur.wire())
                && node.has(rtype::DNAME)
            {
                return Some(&node.name);
            }
            if cur.label_count() == self.files.origin.label_count() {
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
        while cur.label_count() > self.files.origin.label_count() {
            if let Some(node) = self.files.nodes.get(cur.wire())
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
        let by_apex = zones.iter().enumerate().map(|(i, z)| (z.origin().key(), i)).collect();
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
        let Some(origin) = self.find_zone(&key).map(|z| z.origin().key()) else {
            return;
        };
        let index = self.by_apex[&origin];
        Arc::make_mut(&mut self.zones[index]).attach(owner, pool, alias);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_alike_in_any_case_and_only_ascii_letters_fold() {
        // Every octet value at every position of an eight-octet word, and the remainder.
        for len in 1..=20 {
            for b in 0..=255u8 {
                let mut wire = vec![b'x'; len];
                wire[len / 2] = b;
                let folded: Vec<u8> = wire.iter().map(u8::to_ascii_lowercase).collect();
                assert_eq!(name_hash(&wire), name_hash(&folded), "octet {b:#x} at {} of {len}", len / 2);
            }
        }
        // Octets that are letters only with the high bit set, or next to the letters, stay.
        for (a, b) in [(0xc1u8, 0xe1u8), (b'@', b'`'), (b'[', b'{')] {
            assert_ne!(name_hash(&[3, a, a, a, 0]), name_hash(&[3, b, b, b, 0]), "{a:#x} {b:#x}");
        }
    }

    #[test]
    fn sets_keep_their_records_in_order() {
        let mut set = RRset::new(rtype::TXT, 60, b"\x01a");
        set.push(b"");
        set.push(&[7u8; 300]);
        let got: Vec<&[u8]> = set.rdatas().collect();
        assert_eq!(got, [&b"\x01a"[..], b"", &[7u8; 300][..]]);
        assert_eq!((set.len(), set.first()), (3, &b"\x01a"[..]));
        assert!(set.contains(b"") && !set.contains(b"\x01b"));
    }

    #[test]
    fn nodes_are_found_in_any_case_and_names_between_exist() {
        let origin = Name::parse("Example.COM.", None).unwrap();
        let text = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nWWW.Deep.Down A 192.0.2.2\n";
        let parsed = parser::parse_text(Path::new("t.zone"), text, &origin);
        let mut checked = Checked::default();
        let zone = Zone::build(&origin, Path::new("t.zone"), parsed.records, &mut checked).unwrap();
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        let name = |t: &str| Name::parse(t, None).unwrap();
        let www = zone.node(name("www.deep.down.example.com.").wire()).unwrap();
        assert_eq!(www.name.to_string(), "WWW.Deep.Down.Example.COM.");
        assert!(zone.node(name("WWW.DEEP.DOWN.EXAMPLE.COM.").wire()).is_some());
        for between in ["deep.down.example.com.", "down.example.com."] {
            assert!(zone.node(name(between).wire()).is_some_and(|n| n.rrsets.is_empty()), "{between}");
        }
        assert!(zone.node(name("other.example.com.").wire()).is_none());
        assert_eq!(zone.len(), 5);
    }
}
