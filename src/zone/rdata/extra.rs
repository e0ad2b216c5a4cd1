//! Text parsers for the record types beyond RFC 1035: CAA, NAPTR, SSHFP, TLSA, SMIMEA, DS,
//! CDS, DNSKEY, CDNSKEY, OPENPGPKEY, LOC, URI, SVCB and HTTPS. Syntax and checks follow what
//! BIND 9's `named-checkzone` accepts.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Fields, RdataError, rtype};

/// Parses `rtype` into `out`; `None` when the type has no text parser here.
pub(super) fn parse(rtype: u16, f: &mut Fields<'_>, out: &mut Vec<u8>) -> Option<Result<(), RdataError>> {
    let result = match rtype {
        rtype::CAA => caa(f, out),
        rtype::NAPTR => naptr(f, out),
        rtype::SSHFP => sshfp(f, out),
        rtype::TLSA | rtype::SMIMEA => tlsa(f, out),
        rtype::DS | rtype::CDS => ds(f, out),
        rtype::DNSKEY | rtype::CDNSKEY => dnskey(f, out),
        rtype::OPENPGPKEY => f.base64_rest("OPENPGPKEY key").map(|k| out.extend_from_slice(&k)),
        rtype::URI => uri(f, out),
        rtype::LOC => loc(f, out),
        rtype::SVCB | rtype::HTTPS => svcb(f, out),
        _ => return super::more::parse(rtype, f, out),
    };
    Some(result)
}

/// RFC 8659 §4.1: flags, tag, value; the value is the rest of the record, not limited to 255.
fn caa(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let flags = f.u8("CAA flags")?;
    let tag = f.next("CAA tag")?;
    if tag.text.is_empty() || tag.text.len() > 255 || !tag.text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("CAA tag '{}' must be letters and digits", tag.text));
    }
    let value = f.next("CAA value")?;
    let bytes = unescape(&value.text).ok_or_else(|| format!("CAA value has a bad escape in '{}'", value.text))?;
    out.push(flags);
    out.push(tag.text.len() as u8);
    out.extend_from_slice(tag.text.as_bytes());
    out.extend_from_slice(&bytes);
    Ok(())
}

/// RFC 3403 §4.1.
fn naptr(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u16("NAPTR order")?.to_be_bytes());
    out.extend_from_slice(&f.u16("NAPTR preference")?.to_be_bytes());
    for what in ["NAPTR flags", "NAPTR services", "NAPTR regexp"] {
        let s = f.char_string(what)?;
        out.push(s.len() as u8);
        out.extend_from_slice(&s);
    }
    out.extend_from_slice(f.name("NAPTR replacement")?.wire());
    Ok(())
}

/// RFC 4255 §3.2.
fn sshfp(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.push(f.u8("SSHFP algorithm")?);
    out.push(f.u8("SSHFP fingerprint type")?);
    let fp = f.hex_rest("SSHFP fingerprint")?;
    if fp.is_empty() {
        return Err("SSHFP record is missing its fingerprint".into());
    }
    out.extend_from_slice(&fp);
    Ok(())
}

/// RFC 6698 §2.2 (and RFC 8162 for SMIMEA).
fn tlsa(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.push(f.u8("certificate usage")?);
    out.push(f.u8("selector")?);
    out.push(f.u8("matching type")?);
    let data = f.hex_rest("certificate association data")?;
    if data.is_empty() {
        return Err("record is missing its certificate association data".into());
    }
    out.extend_from_slice(&data);
    Ok(())
}

/// DNSSEC algorithm numbers and mnemonics (IANA "DNS Security Algorithm Numbers").
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("NSEC3DSA", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("NSEC3RSASHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

pub(super) fn algorithm(f: &mut Fields<'_>) -> Result<u8, RdataError> {
    let t = f.next("algorithm")?;
    if let Ok(n) = t.text.parse::<u8>() {
        return Ok(n);
    }
    ALGORITHMS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&t.text))
        .map(|&(_, n)| n)
        .ok_or_else(|| format!("'{}' is not a DNSSEC algorithm number or name", t.text))
}

/// RFC 4034 §5.3; digest lengths of the known digest types are checked, as BIND does.
fn ds(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u16("key tag")?.to_be_bytes());
    out.push(algorithm(f)?);
    let digest_type = f.u8("digest type")?;
    out.push(digest_type);
    let digest = f.hex_rest("digest")?;
    let expected = match digest_type {
        1 => Some(20),
        2 => Some(32),
        3 => Some(32),
        4 => Some(48),
        _ => None,
    };
    if let Some(len) = expected {
        if digest.len() != len {
            return Err(format!("digest of type {digest_type} must be {len} octets, not {}", digest.len()));
        }
    } else if digest.is_empty() {
        return Err("record is missing its digest".into());
    }
    out.extend_from_slice(&digest);
    Ok(())
}

/// RFC 4034 §2.2.
fn dnskey(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u16("flags")?.to_be_bytes());
    out.push(f.u8("protocol")?);
    out.push(algorithm(f)?);
    let key = f.base64_rest("public key")?;
    if key.is_empty() {
        return Err("record is missing its public key".into());
    }
    out.extend_from_slice(&key);
    Ok(())
}

/// RFC 7553 §4.5: priority, weight, and the target as the rest of the record.
fn uri(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    out.extend_from_slice(&f.u16("URI priority")?.to_be_bytes());
    out.extend_from_slice(&f.u16("URI weight")?.to_be_bytes());
    let t = f.next("URI target")?;
    if !t.quoted {
        return Err(format!("URI target '{}' must be a quoted string", t.text));
    }
    let bytes = unescape(&t.text).ok_or_else(|| format!("URI target has a bad escape in '{}'", t.text))?;
    if bytes.is_empty() {
        return Err("URI target must not be empty".into());
    }
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Decodes `\DDD` and `\X` escapes with no length limit.
fn unescape(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let (byte, used) = crate::zone::name::unescape_at(b, i).ok()?;
            out.push(byte);
            i += used;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// RFC 1876 §3: `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`.
fn loc(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let tokens = f.rest();
    let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    let mut i = 0;
    let mut coordinate = |max_deg: u32, pos: char, neg: char, what: &str| -> Result<u32, RdataError> {
        let mut parts = Vec::new();
        while i < texts.len() && parts.len() < 3 {
            let t = texts[i];
            if t.eq_ignore_ascii_case(&pos.to_string()) || t.eq_ignore_ascii_case(&neg.to_string()) {
                break;
            }
            parts.push(t);
            i += 1;
        }
        let hemisphere = texts.get(i).ok_or_else(|| format!("LOC {what} is missing its {pos} or {neg}"))?;
        let sign: i64 = if hemisphere.eq_ignore_ascii_case(&pos.to_string()) {
            1
        } else if hemisphere.eq_ignore_ascii_case(&neg.to_string()) {
            -1
        } else {
            return Err(format!("LOC {what}: expected {pos} or {neg}, not '{hemisphere}'"));
        };
        i += 1;
        if parts.is_empty() {
            return Err(format!("LOC {what} is missing its degrees"));
        }
        let deg: u32 = parts[0].parse().map_err(|_| format!("LOC {what} degrees '{}' is not a number", parts[0]))?;
        let min: u32 =
            parts.get(1).map_or(Ok(0), |m| m.parse()).map_err(|_| format!("LOC {what} minutes are not a number"))?;
        let sec = parts
            .get(2)
            .map_or(Some(0), |s| thousandths(s))
            .ok_or_else(|| format!("LOC {what} seconds are not a number with at most 3 decimals"))?;
        if deg > max_deg || min > 59 || sec > 59_999 || (deg == max_deg && (min > 0 || sec > 0)) {
            return Err(format!("LOC {what} is out of range"));
        }
        let value = i64::from(((deg * 60 + min) * 60) * 1000) + sec;
        Ok((i64::from(1u32 << 31) + sign * value) as u32)
    };
    let lat = coordinate(90, 'N', 'S', "latitude")?;
    let lon = coordinate(180, 'E', 'W', "longitude")?;
    let meters = |t: &str, what: &str| -> Result<i64, RdataError> {
        let t = t.strip_suffix(['m', 'M']).unwrap_or(t);
        let (neg, t) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("LOC {what} '{t}' is not a number of meters with at most 2 decimals"));
        }
        let cm = whole.parse::<i64>().map_err(|_| format!("LOC {what} is too large"))? * 100
            + format!("{frac:0<2}").parse::<i64>().unwrap_or(0);
        Ok(if neg { -cm } else { cm })
    };
    let alt_text = texts.get(i).ok_or("LOC record is missing its altitude")?;
    let alt = meters(alt_text, "altitude")? + 10_000_000;
    if !(0..=i64::from(u32::MAX)).contains(&alt) {
        return Err("LOC altitude is out of range (-100000m to 42849672.95m)".into());
    }
    i += 1;
    let mut precision = [0x12u8, 0x16, 0x13]; // 1m, 10000m, 10m (RFC 1876 defaults)
    for (slot, what) in ["size", "horizontal precision", "vertical precision"].iter().enumerate() {
        let Some(t) = texts.get(i) else { break };
        let cm = meters(t, what)?;
        precision[slot] =
            encode_precision(cm).ok_or_else(|| format!("LOC {what} '{t}' is out of range (0 to 90000000m)"))?;
        i += 1;
    }
    if i < texts.len() {
        return Err(format!("LOC record has unexpected extra data '{}'", texts[i]));
    }
    out.push(0);
    out.extend_from_slice(&precision);
    out.extend_from_slice(&lat.to_be_bytes());
    out.extend_from_slice(&lon.to_be_bytes());
    out.extend_from_slice(&(alt as u32).to_be_bytes());
    Ok(())
}

fn thousandths(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 3
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 1000 + format!("{frac:0<3}").parse::<i64>().ok()?)
}

/// RFC 1876 §2: a size in centimetres as mantissa (high nibble) and power of ten (low).
fn encode_precision(cm: i64) -> Option<u8> {
    if cm < 0 {
        return None;
    }
    let mut exp = 0u8;
    let mut m = cm;
    while m > 9 {
        if exp == 9 {
            return None;
        }
        m /= 10;
        exp += 1;
    }
    Some(((m as u8) << 4) | exp)
}

/// SvcParamKey numbers (RFC 9460 §14.3.2).
const SVC_KEYS: &[(&str, u16)] = &[
    ("mandatory", 0),
    ("alpn", 1),
    ("no-default-alpn", 2),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", 5),
    ("ipv6hint", 6),
    ("dohpath", 7),
];

fn svc_key(name: &str) -> Option<u16> {
    if let Some(n) = name.strip_prefix("key") {
        return n.parse().ok();
    }
    SVC_KEYS.iter().find(|(k, _)| *k == name).map(|&(_, n)| n)
}

/// Splits a comma-separated value list; `\,` is a literal comma (RFC 9460 Appendix A.1).
fn value_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => {
                items.last_mut().unwrap_or(&mut Vec::new()).push(bytes[i + 1]);
                i += 2;
                continue;
            }
            b',' => items.push(Vec::new()),
            b => {
                if let Some(last) = items.last_mut() {
                    last.push(b);
                }
            }
        }
        i += 1;
    }
    items
}

/// RFC 9460 §2.1: priority, target, then `key[=value]` parameters, written sorted by key.
fn svcb(f: &mut Fields<'_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let priority = f.u16("SvcPriority")?;
    // "." is the root (the owner itself, RFC 9460 §2.5); a relative name takes the origin.
    let target = f.name("TargetName")?;
    let tokens = f.rest();
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        i += 1;
        let (key_text, mut value) = match t.text.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (t.text.clone(), None),
        };
        if t.quoted {
            return Err(format!("SvcParam key expected, found the string \"{}\"", t.text));
        }
        // `key="quoted value"` reaches us as `key=` followed by a quoted token.
        if value.as_deref() == Some("") && tokens.get(i).is_some_and(|n| n.quoted) {
            value = Some(tokens[i].text.clone());
            i += 1;
        }
        let key = svc_key(&key_text).ok_or_else(|| format!("unknown SvcParam key '{key_text}'"))?;
        if key == 65535 {
            return Err("SvcParam key65535 is reserved".into());
        }
        if params.iter().any(|(k, _)| *k == key) {
            return Err(format!("SvcParam '{key_text}' appears twice"));
        }
        let raw = match &value {
            Some(v) => unescape(v).ok_or_else(|| format!("SvcParam '{key_text}' has a bad escape"))?,
            None => Vec::new(),
        };
        let need_value = |what: &str| -> Result<(), RdataError> {
            if value.as_deref().is_none_or(str::is_empty) {
                Err(format!("SvcParam '{what}' needs a value"))
            } else {
                Ok(())
            }
        };
        let wire = match key {
            0 => {
                need_value("mandatory")?;
                let mut keys = Vec::new();
                for item in value_list(&raw) {
                    let name = String::from_utf8_lossy(&item).into_owned();
                    let k = svc_key(&name).ok_or_else(|| format!("mandatory lists unknown key '{name}'"))?;
                    if k == 0 {
                        return Err("mandatory must not list itself".into());
                    }
                    if keys.contains(&k) {
                        return Err(format!("mandatory lists '{name}' twice"));
                    }
                    keys.push(k);
                }
                keys.sort_unstable();
                keys.iter().flat_map(|k| k.to_be_bytes()).collect()
            }
            1 => {
                need_value("alpn")?;
                let mut w = Vec::new();
                for id in value_list(&raw) {
                    if id.is_empty() || id.len() > 255 {
                        return Err("alpn values must be 1 to 255 octets".into());
                    }
                    w.push(id.len() as u8);
                    w.extend_from_slice(&id);
                }
                w
            }
            2 => {
                if value.as_deref().is_some_and(|v| !v.is_empty()) {
                    return Err("no-default-alpn takes no value".into());
                }
                Vec::new()
            }
            3 => {
                need_value("port")?;
                let p: u16 = String::from_utf8_lossy(&raw)
                    .parse()
                    .map_err(|_| format!("port '{}' is not a number from 0 to 65535", String::from_utf8_lossy(&raw)))?;
                p.to_be_bytes().to_vec()
            }
            4 => {
                need_value("ipv4hint")?;
                let mut w = Vec::new();
                for a in value_list(&raw) {
                    let text = String::from_utf8_lossy(&a).into_owned();
                    let ip: Ipv4Addr = text.parse().map_err(|_| format!("ipv4hint '{text}' is not an IPv4 address"))?;
                    w.extend_from_slice(&ip.octets());
                }
                w
            }
            5 => {
                need_value("ech")?;
                data_encoding::BASE64.decode(&raw).map_err(|_| "ech is not valid base64".to_string())?
            }
            6 => {
                need_value("ipv6hint")?;
                let mut w = Vec::new();
                for a in value_list(&raw) {
                    let text = String::from_utf8_lossy(&a).into_owned();
                    let ip: Ipv6Addr = text.parse().map_err(|_| format!("ipv6hint '{text}' is not an IPv6 address"))?;
                    w.extend_from_slice(&ip.octets());
                }
                w
            }
            _ => raw,
        };
        if wire.len() > usize::from(u16::MAX) {
            return Err(format!("SvcParam '{key_text}' is too long"));
        }
        params.push((key, wire));
    }
    params.sort_by_key(|(k, _)| *k);
    if let Some((_, mandatory)) = params.iter().find(|(k, _)| *k == 0) {
        for k in mandatory.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])) {
            if !params.iter().any(|(p, _)| *p == k) {
                return Err(format!("mandatory lists key{k}, which the record does not have"));
            }
        }
    }
    if params.iter().any(|(k, _)| *k == 2) && !params.iter().any(|(k, _)| *k == 1) {
        return Err("no-default-alpn needs an alpn parameter".into());
    }
    out.extend_from_slice(&priority.to_be_bytes());
    out.extend_from_slice(target.wire());
    for (k, v) in params {
        out.extend_from_slice(&k.to_be_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(&v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn rd(rtype: &str, text: &str) -> Result<Vec<u8>, String> {
        let origin = crate::zone::name::Name::parse("example.com.", None).unwrap();
        let entry = crate::zone::lexer::entries(text).unwrap().remove(0);
        super::super::parse(crate::dns::type_from_text(rtype).unwrap(), &entry.tokens, &origin)
    }

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER_PERMISSIVE.decode(s.replace(' ', "").as_bytes()).unwrap()
    }

    #[test]
    fn caa_naptr_sshfp_tlsa_uri() {
        assert_eq!(
            rd("CAA", "0 issue \"ca.example.net; account=230123\"").unwrap(),
            [&[0u8, 5][..], b"issue", b"ca.example.net; account=230123"].concat()
        );
        assert_eq!(rd("CAA", "128 tbs Unknown").unwrap(), [&[128u8, 3][..], b"tbs", b"Unknown"].concat());
        assert!(rd("CAA", "0 is-sue \"x\"").is_err());
        assert_eq!(
            rd("NAPTR", "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.").unwrap(),
            [&[0u8, 100, 0, 10, 1][..], b"S", &[7], b"SIP+D2U", &[0], b"\x04_sip\x04_udp\x07example\x03com\x00"]
                .concat()
        );
        assert_eq!(rd("SSHFP", "2 1 1234 5678").unwrap(), [2, 1, 0x12, 0x34, 0x56, 0x78]);
        assert!(rd("SSHFP", "2 1 12345").unwrap_err().contains("hexadecimal"));
        assert_eq!(rd("TLSA", "3 1 1 abcd").unwrap(), [3, 1, 1, 0xab, 0xcd]);
        assert_eq!(
            rd("URI", "10 1 \"ftp://ftp1.example.com/public\"").unwrap(),
            [&[0u8, 10, 0, 1][..], b"ftp://ftp1.example.com/public"].concat()
        );
        assert!(rd("URI", "10 1 ftp://x").unwrap_err().contains("quoted"));
    }

    #[test]
    fn ds_and_dnskey_with_mnemonics_and_lengths() {
        let digest = "00".repeat(32);
        let want = [&[0x30u8, 0x39, 8, 2][..], &[0u8; 32]].concat();
        assert_eq!(rd("DS", &format!("12345 8 2 {digest}")).unwrap(), want);
        assert_eq!(rd("DS", &format!("12345 RSASHA256 2 {digest}")).unwrap(), want);
        assert!(rd("DS", "12345 8 2 ABCD").unwrap_err().contains("must be 32 octets"));
        assert_eq!(rd("DNSKEY", "257 3 13 AwEAAQ==").unwrap(), [1, 1, 3, 13, 3, 1, 0, 1]);
        assert!(rd("DNSKEY", "257 3 13 AwEAAb").unwrap_err().contains("base64"));
        assert!(rd("DS", &format!("1 NOPE 2 {digest}")).is_err());
    }

    #[test]
    fn loc_matches_bind() {
        // Bytes cross-checked with dnspython's LOC encoder; named-compilezone prints the text back.
        assert_eq!(
            rd("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m").unwrap(),
            hex("00 00 16 13 8b 3c f0 18 81 0c bc e0 00 98 95 b8")
        );
        assert_eq!(rd("LOC", "52 N 4 E 10m").unwrap(), hex("00 12 16 13 8b 28 72 00 80 db ba 00 00 98 9a 68"));
        assert!(rd("LOC", "91 N 4 E 10m").is_err());
        assert!(rd("LOC", "52 X 4 E 10m").is_err());
    }

    #[test]
    fn svcb_params_sorted_and_checked() {
        let w = rd("SVCB", "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1").unwrap();
        assert_eq!(w, hex("0001 00 0001 0006 02 6832 02 6833 0003 0002 20fb 0004 0004 c0000201"));
        let w = rd("HTTPS", "1 . mandatory=alpn alpn=\"h2\"").unwrap();
        assert_eq!(w, hex("0001 00 0000 0002 0001 0001 0003 02 6832"));
        assert_eq!(
            rd("HTTPS", "0 foo.example.org.").unwrap(),
            [&[0u8, 0][..], b"\x03foo\x07example\x03org\x00"].concat()
        );
        assert_eq!(
            rd("SVCB", "1 svc key65000=abc").unwrap(),
            [&[0u8, 1][..], b"\x03svc\x07example\x03com\x00", &[0xfd, 0xe8, 0, 3], b"abc"].concat()
        );
        assert!(rd("SVCB", "1 . mandatory=port").unwrap_err().contains("does not have"));
        assert!(rd("SVCB", "1 . alpn=h2 alpn=h3").unwrap_err().contains("twice"));
        assert!(rd("SVCB", "1 . no-default-alpn").unwrap_err().contains("needs an alpn"));
        assert!(rd("SVCB", "1 . bogus=1").unwrap_err().contains("unknown SvcParam"));
        assert!(rd("SVCB", "1 . port=99999").is_err());
    }
}
