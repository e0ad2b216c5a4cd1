//! The query path: bytes in, bytes out, synchronous and free of any transport.
//!
//! [`answer`] reads a query in place ([`super::wire`]), resolves it against the current
//! snapshot, and writes the response into the caller's buffer ([`super::encode`]). It never
//! awaits, locks or does I/O, so the UDP and TCP loops (and later a batched thread-per-core
//! UDP loop) only move bytes. Behaviour where servers differ is listed in ARCHITECTURE.md.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use super::encode::{Full, Writer};
use super::wire::{self, ClientSubnet, Query, Reject};
use crate::config::Config;
use crate::config::gslb::Fallback;
use crate::health::HealthSnapshot;
use crate::policy::{self, AllUp, Client, Family};
use crate::zone::rdata::rtype;
use crate::zone::{Name, PoolRef, Rcode, Resolution, Rr};

/// Largest UDP response we send, and the payload size we advertise: the DNS Flag Day 2020
/// value, which avoids IP fragmentation on practically every path (RFC 9715 §3.3).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// Size of a UDP response to a query without EDNS, and the floor for a smaller advertised
/// size (RFC 1035 §2.3.4, RFC 6891 §6.2.3).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// A DNS message over TCP is prefixed by a 16-bit length (RFC 1035 §4.2.2).
pub const MAX_TCP_MESSAGE: usize = 65_535;

/// The transport a query came over: it decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagrams: responses sized to the client's EDNS payload size, truncated past it.
    Udp,
    /// Streams: responses up to 65535 octets.
    Tcp,
}

/// What the query path did, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// RCODE sent, extended RCODE included (16 = BADVERS).
    pub rcode: u16,
    /// True when the response was truncated (TC=1).
    pub truncated: bool,
    /// The query's type, when a question was read.
    pub qtype: Option<u16>,
    /// True when a GSLB pool's fallback answered (no data center could serve).
    pub fallback: bool,
    /// True when the query carried a valid EDNS Client Subnet option.
    pub ecs: bool,
    /// The ECS scope prefix sent.
    pub scope: u8,
    /// Set when the answer came from a GSLB pool.
    pub gslb: Option<GslbOutcome>,
}

/// What a GSLB answer did, for metrics and the query log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GslbOutcome {
    /// Pool index in the configuration.
    pub pool: usize,
    /// Data center answered from, if one.
    pub datacenter: Option<usize>,
    /// False when the client could not be located (geo miss).
    pub located: bool,
}

impl Outcome {
    /// What is known of a query's outcome before it is answered: a NOERROR answer of its
    /// type, with or without ECS; the answer fills in the rest.
    pub(super) fn of(query: &Query<'_>) -> Outcome {
        Outcome {
            rcode: 0,
            truncated: false,
            qtype: Some(query.qtype),
            fallback: false,
            ecs: query.edns.is_some_and(|e| e.ecs.is_some()),
            scope: 0,
            gslb: None,
        }
    }
}

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;
const BADVERS: u16 = 16;

/// Response header flags: QR, and OPCODE, RD and CD copied from the query (RFC 1035 §4.1.1,
/// RFC 4035 §3.1.6); AA and RCODE added by the caller.
pub(super) fn response_flags(query_flags: u16, rcode: u16) -> u16 {
    0x8000 | (query_flags & 0x7910) | (rcode & 0xf)
}

/// Answers one query packet into `out`. `None` means no reply must be sent.
pub fn answer(
    config: &Config,
    health: &HealthSnapshot,
    packet: &[u8],
    client: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    answer_parsed(config, health, wire::parse(packet), client, transport, out)
}

/// [`answer`] for a packet already read by [`wire::parse`].
pub(super) fn answer_parsed(
    config: &Config,
    health: &HealthSnapshot,
    parsed: Result<Query<'_>, Reject<'_>>,
    client: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let query = match parsed {
        Ok(q) => q,
        Err(Reject::Drop) => return None,
        Err(Reject::FormErr { id, flags, question }) => return Some(error(out, id, flags, FORMERR, question)),
        Err(Reject::NotImp { id, flags, question }) => return Some(error(out, id, flags, NOTIMP, question)),
    };
    let mut w = Writer::new(out, size_limit(transport, &query));
    let outcome = respond(config, health, &query, client, &mut w);
    Some(outcome)
}

/// The largest response `query` may get over `transport`.
pub(super) fn size_limit(transport: Transport, query: &Query<'_>) -> usize {
    match (transport, query.edns) {
        (Transport::Tcp, _) => MAX_TCP_MESSAGE,
        (Transport::Udp, None) => usize::from(MIN_UDP_PAYLOAD),
        (Transport::Udp, Some(e)) => usize::from(e.udp_size.clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)),
    }
}

fn error(out: &mut Vec<u8>, id: u16, flags: u16, rcode: u16, question: Option<(&[u8], u16, u16)>) -> Outcome {
    let mut w = Writer::new(out, MAX_TCP_MESSAGE);
    w.header(id, response_flags(flags, rcode));
    if let Some((name, qtype, qclass)) = question {
        w.question(name, qtype, qclass);
    }
    Outcome { rcode, truncated: false, qtype: question.map(|q| q.1), fallback: false, ecs: false, scope: 0, gslb: None }
}

/// Octets the OPT record takes: root name, fixed fields, and the echoed Client Subnet.
pub(super) fn opt_len(query: &Query<'_>) -> usize {
    match query.edns {
        None => 0,
        Some(e) => 11 + e.ecs.map_or(0, |s| 8 + s.address_len()),
    }
}

pub(super) fn write_opt(w: &mut Writer<'_>, query: &Query<'_>, ext_rcode: u16, scope: u8) {
    let Some(edns) = query.edns else {
        return;
    };
    let mut rdata = [0u8; 24];
    let mut len = 0;
    if let Some(ecs) = edns.ecs {
        len = echo_ecs(&ecs, scope, &mut rdata);
    }
    // RFC 6891 §6.1.3: extended RCODE (upper 8 bits), version 0, DO echoed (RFC 3225 §3).
    let ttl = (u32::from(ext_rcode >> 4) << 24) | if edns.dnssec_ok { 0x8000 } else { 0 };
    // Root owner, type, our payload size as the class, the TTL word, the options: what
    // `Writer::record` writes for it, without the compression search (the root has no labels).
    let mut rr = [0u8; 11 + 24];
    rr[1..3].copy_from_slice(&rtype::OPT.to_be_bytes());
    rr[3..5].copy_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
    rr[5..9].copy_from_slice(&ttl.to_be_bytes());
    rr[9..11].copy_from_slice(&(len as u16).to_be_bytes());
    rr[11..11 + len].copy_from_slice(&rdata[..len]);
    // The space was reserved before any record was written, so this cannot fail.
    let _ = w.additional_record(&rr[..11 + len]);
}

/// RFC 7871 §7.2.1: echo family, source prefix and address (already zero beyond the prefix,
/// as the parser insists) with the scope of the answer.
fn echo_ecs(ecs: &ClientSubnet, scope: u8, out: &mut [u8; 24]) -> usize {
    let addr_len = ecs.address_len();
    out[0..2].copy_from_slice(&wire::OPT_ECS.to_be_bytes());
    out[2..4].copy_from_slice(&((4 + addr_len) as u16).to_be_bytes());
    out[4..6].copy_from_slice(&ecs.family.to_be_bytes());
    out[6] = ecs.source_prefix;
    out[7] = scope;
    out[8..8 + addr_len].copy_from_slice(&ecs.address[..addr_len]);
    8 + addr_len
}

fn respond(
    config: &Config,
    health: &HealthSnapshot,
    query: &Query<'_>,
    peer: SocketAddr,
    w: &mut Writer<'_>,
) -> Outcome {
    let opt = opt_len(query);
    w.header(query.id, response_flags(query.flags, 0));
    w.question(query.qname, query.qtype, query.qclass);
    w.reserve(opt);
    let mut outcome = Outcome::of(query);
    let finish_scoped = |w: &mut Writer<'_>, rcode: u16, outcome: &mut Outcome, scope: u8| {
        w.set_flags((w.flags() & !0xf) | (rcode & 0xf));
        w.release(opt);
        write_opt(w, query, rcode, scope);
        outcome.rcode = rcode;
        outcome.scope = if outcome.ecs { scope } else { 0 };
    };
    // Errors and answers that do not depend on the client carry ECS scope 0 (RFC 7871 §7.2.1).
    let finish = |w: &mut Writer<'_>, rcode: u16, outcome: &mut Outcome| finish_scoped(w, rcode, outcome, 0);

    // RFC 6891 §6.1.3: only version 0 is known; BADVERS, and nothing else is looked at.
    if query.edns.is_some_and(|e| e.version > 0) {
        finish(w, BADVERS, &mut outcome);
        return outcome;
    }
    // Class IN is served; QCLASS ANY (RFC 1035 §3.2.5) is answered as IN. CH, HS and
    // unknown classes are refused: no zone of ours is in them.
    if query.qclass != 1 && query.qclass != 255 {
        finish(w, REFUSED, &mut outcome);
        return outcome;
    }
    match query.qtype {
        // Zone transfers are not offered (yet): refused like NSD without provide-xfr.
        rtype::AXFR | rtype::IXFR => {
            finish(w, REFUSED, &mut outcome);
            return outcome;
        }
        // RFC 6895 §3.1: MAILA and MAILB are obsolete query types.
        rtype::MAILA | rtype::MAILB => {
            finish(w, NOTIMP, &mut outcome);
            return outcome;
        }
        // OPT, TSIG and TKEY only appear in the additional section; asking for them, or for
        // type 0, is a malformed question.
        0 | rtype::OPT | rtype::TSIG | rtype::TKEY => {
            finish(w, FORMERR, &mut outcome);
            return outcome;
        }
        _ => {}
    }
    let Some(qname) = Name::from_wire(query.qname) else {
        finish(w, FORMERR, &mut outcome);
        return outcome;
    };
    let mut res = config.zones.resolve(&qname, query.qtype);
    let mut scope = 0;
    if let Some(pool_ref) = res.pool.take() {
        let (s, gslb, fallback) = gslb_answer(config, health, query, peer, pool_ref, &mut res);
        scope = s;
        outcome.fallback = fallback;
        outcome.gslb = Some(gslb);
    }
    let rcode = rcode_of(res.rcode);
    if res.authoritative {
        w.set_flags(w.flags() | 0x0400);
    }
    outcome.truncated = write_sections(w, &res) == Sections::Truncated;
    finish_scoped(w, rcode, &mut outcome, scope);
    outcome
}

/// The RCODE of a resolution.
pub(super) fn rcode_of(rcode: Rcode) -> u16 {
    match rcode {
        Rcode::NoError => 0,
        Rcode::NxDomain => 3,
        Rcode::Refused => REFUSED,
        Rcode::YxDomain => 6,
        Rcode::ServFail => 2,
    }
}

/// How much of a resolution [`write_sections`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sections {
    /// Every record.
    Whole,
    /// Answer and authority, not every additional record.
    AdditionalCut,
    /// Answer and authority did not fit: question only, TC set.
    Truncated,
}

/// Writes the answer, authority and additional sections after the question.
pub(super) fn write_sections(w: &mut Writer<'_>, res: &Resolution<'_>) -> Sections {
    let after_question = w.len();
    let fits = write_all(w, 0, &res.answer).and_then(|()| write_all(w, 1, &res.authority));
    if fits.is_err() {
        // RFC 2181 §9: a response that cannot hold the answer and authority RRsets whole is
        // sent with TC=1 and the question only, so that the client retries over TCP.
        w.truncate_to(after_question);
        w.set_flags(w.flags() | 0x0200);
        return Sections::Truncated;
    }
    // Additional data that does not fit is left out without TC (RFC 2181 §9).
    for rr in &res.additional {
        if write_rr(w, 2, rr).is_err() {
            return Sections::AdditionalCut;
        }
    }
    Sections::Whole
}

/// The address a pool locates the client by: the ECS address when the query has one with a
/// non-zero source prefix and the pool uses ECS, else the query's source (RFC 7871 §7.1.2:
/// source prefix 0 asks for an answer that does not depend on the client's network).
fn client_of(query: &Query<'_>, peer: SocketAddr, use_ecs: bool) -> Client {
    if let Some(ecs) = query.edns.and_then(|e| e.ecs).filter(|e| use_ecs && e.source_prefix > 0) {
        return Client { addr: ecs.ip(), prefix: ecs.source_prefix, from_ecs: true };
    }
    let addr = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    Client { addr, prefix: if addr.is_ipv4() { 32 } else { 128 }, from_ecs: false }
}

/// Completes an answer that reached a GSLB name; returns the ECS scope and whether a fallback
/// answered.
fn gslb_answer<'c>(
    config: &'c Config,
    health: &HealthSnapshot,
    query: &Query<'_>,
    peer: SocketAddr,
    pool_ref: PoolRef<'c>,
    res: &mut Resolution<'c>,
) -> (u8, GslbOutcome, bool) {
    let pool = &config.gslb.pools[pool_ref.pool];
    let family = if query.qtype == rtype::AAAA { Family::V6 } else { Family::V4 };
    let (decision, scope, info) = decide(config, health, query, peer, pool_ref.pool, family);
    let fallback = decision.fallback.is_some();
    if decision.fallback == Some(Fallback::ServFail) {
        res.rcode = Rcode::ServFail;
        res.authoritative = false;
        return (scope, info, fallback);
    }
    if decision.members.is_empty() {
        res.authority.push(pool_ref.negative_soa);
    }
    for &m in &decision.members {
        let member = &pool.members[m];
        let (rtype, rdata) = match family {
            Family::V4 => (rtype::A, member.ipv4.map(|a| a.octets().to_vec())),
            Family::V6 => (rtype::AAAA, member.ipv6.map(|a| a.octets().to_vec())),
        };
        if let Some(rdata) = rdata {
            res.answer.push(Rr { owner: pool_ref.owner.clone(), rtype, ttl: decision.ttl, rdata: Cow::Owned(rdata) });
        }
    }
    (scope, info, fallback)
}

/// The GSLB decision for a query that reached pool `pool_id`: the members to answer with, the
/// ECS scope, and what to count.
pub(super) fn decide(
    config: &Config,
    health: &HealthSnapshot,
    query: &Query<'_>,
    peer: SocketAddr,
    pool_id: usize,
    family: Family,
) -> (policy::Decision, u8, GslbOutcome) {
    let gslb = &config.gslb;
    let client = client_of(query, peer, gslb.pools[pool_id].ecs);
    let located = policy::locate(gslb, &config.geo, &client);
    // The seed makes shuffles differ between queries while staying a function of the query.
    let seed = (u64::from(query.id) << 16 | u64::from(peer.port())) ^ ip_bits(peer.ip());
    // A snapshot built for another configuration (mid-reload) is not used: its indexes may
    // not match; every member then answers as up until the matching snapshot is published.
    let decision = if health.generation == config.generation {
        policy::choose(gslb, pool_id, family, &located, &client, health, seed, None)
    } else {
        policy::choose(gslb, pool_id, family, &located, &client, &AllUp, seed, None)
    };
    let scope = if client.from_ecs { located.prefix() } else { 0 };
    let info = GslbOutcome {
        pool: pool_id,
        datacenter: decision.datacenter,
        located: !matches!(located, policy::Located::Unknown { .. }),
    };
    (decision, scope, info)
}

fn ip_bits(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64)
        }
    }
}

fn write_all(w: &mut Writer<'_>, section: usize, rrs: &[Rr<'_>]) -> Result<(), Full> {
    rrs.iter().try_for_each(|rr| write_rr(w, section, rr))
}

fn write_rr(w: &mut Writer<'_>, section: usize, rr: &Rr<'_>) -> Result<(), Full> {
    let rdata: &Cow<'_, [u8]> = &rr.rdata;
    w.record(section, rr.owner.wire(), rr.rtype, 1, rr.ttl, rdata)
}
