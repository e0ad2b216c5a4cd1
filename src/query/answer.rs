//! The general path: every query can be answered here.
//!
//! [`answer`] takes a [`Request`] (the query already read by [`super::wire`]), checks what is
//! answered without a lookup, resolves the rest against the snapshot's zone set, completes
//! GSLB answers through [`super::gslb`], and writes the response into the caller's buffer
//! ([`super::encode`]). Every reply to a query, errors and rate limiting's truncated replies
//! included, starts with [`begin`] and ends with [`finish`], so header flags and the OPT record
//! are made one way; a packet that is not a readable query gets its FORMERR or NOTIMP with
//! the same header flags and no OPT (there is none to echo). Behaviour where servers differ is listed in ARCHITECTURE.md.

use std::borrow::Cow;

use super::encode::{Full, Writer};
use super::gslb::{self, Completed};
use super::wire::{ClientSubnet, Edns, Query, Reject};
use super::{Request, Transport};
use crate::config::gslb::Fallback;
use crate::dns::{class, edns, flags, rcode, rtype};
use crate::policy::Trace;
use crate::zone::{Name, Rcode, Resolution, Rr};

pub use super::gslb::GslbOutcome;

/// Largest UDP response we send, and the payload size we advertise: the DNS Flag Day 2020
/// value, which avoids IP fragmentation on practically every path (RFC 9715 §3.3).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// Size of a UDP response to a query without EDNS, and the floor for a smaller advertised
/// size (RFC 1035 §2.3.4, RFC 6891 §6.2.3).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// A DNS message over TCP is prefixed by a 16-bit length (RFC 1035 §4.2.2).
pub const MAX_TCP_MESSAGE: usize = 65_535;

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
    /// True when the AA flag was set.
    pub authoritative: bool,
    /// Set when the answer came from a GSLB pool.
    pub gslb: Option<GslbOutcome>,
    /// True when the query presented a valid server cookie (RFC 7873): its source address is
    /// proven, and rate limiting lets it through.
    pub cookie: bool,
}

impl Outcome {
    /// What is known of a query's outcome before it is answered: a NOERROR answer of its
    /// type, with or without ECS; the answer fills in the rest.
    pub(super) fn of(query: &Query<'_>) -> Outcome {
        Outcome {
            rcode: rcode::NOERROR,
            truncated: false,
            qtype: Some(query.qtype),
            fallback: false,
            ecs: query.edns.is_some_and(|e| e.ecs.is_some()),
            scope: 0,
            authoritative: false,
            gslb: None,
            cookie: false,
        }
    }
}

/// Response header flags: QR, and OPCODE, RD and CD copied from the query (RFC 1035 §4.1.1,
/// RFC 4035 §3.1.6); AA and RCODE added by the caller.
pub(super) fn response_flags(query_flags: u16, rcode: u16) -> u16 {
    flags::QR | (query_flags & (flags::OPCODE_MASK | flags::RD | flags::CD)) | (rcode & flags::RCODE_MASK)
}

/// Answers one request into `out` by the general path. `None` means no reply must be sent.
pub fn answer(request: &Request<'_>, out: &mut Vec<u8>) -> Option<Outcome> {
    let query = match &request.parsed {
        Ok(q) => q,
        Err(Reject::Drop) => return None,
        Err(Reject::FormErr { id, flags, question }) => {
            return Some(error(out, *id, *flags, rcode::FORMERR, *question));
        }
        Err(Reject::NotImp { id, flags, question }) => return Some(error(out, *id, *flags, rcode::NOTIMP, *question)),
    };
    let mut w = Writer::new(out, size_limit(request.transport, query));
    Some(respond(request, query, &mut w))
}

/// The largest response `query` may get over `transport`.
pub(super) fn size_limit(transport: Transport, query: &Query<'_>) -> usize {
    match (transport, query.edns) {
        (Transport::Udp, None) => usize::from(MIN_UDP_PAYLOAD),
        (Transport::Udp, Some(e)) => usize::from(e.udp_size.clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)),
        // Every other transport is a stream (DoH's and DoQ's messages are bounded the same).
        _ => MAX_TCP_MESSAGE,
    }
}

fn error(out: &mut Vec<u8>, id: u16, flags: u16, rcode: u16, question: Option<(&[u8], u16, u16)>) -> Outcome {
    let mut w = Writer::new(out, MAX_TCP_MESSAGE);
    w.header(id, response_flags(flags, rcode));
    if let Some((name, qtype, qclass)) = question {
        w.question(name, qtype, qclass);
    }
    Outcome {
        rcode,
        truncated: false,
        qtype: question.map(|q| q.1),
        fallback: false,
        ecs: false,
        scope: 0,
        authoritative: false,
        gslb: None,
        cookie: false,
    }
}

/// What a reply's OPT record carries besides what the query itself decides: the server's NSID
/// when the query asked for it (RFC 5001 §2.2), the COOKIE option answering the query's
/// (RFC 7873 §5.2), and padding when an encrypted transport's query asked (RFC 7830 §4).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Opt<'a> {
    nsid: Option<&'a [u8]>,
    cookie: Option<crate::cookie::Reply>,
    pad: bool,
}

impl<'a> Opt<'a> {
    /// The OPT extras `query` gets from `request`'s configuration.
    pub(super) fn of(request: &Request<'a>, query: &Query<'_>) -> Opt<'a> {
        // Only a query that asks reaches into the configuration (the fast path's usual case
        // costs one test of each).
        let Some(e) = &query.edns else {
            return Opt::default();
        };
        let nsid = if e.nsid { request.config().identity.nsid.as_deref() } else { None };
        let cookie = match e.cookie.and_then(crate::cookie::Presented::read) {
            Some(presented) => request.config().cookies.reply(&presented, request.peer.ip(), request.now),
            None => None,
        };
        // RFC 7830 §4: a reply is padded when the query carried the option; only encrypted
        // transports pad (on others padding hides nothing and costs octets).
        let pad = e.padding && request.transport.encrypted();
        Opt { nsid, cookie, pad }
    }
}

/// Octets of a reply's COOKIE option: code, length, client and server cookies.
const COOKIE_OPTION: usize = 4 + crate::cookie::CLIENT_LEN + crate::cookie::SERVER_LEN;

/// Octets the OPT record takes: root name, fixed fields, the echoed Client Subnet, the NSID,
/// the COOKIE.
pub(super) fn opt_len(query: &Query<'_>, opt: &Opt<'_>) -> usize {
    match query.edns {
        None => 0,
        Some(e) => {
            11 + e.ecs.map_or(0, |s| 8 + s.address_len())
                + opt.nsid.map_or(0, |n| 4 + n.len())
                + opt.cookie.map_or(0, |_| COOKIE_OPTION)
        }
    }
}

/// Starts every response to `query`: the header (ID, and flags from the query), the question as
/// asked, and the OPT record's space kept back so that no record can take it.
pub(super) fn begin(w: &mut Writer<'_>, query: &Query<'_>, opt: &Opt<'_>, rcode: u16, authoritative: bool) {
    let aa = if authoritative { flags::AA } else { 0 };
    w.header(query.id, response_flags(query.flags, rcode) | aa);
    w.question(query.qname, query.qtype, query.qclass);
    w.reserve(opt_len(query, opt));
}

/// Ends every response to `query`: sets the RCODE, gives back the OPT record's space and writes
/// the OPT record when the query had one, and records both in `outcome`. Errors and answers
/// that do not depend on the client carry ECS scope 0 (RFC 7871 §7.2.1).
pub(super) fn finish(
    w: &mut Writer<'_>,
    query: &Query<'_>,
    opt: &Opt<'_>,
    rcode: u16,
    scope: u8,
    outcome: &mut Outcome,
) {
    let word = w.flags();
    if word & flags::RCODE_MASK != rcode & flags::RCODE_MASK {
        w.set_flags((word & !flags::RCODE_MASK) | (rcode & flags::RCODE_MASK));
    }
    w.release();
    outcome.rcode = rcode;
    outcome.scope = if outcome.ecs { scope } else { 0 };
    outcome.authoritative = word & flags::AA != 0;
    outcome.cookie = opt.cookie.is_some_and(|c| c.valid);
    write_opt(w, query, opt, rcode, outcome.scope);
}

/// Writes a truncated reply to `request`'s query in place of the answer `outcome` describes: TC
/// set, the question only, with the answer's RCODE, AA and ECS scope, and the OPT record when
/// the query had one. Rate limiting sends it (slip) so that a real client behind a spoofed
/// address retries over TCP; it is built by the same code as every other reply. `None` when
/// the packet was not a query.
pub fn slip(request: &Request<'_>, outcome: &Outcome, out: &mut Vec<u8>) -> Option<Outcome> {
    let query = request.query()?;
    let opt = Opt::of(request, query);
    let mut w = Writer::new(out, MAX_TCP_MESSAGE);
    begin(&mut w, query, &opt, outcome.rcode, outcome.authoritative);
    w.set_flags(w.flags() | flags::TC);
    let mut slipped = Outcome { truncated: true, ..*outcome };
    finish(&mut w, query, &opt, outcome.rcode, outcome.scope, &mut slipped);
    Some(slipped)
}

/// Longest OPT record written without padding: root, fixed fields, ECS (8 + 16), NSID
/// (4 + MAX_IDENTITY) and COOKIE.
const MAX_OPT: usize = 11 + 24 + 4 + crate::config::MAX_IDENTITY + COOKIE_OPTION;

/// Replies that are padded are padded to a multiple of this many octets: the block length
/// RFC 8467 §4.1 recommends for responses.
pub const PADDING_BLOCK: usize = 468;

fn write_opt(w: &mut Writer<'_>, query: &Query<'_>, opt: &Opt<'_>, ext_rcode: u16, scope: u8) {
    let Some(e) = query.edns else {
        return;
    };
    match *opt {
        // The usual reply: at most an ECS option, in a small buffer.
        Opt { nsid: None, cookie: None, pad: false } => write_opt_in(w, &mut [0u8; 11 + 24], e, opt, ext_rcode, scope),
        Opt { pad: false, .. } => write_opt_in(w, &mut [0u8; MAX_OPT], e, opt, ext_rcode, scope),
        _ => write_opt_in(w, &mut [0u8; MAX_OPT + 4 + PADDING_BLOCK], e, opt, ext_rcode, scope),
    }
}

fn write_opt_in(w: &mut Writer<'_>, rr: &mut [u8], e: Edns<'_>, opt: &Opt<'_>, ext_rcode: u16, scope: u8) {
    let mut len = 11;
    if let Some(ecs) = e.ecs {
        len += echo_ecs(&ecs, scope, &mut rr[11..]);
    }
    fn option(rr: &mut [u8], len: &mut usize, code: u16, value: &[u8]) {
        let at = *len;
        rr[at..at + 2].copy_from_slice(&code.to_be_bytes());
        rr[at + 2..at + 4].copy_from_slice(&(value.len() as u16).to_be_bytes());
        rr[at + 4..at + 4 + value.len()].copy_from_slice(value);
        *len += 4 + value.len();
    }
    if let Some(nsid) = opt.nsid {
        option(rr, &mut len, edns::NSID, nsid);
    }
    if let Some(cookie) = &opt.cookie {
        option(rr, &mut len, edns::COOKIE, &cookie.option);
    }
    if opt.pad {
        // The whole message, this option's header included, made a multiple of the block;
        // never past the size limit (RFC 7830 §4): less padding where a full block would not
        // fit, none where not even the option's header would.
        const ZEROS: [u8; PADDING_BLOCK] = [0; PADDING_BLOCK];
        let bare = w.len() + len + 4;
        let want = (PADDING_BLOCK - bare % PADDING_BLOCK) % PADDING_BLOCK;
        if let Some(room) = w.room().checked_sub(len + 4) {
            option(rr, &mut len, edns::PADDING, &ZEROS[..want.min(room)]);
        }
    }
    // RFC 6891 §6.1.3: extended RCODE (upper 8 bits), version 0, DO echoed (RFC 3225 §3).
    // RFC 9824 §4: Compact Answers OK is echoed with DO.
    let echoed = match (e.dnssec_ok, e.compact_ok) {
        (true, true) => flags::EDNS_DO | flags::EDNS_CO,
        (true, false) => flags::EDNS_DO,
        _ => 0,
    };
    let ttl = (u32::from(ext_rcode >> 4) << 24) | u32::from(echoed);
    // Root owner, type, our payload size as the class, the TTL word, the options: what
    // `Writer::record` writes for it, without the compression search (the root has no labels).
    rr[1..3].copy_from_slice(&rtype::OPT.to_be_bytes());
    rr[3..5].copy_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
    rr[5..9].copy_from_slice(&ttl.to_be_bytes());
    rr[9..11].copy_from_slice(&((len - 11) as u16).to_be_bytes());
    // The space was reserved before any record was written, so this cannot fail.
    let _ = w.additional_record(&rr[..len]);
}

/// RFC 7871 §7.2.1: echo family, source prefix and address (already zero beyond the prefix,
/// as the parser insists) with the scope of the answer.
fn echo_ecs(ecs: &ClientSubnet, scope: u8, out: &mut [u8]) -> usize {
    let addr_len = ecs.address_len();
    out[0..2].copy_from_slice(&edns::CLIENT_SUBNET.to_be_bytes());
    out[2..4].copy_from_slice(&((4 + addr_len) as u16).to_be_bytes());
    out[4..6].copy_from_slice(&ecs.family.to_be_bytes());
    out[6] = ecs.source_prefix;
    out[7] = scope;
    out[8..8 + addr_len].copy_from_slice(&ecs.address[..addr_len]);
    8 + addr_len
}

/// The RCODE a query gets before any lookup, when it gets one: versions, classes and types
/// the server does not answer from its zones.
pub(super) fn precheck(query: &Query<'_>) -> Option<u16> {
    // RFC 6891 §6.1.3: only version 0 is known; BADVERS, and nothing else is looked at.
    if query.edns.is_some_and(|e| e.version > 0) {
        return Some(rcode::BADVERS);
    }
    // Class IN is served; QCLASS ANY (RFC 1035 §3.2.5) is answered as IN. CH, HS and
    // unknown classes are refused: no zone of ours is in them.
    if query.qclass != class::IN && query.qclass != class::ANY {
        return Some(rcode::REFUSED);
    }
    match query.qtype {
        // Zone transfers are served by `transfer` (over TCP, to the listed addresses) before
        // this path runs; what reaches it is refused, like NSD without provide-xfr.
        rtype::AXFR | rtype::IXFR => Some(rcode::REFUSED),
        // RFC 6895 §3.1: MAILA and MAILB are obsolete query types.
        rtype::MAILA | rtype::MAILB => Some(rcode::NOTIMP),
        // OPT, TSIG and TKEY only appear in the additional section; asking for them, or for
        // type 0, is a malformed question.
        // NXNAME only appears in compact denial's type bitmaps (RFC 9824 §3.5).
        0 | rtype::OPT | rtype::TSIG | rtype::TKEY | rtype::NXNAME => Some(rcode::FORMERR),
        _ => None,
    }
}

fn respond(request: &Request<'_>, query: &Query<'_>, w: &mut Writer<'_>) -> Outcome {
    let opt = Opt::of(request, query);
    begin(w, query, &opt, rcode::NOERROR, false);
    let mut outcome = Outcome::of(query);
    if query.qclass == class::CH {
        let rcode = chaos(w, request, query);
        finish(w, query, &opt, rcode, 0, &mut outcome);
        return outcome;
    }
    if let Some(rcode) = precheck(query) {
        finish(w, query, &opt, rcode, 0, &mut outcome);
        return outcome;
    }
    let Some(qname) = Name::from_wire(query.qname) else {
        finish(w, query, &opt, rcode::FORMERR, 0, &mut outcome);
        return outcome;
    };
    let (mut res, gslb) = resolve(request, query, &qname, None);
    let config = request.config();
    if !config.keyring.is_empty() {
        super::secure::keys(config, &qname, query.qtype, request.now, &mut res);
        if let Some(e) = query.edns.filter(|e| e.dnssec_ok) {
            res.rcode = super::secure::sign(config, &qname, query.qtype, request.now, e.compact_ok, &mut res);
        }
    }
    let mut scope = 0;
    if let Some(g) = &gslb {
        scope = g.scope;
        outcome.fallback = g.decision.fallback.is_some();
        outcome.gslb = Some(g.outcome());
    }
    if res.authoritative {
        w.set_flags(w.flags() | flags::AA);
    }
    outcome.truncated = write_sections(w, &res) == Sections::Truncated;
    finish(w, query, &opt, rcode_of(res.rcode), scope, &mut outcome);
    outcome
}

/// Class CH questions about the server itself (RFC 4892): `id.server` and `hostname.bind`
/// answer its server id, `version.bind` and `version.server` its version when one is set, as a
/// TXT record with TTL 0; anything else in CH is refused (no zone of ours is in CH).
fn chaos(w: &mut Writer<'_>, request: &Request<'_>, query: &Query<'_>) -> u16 {
    let identity = &request.config().identity;
    let name = query.qname;
    let text = if name.eq_ignore_ascii_case(b"\x02id\x06server\x00")
        || name.eq_ignore_ascii_case(b"\x08hostname\x04bind\x00")
    {
        identity.server_id.as_deref()
    } else if name.eq_ignore_ascii_case(b"\x07version\x04bind\x00")
        || name.eq_ignore_ascii_case(b"\x07version\x06server\x00")
    {
        identity.version.as_deref()
    } else {
        None
    };
    let Some(text) = text.filter(|_| matches!(query.qtype, rtype::TXT | rtype::ANY)) else {
        return rcode::REFUSED;
    };
    let mut rdata = [0u8; 1 + crate::config::MAX_IDENTITY];
    let len = text.len().min(crate::config::MAX_IDENTITY);
    rdata[0] = len as u8;
    rdata[1..1 + len].copy_from_slice(&text.as_bytes()[..len]);
    w.set_flags(w.flags() | flags::AA);
    // The question's name, TXT, class CH, TTL 0: nothing to cache, the answer is per node.
    let _ = w.record(0, query.qname, rtype::TXT, class::CH, 0, &rdata[..1 + len]);
    rcode::NOERROR
}

/// Resolves `query` (its name read as `qname`) against the request's zone set and completes
/// an answer that reaches a GSLB pool: the records the general path writes and explain shows.
pub fn resolve<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    qname: &Name,
    trace: Trace<'_>,
) -> (Resolution<'c>, Option<Completed<'c>>) {
    resolve_at(request, query, qname, trace, 0)
}

/// CNAME pools chased into CNAME pools stop after this many (as `zone::resolve`'s chains do).
const MAX_ALIAS_POOLS: usize = 8;

fn resolve_at<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    qname: &Name,
    trace: Trace<'_>,
    depth: usize,
) -> (Resolution<'c>, Option<Completed<'c>>) {
    let mut res = request.config().zones.resolve(qname, query.qtype);
    let Some(pool_ref) = res.pool.take() else {
        return (res, None);
    };
    if request.config().gslb.pools[pool_ref.pool].is_alias() {
        return alias(request, query, res, pool_ref, trace, depth);
    }
    if matches!(query.qtype, rtype::HTTPS | rtype::SVCB) {
        return service(request, query, res, pool_ref, trace);
    }
    let done = gslb::complete(request, query, pool_ref.pool, trace);
    if done.decision.fallback == Some(Fallback::ServFail) {
        res.rcode = Rcode::ServFail;
        res.authoritative = false;
        return (res, Some(done));
    }
    if done.decision.members.is_empty() {
        res.authority.push(pool_ref.negative_soa);
    }
    for a in done.records(request.config()) {
        let rdata = Cow::Owned(a.rdata().to_vec());
        res.answer.push(Rr { owner: pool_ref.owner.clone(), rtype: a.rtype, ttl: done.decision.ttl, rdata });
    }
    (res, Some(done))
}

/// The answer at a CNAME pool's name: a CNAME to the target of the member chosen for this
/// client, chased inside our zones as a static CNAME is (into another pool too), the RCODE
/// that of the last name (RFC 6604 §3). SERVFAIL when the fallback is `servfail`.
fn alias<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    mut res: Resolution<'c>,
    pool_ref: crate::zone::PoolRef<'c>,
    trace: Trace<'_>,
    depth: usize,
) -> (Resolution<'c>, Option<Completed<'c>>) {
    let config = request.config();
    let pool = &config.gslb.pools[pool_ref.pool];
    let mut done = gslb::complete(request, query, pool_ref.pool, trace);
    let Some(target) = done.decision.members.first().and_then(|&m| pool.members[m].cname.as_ref()) else {
        res.rcode = Rcode::ServFail;
        res.authoritative = false;
        return (res, Some(done));
    };
    let rdata = Cow::Owned(target.wire().to_vec());
    res.answer.push(Rr { owner: pool_ref.owner.clone(), rtype: rtype::CNAME, ttl: done.decision.ttl, rdata });
    if query.qtype == rtype::CNAME || depth >= MAX_ALIAS_POOLS {
        return (res, Some(done));
    }
    let (more, chased) = resolve_at(request, query, target, None, depth + 1);
    // A target outside our zones is the resolver's to follow.
    if more.rcode == Rcode::Refused {
        return (res, Some(done));
    }
    res.answer.extend(more.answer);
    res.authority = more.authority;
    res.additional.extend(more.additional);
    res.rcode = more.rcode;
    if let Some(c) = chased {
        done.scope = done.scope.max(c.scope);
    }
    (res, Some(done))
}

/// The HTTPS or SVCB record of a pool name (RFC 9460 ServiceMode, target "."): the pool's
/// SvcParams with `ipv4hint` and `ipv6hint` set to what A and AAAA queries from this client
/// would be answered now, and those A and AAAA records in the additional section (§4.2 for
/// HTTPS, §2.4.3 for SVCB: the target is the owner). NODATA for a pool without that key.
fn service<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    mut res: Resolution<'c>,
    pool_ref: crate::zone::PoolRef<'c>,
    trace: Trace<'_>,
) -> (Resolution<'c>, Option<Completed<'c>>) {
    let config = request.config();
    let Some(params) = config.gslb.pools[pool_ref.pool].service(query.qtype) else {
        res.authority.push(pool_ref.negative_soa);
        return (res, None);
    };
    let mut v4 = gslb::complete_as(request, query, pool_ref.pool, crate::policy::Family::V4, trace);
    let v6 = gslb::complete_as(request, query, pool_ref.pool, crate::policy::Family::V6, None);
    if v4.decision.fallback == Some(Fallback::ServFail) && v6.decision.fallback == Some(Fallback::ServFail) {
        res.rcode = Rcode::ServFail;
        res.authoritative = false;
        return (res, Some(v4));
    }
    let hints = |done: &Completed<'_>| -> Vec<u8> { done.records(config).flat_map(|a| a.rdata().to_vec()).collect() };
    let rdata = crate::config::gslb::service_rdata(params, &hints(&v4), &hints(&v6));
    let ttl = v4.decision.ttl.min(v6.decision.ttl);
    res.answer.push(Rr { owner: pool_ref.owner.clone(), rtype: query.qtype, ttl, rdata: Cow::Owned(rdata) });
    for done in [&v4, &v6] {
        for a in done.records(config) {
            let rdata = Cow::Owned(a.rdata().to_vec());
            res.additional.push(Rr { owner: pool_ref.owner.clone(), rtype: a.rtype, ttl: done.decision.ttl, rdata });
        }
    }
    // The answer depends on the client through both choices: the scope covers both.
    v4.scope = v4.scope.max(v6.scope);
    (res, Some(v4))
}

/// The RCODE of a resolution.
pub(super) fn rcode_of(rcode: Rcode) -> u16 {
    match rcode {
        Rcode::NoError => rcode::NOERROR,
        Rcode::NxDomain => rcode::NXDOMAIN,
        Rcode::Refused => rcode::REFUSED,
        Rcode::YxDomain => rcode::YXDOMAIN,
        Rcode::ServFail => rcode::SERVFAIL,
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
        w.set_flags(w.flags() | flags::TC);
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

fn write_all(w: &mut Writer<'_>, section: usize, rrs: &[Rr<'_>]) -> Result<(), Full> {
    rrs.iter().try_for_each(|rr| write_rr(w, section, rr))
}

fn write_rr(w: &mut Writer<'_>, section: usize, rr: &Rr<'_>) -> Result<(), Full> {
    let rdata: &Cow<'_, [u8]> = &rr.rdata;
    w.record(section, rr.owner.wire(), rr.rtype, 1, rr.ttl, rdata)
}
