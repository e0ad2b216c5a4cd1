//! The fast path: answers prepared once per question, kept by each UDP worker.
//!
//! Most queries an authoritative server sees repeat a few thousand questions. For a question
//! whose answer depends only on the name and type (every static answer, NXDOMAIN and NODATA
//! included), the first query runs the general path's resolver and writes the answer,
//! authority and additional sections once; later ones copy those bytes after their own
//! header and question (ID, flags and the question's case are the query's) and add their own
//! OPT record (payload size, DO, ECS echo). For a name that is a GSLB pool, what is kept is the
//! pool: each query still locates its client and chooses against the live health snapshot,
//! and only the resolver's work is skipped.
//!
//! Correctness rules, each tested against [`answer`](super::answer()) over the test corpus
//! (`tests/fast_path.rs`):
//! - an entry belongs to one configuration generation: the first query after a reload empties
//!   the cache, so nothing of the old zones is ever sent;
//! - health never reaches a prepared answer: pool answers are decided per query;
//! - anything the fast path does not handle exactly like the general path (other classes,
//!   EDNS versions, meta types, answers that would be truncated or lose additional records,
//!   CNAME chains into a pool, DNAME substitutions, which keep the query's case) is answered
//!   by [`answer`](super::answer()) itself.
//!
//! The cache is bounded ([`MAX_ENTRIES`]); when full it is emptied and refilled, so a flood of
//! random names costs what the general path costs, never unbounded memory.

use std::collections::HashMap;

use super::answer::{Opt, Outcome, Sections, begin, finish, precheck, rcode_of, size_limit, write_sections};
use super::encode::Writer;
use super::gslb;
use super::wire::Query;
use super::{MAX_TCP_MESSAGE, MAX_UDP_PAYLOAD, Request, answer};
use crate::config::Config;
use crate::config::gslb::Fallback;
use crate::dns::{class, rcode, rtype};
use crate::policy::Family;
use crate::zone::{Name, Rcode};

/// Questions remembered per worker. An entry is at most a UDP response's worth of octets, so
/// this bounds a worker's cache near 2.5 MiB even when every answer is large.
pub const MAX_ENTRIES: usize = 2048;

/// Longest prepared body kept: larger answers are never sent whole over UDP anyway.
const MAX_BODY: usize = MAX_UDP_PAYLOAD as usize;

/// What is known about one question (lower-cased name and type).
#[derive(Debug)]
enum Entry {
    /// The sections after the question, whatever the client.
    Fixed {
        /// The AA flag.
        authoritative: bool,
        /// RCODE.
        rcode: u16,
        /// Answer, authority and additional counts.
        counts: [u16; 3],
        /// The records.
        body: Box<[u8]>,
        /// The clock (the request's) from which the entry must be prepared again: signed
        /// answers change with the signatures' validity window and the keys' timing.
        until: u32,
    },
    /// The name is pool `pool`, asked for A or AAAA: decided per query; for a signed query,
    /// the signed zone (its origin) whose keys sign the answer, and the RRSIG records made
    /// for the answers given so far.
    Pool { pool: usize, signer: Option<Name>, signed: std::cell::RefCell<Vec<SignedSet>> },
    /// Answered by the general path every time.
    General,
}

/// The RRSIG records of one answer of a pool name (its members, whatever their order, and
/// TTL), ready for the wire.
#[derive(Debug)]
struct SignedSet {
    members: smallvec::SmallVec<[usize; 8]>,
    ttl: u32,
    /// The request clock from which they must be made again (`Keyring::valid_until`).
    until: u32,
    records: Vec<Box<[u8]>>,
}

/// Most answers' RRSIGs kept per signed pool name (a pool gives a few: one per data center
/// and health state); past them the list starts again.
const MAX_SIGNED_SETS: usize = 16;

/// One worker's prepared answers.
#[derive(Debug, Default)]
pub struct AnswerCache {
    generation: u64,
    entries: HashMap<Box<[u8]>, Entry, rustc_hash::FxBuildHasher>,
    /// Pools' walks for the current health view.
    walks: gslb::Walks,
}

impl AnswerCache {
    /// An empty cache.
    pub fn new() -> AnswerCache {
        AnswerCache::default()
    }

    /// Questions remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many questions are remembered as (prepared answers, pools, left to the general
    /// path).
    pub fn kinds(&self) -> (usize, usize, usize) {
        self.entries.values().fold((0, 0, 0), |(f, p, g), e| match e {
            Entry::Fixed { .. } => (f + 1, p, g),
            Entry::Pool { .. } => (f, p + 1, g),
            Entry::General => (f, p, g + 1),
        })
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Answers `request` into `out`, from `cache` when it can, else by [`answer`]; the response is
/// the same either way. `None` means no reply must be sent.
pub fn answer_cached(cache: &mut AnswerCache, request: &Request<'_>, out: &mut Vec<u8>) -> Option<Outcome> {
    if let Ok(query) = &request.parsed
        && let Some(outcome) = fast(cache, request, query, out)
    {
        return Some(outcome);
    }
    answer(request, out)
}

/// The fast path; `None` leaves the query to the general path.
fn fast(cache: &mut AnswerCache, request: &Request<'_>, query: &Query<'_>, out: &mut Vec<u8>) -> Option<Outcome> {
    // The general path refuses or rejects these before resolving (and answers class ANY as
    // IN, which the prepared answers do not); leave them to it.
    if query.qclass != class::IN || precheck(query).is_some() {
        return None;
    }
    let config = request.config();
    // The key sets follow the keys' timing at each query: the general path's.
    if super::secure::is_key_question(config, query.qtype) {
        return None;
    }
    // Signed answers are kept apart from unsigned ones (and those for resolvers that take
    // compact NXDOMAIN apart from the rest): the question's key has one more octet.
    let signed = match query.edns {
        Some(e) if e.dnssec_ok && !config.keyring.is_empty() => 1 | u8::from(e.compact_ok) << 1,
        _ => 0,
    };
    if cache.generation != config.generation {
        cache.entries.clear();
        cache.generation = config.generation;
    }
    let mut key = [0u8; 258];
    let n = query.qname.len();
    for (k, b) in key.iter_mut().zip(query.qname) {
        *k = b.to_ascii_lowercase();
    }
    key[n..n + 2].copy_from_slice(&query.qtype.to_be_bytes());
    key[n + 2] = signed;
    let key = &key[..n + 2 + usize::from(signed != 0)];
    if let Some(entry) = cache.entries.get(key)
        && !matches!(entry, Entry::Fixed { until, .. } if request.now >= *until)
    {
        return from_entry(entry, &mut cache.walks, request, query, out);
    }
    if cache.entries.len() >= MAX_ENTRIES {
        cache.entries.clear();
    }
    let entry = prepare(config, &key[..n], query.qtype, signed, request.now);
    let entry = match cache.entries.entry(key.into()) {
        std::collections::hash_map::Entry::Occupied(mut o) => {
            o.insert(entry);
            o.into_mut()
        }
        std::collections::hash_map::Entry::Vacant(v) => v.insert(entry),
    };
    from_entry(entry, &mut cache.walks, request, query, out)
}

/// Answers `query` from what is known of its question.
fn from_entry(
    entry: &Entry,
    walks: &mut gslb::Walks,
    request: &Request<'_>,
    query: &Query<'_>,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let mut outcome = Outcome::of(query);
    let opt = Opt::of(request, query);
    let mut w = Writer::new(out, size_limit(request.transport, query));
    let mut scope = 0;
    match entry {
        Entry::General => return None,
        Entry::Fixed { authoritative, rcode, counts, body, .. } => {
            begin(&mut w, query, &opt, *rcode, *authoritative);
            w.prepared(*counts, body).ok()?;
            outcome.rcode = *rcode;
        }
        Entry::Pool { pool, signer, signed } => {
            let pool = *pool;
            // The records are written whole here: the owner is the question's name, which the
            // general path's writer compresses to a pointer to offset 12 (the root name, the
            // one exception, is left to it).
            if query.qname.len() <= 1 {
                return None;
            }
            let done = gslb::complete_remembering(request, query, pool, walks);
            // NODATA and SERVFAIL fallbacks are rare; the general path writes them.
            if done.decision.members.is_empty() || done.decision.fallback == Some(Fallback::ServFail) {
                return None;
            }
            begin(&mut w, query, &opt, rcode::NOERROR, true);
            let mut rr = [0u8; 28];
            rr[..2].copy_from_slice(&[0xc0, 12]);
            rr[2..4].copy_from_slice(&if done.family == Family::V4 { rtype::A } else { rtype::AAAA }.to_be_bytes());
            rr[4..6].copy_from_slice(&class::IN.to_be_bytes());
            rr[6..10].copy_from_slice(&done.decision.ttl.to_be_bytes());
            for a in done.records(request.config()) {
                // Fixed-size copies: the two address lengths are known, so no memcpy call.
                let len = if a.rtype == rtype::A {
                    rr[12..16].copy_from_slice(&a.octets[..4]);
                    4
                } else {
                    rr[12..28].copy_from_slice(&a.octets);
                    16
                };
                rr[10..12].copy_from_slice(&(len as u16).to_be_bytes());
                // A response that would be truncated is left to the general path.
                w.answer_record(&rr[..12 + len]).ok()?;
            }
            if let Some(zone) = signer {
                let mut members: smallvec::SmallVec<[usize; 8]> =
                    done.records(request.config()).map(|a| a.member).collect();
                members.sort_unstable();
                let mut signed = signed.borrow_mut();
                let ttl = done.decision.ttl;
                let at = signed.iter().position(|s| s.members == members && s.ttl == ttl && request.now < s.until);
                let at = match at {
                    Some(at) => at,
                    None => {
                        if signed.len() >= MAX_SIGNED_SETS {
                            signed.clear();
                        }
                        signed.retain(|s| request.now < s.until);
                        let records = pool_rrsigs(request, query, zone, &done)?;
                        let until = request.config().keyring.valid_until(request.now);
                        signed.push(SignedSet { members, ttl, until, records });
                        signed.len() - 1
                    }
                };
                for rr in &signed[at].records {
                    w.answer_record(rr).ok()?;
                }
            }
            outcome.fallback = done.decision.fallback.is_some();
            outcome.gslb = Some(done.outcome());
            scope = done.scope;
        }
    }
    finish(&mut w, query, &opt, outcome.rcode, scope, &mut outcome);
    Some(outcome)
}

/// The RRSIG records, ready for the wire, of a pool's answer (its address records, owner the
/// question's name) made by `zone`'s keys, their signatures from the signature cache when it
/// has them.
fn pool_rrsigs(
    request: &Request<'_>,
    query: &Query<'_>,
    zone: &Name,
    done: &gslb::Completed<'_>,
) -> Option<Vec<Box<[u8]>>> {
    let config = request.config();
    let keys = config.keyring.zone(zone)?;
    let rtype = if done.family == Family::V4 { rtype::A } else { rtype::AAAA };
    let addresses: smallvec::SmallVec<[gslb::Address; 8]> = done.records(config).collect();
    let rdatas: smallvec::SmallVec<[&[u8]; 8]> = addresses.iter().map(gslb::Address::rdata).collect();
    let owner = Name::from_wire_unchecked(query.qname);
    let set = crate::dnssec::ToSign { owner: &owner, rtype, ttl: done.decision.ttl, rdatas: &rdatas };
    let mut made = Vec::new();
    let signers = keys.signers(rtype, u64::from(request.now));
    crate::dnssec::sign_rrset(zone, &signers, &set, request.now, &config.keyring.signatures, &mut made);
    let records = made
        .into_iter()
        .map(|rdata| {
            let mut rr = Vec::with_capacity(12 + rdata.len());
            rr.extend_from_slice(&[0xc0, 12]);
            rr.extend_from_slice(&rtype::RRSIG.to_be_bytes());
            rr.extend_from_slice(&class::IN.to_be_bytes());
            rr.extend_from_slice(&done.decision.ttl.to_be_bytes());
            rr.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            rr.extend_from_slice(&rdata);
            rr.into_boxed_slice()
        })
        .collect();
    Some(records)
}

/// Works out what to keep for a question; `qname` is lower-case wire form; `signed` is 0 for
/// an unsigned answer, else DO (1) and Compact Answers OK (2) of a query to a server with
/// signed zones.
fn prepare(config: &Config, qname: &[u8], qtype: u16, signed: u8, now: u32) -> Entry {
    let Some(name) = Name::from_wire(qname) else {
        return Entry::General;
    };
    let mut res = config.zones.resolve(&name, qtype);
    if let Some(pool) = &res.pool {
        // Only a name that is itself the pool: after a CNAME the answer has more records.
        let direct = res.answer.is_empty()
            && res.authority.is_empty()
            && res.additional.is_empty()
            && res.rcode == Rcode::NoError
            && res.authoritative
            && matches!(qtype, rtype::A | rtype::AAAA)
            && !config.gslb.pools[pool.pool].is_alias()
            && pool.owner.wire() == qname;
        if !direct {
            return Entry::General;
        }
        if signed == 0 {
            return Entry::Pool { pool: pool.pool, signer: None, signed: Default::default() };
        }
        // A signed pool name: the zone that signs it, if it is signed.
        let signer = match config.zones.lookup(qname) {
            Some(Ok(zone)) if config.keyring.zone(zone.origin()).is_some() => Some(zone.origin().clone()),
            _ => None,
        };
        return Entry::Pool { pool: pool.pool, signer, signed: Default::default() };
    }
    let mut until = u32::MAX;
    if signed != 0 {
        res.rcode = super::secure::sign(config, &name, qtype, now, signed & 2 != 0, &mut res);
        until = config.keyring.valid_until(now);
    }
    // A name synthesized from a DNAME keeps the case of the query's labels (RFC 6672 §2.2
    // substitutes the owner's suffix only): such an answer is not the same for every query.
    if res.answer.iter().any(|rr| rr.rtype == rtype::DNAME) {
        return Entry::General;
    }
    let mut buf = Vec::new();
    let mut w = Writer::new(&mut buf, MAX_TCP_MESSAGE);
    w.header(0, 0);
    w.question(qname, qtype, class::IN);
    let start = w.len();
    if write_sections(&mut w, &res) != Sections::Whole || w.len() - start > MAX_BODY {
        return Entry::General;
    }
    let rcode = rcode_of(res.rcode);
    let counts = [0, 1, 2].map(|i| u16::from_be_bytes([buf[6 + 2 * i], buf[7 + 2 * i]]));
    Entry::Fixed { authoritative: res.authoritative, rcode, counts, body: buf[start..].into(), until }
}
