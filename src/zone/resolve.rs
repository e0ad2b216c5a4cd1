//! Answering a question from the zone set: RFC 1034 §4.3.2 with RFC 2308 negative answers,
//! RFC 4592 wildcards, RFC 6672 DNAME and RFC 8482 minimal ANY.

use std::borrow::Cow;

use super::name::{self, Name};
use super::{Node, RRset, Zone, ZoneSet};
use crate::dns::rtype;

/// Most CNAME or DNAME links followed for one question. BIND 9 gives up after 11 restarts
/// (its `max-query-restarts` default); a longer chain in one's own zones is a mistake, and the
/// bound keeps a loop (a -> b -> a) from costing more than a dozen lookups.
pub const MAX_CHAIN: usize = 11;

/// Response codes the resolver produces (RFC 1035 §4.1.1, RFC 6672 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// The name exists (or an alias chain ends outside our data).
    NoError,
    /// The name does not exist.
    NxDomain,
    /// The name is in no zone of ours.
    Refused,
    /// A DNAME substitution made a name longer than 255 octets.
    YxDomain,
    /// The answer cannot be given (a GSLB pool whose fallback is `servfail`).
    ServFail,
}

/// One record of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr<'a> {
    /// Owner name.
    pub owner: Name,
    /// Type.
    pub rtype: u16,
    /// TTL.
    pub ttl: u32,
    /// Uncompressed wire-format data.
    pub rdata: Cow<'a, [u8]>,
}

/// The records and flags that answer one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution<'a> {
    /// Response code.
    pub rcode: Rcode,
    /// Authoritative Answer flag: clear on referrals and refusals.
    pub authoritative: bool,
    /// Answer section.
    pub answer: Vec<Rr<'a>>,
    /// Authority section.
    pub authority: Vec<Rr<'a>>,
    /// Additional section (addresses of NS, MX and SRV targets; glue).
    pub additional: Vec<Rr<'a>>,
    /// Set when the last name of the answer is a GSLB pool name asked for A or AAAA: the
    /// caller completes the answer from the pool.
    pub pool: Option<PoolRef<'a>>,
}

/// A GSLB name reached while answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRef<'a> {
    /// The pool.
    pub pool: usize,
    /// The owner name for the records, as it was reached.
    pub owner: Name,
    /// The SOA to send when the pool has no address of the family asked for (NODATA).
    pub negative_soa: Rr<'a>,
}

impl Resolution<'_> {
    fn empty(rcode: Rcode, authoritative: bool) -> Self {
        Resolution {
            rcode,
            authoritative,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            pool: None,
        }
    }
}

/// Where a name led inside one zone.
pub(crate) enum Found<'z> {
    /// A node holding data (or an empty non-terminal); `wildcard` when synthesized.
    Node(&'z Node),
    /// A zone cut at or above the name.
    Delegation(&'z Node),
    /// A DNAME strictly above the name: (its node, the length of its owner's wire form).
    Dname(&'z Node),
    /// No such name.
    NxDomain,
}

impl Zone {
    /// Finds `key` (lower-cased wire name, inside this zone) by walking down from the apex,
    /// stopping at the first zone cut or DNAME, then trying the wildcard at the closest
    /// encloser (RFC 4592 §3.3.1).
    pub(crate) fn find(&self, key: &[u8], qtype: u16) -> Found<'_> {
        let apex_labels = self.origin().label_count();
        let starts: Vec<usize> = name::label_starts(key).collect();
        let total = starts.len();
        let apex = self.apex();
        if total > apex_labels && apex.has(rtype::DNAME) {
            return Found::Dname(apex);
        }
        let mut encloser = apex;
        for depth in apex_labels + 1..=total {
            let suffix = &key[starts[total - depth]..];
            let Some(node) = self.node(suffix) else {
                return self.wildcard(encloser);
            };
            let is_target = depth == total;
            if node.has(rtype::NS) && !(is_target && qtype == rtype::DS) {
                return Found::Delegation(node);
            }
            if !is_target && node.has(rtype::DNAME) {
                return Found::Dname(node);
            }
            encloser = node;
        }
        Found::Node(encloser)
    }

    fn wildcard(&self, encloser: &Node) -> Found<'_> {
        let mut key = Vec::with_capacity(encloser.name.wire().len() + 2);
        key.extend_from_slice(b"\x01*");
        key.extend_from_slice(encloser.name.wire());
        match self.node(&key) {
            Some(node) => Found::Node(node),
            None => Found::NxDomain,
        }
    }

    pub(crate) fn negative_soa(&self) -> Rr<'_> {
        // RFC 2308 §3: the SOA's TTL in a negative answer is min(SOA TTL, SOA MINIMUM).
        let rdata = self.soa().first();
        let n = rdata.len();
        let minimum = u32::from_be_bytes([rdata[n - 4], rdata[n - 3], rdata[n - 2], rdata[n - 1]]);
        Rr {
            owner: self.origin().clone(),
            rtype: rtype::SOA,
            ttl: self.soa().ttl.min(minimum),
            rdata: Cow::Borrowed(rdata),
        }
    }

    /// Adds the A and AAAA records of `target` (occluded glue included) to `out`.
    fn push_addresses<'z>(&'z self, target: &Name, out: &mut Vec<Rr<'z>>) {
        let Some(node) = self.node(target.wire()) else {
            return;
        };
        if out.iter().any(|rr| rr.owner == node.name) {
            return;
        }
        for t in [rtype::A, rtype::AAAA] {
            if let Some(set) = node.get(t) {
                push_set(&node.name, set, out);
            }
        }
    }

    fn push_target_addresses<'z>(&'z self, set: &RRset, out: &mut Vec<Rr<'z>>) {
        let skip = match set.rtype {
            rtype::NS => 0,
            rtype::MX => 2,
            rtype::SRV => 6,
            _ => return,
        };
        for rdata in set.rdatas() {
            let target = Name::from_wire_unchecked(&rdata[skip..]);
            if target.is_subdomain_of(self.origin()) {
                self.push_addresses(&target, out);
            }
        }
    }
}

fn push_set<'z>(owner: &Name, set: &'z RRset, out: &mut Vec<Rr<'z>>) {
    for rdata in set.rdatas() {
        out.push(Rr { owner: owner.clone(), rtype: set.rtype, ttl: set.ttl, rdata: Cow::Borrowed(rdata) });
    }
}

impl ZoneSet {
    /// The zone that answers `qtype` at `key`: the closest enclosing one, except that DS at a
    /// zone's apex is the parent's data (RFC 4035 §3.1.4.1), answered from the parent zone
    /// when we serve it too.
    fn zone_for(&self, key: &[u8], qtype: u16) -> Option<Result<&Zone, &Name>> {
        let found = self.lookup(key)?;
        if qtype == rtype::DS
            && let Ok(zone) = found
            && *zone.origin().key() == *key
            && !zone.origin().is_root()
            && let Some(Ok(parent)) = self.lookup(&key[1 + usize::from(key[0])..])
        {
            return Some(Ok(parent));
        }
        Some(found)
    }

    /// Answers `qname`/`qtype` (class IN) from the zones.
    pub fn resolve(&self, qname: &Name, qtype: u16) -> Resolution<'_> {
        let mut zone = match self.zone_for(&qname.key(), qtype) {
            Some(Ok(zone)) => zone,
            // A zone of ours that failed to load: we cannot answer, and must not deny.
            Some(Err(_)) => return Resolution::empty(Rcode::ServFail, false),
            None => return Resolution::empty(Rcode::Refused, false),
        };
        let mut res = Resolution::empty(Rcode::NoError, true);
        let mut name = qname.clone();
        for _link in 0..=MAX_CHAIN {
            let key = name.key();
            match zone.find(&key, qtype) {
                Found::Delegation(cut) => {
                    // RFC 1034 §4.3.2 step 3b: a referral. Not authoritative unless an alias in
                    // our data led here, in which case the answer section is ours.
                    res.authoritative = !res.answer.is_empty();
                    let ns = cut.get(rtype::NS).expect("delegation node has NS");
                    push_set(&cut.name, ns, &mut res.authority);
                    zone.push_target_addresses(ns, &mut res.additional);
                    return res;
                }
                Found::Dname(node) => {
                    let dname = node.get(rtype::DNAME).expect("DNAME node has DNAME");
                    push_set(&node.name, dname, &mut res.answer);
                    let target = Name::from_wire_unchecked(dname.first());
                    let Some(next) = name.replace_suffix(node.name.wire().len(), &target) else {
                        // RFC 6672 §2.2: the substituted name is too long.
                        res.rcode = Rcode::YxDomain;
                        return res;
                    };
                    // RFC 6672 §3.1: a CNAME is synthesized with the DNAME's TTL.
                    res.answer.push(Rr {
                        owner: name.clone(),
                        rtype: rtype::CNAME,
                        ttl: dname.ttl,
                        rdata: Cow::Owned(next.wire().to_vec()),
                    });
                    // Aliases are followed into any zone of ours, as NSD and BIND do.
                    match self.zone_for(&next.key(), qtype) {
                        Some(Ok(z)) => zone = z,
                        Some(Err(_)) => {
                            res.rcode = Rcode::ServFail;
                            return res;
                        }
                        None => return res,
                    }
                    name = next;
                }
                Found::NxDomain => {
                    // RFC 6604 §3: the rcode describes the last name of an alias chain.
                    res.rcode = Rcode::NxDomain;
                    res.authority.push(zone.negative_soa());
                    return res;
                }
                Found::Node(node) => {
                    // A pool answers A, AAAA and ANY, and HTTPS and SVCB unless the zone has
                    // one there; a CNAME pool answers everything.
                    let pool = zone.pool_at(node.name.wire());
                    let pooled = pool.is_some_and(|(_, alias)| alias)
                        || matches!(qtype, rtype::A | rtype::AAAA | rtype::ANY)
                        || (matches!(qtype, rtype::HTTPS | rtype::SVCB) && node.get(qtype).is_none());
                    if let Some((pool, _)) = pool.filter(|_| pooled) {
                        res.pool = Some(PoolRef { pool, owner: name, negative_soa: zone.negative_soa() });
                        return res;
                    }
                    if qtype == rtype::ANY && !node.rrsets.is_empty() {
                        // RFC 8482 §4.2: answer one RRset rather than the whole node.
                        let set = &node.rrsets[0];
                        push_set(&name, set, &mut res.answer);
                        return res;
                    }
                    if let Some(set) = node.get(qtype) {
                        push_set(&name, set, &mut res.answer);
                        zone.push_target_addresses(set, &mut res.additional);
                        return res;
                    }
                    let Some(cname) = node.get(rtype::CNAME) else {
                        // RFC 2308 §2.2: NODATA, the SOA in authority.
                        res.authority.push(zone.negative_soa());
                        return res;
                    };
                    push_set(&name, cname, &mut res.answer);
                    let target = Name::from_wire_unchecked(cname.first());
                    if res.answer.iter().filter(|rr| rr.rtype == rtype::CNAME).any(|rr| rr.owner == target) {
                        return res; // A loop: stop at the link that closes it.
                    }
                    match self.zone_for(&target.key(), qtype) {
                        Some(Ok(z)) => zone = z,
                        Some(Err(_)) => {
                            res.rcode = Rcode::ServFail;
                            return res;
                        }
                        None => return res,
                    }
                    name = target;
                }
            }
        }
        res
    }
}
