//! Zone transfers. Primary side, AXFR (RFC 5936): a secondary whose address a zone's
//! `[transfer] allow` lists gets the whole zone over TCP, SOA first and last, in as many
//! messages as it takes. IXFR (RFC 1995) is answered without a journal: a secondary whose
//! serial is current gets the SOA alone, any other the whole zone in AXFR form, which RFC 1995
//! §4 allows ("the entire zone is returned").
//!
//! Names answered by a GSLB pool are transferred as A and AAAA records of the pool's default
//! data center (the first of its `default_order`), every member there, whatever the health
//! checks say (a CNAME pool as that data center's CNAME; a pool's HTTPS and SVCB records with
//! those addresses as hints): a standard secondary has no geo database and no checks, so what it serves for
//! those names is the answer for a client nobody located, with everything up.
//!
//! Everything here is synchronous and reads one snapshot: a transfer sees one version of the
//! zone from start to end, and a reload meanwhile changes nothing it sends.

pub mod journal;
pub mod notify;
pub mod secondary;
pub mod tsig;

use std::borrow::Cow;

use crate::config::Config;
use crate::dns::{class, flags, rcode, rtype};
use crate::query::encode::Writer;
use crate::query::{Request, Transport};
use crate::zone::{Name, Zone};

/// Transfers served at once (BIND's `transfers-out` default); a secondary asking beyond it is
/// refused, and retries as secondaries do.
pub const MAX_TRANSFERS_OUT: usize = 10;

/// True when `query` asks for a transfer (AXFR or IXFR): what the TCP loop hands to
/// [`respond`] away from the query path.
pub fn is_transfer(qtype: u16) -> bool {
    qtype == rtype::AXFR || qtype == rtype::IXFR
}

/// Largest transfer message (a TCP message's two-octet length), less room for a TSIG record
/// (a 64-octet MAC with the longest key and algorithm names fits in 512 octets).
const MAX_MESSAGE: usize = 65_535 - 512;

/// One record of a transfer: owner (wire form), type, TTL, data.
type Record<'z> = (&'z [u8], u16, u32, Cow<'z, [u8]>);

/// Why a transfer was not given.
#[derive(Debug, Default)]
pub struct Refusal {
    /// The answer to send (NOTAUTH with the TSIG error), or `None` for the general path's
    /// (REFUSED).
    pub message: Option<Vec<u8>>,
    /// True when the request's TSIG failed (BADKEY, BADSIG, BADTIME, unreadable).
    pub tsig: bool,
}

/// The messages of a transfer answering `request`, or why it is refused: not AXFR or IXFR over
/// TCP, not for the apex of a zone served here, not permitted by the zone's `[transfer]`
/// (address and key), or a TSIG that fails (NOTAUTH with the TSIG error, RFC 8945 §5.2). When
/// the request was signed, every message of the answer is signed, each covering the one before
/// (§5.3.1).
pub fn respond(request: &Request<'_>) -> Result<Vec<Vec<u8>>, Refusal> {
    // `None` from the steps below: refused by the general path (REFUSED), nothing to add.
    respond_or_none(request).unwrap_or_else(|| Err(Refusal::default()))
}

fn respond_or_none(request: &Request<'_>) -> Option<Result<Vec<Vec<u8>>, Refusal>> {
    let query = request.query()?;
    let ixfr = query.qtype == rtype::IXFR;
    if !is_transfer(query.qtype)
        || query.qclass != class::IN
        || !matches!(request.transport, Transport::Tcp | Transport::Tls)
    {
        return None;
    }
    let kind = if ixfr { "IXFR" } else { "AXFR" };
    let refused = || Some(Err(Refusal::default()));
    let config = request.config();
    let key = Name::from_wire(query.qname)?.key();
    let zone = config.zones.find_zone(&key).filter(|z| z.origin().key() == key)?;
    let rules = config.gslb.transfers.get(&key)?;
    let peer = request.peer.ip().to_canonical();
    let now = tsig::now();
    let flags = flags::QR | flags::AA | (query.flags & flags::RD);
    let signed = match query.signed.map(|m| tsig::check_request(m, &config.gslb.tsig_keys, now)) {
        None => None,
        Some(Ok(signed)) => Some(signed),
        Some(Err(failure)) => {
            tracing::warn!(zone = %zone.origin(), %peer, kind, "transfer refused: {}", failure.describe());
            return Some(Err(Refusal { message: Some(refusal(query, failure, now)), tsig: true }));
        }
    };
    if !rules.permits(peer, signed.as_ref().map(|s| &*s.key)) {
        let why = match &signed {
            _ if !rules.allow.is_empty() && !rules.allow.iter().any(|n| n.contains(&peer)) => {
                "the address is not in [transfer] allow".to_string()
            }
            None => "the request is not signed with one of [transfer] keys".to_string(),
            Some(s) => format!("key {} is not one of [transfer] keys", s.key.name),
        };
        tracing::info!(zone = %zone.origin(), %peer, kind, "transfer refused: {why}");
        return refused();
    }
    let ours = zone.serial();
    let mut out = None;
    if ixfr {
        // RFC 1995 §4: the secondary's SOA is in the authority section.
        let Some(theirs) = query.ixfr_serial else {
            tracing::info!(zone = %zone.origin(), %peer, "IXFR without the secondary's SOA: refused");
            return refused();
        };
        let apex = zone.origin().wire();
        let soa = zone.soa();
        let current = (apex, rtype::SOA, soa.ttl, Cow::Borrowed(soa.first()));
        if ours.wrapping_sub(theirs) as i32 <= 0 {
            tracing::info!(zone = %zone.origin(), serial = ours, %peer, "IXFR: the secondary is up to date");
            out = Some(messages(&[current], query.id, flags, query.qname, query.qtype)?);
        } else if let Some(changes) = config.journals.get(&key).and_then(|j| j.since(theirs)) {
            // RFC 1995 §4: the new SOA, then each change as the old SOA, what went, the next
            // SOA, what came; the new SOA again.
            let mut records = vec![current.clone()];
            for c in changes {
                records.push((apex, rtype::SOA, c.from.0, Cow::Borrowed(&*c.from.1)));
                records.extend(c.deleted.iter().map(|(o, t, ttl, d)| (&**o, *t, *ttl, Cow::Borrowed(&**d))));
                records.push((apex, rtype::SOA, c.to.0, Cow::Borrowed(&*c.to.1)));
                records.extend(c.added.iter().map(|(o, t, ttl, d)| (&**o, *t, *ttl, Cow::Borrowed(&**d))));
            }
            records.push(current);
            tracing::info!(
                zone = %zone.origin(), from = theirs, serial = ours, %peer, changes = changes.len(),
                records = records.len(), "zone transferred (incremental)"
            );
            out = Some(messages(&records, query.id, flags, query.qname, query.qtype)?);
        }
    }
    let mut messages = match out {
        Some(m) => m,
        None => {
            let records = records(zone, config);
            let messages = messages(&records, query.id, flags, query.qname, query.qtype)?;
            tracing::info!(
                zone = %zone.origin(),
                serial = ours,
                %peer,
                kind,
                key = signed.as_ref().map(|s| s.key.name.to_string()),
                records = records.len(),
                messages = messages.len(),
                "zone transferred (whole)"
            );
            messages
        }
    };
    if let Some(signed) = signed {
        let mut prior = signed.mac;
        for (i, m) in messages.iter_mut().enumerate() {
            prior = tsig::sign(m, &signed.key, Some(&prior), i == 0, now);
        }
    }
    Some(Ok(messages))
}

/// NOTAUTH for a request whose TSIG failed, with the TSIG error (FORMERR when it could not be
/// read): unsigned for BADKEY and BADSIG, signed for BADTIME (RFC 8945 §5.2).
fn refusal(query: &crate::query::wire::Query<'_>, failure: tsig::Failure, now: u64) -> Vec<u8> {
    let rcode = if matches!(failure, tsig::Failure::Malformed(_)) { rcode::FORMERR } else { rcode::NOTAUTH };
    let mut buf = Vec::with_capacity(512);
    let mut w = Writer::new(&mut buf, MAX_MESSAGE);
    w.header(query.id, flags::QR | (query.flags & flags::RD) | rcode);
    w.question(query.qname, query.qtype, query.qclass);
    match failure {
        tsig::Failure::Malformed(_) => {}
        tsig::Failure::BadKey(name) => tsig::append_error(&mut buf, &name, None, tsig::error::BADKEY, now),
        tsig::Failure::BadSig(key) => tsig::append_error(&mut buf, &key.name, Some(&key), tsig::error::BADSIG, now),
        tsig::Failure::BadTime(key, mac) => tsig::sign_badtime(&mut buf, &key, &mac, now),
    }
    buf
}

/// Every record of `zone` in transfer order: the SOA, the rest name by name, the SOA again.
pub(crate) fn records<'z>(zone: &'z Zone, config: &'z Config) -> Vec<Record<'z>> {
    let apex = zone.origin().wire();
    let soa = zone.soa();
    let soa_record = (apex, rtype::SOA, soa.ttl, Cow::Borrowed(soa.first()));
    let mut out = vec![soa_record.clone()];
    for node in zone.nodes() {
        let owner = node.name.wire();
        let pool = zone.pool_at(owner).map(|(p, _)| &config.gslb.pools[p]);
        for set in &node.rrsets {
            let answered_by_pool = pool.is_some() && (set.rtype == rtype::A || set.rtype == rtype::AAAA);
            if set.rtype == rtype::SOA || answered_by_pool {
                continue;
            }
            out.extend(set.rdatas().map(|rdata| (owner, set.rtype, set.ttl, Cow::Borrowed(rdata))));
        }
        if let Some(pool) = pool
            && let Some(&dc) = pool.default_order.first()
        {
            // A CNAME pool's name: the CNAME of its default data center's first member.
            if let Some(target) = pool.members.iter().find(|m| m.dc == dc).and_then(|m| m.cname.as_ref()) {
                out.push((owner, rtype::CNAME, pool.ttl, Cow::Owned(target.wire().to_vec())));
                continue;
            }
            let members = pool.members.iter().filter(|m| m.dc == dc);
            for m in members.clone() {
                if let Some(a) = m.ipv4 {
                    out.push((owner, rtype::A, pool.ttl, Cow::Owned(a.octets().to_vec())));
                }
            }
            for m in members.clone() {
                if let Some(a) = m.ipv6 {
                    out.push((owner, rtype::AAAA, pool.ttl, Cow::Owned(a.octets().to_vec())));
                }
            }
            // HTTPS and SVCB with the same data center's addresses as hints.
            let hint4: Vec<u8> = members.clone().filter_map(|m| m.ipv4).flat_map(|a| a.octets()).collect();
            let hint6: Vec<u8> = members.filter_map(|m| m.ipv6).flat_map(|a| a.octets()).collect();
            for t in [rtype::SVCB, rtype::HTTPS] {
                if let Some(params) = pool.service(t) {
                    let rdata = crate::config::gslb::service_rdata(params, &hint4, &hint6);
                    out.push((owner, t, pool.ttl, Cow::Owned(rdata)));
                }
            }
        }
    }
    out.push(soa_record);
    out
}

/// `records` packed into messages of at most [`MAX_MESSAGE`] octets, the question (`qname`,
/// `qtype`) in the first (RFC 5936 §2.2); `None` if a record cannot fit any message.
fn messages(records: &[Record<'_>], id: u16, flags: u16, qname: &[u8], qtype: u16) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut next = 0;
    while next < records.len() {
        let mut buf = Vec::with_capacity(16 * 1024);
        let mut w = Writer::new(&mut buf, MAX_MESSAGE);
        w.header(id, flags);
        if out.is_empty() {
            w.question(qname, qtype, class::IN);
        }
        let first = next;
        while let Some((owner, rtype, ttl, rdata)) = records.get(next) {
            if w.record(0, owner, *rtype, class::IN, *ttl, rdata).is_err() {
                break;
            }
            next += 1;
        }
        if next == first {
            tracing::error!("transfer: a record does not fit a message of {MAX_MESSAGE} octets");
            return None;
        }
        out.push(buf);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IXFR query for `example.` with the secondary's SOA (serial `serial`) in the authority
    /// section, its owner compressed against the question as resolvers write it.
    fn ixfr_query(serial: u32, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0];
        p.extend_from_slice(b"\x07example\x00");
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&class::IN.to_be_bytes());
        p.extend_from_slice(&[0xc0, 12]); // owner: the question's name
        p.extend_from_slice(&rtype::SOA.to_be_bytes());
        p.extend_from_slice(&class::IN.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        let mut rdata = b"\x02ns\xc0\x0c\x0ahostmaster\xc0\x0c".to_vec();
        rdata.extend_from_slice(&serial.to_be_bytes());
        rdata.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(&rdata);
        p
    }

    #[test]
    fn the_secondarys_serial_is_read_from_an_ixfr_and_nothing_else_may_carry_authority() {
        let p = ixfr_query(2026113001, rtype::IXFR);
        let q = crate::query::wire::parse(&p).expect("an IXFR with its SOA is a query");
        assert_eq!(q.qtype, rtype::IXFR);
        assert_eq!(q.ixfr_serial, Some(2026113001));
        // Any other type with an authority record is still FORMERR.
        assert!(crate::query::wire::parse(&ixfr_query(1, rtype::A)).is_err());
        // Cut inside the SOA: FORMERR, not a panic; so is a cut before the serial.
        assert!(crate::query::wire::parse(&p[..p.len() - 3]).is_err());
        assert!(crate::query::wire::parse(&p[..p.len() - 20]).is_err());
    }
}
