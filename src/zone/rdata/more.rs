//! Text parsers for the rest of the types BIND 9.18's `named-checkzone` reads: the old
//! RFC 1035 mail types (MB, MG, MR, MINFO), RFC 1183 (RT, X25, ISDN), PX, NSAP, NSAP-PTR, GPOS,
//! the ILNP types (NID, L32, L64, LP), EUI48 and EUI64, DHCID, ZONEMD, CSYNC, CERT, TALINK, APL,
//! IPSECKEY, HIP, AMTRELAY, WKS, A6, ATMA, EID, NIMLOC, SINK, DOA, RESINFO,
//! NINFO, AVC, and the DNSSEC types a signed zone file holds (RRSIG, NSEC, NSEC3,
//! NSEC3PARAM, KEY, RKEY, TA, DLV). Syntax follows BIND's presentation forms, which
//! `named-compilezone` prints back (tests/zonefile_corpus.rs reads them again).

use super::{Fields, RdataError};
use crate::dns::{self, rtype};

/// Parses `rtype` into `out`; `None` when the type has no text parser here.
pub(super) fn parse(rtype: u16, f: &mut Fields<'_>, out: &mut Vec<u8>) -> Option<Result<(), RdataError>> {
    let result = match rtype {
        rtype::MB | rtype::MG | rtype::MR | rtype::NSAP_PTR => f.name("name").map(|n| out.extend_from_slice(n.wire())),
        rtype::MINFO | rtype::TALINK => names(f, out, 2),
        rtype::RT => f.u16("preference").and_then(|p| {
            out.extend_from_slice(&p.to_be_bytes());
            names(f, out, 1)
        }),
        rtype::PX => f.u16("preference").and_then(|p| {
            out.extend_from_slice(&p.to_be_bytes());
            names(f, out, 2)
        }),
        rtype::LP => f.u16("preference").and_then(|p| {
            out.extend_from_slice(&p.to_be_bytes());
            names(f, out, 1)
        }),
        rtype::X25 => strings(f, out, 1, 1),
        rtype::ISDN => strings(f, out, 1, 2),
        rtype::GPOS => strings(f, out, 3, 3),
        rtype::NINFO | rtype::AVC | rtype::RESINFO => strings(f, out, 1, usize::MAX),
        rtype::EID | rtype::NIMLOC => f.hex_rest("data").and_then(|d| nonempty(d, "data", out)),
        rtype::SINK => (|| {
            for what in ["meaning", "coding", "subcoding"] {
                out.push(f.u8(what)?);
            }
            out.extend_from_slice(&f.base64_rest("data")?);
            Ok(())
        })(),
        rtype::ATMA => atma(f, out),
        rtype::A6 => a6(f, out),
        rtype::APL => apl(f, out),
        rtype::WKS => wks(f, out),
        rtype::IPSECKEY => ipseckey(f, out),
        rtype::AMTRELAY => amtrelay(f, out),
        rtype::HIP => hip(f, out),
        rtype::DOA => doa(f, out),
        rtype::NSAP => nsap(f, out),
        rtype::EUI48 => eui(f, out, 6),
        rtype::EUI64 => eui(f, out, 8),
        rtype::L32 => f.u16("preference").and_then(|p| {
            out.extend_from_slice(&p.to_be_bytes());
            let t = f.next("locator")?;
            let a: std::net::Ipv4Addr = t.text.parse().map_err(|_| format!("'{}' is not an IPv4 address", t.text))?;
            out.extend_from_slice(&a.octets());
            Ok(())
        }),
        rtype::NID | rtype::L64 => f.u16("preference").and_then(|p| {
            out.extend_from_slice(&p.to_be_bytes());
            let t = f.next("64-bit identifier")?;
            out.extend_from_slice(&quad16(&t.text)?);
            Ok(())
        }),
        rtype::DHCID => f.base64_rest("DHCID data").and_then(|d| nonempty(d, "DHCID data", out)),
        rtype::ZONEMD => zonemd(f, out),
        rtype::CSYNC => f.u32("SOA serial").and_then(|serial| {
            out.extend_from_slice(&serial.to_be_bytes());
            out.extend_from_slice(&f.u16("flags")?.to_be_bytes());
            type_bitmap(f, out)
        }),
        rtype::CERT => cert(f, out),
        rtype::KEY | rtype::RKEY => key(f, out),
        rtype::TA | rtype::DLV => super::extra::parse(rtype::DS, f, out).unwrap_or(Ok(())),
        rtype::NSEC => f.name("next name").and_then(|n| {
            out.extend_from_slice(n.wire());
            type_bitmap(f, out)
        }),
        rtype::NSEC3PARAM => nsec3_head(f, out),
        rtype::NSEC3 => nsec3(f, out),
        rtype::RRSIG => rrsig(f, out),
        _ => return None,
    };
    Some(result)
}

fn nonempty(data: Vec<u8>, what: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    if data.is_empty() {
        return Err(format!("record is missing its {what}"));
    }
    out.extend_from_slice(&data);
    Ok(())
}

fn names(f: &mut Fields<'_>, out: &mut Vec<u8>, n: usize) -> Result<(), RdataError> {
    for _ in 0..n {
        out.extend_from_slice(f.name("name")?.wire());
    }
    Ok(())
}

/// Between `min` and `max` character-strings.
fn strings(f: &mut Fields<'_>, out: &mut Vec<u8>, min: usize, max: usize) -> Result<(), RdataError> {
    let mut n = 0;
    while n < max && (n < min || !f.is_empty()) {
        let s = f.char_string("string")?;
        out.push(s.len() as u8);
        out.extend_from_slice(&s);
        n += 1;
    }
    Ok(())
}

/// An IPv4 address token.
fn ipv4(f: &mut Fields<'_>, what: &str) -> Result<[u8; 4], RdataError> {
    let t = f.next(what)?;
    t.text.parse::<std::net::Ipv4Addr>().map(|a| a.octets()).map_err(|_| format!("'{}' is not an IPv4 address", t.text))
}

/// An IPv6 address token.
fn ipv6(f: &mut Fields<'_>, what: &str) -> Result<[u8; 16], RdataError> {
    let t = f.next(what)?;
    t.text.parse::<std::net::Ipv6Addr>().map(|a| a.octets()).map_err(|_| format!("'{}' is not an IPv6 address", t.text))
}

/// ATM address: hex digits (AESA, format 0), or `+` and decimal digits (E.164, format 1).
fn atma(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let t = f.next("ATM address")?;
    if let Some(digits) = t.text.strip_prefix('+') {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("E.164 ATM address '{}' must be + and digits", t.text));
        }
        out.push(1);
        out.extend_from_slice(digits.as_bytes());
    } else {
        let bytes = super::decode_hex(&t.text).filter(|b| !b.is_empty());
        out.push(0);
        out.extend_from_slice(&bytes.ok_or_else(|| format!("ATM address '{}' is not hexadecimal", t.text))?);
    }
    Ok(())
}

/// RFC 2874 §3.1.1: prefix length, the address bits after it, the prefix name.
fn a6(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let prefix = f.number("prefix length", 128)? as usize;
    out.push(prefix as u8);
    let suffix = (128 - prefix).div_ceil(8);
    if suffix > 0 {
        let address = ipv6(f, "address suffix")?;
        out.extend_from_slice(&address[16 - suffix..]);
    }
    if prefix > 0 {
        out.extend_from_slice(f.name("prefix name")?.wire());
    }
    Ok(())
}

/// RFC 3123 §5: `[!]family:address/prefix` items, each address with trailing zero octets left
/// out.
fn apl(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    for t in f.rest() {
        let bad = || format!("APL item '{}' is not [!]1:IPv4/prefix or [!]2:IPv6/prefix", t.text);
        let (negated, item) = match t.text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, t.text.as_str()),
        };
        let (family, rest) = item.split_once(':').ok_or_else(bad)?;
        let (address, prefix) = rest.rsplit_once('/').ok_or_else(bad)?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let (family, bytes): (u16, Vec<u8>) = match family {
            "1" if prefix <= 32 => (1, address.parse::<std::net::Ipv4Addr>().map_err(|_| bad())?.octets().to_vec()),
            "2" if prefix <= 128 => (2, address.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?.octets().to_vec()),
            _ => return Err(bad()),
        };
        let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        out.extend_from_slice(&family.to_be_bytes());
        out.push(prefix);
        out.push(if negated { 0x80 } else { 0 } | len as u8);
        out.extend_from_slice(&bytes[..len]);
    }
    Ok(())
}

/// Service names WKS accepts besides port numbers (the well-known ports of `/etc/services`).
const SERVICES: &[(&str, u16)] = &[
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("www", 80),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("https", 443),
];

/// RFC 1035 §3.4.2: address, protocol (number, tcp or udp), services (numbers or names).
fn wks(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&ipv4(f, "address")?);
    let p = f.next("protocol")?;
    let protocol = match p.text.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        n => n.parse::<u8>().map_err(|_| format!("WKS protocol '{}' is not tcp, udp or a number", p.text))?,
    };
    out.push(protocol);
    let mut bitmap = Vec::new();
    for t in f.rest() {
        let port = match SERVICES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&t.text)) {
            Some(&(_, port)) => port,
            None => {
                t.text.parse::<u16>().map_err(|_| format!("WKS service '{}' is not a port or a known name", t.text))?
            }
        };
        let byte = usize::from(port / 8);
        if bitmap.len() <= byte {
            bitmap.resize(byte + 1, 0);
        }
        bitmap[byte] |= 0x80 >> (port % 8);
    }
    out.extend_from_slice(&bitmap);
    Ok(())
}

/// A gateway or relay of type 0 (none, written `.`), 1 (IPv4), 2 (IPv6) or 3 (a name).
fn gateway(f: &mut Fields<'_>, kind: u8, out: &mut Vec<u8>) -> Result<(), RdataError> {
    match kind {
        0 => {
            let t = f.next("gateway")?;
            if t.text != "." {
                return Err(format!("gateway type 0 is written '.', not '{}'", t.text));
            }
        }
        1 => out.extend_from_slice(&ipv4(f, "gateway")?),
        2 => out.extend_from_slice(&ipv6(f, "gateway")?),
        3 => out.extend_from_slice(f.name("gateway")?.wire()),
        _ => return Err(format!("gateway type {kind} is not 0, 1, 2 or 3")),
    }
    Ok(())
}

/// RFC 4025 §3.1: precedence, gateway type, algorithm, gateway, public key.
fn ipseckey(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.push(f.u8("precedence")?);
    let kind = f.u8("gateway type")?;
    out.push(kind);
    out.push(f.u8("algorithm")?);
    gateway(f, kind, out)?;
    out.extend_from_slice(&f.base64_rest("public key")?);
    Ok(())
}

/// RFC 8777 §4.1: precedence, discovery-optional bit, relay type, relay.
fn amtrelay(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.push(f.u8("precedence")?);
    let d = f.number("discovery optional bit", 1)? as u8;
    let kind = f.number("relay type", 127)? as u8;
    out.push(d << 7 | kind);
    gateway(f, kind, out)
}

/// RFC 8005 §5: public key algorithm, HIT (hex), public key (base64), rendezvous servers.
fn hip(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let alg = f.u8("public key algorithm")?;
    let hit_token = f.next("HIT")?;
    let hit = super::decode_hex(&hit_token.text).filter(|h| !h.is_empty() && h.len() <= 255);
    let hit = hit.ok_or_else(|| format!("HIT '{}' is not hexadecimal", hit_token.text))?;
    let key_token = f.next("public key")?;
    let key = data_encoding::BASE64
        .decode(key_token.text.as_bytes())
        .map_err(|_| format!("HIP public key '{}' is not base64", key_token.text))?;
    out.push(hit.len() as u8);
    out.push(alg);
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(&hit);
    out.extend_from_slice(&key);
    while !f.is_empty() {
        out.extend_from_slice(f.name("rendezvous server")?.wire());
    }
    Ok(())
}

/// DOA (draft-durand-doa-over-dns): enterprise, type, location, media type, data (base64, or
/// `-` for none).
fn doa(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u32("enterprise")?.to_be_bytes());
    out.extend_from_slice(&f.u32("type")?.to_be_bytes());
    out.push(f.u8("location")?);
    let media = f.char_string("media type")?;
    out.push(media.len() as u8);
    out.extend_from_slice(&media);
    let rest = f.rest();
    if !(rest.len() == 1 && rest[0].text == "-") {
        let joined: String = rest.iter().map(|t| t.text.as_str()).collect();
        out.extend_from_slice(
            &data_encoding::BASE64.decode(joined.as_bytes()).map_err(|_| "DOA data is not base64".to_string())?,
        );
    }
    Ok(())
}

/// RFC 1706 §5: `0x` then hex digits, dots anywhere between them for readability.
fn nsap(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let t = f.next("NSAP address")?;
    let hex = t.text.strip_prefix("0x").or_else(|| t.text.strip_prefix("0X"));
    let bytes = hex.map(|h| h.replace('.', "")).and_then(|h| super::decode_hex(&h)).filter(|b| !b.is_empty());
    let bytes = bytes.ok_or_else(|| format!("NSAP address '{}' is not 0x followed by hexadecimal digits", t.text))?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// RFC 7043 §3.2 and §4.2: octets as two hex digits joined by hyphens.
fn eui(f: &mut Fields<'_>, out: &mut Vec<u8>, octets: usize) -> Result<(), RdataError> {
    let t = f.next("address")?;
    let parts: Vec<&str> = t.text.split('-').collect();
    let ok = parts.len() == octets && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        return Err(format!("'{}' is not {octets} hexadecimal octets joined by '-' (like 00-00-5e-00-53-2a)", t.text));
    }
    for p in parts {
        out.push(u8::from_str_radix(p, 16).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// RFC 6742 §2.1.2: four groups of up to four hex digits joined by ':'.
fn quad16(text: &str) -> Result<[u8; 8], RdataError> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || format!("'{text}' is not four groups of hexadecimal digits joined by ':' (like 0014:4fff:ff20:ee64)");
    if parts.len() != 4 {
        return Err(bad());
    }
    let mut out = [0u8; 8];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 4 {
            return Err(bad());
        }
        let v = u16::from_str_radix(p, 16).map_err(|_| bad())?;
        out[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
    }
    Ok(out)
}

/// RFC 8976 §2.3: serial, scheme, hash algorithm, digest (at least 12 octets; SHA-384 48 and
/// SHA-512 64 octets, as BIND checks).
fn zonemd(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u32("serial")?.to_be_bytes());
    out.push(f.u8("scheme")?);
    let alg = f.u8("hash algorithm")?;
    out.push(alg);
    let digest = f.hex_rest("digest")?;
    let expected = match alg {
        1 => Some(48),
        2 => Some(64),
        _ => None,
    };
    match expected {
        Some(n) if digest.len() != n => {
            return Err(format!("ZONEMD digest of algorithm {alg} must be {n} octets, not {}", digest.len()));
        }
        None if digest.len() < 12 => return Err("ZONEMD digest must be at least 12 octets".into()),
        _ => {}
    }
    out.extend_from_slice(&digest);
    Ok(())
}

/// RFC 4398 §2.2: type (mnemonic or number), key tag, algorithm (mnemonic or number), base64.
fn cert(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    const TYPES: &[(&str, u16)] = &[
        ("PKIX", 1),
        ("SPKI", 2),
        ("PGP", 3),
        ("IPKIX", 4),
        ("ISPKI", 5),
        ("IPGP", 6),
        ("ACPKIX", 7),
        ("IACPKIX", 8),
        ("URI", 253),
        ("OID", 254),
    ];
    let t = f.next("certificate type")?;
    let kind = match TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&t.text)) {
        Some(&(_, v)) => v,
        None => t.text.parse::<u16>().map_err(|_| format!("'{}' is not a certificate type", t.text))?,
    };
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&f.u16("key tag")?.to_be_bytes());
    out.push(super::extra::algorithm(f)?);
    let data = f.base64_rest("certificate")?;
    out.extend_from_slice(&data);
    Ok(())
}

/// RFC 2535 §7.1 KEY (and RKEY, same form): flags, protocol, algorithm, key (may be empty).
fn key(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u16("flags")?.to_be_bytes());
    out.push(f.u8("protocol")?);
    out.push(super::extra::algorithm(f)?);
    out.extend_from_slice(&f.base64_rest("key")?);
    Ok(())
}

/// RFC 4034 §4.1.2: type bitmap windows from a list of type mnemonics (or `TYPEnnn`).
fn type_bitmap(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut types = Vec::new();
    for t in f.rest() {
        let n = dns::type_from_text(&t.text).ok_or_else(|| format!("'{}' is not a record type", t.text))?;
        types.push(n);
    }
    dns::write_type_bitmap(&mut types, out);
    Ok(())
}

/// NSEC3PARAM (RFC 5155 §4.3), and the same head of NSEC3: algorithm, flags, iterations, salt
/// (hex, or `-` for none).
fn nsec3_head(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.push(f.u8("hash algorithm")?);
    out.push(f.u8("flags")?);
    out.extend_from_slice(&f.u16("iterations")?.to_be_bytes());
    let salt = f.next("salt")?;
    let bytes = if salt.text == "-" {
        Vec::new()
    } else {
        super::decode_hex(&salt.text).ok_or_else(|| format!("salt '{}' is not hexadecimal or '-'", salt.text))?
    };
    if bytes.len() > 255 {
        return Err("salt is longer than 255 octets".into());
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// RFC 5155 §3.3: the head, the next hashed owner in base32hex without padding, the types.
fn nsec3(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    nsec3_head(f, out)?;
    let next = f.next("next hashed owner name")?;
    let hash = data_encoding::BASE32HEX_NOPAD
        .decode(next.text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("next hashed owner name '{}' is not base32hex", next.text))?;
    if hash.is_empty() || hash.len() > 255 {
        return Err("next hashed owner name must be 1 to 255 octets".into());
    }
    out.push(hash.len() as u8);
    out.extend_from_slice(&hash);
    type_bitmap(f, out)
}

/// RFC 4034 §3.2: type covered, algorithm, labels, original TTL, expiration and inception
/// (YYYYMMDDHHmmSS in UTC, or seconds), key tag, signer, signature.
fn rrsig(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let covered = f.next("type covered")?;
    let covered =
        dns::type_from_text(&covered.text).ok_or_else(|| format!("'{}' is not a record type", covered.text))?;
    out.extend_from_slice(&covered.to_be_bytes());
    out.push(super::extra::algorithm(f)?);
    out.push(f.u8("labels")?);
    out.extend_from_slice(&f.u32("original TTL")?.to_be_bytes());
    for what in ["signature expiration", "signature inception"] {
        let t = f.next(what)?;
        out.extend_from_slice(
            &sig_time(&t.text).ok_or_else(|| format!("{what} '{}' is not a time", t.text))?.to_be_bytes(),
        );
    }
    out.extend_from_slice(&f.u16("key tag")?.to_be_bytes());
    out.extend_from_slice(f.name("signer name")?.wire());
    let sig = f.base64_rest("signature")?;
    nonempty(sig, "signature", out)
}

/// A signature time: 14 digits YYYYMMDDHHmmSS (UTC), or a number of seconds (RFC 4034 §3.2),
/// taken modulo 2^32 as RFC 4034 §3.1.5 does.
fn sig_time(text: &str) -> Option<u32> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() != 14 {
        return text.parse::<u32>().ok();
    }
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?, n(12, 14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm), then seconds since the epoch.
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s).rem_euclid(1 << 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::super::tests::rd;

    #[test]
    fn parses_the_rest_of_binds_types() {
        assert_eq!(rd("EUI48", "00-00-5e-00-53-2a").unwrap(), [0, 0, 0x5e, 0, 0x53, 0x2a]);
        assert_eq!(rd("EUI64", "00-00-5e-ef-10-00-00-2a").unwrap().len(), 8);
        assert!(rd("EUI48", "00:00:5e:00:53:2a").unwrap_err().contains("joined by '-'"));
        assert_eq!(rd("L64", "10 2001:0DB8:1140:1000").unwrap(), [0, 10, 0x20, 1, 0x0d, 0xb8, 0x11, 0x40, 0x10, 0]);
        assert_eq!(rd("L32", "10 10.1.2.0").unwrap(), [0, 10, 10, 1, 2, 0]);
        // Name (18 octets), window 0 up to NSEC (2 + 6), window 4 up to TYPE1234 (2 + 27).
        assert_eq!(rd("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234").unwrap().len(), 18 + 8 + 29);
        assert_eq!(rd("NSEC3PARAM", "1 0 12 aabbccdd").unwrap(), [1, 0, 0, 12, 4, 0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(rd("NSEC3PARAM", "1 0 0 -").unwrap(), [1, 0, 0, 0, 0]);
        assert!(rd("ZONEMD", "2018031500 1 1 00").unwrap_err().contains("48 octets"));
        assert_eq!(super::sig_time("20260101000000"), Some(1_767_225_600));
        assert_eq!(super::sig_time("19700101000000"), Some(0));
        assert_eq!(super::sig_time("1767225600"), Some(1_767_225_600));
        assert_eq!(super::sig_time("20261301000000"), None);
        // RFC 3123 §8's example: family, prefix, N and length, the address without trailing zeros.
        assert_eq!(
            rd("APL", "1:192.168.32.0/21 !1:192.168.38.0/28").unwrap(),
            [0, 1, 21, 3, 192, 168, 32, 0, 1, 28, 0x83, 192, 168, 38]
        );
        // Ports 25 and 80: bits in octets 3 and 10.
        let wks = rd("WKS", "192.0.2.1 tcp smtp 80").unwrap();
        assert_eq!((&wks[..5], wks.len(), wks[5 + 3], wks[5 + 10]), (&[192, 0, 2, 1, 6][..], 5 + 11, 0x40, 0x80));
        assert!(rd("WKS", "192.0.2.1 tcp gopherx").unwrap_err().contains("not a port or a known name"));
        assert_eq!(rd("AMTRELAY", "10 1 1 203.0.113.15").unwrap(), [10, 0x81, 203, 0, 113, 15]);
        assert!(rd("IPSECKEY", "10 0 2 gw.example. AQID").unwrap_err().contains("written '.'"));
    }
}
