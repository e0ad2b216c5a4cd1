//! Record data: presentation format (zone file text) to uncompressed wire format.
//!
//! Each record type has a parser that reads its fields from the tokens of one zone file entry
//! through [`Fields`] and appends the wire form. Names inside record data are written
//! uncompressed; the response encoder compresses the RFC 1035 types itself (see
//! `query::encode`). Every type also accepts the RFC 3597 generic form `\# LEN HEX`.

mod extra;
mod more;

use super::lexer::Token;
use super::name::{Name, NameError};
use crate::dns::{rtype, type_to_text};

/// Cursor over the rdata tokens of one entry.
pub struct Fields<'a> {
    tokens: &'a [Token],
    pos: usize,
    origin: &'a Name,
    rtype: u16,
}

/// Why record data could not be parsed. The caller adds file and line.
pub type RdataError = String;

impl<'a> Fields<'a> {
    /// A cursor over `tokens`, names completed with `origin`.
    pub fn new(tokens: &'a [Token], origin: &'a Name, rtype: u16) -> Self {
        Fields { tokens, pos: 0, origin, rtype }
    }

    fn type_name(&self) -> String {
        type_to_text(self.rtype)
    }

    /// The next token, or an error saying which field is missing.
    pub fn next(&mut self, what: &str) -> Result<&'a Token, RdataError> {
        let token =
            self.tokens.get(self.pos).ok_or_else(|| format!("{} record is missing its {what}", self.type_name()))?;
        self.pos += 1;
        Ok(token)
    }

    /// True when every token has been used.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// The tokens not yet used; consumes them.
    pub fn rest(&mut self) -> &'a [Token] {
        let rest = &self.tokens[self.pos.min(self.tokens.len())..];
        self.pos = self.tokens.len();
        rest
    }

    /// Fails when tokens are left over.
    pub fn end(&self) -> Result<(), RdataError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some(t) => Err(format!("{} record has unexpected extra data '{}'", self.type_name(), t.text)),
        }
    }

    /// A domain name, relative names completed with the origin.
    pub fn name(&mut self, what: &str) -> Result<Name, RdataError> {
        let origin = self.origin;
        let token = self.next(what)?;
        Name::parse(&token.text, Some(origin)).map_err(|e| name_error(&token.text, what, e))
    }

    /// An unsigned integer of at most `max`.
    pub fn number(&mut self, what: &str, max: u64) -> Result<u64, RdataError> {
        let token = self.next(what)?;
        token
            .text
            .parse::<u64>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("{what} must be a number from 0 to {max}, not '{}'", token.text))
    }

    /// An 8-bit unsigned integer.
    pub fn u8(&mut self, what: &str) -> Result<u8, RdataError> {
        Ok(self.number(what, u8::MAX.into())? as u8)
    }

    /// A 16-bit unsigned integer.
    pub fn u16(&mut self, what: &str) -> Result<u16, RdataError> {
        Ok(self.number(what, u16::MAX.into())? as u16)
    }

    /// A 32-bit unsigned integer.
    pub fn u32(&mut self, what: &str) -> Result<u32, RdataError> {
        Ok(self.number(what, u32::MAX.into())? as u32)
    }

    /// A 32-bit time value that may use TTL units (`1h30m`), as BIND allows in SOA fields.
    pub fn duration(&mut self, what: &str) -> Result<u32, RdataError> {
        let token = self.next(what)?;
        parse_ttl(&token.text)
            .ok_or_else(|| format!("{what} must be a number of seconds or a duration like 1h30m, not '{}'", token.text))
    }

    /// A character-string (RFC 1035 §3.3): at most 255 octets after escapes.
    pub fn char_string(&mut self, what: &str) -> Result<Vec<u8>, RdataError> {
        let token = self.next(what)?;
        char_string(token, what)
    }

    /// The remaining tokens joined and decoded as hexadecimal (white space allowed between).
    pub fn hex_rest(&mut self, what: &str) -> Result<Vec<u8>, RdataError> {
        let joined: String = self.rest().iter().map(|t| t.text.as_str()).collect();
        decode_hex(&joined).ok_or_else(|| format!("{what} is not valid hexadecimal"))
    }

    /// The remaining tokens joined and decoded as base64 (white space allowed between).
    pub fn base64_rest(&mut self, what: &str) -> Result<Vec<u8>, RdataError> {
        let joined: String = self.rest().iter().map(|t| t.text.as_str()).collect();
        data_encoding::BASE64.decode(joined.as_bytes()).map_err(|_| format!("{what} is not valid base64"))
    }
}

/// Decodes a character-string token's escapes, enforcing the 255-octet limit.
pub fn char_string(token: &Token, what: &str) -> Result<Vec<u8>, RdataError> {
    let bytes = token.text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let (b, used) = super::name::unescape_at(bytes, i)
                .map_err(|_| format!("{what} has a bad escape sequence in '{}'", token.text))?;
            out.push(b);
            i += used;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.len() > 255 {
        return Err(format!(
            "{what} is {} octets long; a character-string holds at most 255 (split it into several quoted strings)",
            out.len()
        ));
    }
    Ok(out)
}

/// Decodes hexadecimal text; `None` for odd length or a non-hex digit.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    data_encoding::HEXLOWER_PERMISSIVE.decode(text.as_bytes()).ok()
}

fn name_error(text: &str, what: &str, e: NameError) -> RdataError {
    format!("{what} '{text}' is not a valid domain name: {e}")
}

/// Parses a TTL: seconds, or units `w d h m s` in any combination (`1h30m`), case-insensitive,
/// as BIND reads them. `None` when malformed or above 2^32-1.
pub fn parse_ttl(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u32>().ok();
    }
    let mut total: u64 = 0;
    let mut value: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            value = Some(value.unwrap_or(0).checked_mul(10)?.checked_add(d.into())?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            'w' => 604_800,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(value.take()?.checked_mul(unit)?)?;
    }
    if let Some(v) = value {
        total = total.checked_add(v)?;
    }
    u32::try_from(total).ok()
}

/// Parses the record data of type `rtype` from `tokens` into uncompressed wire format.
pub fn parse(rtype: u16, tokens: &[Token], origin: &Name) -> Result<Vec<u8>, RdataError> {
    let mut f = Fields::new(tokens, origin, rtype);
    if tokens.first().is_some_and(|t| t.text == "\\#" && !t.quoted) {
        return generic(&mut f);
    }
    let mut out = Vec::new();
    match rtype {
        rtype::A => {
            let t = f.next("IPv4 address")?;
            let addr: std::net::Ipv4Addr =
                t.text.parse().map_err(|_| format!("'{}' is not an IPv4 address", t.text))?;
            out.extend_from_slice(&addr.octets());
        }
        rtype::AAAA => {
            let t = f.next("IPv6 address")?;
            let addr: std::net::Ipv6Addr =
                t.text.parse().map_err(|_| format!("'{}' is not an IPv6 address", t.text))?;
            out.extend_from_slice(&addr.octets());
        }
        rtype::NS | rtype::CNAME | rtype::DNAME | rtype::PTR => {
            out.extend_from_slice(f.name("target name")?.wire());
        }
        rtype::MX | rtype::KX | rtype::AFSDB => {
            out.extend_from_slice(&f.u16("preference")?.to_be_bytes());
            out.extend_from_slice(f.name("exchange name")?.wire());
        }
        rtype::RP => {
            out.extend_from_slice(f.name("mailbox name")?.wire());
            out.extend_from_slice(f.name("TXT name")?.wire());
        }
        rtype::SOA => {
            out.extend_from_slice(f.name("primary server name")?.wire());
            out.extend_from_slice(f.name("responsible mailbox")?.wire());
            out.extend_from_slice(&f.u32("serial")?.to_be_bytes());
            for what in ["refresh", "retry", "expire", "minimum"] {
                out.extend_from_slice(&f.duration(what)?.to_be_bytes());
            }
        }
        rtype::TXT | rtype::SPF => {
            if f.is_empty() {
                return Err(format!("{} record needs at least one string", type_to_text(rtype)));
            }
            while !f.is_empty() {
                let s = f.char_string("TXT string")?;
                out.push(s.len() as u8);
                out.extend_from_slice(&s);
            }
        }
        rtype::HINFO => {
            for what in ["CPU string", "OS string"] {
                let s = f.char_string(what)?;
                out.push(s.len() as u8);
                out.extend_from_slice(&s);
            }
        }
        rtype::SRV => {
            out.extend_from_slice(&f.u16("priority")?.to_be_bytes());
            out.extend_from_slice(&f.u16("weight")?.to_be_bytes());
            out.extend_from_slice(&f.u16("port")?.to_be_bytes());
            out.extend_from_slice(f.name("target name")?.wire());
        }
        _ => match extra::parse(rtype, &mut f, &mut out) {
            Some(result) => result?,
            None => {
                return Err(format!(
                    "type {} has no text form here: write it in the RFC 3597 form '\\# LENGTH HEX'",
                    type_to_text(rtype)
                ));
            }
        },
    }
    f.end()?;
    if out.len() > usize::from(u16::MAX) {
        return Err(format!("{} record data is longer than 65535 octets", type_to_text(rtype)));
    }
    Ok(out)
}

/// RFC 3597 §5 generic record data: `\# LENGTH HEX...`.
fn generic(f: &mut Fields<'_>) -> Result<Vec<u8>, RdataError> {
    f.next("\\#")?;
    let len = f.u16("generic data length")?;
    let data = if len == 0 && f.is_empty() { Vec::new() } else { f.hex_rest("generic record data")? };
    if data.len() != usize::from(len) {
        return Err(format!("generic record data has {} octets but its length field says {len}", data.len()));
    }
    if !known_shape(f.rtype, &data) {
        return Err(format!(
            "generic record data is not valid {} data (RFC 3597 section 5: the generic form of a known type \
             must hold that type's data)",
            crate::dns::type_to_text(f.rtype)
        ));
    }
    Ok(data)
}

/// Whether `data` has the shape of `rtype`'s data, for the types the server reads itself: the
/// names it follows or adds addresses for, the SOA it takes timers from, the addresses it
/// copies. Data of other types is carried as it is.
fn known_shape(rtype: u16, data: &[u8]) -> bool {
    // The end of the uncompressed name starting at `at`, when one does.
    let name_end = |at: usize| -> Option<usize> {
        let mut i = at;
        loop {
            let len = usize::from(*data.get(i)?);
            if len > super::name::MAX_LABEL_LEN || i + 1 - at > super::name::MAX_NAME_LEN {
                return None;
            }
            i += 1 + len;
            if len == 0 {
                return (i - at <= super::name::MAX_NAME_LEN).then_some(i);
            }
        }
    };
    let len = data.len();
    match rtype {
        rtype::A => len == 4,
        rtype::AAAA => len == 16,
        rtype::NS | rtype::CNAME | rtype::DNAME | rtype::PTR => name_end(0) == Some(len),
        rtype::MX | rtype::KX | rtype::AFSDB => name_end(2) == Some(len),
        rtype::SRV => name_end(6) == Some(len),
        rtype::SOA => name_end(0).and_then(name_end).is_some_and(|end| end + 20 == len),
        _ => true,
    }
}

/// Record data in presentation format for display (`meridian explain`, the status API): the
/// usual text for common types, the RFC 3597 generic form for the rest.
pub fn to_text(rtype: u16, rdata: &[u8]) -> String {
    use std::fmt::Write;
    let name_at = |at: usize| -> Option<(String, usize)> {
        let mut i = at;
        while *rdata.get(i)? != 0 {
            i += 1 + usize::from(rdata[i]);
        }
        let mut s = String::new();
        super::name::write_presentation(rdata.get(at..=i)?, &mut s).ok()?;
        Some((s, i + 1))
    };
    let strings = |mut at: usize| -> Option<String> {
        let mut out = Vec::new();
        while at < rdata.len() {
            let len = usize::from(rdata[at]);
            let s = rdata.get(at + 1..at + 1 + len)?;
            let mut t = String::from("\"");
            for &b in s {
                match b {
                    b'"' | b'\\' => {
                        t.push('\\');
                        t.push(b as char);
                    }
                    0x20..=0x7e => t.push(b as char),
                    _ => {
                        let _ = write!(t, "\\{b:03}");
                    }
                }
            }
            t.push('"');
            out.push(t);
            at += 1 + len;
        }
        Some(out.join(" "))
    };
    let u16_at = |i: usize| rdata.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let text = match rtype {
        rtype::A if rdata.len() == 4 => {
            Some(std::net::Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string())
        }
        rtype::AAAA if rdata.len() == 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(rdata);
            Some(std::net::Ipv6Addr::from(b).to_string())
        }
        rtype::NS | rtype::CNAME | rtype::DNAME | rtype::PTR => name_at(0).map(|(n, _)| n),
        rtype::MX => u16_at(0).zip(name_at(2)).map(|(p, (n, _))| format!("{p} {n}")),
        rtype::SRV => (|| {
            let (t, _) = name_at(6)?;
            Some(format!("{} {} {} {t}", u16_at(0)?, u16_at(2)?, u16_at(4)?))
        })(),
        rtype::TXT | rtype::SPF => strings(0),
        rtype::SOA => (|| {
            let (m, i) = name_at(0)?;
            let (r, j) = name_at(i)?;
            let n: Vec<String> = (0..5)
                .map(|k| {
                    rdata
                        .get(j + 4 * k..j + 4 * k + 4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string())
                })
                .collect::<Option<_>>()?;
            Some(format!("{m} {r} {}", n.join(" ")))
        })(),
        _ => None,
    };
    text.unwrap_or_else(|| {
        let hex: String = rdata.iter().map(|b| format!("{b:02x}")).collect();
        format!("\\# {} {hex}", rdata.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::type_from_text;
    use crate::zone::lexer::entries;

    pub(crate) fn rd(rtype: &str, text: &str) -> Result<Vec<u8>, RdataError> {
        let origin = Name::parse("example.com.", None).unwrap();
        let entry = entries(text).unwrap().remove(0);
        parse(type_from_text(rtype).unwrap(), &entry.tokens, &origin)
    }

    #[test]
    fn parses_ttls_like_bind() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("1W2d"), Some(604_800 + 172_800));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("1x"), None);
        assert_eq!(parse_ttl("4294967296"), None);
    }

    #[test]
    fn generic_data_of_known_types_must_have_their_shape() {
        // Found by the zone fuzzer: a four-octet SOA in generic form reached the serial reader.
        let err = rd("SOA", "\\# 4 0a000002").unwrap_err();
        assert!(err.contains("not valid SOA data"), "{err}");
        for (t, text) in [("A", "\\# 0"), ("AAAA", "\\# 4 c0000201"), ("NS", "\\# 2 0161"), ("MX", "\\# 1 00")] {
            assert!(rd(t, text).is_err(), "{t} {text}");
        }
        assert_eq!(rd("SOA", "\\# 22 00 00 0000000100000e1000000384000927c00000012c").unwrap().len(), 22);
        assert_eq!(rd("NS", "\\# 5 036e733100").unwrap(), b"\x03ns1\x00");
        assert_eq!(rd("MX", "\\# 3 000a00").unwrap(), b"\x00\x0a\x00");
        assert_eq!(rd("TYPE65280", "\\# 4 0a000001").unwrap(), [10, 0, 0, 1]);
    }

    #[test]
    fn knows_type_names_and_numbers() {
        assert_eq!(type_from_text("aaaa"), Some(28));
        assert_eq!(type_from_text("TYPE65280"), Some(65280));
        assert_eq!(type_from_text("TYPE65536"), None);
        assert_eq!(type_to_text(65280), "TYPE65280");
        assert_eq!(type_to_text(257), "CAA");
    }

    #[test]
    fn parses_common_types() {
        assert_eq!(rd("A", "192.0.2.1").unwrap(), [192, 0, 2, 1]);
        assert!(rd("A", "192.0.2").is_err());
        assert_eq!(rd("MX", "10 mail").unwrap(), b"\x00\x0a\x04mail\x07example\x03com\x00");
        assert_eq!(rd("TXT", "\"a b\" c \\065").unwrap(), b"\x03a b\x01c\x01A");
        assert_eq!(rd("TXT", "\"\"").unwrap(), b"\x00");
        assert_eq!(
            rd("SOA", "ns host 1 1h 2 3 4").unwrap()[..],
            [
                b"\x02ns\x07example\x03com\x00".as_slice(),
                b"\x04host\x07example\x03com\x00",
                &[0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]
            ]
            .concat()
        );
    }

    #[test]
    fn rejects_overlong_txt_and_extra_fields() {
        let long = format!("\"{}\"", "x".repeat(256));
        assert!(rd("TXT", &long).unwrap_err().contains("at most 255"));
        assert!(rd("A", "192.0.2.1 192.0.2.2").unwrap_err().contains("extra data"));
        assert!(rd("MX", "10").unwrap_err().contains("missing its exchange name"));
    }

    #[test]
    fn parses_generic_form() {
        assert_eq!(rd("TYPE65280", "\\# 4 0a000001").unwrap(), [10, 0, 0, 1]);
        assert_eq!(rd("A", "\\# 4 0a 00 00 01").unwrap(), [10, 0, 0, 1]);
        assert_eq!(rd("TYPE65280", "\\# 0").unwrap(), [] as [u8; 0]);
        assert!(rd("TYPE65280", "\\# 3 0a000001").unwrap_err().contains("length field"));
    }
}
