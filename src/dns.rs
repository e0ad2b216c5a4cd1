//! DNS numbers, for everyone: record types, classes, response codes, opcodes, header flags and
//! EDNS option codes, with their mnemonics in both directions.
//!
//! Nothing else in the crate writes a DNS number raw (`rcode == 3`, `0x0400`): the zone parser,
//! the query path, the metrics and the API all name them from here, so one table decides what
//! "NXDOMAIN" or "HTTPS" means everywhere. The numbers are IANA's ("Domain Name System (DNS)
//! Parameters"); each group cites the RFC that defines it.

/// Record type numbers known by mnemonic (IANA "Resource Record (RR) TYPEs").
pub mod rtype {
    #![allow(missing_docs)]
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const AAAA: u16 = 28;
    pub const LOC: u16 = 29;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const CERT: u16 = 37;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const SSHFP: u16 = 44;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const TLSA: u16 = 52;
    pub const SMIMEA: u16 = 53;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
    pub const OPENPGPKEY: u16 = 61;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const SPF: u16 = 99;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
    pub const URI: u16 = 256;
    pub const CAA: u16 = 257;
    pub const WKS: u16 = 11;
    pub const EID: u16 = 31;
    pub const NIMLOC: u16 = 32;
    pub const ATMA: u16 = 34;
    pub const A6: u16 = 38;
    pub const SINK: u16 = 40;
    pub const APL: u16 = 42;
    pub const IPSECKEY: u16 = 45;
    pub const HIP: u16 = 55;
    pub const DOA: u16 = 259;
    pub const AMTRELAY: u16 = 260;
    pub const RESINFO: u16 = 261;
    pub const MB: u16 = 7;
    pub const MG: u16 = 8;
    pub const MR: u16 = 9;
    pub const MINFO: u16 = 14;
    pub const X25: u16 = 19;
    pub const ISDN: u16 = 20;
    pub const RT: u16 = 21;
    pub const NSAP: u16 = 22;
    pub const NSAP_PTR: u16 = 23;
    pub const KEY: u16 = 25;
    pub const PX: u16 = 26;
    pub const GPOS: u16 = 27;
    pub const DHCID: u16 = 49;
    pub const NINFO: u16 = 56;
    pub const RKEY: u16 = 57;
    pub const TALINK: u16 = 58;
    pub const CSYNC: u16 = 62;
    pub const ZONEMD: u16 = 63;
    pub const NID: u16 = 104;
    pub const L32: u16 = 105;
    pub const L64: u16 = 106;
    pub const LP: u16 = 107;
    pub const EUI48: u16 = 108;
    pub const EUI64: u16 = 109;
    pub const AVC: u16 = 258;
    pub const TA: u16 = 32768;
    pub const DLV: u16 = 32769;
    /// A meta-type: in an NSEC's type bitmap, the name does not exist (RFC 9824 §3.4).
    pub const NXNAME: u16 = 128;
}

/// Mnemonics and numbers of every type in [`rtype`].
const TYPE_NAMES: &[(&str, u16)] = &[
    ("A", rtype::A),
    ("NS", rtype::NS),
    ("CNAME", rtype::CNAME),
    ("SOA", rtype::SOA),
    ("PTR", rtype::PTR),
    ("HINFO", rtype::HINFO),
    ("MX", rtype::MX),
    ("TXT", rtype::TXT),
    ("RP", rtype::RP),
    ("AFSDB", rtype::AFSDB),
    ("AAAA", rtype::AAAA),
    ("LOC", rtype::LOC),
    ("SRV", rtype::SRV),
    ("NAPTR", rtype::NAPTR),
    ("KX", rtype::KX),
    ("CERT", rtype::CERT),
    ("DNAME", rtype::DNAME),
    ("OPT", rtype::OPT),
    ("DS", rtype::DS),
    ("SSHFP", rtype::SSHFP),
    ("RRSIG", rtype::RRSIG),
    ("NSEC", rtype::NSEC),
    ("DNSKEY", rtype::DNSKEY),
    ("NSEC3", rtype::NSEC3),
    ("NSEC3PARAM", rtype::NSEC3PARAM),
    ("TLSA", rtype::TLSA),
    ("SMIMEA", rtype::SMIMEA),
    ("CDS", rtype::CDS),
    ("CDNSKEY", rtype::CDNSKEY),
    ("OPENPGPKEY", rtype::OPENPGPKEY),
    ("SVCB", rtype::SVCB),
    ("HTTPS", rtype::HTTPS),
    ("SPF", rtype::SPF),
    ("TKEY", rtype::TKEY),
    ("TSIG", rtype::TSIG),
    ("IXFR", rtype::IXFR),
    ("AXFR", rtype::AXFR),
    ("MAILB", rtype::MAILB),
    ("MAILA", rtype::MAILA),
    ("ANY", rtype::ANY),
    ("URI", rtype::URI),
    ("CAA", rtype::CAA),
    ("WKS", rtype::WKS),
    ("EID", rtype::EID),
    ("NIMLOC", rtype::NIMLOC),
    ("ATMA", rtype::ATMA),
    ("A6", rtype::A6),
    ("SINK", rtype::SINK),
    ("APL", rtype::APL),
    ("IPSECKEY", rtype::IPSECKEY),
    ("HIP", rtype::HIP),
    ("DOA", rtype::DOA),
    ("AMTRELAY", rtype::AMTRELAY),
    ("RESINFO", rtype::RESINFO),
    ("MB", rtype::MB),
    ("MG", rtype::MG),
    ("MR", rtype::MR),
    ("MINFO", rtype::MINFO),
    ("X25", rtype::X25),
    ("ISDN", rtype::ISDN),
    ("RT", rtype::RT),
    ("NSAP", rtype::NSAP),
    ("NSAP-PTR", rtype::NSAP_PTR),
    ("KEY", rtype::KEY),
    ("PX", rtype::PX),
    ("GPOS", rtype::GPOS),
    ("DHCID", rtype::DHCID),
    ("NINFO", rtype::NINFO),
    ("RKEY", rtype::RKEY),
    ("TALINK", rtype::TALINK),
    ("CSYNC", rtype::CSYNC),
    ("ZONEMD", rtype::ZONEMD),
    ("NID", rtype::NID),
    ("L32", rtype::L32),
    ("L64", rtype::L64),
    ("LP", rtype::LP),
    ("EUI48", rtype::EUI48),
    ("EUI64", rtype::EUI64),
    ("AVC", rtype::AVC),
    ("TA", rtype::TA),
    ("DLV", rtype::DLV),
];

/// Appends the type bitmap of `types` (sorted and deduplicated here) as NSEC and NSEC3 carry
/// it: windows of 256 types, each its number, length and bits (RFC 4034 §4.1.2).
pub fn write_type_bitmap(types: &mut Vec<u16>, out: &mut Vec<u8>) {
    types.sort_unstable();
    types.dedup();
    let mut i = 0;
    while i < types.len() {
        let window = types[i] >> 8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && types[i] >> 8 == window {
            let low = usize::from(types[i] & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window as u8);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
}

/// DNSKEY flags (RFC 4034 §2.1.1).
pub mod dnskey {
    /// A zone key: the key signs the zone's data.
    pub const ZONE: u16 = 0x0100;
    /// Secure Entry Point: a key-signing key, or a combined signing key.
    pub const SEP: u16 = 0x0001;
}

/// The mnemonic of `n` in a (mnemonic, number) table.
fn name_in(table: &[(&'static str, u16)], n: u16) -> Option<&'static str> {
    table.iter().find(|&&(_, v)| v == n).map(|&(name, _)| name)
}

/// The number of a mnemonic in a (mnemonic, number) table, case-insensitively.
fn number_in(table: &[(&str, u16)], text: &str) -> Option<u16> {
    table.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)).map(|&(_, n)| n)
}

/// Looks up a type mnemonic or `TYPEnnn` (RFC 3597 §5), case-insensitively.
pub fn type_from_text(text: &str) -> Option<u16> {
    if let Some(n) =
        text.get(..4).filter(|p| p.eq_ignore_ascii_case("TYPE")).and_then(|_| text[4..].parse::<u16>().ok())
    {
        return Some(n);
    }
    number_in(TYPE_NAMES, text)
}

/// The mnemonic of a type, when it has one.
pub fn type_name(rtype: u16) -> Option<&'static str> {
    name_in(TYPE_NAMES, rtype)
}

/// The mnemonic of a type, or `TYPEnnn` (RFC 3597 §5).
pub fn type_to_text(rtype: u16) -> String {
    type_name(rtype).map_or_else(|| format!("TYPE{rtype}"), str::to_string)
}

/// Types that may not appear in a zone file or be stored: meta and query types (RFC 6895
/// §3.1), and the OPT pseudo-record. BIND refuses them too.
pub fn is_meta_type(rtype: u16) -> bool {
    rtype == 0 || rtype == rtype::OPT || (128..=255).contains(&rtype)
}

/// Classes (RFC 1035 §3.2.4, RFC 2136 §1.3 for NONE).
pub mod class {
    /// The Internet.
    pub const IN: u16 = 1;
    /// Chaos (where `id.server` and `version.bind` live).
    pub const CH: u16 = 3;
    /// Hesiod.
    pub const HS: u16 = 4;
    /// NONE (dynamic update).
    pub const NONE: u16 = 254;
    /// ANY, as a query class (RFC 1035 §3.2.5).
    pub const ANY: u16 = 255;
}

/// The mnemonic of a class, or `CLASSnnn` (RFC 3597 §5).
pub fn class_to_text(class: u16) -> String {
    match class {
        class::IN => "IN".into(),
        class::CH => "CH".into(),
        class::HS => "HS".into(),
        class::NONE => "NONE".into(),
        class::ANY => "ANY".into(),
        n => format!("CLASS{n}"),
    }
}

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9 for the extended BADVERS).
/// The header holds the low 4 bits; the OPT record the upper 8 of an extended code.
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// The query could not be read.
    pub const FORMERR: u16 = 1;
    /// The server failed to answer.
    pub const SERVFAIL: u16 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// The kind of query is not implemented.
    pub const NOTIMP: u16 = 4;
    /// The server will not answer (policy).
    pub const REFUSED: u16 = 5;
    /// A name exists that should not (DNAME substitution too long, RFC 6672 §2.2).
    pub const YXDOMAIN: u16 = 6;
    /// The server is not authoritative for the zone, or a TSIG did not verify (RFC 8945 §5.2).
    pub const NOTAUTH: u16 = 9;
    /// EDNS version not supported (extended; RFC 6891 §6.1.3).
    pub const BADVERS: u16 = 16;
}

/// Mnemonics of the response codes in [`rcode`].
const RCODE_NAMES: &[(&str, u16)] = &[
    ("NOERROR", rcode::NOERROR),
    ("FORMERR", rcode::FORMERR),
    ("SERVFAIL", rcode::SERVFAIL),
    ("NXDOMAIN", rcode::NXDOMAIN),
    ("NOTIMP", rcode::NOTIMP),
    ("REFUSED", rcode::REFUSED),
    ("YXDOMAIN", rcode::YXDOMAIN),
    ("NOTAUTH", rcode::NOTAUTH),
    ("BADVERS", rcode::BADVERS),
];

/// The mnemonic of a response code, when it has one.
pub fn rcode_name(rcode: u16) -> Option<&'static str> {
    name_in(RCODE_NAMES, rcode)
}

/// Looks up a response code mnemonic, case-insensitively.
pub fn rcode_from_text(text: &str) -> Option<u16> {
    number_in(RCODE_NAMES, text)
}

/// The mnemonic of a response code, or `RCODEnnn`.
pub fn rcode_to_text(rcode: u16) -> String {
    rcode_name(rcode).map_or_else(|| format!("RCODE{rcode}"), str::to_string)
}

/// Opcodes (RFC 1035 §4.1.1, RFC 1996 for NOTIFY, RFC 2136 for UPDATE).
pub mod opcode {
    /// A standard query.
    pub const QUERY: u8 = 0;
    /// Zone change notification.
    pub const NOTIFY: u8 = 4;
    /// Dynamic update.
    pub const UPDATE: u8 = 5;
}

/// Header flag bits of the 16-bit flags word (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD).
pub mod flags {
    /// A response.
    pub const QR: u16 = 0x8000;
    /// The OPCODE field.
    pub const OPCODE_MASK: u16 = 0x7800;
    /// Authoritative answer.
    pub const AA: u16 = 0x0400;
    /// Truncated.
    pub const TC: u16 = 0x0200;
    /// Recursion desired.
    pub const RD: u16 = 0x0100;
    /// Recursion available.
    pub const RA: u16 = 0x0080;
    /// Authentic data.
    pub const AD: u16 = 0x0020;
    /// Checking disabled.
    pub const CD: u16 = 0x0010;
    /// The RCODE field (the low 4 bits of the response code).
    pub const RCODE_MASK: u16 = 0x000f;
    /// The DNSSEC OK bit, in the flags half of the OPT record's TTL (RFC 3225 §3).
    pub const EDNS_DO: u16 = 0x8000;
    /// Compact Answers OK, beside DO (RFC 9824 §4): the requestor takes NXDOMAIN with a
    /// compact denial.
    pub const EDNS_CO: u16 = 0x4000;

    /// The opcode of a flags word.
    pub fn opcode(flags: u16) -> u8 {
        ((flags & OPCODE_MASK) >> 11) as u8
    }
}

/// EDNS option codes (IANA "DNS EDNS0 Option Codes (OPT)").
pub mod edns {
    /// Name Server Identifier (RFC 5001).
    pub const NSID: u16 = 3;
    /// Client Subnet (RFC 7871 §6).
    pub const CLIENT_SUBNET: u16 = 8;
    /// DNS Cookie (RFC 7873).
    pub const COOKIE: u16 = 10;
    /// Padding (RFC 7830).
    pub const PADDING: u16 = 12;
    /// Extended DNS Error (RFC 8914).
    pub const EDE: u16 = 15;
    /// Client Subnet address family: IPv4 (IANA "Address Family Numbers").
    pub const FAMILY_IPV4: u16 = 1;
    /// Client Subnet address family: IPv6.
    pub const FAMILY_IPV6: u16 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_go_both_ways() {
        for &(name, n) in TYPE_NAMES {
            assert_eq!(type_from_text(name), Some(n));
            assert_eq!(type_from_text(&name.to_lowercase()), Some(n));
            assert_eq!(type_to_text(n), name);
        }
        for &(name, n) in RCODE_NAMES {
            assert_eq!(rcode_from_text(name), Some(n));
            assert_eq!(rcode_to_text(n), name);
        }
        assert_eq!(type_from_text("TYPE65280"), Some(65280));
        assert_eq!(type_from_text("TYPE65536"), None);
        assert_eq!(type_to_text(65280), "TYPE65280");
        assert_eq!(rcode_to_text(11), "RCODE11");
        assert_eq!(class_to_text(class::CH), "CH");
        assert_eq!(class_to_text(42), "CLASS42");
        assert_eq!(flags::opcode(0x2000 | flags::RD), opcode::NOTIFY);
    }

    #[test]
    fn no_number_or_mnemonic_is_listed_twice() {
        for (i, (a, x)) in TYPE_NAMES.iter().enumerate() {
            for (b, y) in &TYPE_NAMES[i + 1..] {
                assert!(a != b && x != y, "{a}/{x} and {b}/{y}");
            }
        }
    }
}
