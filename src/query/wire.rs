//! Reading a query in place: header, question, EDNS(0) and Client Subnet.
//!
//! Nothing is allocated and nothing is sized from header counts: every length is checked
//! against the bytes actually present, and names are walked with a bounded number of steps.

use crate::cookie::Presented;
use crate::dns::{edns, flags, opcode, rtype};

/// Size of the DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

/// The EDNS(0) OPT record of a query (RFC 6891 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns<'a> {
    /// The requestor's UDP payload size.
    pub udp_size: u16,
    /// EDNS version.
    pub version: u8,
    /// The DNSSEC OK bit (RFC 3225).
    pub dnssec_ok: bool,
    /// The Compact Answers OK bit (RFC 9824 §4): NXDOMAIN may come with a compact denial.
    pub compact_ok: bool,
    /// A valid Client Subnet option, if the query had one.
    pub ecs: Option<ClientSubnet>,
    /// True when the query asked for the server's identity (an NSID option, RFC 5001 §2.1).
    pub nsid: bool,
    /// The value of the COOKIE option (RFC 7873), its length checked, the first one when
    /// several were sent (§5.2); in place in the packet, read only when cookies are answered.
    pub cookie: Option<&'a [u8]>,
    /// True when the query carried a Padding option (RFC 7830): a reply over an encrypted
    /// transport is padded then.
    pub padding: bool,
}

/// An EDNS Client Subnet option (RFC 7871 §6), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// 1 for IPv4, 2 for IPv6.
    pub family: u16,
    /// SOURCE PREFIX-LENGTH.
    pub source_prefix: u8,
    /// The address, zero beyond the source prefix, zero-padded to 16 octets.
    pub address: [u8; 16],
}

impl ClientSubnet {
    /// Octets of address on the wire: enough for the source prefix (RFC 7871 §6).
    pub fn address_len(&self) -> usize {
        usize::from(self.source_prefix).div_ceil(8)
    }

    /// The address as an `IpAddr`.
    pub fn ip(&self) -> std::net::IpAddr {
        if self.family == edns::FAMILY_IPV4 {
            std::net::IpAddr::from([self.address[0], self.address[1], self.address[2], self.address[3]])
        } else {
            std::net::IpAddr::from(self.address)
        }
    }
}

/// A query that parsed cleanly.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Message ID.
    pub id: u16,
    /// Header flags word as received.
    pub flags: u16,
    /// The question name in wire form, exactly as sent (case preserved).
    pub qname: &'a [u8],
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// The OPT record, if any.
    pub edns: Option<Edns<'a>>,
    /// For an IXFR, the serial of the SOA the secondary put in the authority section
    /// (RFC 1995 §3); `None` for anything else, or when it cannot be read.
    pub ixfr_serial: Option<u32>,
    /// The whole message, when its last record is a TSIG (RFC 8945): what a transfer checks
    /// the signature over. `None` for unsigned messages.
    pub signed: Option<&'a [u8]>,
}

impl Query<'_> {
    /// The OPCODE field.
    pub fn opcode(&self) -> u8 {
        flags::opcode(self.flags)
    }
}

/// Why a packet is not a query we answer normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject<'a> {
    /// No reply at all: shorter than a header, or a response (QR=1), which must never be
    /// answered so that two servers cannot bounce packets forever.
    Drop,
    /// FORMERR with the ID and opcode; the question when it could be read.
    FormErr {
        /// Message ID.
        id: u16,
        /// Header flags as received.
        flags: u16,
        /// The question, when it was well formed: (name, type, class).
        question: Option<(&'a [u8], u16, u16)>,
    },
    /// NOTIMP: an opcode other than QUERY (RFC 1035 §4.1.1), question echoed when readable.
    NotImp {
        /// Message ID.
        id: u16,
        /// Header flags as received.
        flags: u16,
        /// The question, when well formed.
        question: Option<(&'a [u8], u16, u16)>,
    },
}

fn u16_at(p: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]))
}

/// Reads an uncompressed name at `pos`; returns its end. Compression in the question is
/// refused: the only earlier bytes are the header, so a pointer there cannot be a real name.
fn read_plain_name(p: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = *p.get(pos)?;
        match len {
            0 => {
                pos += 1;
                return (pos - start <= 255).then_some(pos);
            }
            1..=63 => pos += 1 + usize::from(len),
            _ => return None,
        }
        if pos - start > 255 {
            return None;
        }
    }
}

/// The smallest TTL of the records of a response (the OPT record aside), for DoH's HTTP
/// freshness (RFC 8484 §5.1: no longer than the smallest TTL of the answer section; every
/// section is looked at, so a negative answer's SOA counts too). `None` when the message has
/// no such record or does not read.
pub fn smallest_ttl(message: &[u8]) -> Option<u32> {
    let count = |at| u16_at(message, at).map(usize::from);
    let (qd, records) = (count(4)?, count(6)? + count(8)? + count(10)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(message, pos)? + 4;
    }
    let mut smallest: Option<u32> = None;
    for _ in 0..records {
        pos = skip_name(message, pos)?;
        let rtype = u16_at(message, pos)?;
        let ttl = u32::from_be_bytes(message.get(pos + 4..pos + 8)?.try_into().ok()?);
        let len = usize::from(u16_at(message, pos + 8)?);
        if rtype != rtype::OPT {
            smallest = Some(smallest.map_or(ttl, |s| s.min(ttl)));
        }
        pos += 10 + len;
    }
    smallest
}

/// Skips a possibly compressed name at `pos` (RFC 1035 §4.1.4); returns where it ends.
/// A pointer must point backwards to bytes already seen, and the walk is bounded by the
/// 255-octet name limit, so loops and forward references are refused with bounded work.
pub(crate) fn skip_name(p: &[u8], pos: usize) -> Option<usize> {
    let mut cur = pos;
    let mut end = None;
    let mut seen = 0usize;
    loop {
        let len = *p.get(cur)?;
        match len {
            0 => return Some(end.unwrap_or(cur + 1)),
            1..=63 => {
                seen += 1 + usize::from(len);
                if seen > 255 || cur + 1 + usize::from(len) > p.len() {
                    return None;
                }
                cur += 1 + usize::from(len);
            }
            0xc0..=0xff => {
                let target = usize::from(u16_at(p, cur)? & 0x3fff);
                if target >= cur {
                    return None;
                }
                end.get_or_insert(cur + 2);
                cur = target;
                seen += 2;
                if seen > 255 {
                    return None;
                }
            }
            _ => return None, // 0x40 and 0x80: reserved label types (RFC 6891 §5).
        }
    }
}

/// Parses a query packet.
pub fn parse(p: &[u8]) -> Result<Query<'_>, Reject<'_>> {
    if p.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let id = u16::from_be_bytes([p[0], p[1]]);
    let flags = u16::from_be_bytes([p[2], p[3]]);
    if flags & flags::QR != 0 {
        return Err(Reject::Drop);
    }
    let qdcount = u16::from_be_bytes([p[4], p[5]]);
    let ancount = u16::from_be_bytes([p[6], p[7]]);
    let nscount = u16::from_be_bytes([p[8], p[9]]);
    let arcount = u16::from_be_bytes([p[10], p[11]]);
    let formerr = |question| Err(Reject::FormErr { id, flags, question });

    let question = if qdcount == 1 {
        read_plain_name(p, HEADER_LEN).and_then(|end| {
            let qtype = u16_at(p, end)?;
            let qclass = u16_at(p, end + 2)?;
            Some((&p[HEADER_LEN..end], qtype, qclass, end + 4))
        })
    } else {
        None
    };
    let echo = question.map(|(n, t, c, _)| (n, t, c));
    if flags::opcode(flags) != opcode::QUERY {
        return Err(Reject::NotImp { id, flags, question: echo });
    }
    let Some((qname, qtype, qclass, mut pos)) = question else {
        return formerr(None);
    };
    // A query carries no answer or authority records (RFC 1035 §4.1.1; NSD and Knot refuse
    // them the same way), but for the secondary's SOA in the authority section of an IXFR
    // (RFC 1995 §3), which is stepped over here and read by `transfer`.
    let ixfr_soa = qtype == rtype::IXFR && nscount == 1;
    if ancount != 0 || (nscount != 0 && !ixfr_soa) {
        return formerr(echo);
    }
    let mut ixfr_serial = None;
    if ixfr_soa {
        let Some(after_name) = skip_name(p, pos) else {
            return formerr(echo);
        };
        let Some(rdlen) = u16_at(p, after_name + 8) else {
            return formerr(echo);
        };
        if u16_at(p, after_name) == Some(rtype::SOA) {
            // Past type, class, TTL and RDLENGTH, then MNAME and RNAME: the serial.
            ixfr_serial = skip_name(p, after_name + 10)
                .and_then(|mname_end| skip_name(p, mname_end))
                .and_then(|at| Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?)));
        }
        pos = after_name + 10 + usize::from(rdlen);
        if pos > p.len() {
            return formerr(echo);
        }
    }
    let mut edns = None;
    let mut signed = None;
    for i in 0..arcount {
        let owner_start = pos;
        let Some(after_name) = skip_name(p, pos) else {
            return formerr(echo);
        };
        let (Some(rtype), Some(class), Some(rdlen)) =
            (u16_at(p, after_name), u16_at(p, after_name + 2), u16_at(p, after_name + 8))
        else {
            return formerr(echo);
        };
        let rdata_start = after_name + 10;
        let rdata_end = rdata_start + usize::from(rdlen);
        if rdata_end > p.len() {
            return formerr(echo);
        }
        if rtype == rtype::OPT {
            // RFC 6891 §6.1.1: one OPT, owned by the root.
            if edns.is_some() || p[owner_start] != 0 || after_name != owner_start + 1 {
                return formerr(echo);
            }
            let ttl = &p[after_name + 4..after_name + 8];
            let Some(Options { ecs, nsid, cookie, padding }) = read_options(&p[rdata_start..rdata_end]) else {
                return formerr(echo);
            };
            let word = u16::from_be_bytes([ttl[2], ttl[3]]);
            let (dnssec_ok, compact_ok) = (word & flags::EDNS_DO != 0, word & flags::EDNS_CO != 0);
            edns = Some(Edns { udp_size: class, version: ttl[1], dnssec_ok, compact_ok, ecs, nsid, cookie, padding });
        } else if rtype == rtype::TSIG {
            // RFC 8945 §5.1: a TSIG anywhere but last is FORMERR.
            if i + 1 != arcount {
                return formerr(echo);
            }
            signed = Some(p);
        }
        pos = rdata_end;
    }
    // Bytes after the last record mean the counts and the packet disagree.
    if pos != p.len() {
        return formerr(echo);
    }
    Ok(Query { id, flags, qname, qtype, qclass, edns, ixfr_serial, signed })
}

/// The options of an OPT record the server acts on.
struct Options<'a> {
    ecs: Option<ClientSubnet>,
    nsid: bool,
    cookie: Option<&'a [u8]>,
    padding: bool,
}

/// Walks the options of an OPT record. `None` when an option overruns the record, or a Client
/// Subnet or COOKIE option is malformed (RFC 7871 §7.1.2, RFC 7873 §5.2.2); otherwise the valid
/// Client Subnet, whether an NSID option asked for the server's identity, and the first COOKIE.
/// Unknown options are ignored (RFC 6891 §6.1.2).
fn read_options(mut rdata: &[u8]) -> Option<Options<'_>> {
    let mut ecs = None;
    let mut nsid = false;
    let mut cookie = None;
    let mut padding = false;
    while !rdata.is_empty() {
        let code = u16_at(rdata, 0)?;
        let len = usize::from(u16_at(rdata, 2)?);
        let value = rdata.get(4..4 + len)?;
        match code {
            edns::CLIENT_SUBNET => {
                if ecs.is_some() {
                    return None;
                }
                ecs = Some(read_ecs(value)?);
            }
            // RFC 5001 §2.1: a query's NSID option is empty; any payload is ignored.
            edns::NSID => nsid = true,
            edns::PADDING => padding = true,
            edns::COOKIE if cookie.is_none() => {
                Presented::read(value)?;
                cookie = Some(value);
            }
            _ => {}
        }
        rdata = &rdata[4 + len..];
    }
    Some(Options { ecs, nsid, cookie, padding })
}

/// RFC 7871 §6 and §7.1.2: family 1 or 2, source prefix within the family's width, scope 0,
/// exactly enough address octets, and no bits set beyond the source prefix.
fn read_ecs(value: &[u8]) -> Option<ClientSubnet> {
    let family = u16_at(value, 0)?;
    let source_prefix = *value.get(2)?;
    let scope_prefix = *value.get(3)?;
    let width = match family {
        edns::FAMILY_IPV4 => 32,
        edns::FAMILY_IPV6 => 128,
        _ => return None,
    };
    if source_prefix > width || scope_prefix != 0 {
        return None;
    }
    let addr = &value[4..];
    if addr.len() != usize::from(source_prefix).div_ceil(8) {
        return None;
    }
    let mut address = [0u8; 16];
    address[..addr.len()].copy_from_slice(addr);
    let spare_bits = (8 - source_prefix % 8) % 8;
    if let Some(&last) = addr.last()
        && spare_bits > 0
        && last & ((1u8 << spare_bits) - 1) != 0
    {
        return None;
    }
    Some(ClientSubnet { family, source_prefix, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(qname: &[u8], extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&arcount.to_be_bytes());
        p.extend_from_slice(qname);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p.extend_from_slice(extra);
        p
    }

    fn opt(options: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0];
        o.extend_from_slice(&(options.len() as u16).to_be_bytes());
        o.extend_from_slice(options);
        o
    }

    fn ecs(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 8];
        v.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
        v.extend_from_slice(&family.to_be_bytes());
        v.extend_from_slice(&[source, scope]);
        v.extend_from_slice(addr);
        v
    }

    const WWW: &[u8] = b"\x03www\x07example\x03com\x00";

    #[test]
    fn reads_a_plain_query() {
        let p = query(WWW, &[], 0);
        let q = parse(&p).unwrap();
        assert_eq!((q.id, q.qname, q.qtype, q.qclass), (0x1234, WWW, 1, 1));
        assert!(q.edns.is_none());
    }

    #[test]
    fn reads_edns_and_ecs() {
        let p = query(WWW, &opt(&ecs(1, 24, 0, &[192, 0, 2])), 1);
        let e = parse(&p).unwrap().edns.unwrap();
        assert_eq!((e.udp_size, e.version, e.dnssec_ok), (1232, 0, true));
        let s = e.ecs.unwrap();
        assert_eq!(s.ip().to_string(), "192.0.2.0");
        assert_eq!(s.address_len(), 3);
    }

    #[test]
    fn drops_short_packets_and_responses() {
        assert_eq!(parse(&[0; 11]).unwrap_err(), Reject::Drop);
        let mut p = query(WWW, &[], 0);
        p[2] |= 0x80;
        assert_eq!(parse(&p).unwrap_err(), Reject::Drop);
    }

    #[test]
    fn refuses_malformed_ecs() {
        for bad in [
            ecs(3, 24, 0, &[192, 0, 2]),          // unknown family
            ecs(1, 33, 0, &[192, 0, 2, 1, 0]),    // prefix beyond the family
            ecs(1, 24, 8, &[192, 0, 2]),          // scope set in a query
            ecs(1, 24, 0, &[192, 0, 2, 0]),       // too many address octets
            ecs(1, 23, 0, &[192, 0, 3]),          // bits beyond the prefix
            ecs(2, 56, 0, &[0x20, 1, 0xd, 0xb8]), // too few octets
        ] {
            let p = query(WWW, &opt(&bad), 1);
            assert!(matches!(parse(&p), Err(Reject::FormErr { id: 0x1234, .. })), "{bad:?}");
        }
    }

    #[test]
    fn refuses_structural_errors() {
        // Trailing byte, two OPTs, option overrunning its record, pointer loop in an
        // additional owner, QDCOUNT 0.
        let mut trailing = query(WWW, &[], 0);
        trailing.push(0);
        let two = query(WWW, &[opt(&[]), opt(&[])].concat(), 2);
        let mut overrun = opt(&[0, 10, 0, 9, 1]);
        overrun[10] = 5;
        let overrun = query(WWW, &overrun, 1);
        let looped = query(WWW, &[0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0], 1);
        let mut no_question = query(WWW, &[], 0);
        no_question[5] = 0;
        for p in [trailing, two, overrun, looped, no_question] {
            assert!(matches!(parse(&p), Err(Reject::FormErr { .. })), "{p:?}");
        }
    }

    #[test]
    fn answers_other_opcodes_with_notimp() {
        let mut p = query(WWW, &[], 0);
        p[2] = 0x20; // opcode 4, NOTIFY
        assert!(matches!(parse(&p), Err(Reject::NotImp { question: Some(_), .. })));
    }

    #[test]
    fn the_smallest_ttl_counts_every_record_but_opt() {
        // Header: one question, two answers, one authority, one additional (OPT).
        let mut m = vec![0, 0, 0x84, 0, 0, 1, 0, 2, 0, 1, 0, 1];
        m.extend_from_slice(WWW);
        m.extend_from_slice(&[0, 1, 0, 1]);
        let rr = |m: &mut Vec<u8>, rtype: u16, ttl: u32| {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&[0, 1]);
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&[0, 4, 192, 0, 2, 1]);
        };
        rr(&mut m, 1, 300);
        rr(&mut m, 1, 60);
        rr(&mut m, 6, 3600);
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(smallest_ttl(&m), Some(60));
        // Only an OPT record: nothing to go by.
        let mut bare = vec![0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        bare.extend_from_slice(WWW);
        bare.extend_from_slice(&[0, 1, 0, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(smallest_ttl(&bare), None);
        // Cut short: does not read.
        assert_eq!(smallest_ttl(&m[..m.len() - 20]), None);
    }
}
