//! Zone transfers. Primary side, AXFR (RFC 5936): a secondary whose address a zone's
//! `[transfer] allow` lists gets the whole zone over TCP, SOA first and last, in as many
//! messages as it takes.
//!
//! Names answered by a GSLB pool are transferred as A and AAAA records of the pool's default
//! data center (the first of its `default_order`), every member there, whatever the health
//! checks say: a standard secondary has no geo database and no checks, so what it serves for
//! those names is the answer for a client nobody located, with everything up.
//!
//! Everything here is synchronous and reads one snapshot: a transfer sees one version of the
//! zone from start to end, and a reload meanwhile changes nothing it sends.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::config::Config;
use crate::dns::{class, flags, rtype};
use crate::query::encode::Writer;
use crate::query::{Request, Transport};
use crate::zone::{Name, Zone};

/// Largest transfer message (a TCP message's two-octet length).
const MAX_MESSAGE: usize = 65_535;

/// One record of a transfer: owner (wire form), type, TTL, data.
type Record<'z> = (&'z [u8], u16, u32, Cow<'z, [u8]>);

/// The messages of an AXFR answering `request`, or `None` when this is not an AXFR this server
/// gives: not over TCP, not for the apex of a zone it serves, or from an address the zone's
/// `[transfer] allow` does not list. The general path then answers (REFUSED, or NOTAUTH).
pub fn axfr(request: &Request<'_>) -> Option<Vec<Vec<u8>>> {
    let query = request.query()?;
    if query.qtype != rtype::AXFR || query.qclass != class::IN || request.transport != Transport::Tcp {
        return None;
    }
    let config = request.config();
    let key = Name::from_wire(query.qname)?.key();
    let zone = config.zones.find_zone(&key).filter(|z| z.origin().key() == key)?;
    let allow = config.gslb.transfers.get(&key)?;
    let peer = match request.peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if !allow.iter().any(|net| net.contains(&peer)) {
        tracing::info!(zone = %zone.origin(), %peer, "AXFR refused: the address is not in [transfer] allow");
        return None;
    }
    let records = records(zone, config);
    let messages = messages(&records, query.id, flags::QR | flags::AA | (query.flags & flags::RD), query.qname)?;
    tracing::info!(
        zone = %zone.origin(),
        serial = zone.serial(),
        %peer,
        records = records.len(),
        messages = messages.len(),
        "AXFR served"
    );
    Some(messages)
}

/// Every record of `zone` in transfer order: the SOA, the rest name by name, the SOA again.
fn records<'z>(zone: &'z Zone, config: &'z Config) -> Vec<Record<'z>> {
    let apex = zone.origin().wire();
    let soa = zone.soa();
    let soa_record = (apex, rtype::SOA, soa.ttl, Cow::Borrowed(&*soa.rdatas[0]));
    let mut out = vec![soa_record.clone()];
    for node in zone.nodes() {
        let owner = node.name.wire();
        let pool = node.pool.map(|p| &config.gslb.pools[p]);
        for set in &node.rrsets {
            let answered_by_pool = pool.is_some() && (set.rtype == rtype::A || set.rtype == rtype::AAAA);
            if set.rtype == rtype::SOA || answered_by_pool {
                continue;
            }
            out.extend(set.rdatas.iter().map(|rdata| (owner, set.rtype, set.ttl, Cow::Borrowed(&**rdata))));
        }
        if let Some(pool) = pool
            && let Some(&dc) = pool.default_order.first()
        {
            let members = pool.members.iter().filter(|m| m.dc == dc);
            for m in members.clone() {
                if let Some(a) = m.ipv4 {
                    out.push((owner, rtype::A, pool.ttl, Cow::Owned(a.octets().to_vec())));
                }
            }
            for m in members {
                if let Some(a) = m.ipv6 {
                    out.push((owner, rtype::AAAA, pool.ttl, Cow::Owned(a.octets().to_vec())));
                }
            }
        }
    }
    out.push(soa_record);
    out
}

/// `records` packed into messages of at most [`MAX_MESSAGE`] octets, the question in the first
/// (RFC 5936 §2.2); `None` if a record cannot fit any message.
fn messages(records: &[Record<'_>], id: u16, flags: u16, qname: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut next = 0;
    while next < records.len() {
        let mut buf = Vec::with_capacity(16 * 1024);
        let mut w = Writer::new(&mut buf, MAX_MESSAGE);
        w.header(id, flags);
        if out.is_empty() {
            w.question(qname, rtype::AXFR, class::IN);
        }
        let first = next;
        while let Some((owner, rtype, ttl, rdata)) = records.get(next) {
            if w.record(0, owner, *rtype, class::IN, *ttl, rdata).is_err() {
                break;
            }
            next += 1;
        }
        if next == first {
            tracing::error!("AXFR: a record does not fit a message of {MAX_MESSAGE} octets");
            return None;
        }
        out.push(buf);
    }
    Some(out)
}
