//! Domain names in uncompressed wire format.
//!
//! A [`Name`] holds the label sequence exactly as it goes on the wire (length-prefixed labels,
//! ending with the root label), with the case the zone file gave. Lookups use the lower-cased
//! wire form ([`Name::key`]), so comparison is case-insensitive as RFC 4343 requires while the
//! data keeps its spelling.

use std::fmt;

/// Longest name on the wire, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A fully qualified domain name in uncompressed wire format.
#[derive(Clone, Eq)]
pub struct Name(Box<[u8]>);

/// Why a name could not be parsed from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A label is longer than 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// The name is longer than 255 octets.
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A backslash escape is cut short or out of range.
    #[error("bad escape sequence")]
    BadEscape,
    /// A relative name where no origin is known.
    #[error("relative name with no origin")]
    NoOrigin,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name(Box::new([0]))
    }

    /// Builds a name from wire bytes the caller has already validated (labels well formed,
    /// root-terminated, at most 255 octets).
    pub fn from_wire_unchecked(wire: &[u8]) -> Name {
        debug_assert!(valid_wire(wire));
        Name(wire.into())
    }

    /// Builds a name from uncompressed wire bytes, checking their shape.
    pub fn from_wire(wire: &[u8]) -> Option<Name> {
        valid_wire(wire).then(|| Name(wire.into()))
    }

    /// Parses a presentation-format name (RFC 1035 §5.1): `\X` and `\DDD` escapes, `@` for the
    /// origin, and relative names completed with `origin`.
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "@" {
            return origin.cloned().ok_or(NameError::NoOrigin);
        }
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire = Vec::with_capacity(bytes.len() + 2);
        let mut label = Vec::with_capacity(MAX_LABEL_LEN);
        let mut i = 0;
        let mut absolute = false;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel);
                    }
                    push_label(&mut wire, &label)?;
                    label.clear();
                    if i + 1 == bytes.len() {
                        absolute = true;
                    }
                    i += 1;
                }
                b'\\' => {
                    let (byte, used) = unescape_at(bytes, i)?;
                    label.push(byte);
                    i += used;
                }
                _ => {
                    label.push(c);
                    i += 1;
                }
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        if !label.is_empty() {
            push_label(&mut wire, &label)?;
        }
        if absolute {
            wire.push(0);
        } else {
            let origin = origin.ok_or(NameError::NoOrigin)?;
            wire.extend_from_slice(&origin.0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Name(wire.into()))
    }

    /// The wire bytes, case as given.
    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    /// The lower-cased wire bytes: the key every lookup uses.
    pub fn key(&self) -> Box<[u8]> {
        self.0.to_ascii_lowercase().into()
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        label_count(&self.0)
    }

    /// True when `self` equals `other` or lies below it.
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        is_subdomain(&self.0, &other.0)
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// The name with its first label removed; the root's parent is the root.
    pub fn parent(&self) -> Name {
        if self.is_root() {
            return self.clone();
        }
        let skip = 1 + self.0[0] as usize;
        Name(self.0[skip..].into())
    }

    /// Replaces the `suffix` at the end of `self` with `target` (DNAME substitution,
    /// RFC 6672 §2.2). `None` when the result would exceed 255 octets.
    pub fn replace_suffix(&self, suffix_len: usize, target: &Name) -> Option<Name> {
        let keep = self.0.len() - suffix_len;
        let mut wire = Vec::with_capacity(keep + target.0.len());
        wire.extend_from_slice(&self.0[..keep]);
        wire.extend_from_slice(&target.0);
        (wire.len() <= MAX_NAME_LEN).then(|| Name(wire.into()))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.iter() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_presentation(&self.0, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Writes wire-format labels in presentation format, escaping as RFC 4343 §2.1 describes.
pub fn write_presentation(wire: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    if wire.len() <= 1 {
        return f.write_char('.');
    }
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        let len = wire[i] as usize;
        for &b in &wire[i + 1..i + 1 + len] {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", b as char)?,
                0x21..=0x7e => f.write_char(b as char)?,
                _ => write!(f, "\\{b:03}")?,
            }
        }
        f.write_char('.')?;
        i += 1 + len;
    }
    Ok(())
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), NameError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    if wire.len() > MAX_NAME_LEN {
        return Err(NameError::NameTooLong);
    }
    Ok(())
}

/// Decodes the escape starting at `bytes[i] == b'\\'`: `\DDD` (three decimal digits, at most
/// 255) or `\X` (the character itself). Returns the byte and how many input bytes it used.
pub fn unescape_at(bytes: &[u8], i: usize) -> Result<(u8, usize), NameError> {
    let rest = &bytes[i + 1..];
    match rest.first() {
        None => Err(NameError::BadEscape),
        Some(d) if d.is_ascii_digit() => {
            if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
                return Err(NameError::BadEscape);
            }
            let value = rest[..3].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            u8::try_from(value).map(|b| (b, 4)).map_err(|_| NameError::BadEscape)
        }
        Some(&c) => Ok((c, 2)),
    }
}

/// Checks that `wire` is a well-formed uncompressed name.
pub fn valid_wire(wire: &[u8]) -> bool {
    if wire.is_empty() || wire.len() > MAX_NAME_LEN {
        return false;
    }
    let mut i = 0;
    loop {
        let Some(&len) = wire.get(i) else {
            return false;
        };
        if len == 0 {
            return i + 1 == wire.len();
        }
        if len as usize > MAX_LABEL_LEN {
            return false;
        }
        i += 1 + len as usize;
    }
}

/// Number of labels in wire-format `wire`, not counting the root.
pub fn label_count(wire: &[u8]) -> usize {
    let mut i = 0;
    let mut n = 0;
    while i < wire.len() && wire[i] != 0 {
        i += 1 + wire[i] as usize;
        n += 1;
    }
    n
}

/// True when wire name `name` equals `ancestor` or lies below it (case-insensitive).
pub fn is_subdomain(name: &[u8], ancestor: &[u8]) -> bool {
    if ancestor.len() > name.len() {
        return false;
    }
    let start = name.len() - ancestor.len();
    // The suffix must begin on a label boundary of `name`.
    let mut i = 0;
    while i < start {
        i += 1 + name[i] as usize;
    }
    i == start && name[start..].eq_ignore_ascii_case(ancestor)
}

/// Offsets at which each suffix of wire name `wire` starts, longest first (the root excluded).
pub fn label_starts(wire: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= wire.len() || wire[i] == 0 {
            return None;
        }
        let here = i;
        i += 1 + wire[i] as usize;
        Some(here)
    })
}

/// True when `text`, a name relative to `origin`, ends with the origin's own name: most likely
/// an absolute name whose final dot was forgotten (`www.example.com` in the zone
/// `example.com.` is read as `www.example.com.example.com.`).
pub fn looks_absolute(text: &str, origin: &Name) -> bool {
    if text.ends_with('.') || text == "@" || origin.is_root() {
        return false;
    }
    // Most tokens of a zone file fail at once: they do not end with the origin's last label.
    // (Labels that need escapes in text are left to the full comparison.)
    if let Some(start) = label_starts(origin.wire()).last() {
        let last = &origin.wire()[start + 1..origin.wire().len() - 1];
        let plain = last.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        let tail = text.len().checked_sub(last.len()).and_then(|at| text.as_bytes().get(at..));
        if plain && !tail.is_some_and(|tail| tail.eq_ignore_ascii_case(last)) {
            return false;
        }
    }
    let origin = origin.to_string().to_ascii_lowercase();
    let origin = origin.trim_end_matches('.');
    let text = text.to_ascii_lowercase();
    text == origin || text.strip_suffix(origin).is_some_and(|head| head.ends_with('.'))
}

/// The warning for a name [`looks_absolute`] flags, saying how it was read.
pub fn missing_dot_warning(text: &str, read_as: &Name) -> String {
    format!("'{text}' has no final dot, so it is read as {read_as}; if {text}. was meant, end it with a dot")
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_relative_names_that_end_with_the_origin() {
        let origin = Name::parse("example.com.", None).unwrap();
        for (text, flagged) in [
            ("www.example.com", true),
            ("WWW.Example.COM", true),
            ("example.com", true),
            ("www.example.com.", false),
            ("www", false),
            ("@", false),
            ("www.notexample.com", false),
            ("example.com.org", false),
        ] {
            assert_eq!(looks_absolute(text, &origin), flagged, "{text}");
        }
        assert!(!looks_absolute("www.example.com", &Name::root()));
    }

    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s, None).unwrap()
    }

    #[test]
    fn parses_absolute_and_relative_names() {
        let origin = n("example.com.");
        assert_eq!(n("www.example.com.").wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(Name::parse("www", Some(&origin)).unwrap(), n("www.example.com."));
        assert_eq!(Name::parse("@", Some(&origin)).unwrap(), origin);
        assert_eq!(Name::parse("www", None), Err(NameError::NoOrigin));
    }

    #[test]
    fn decodes_escapes() {
        let name = Name::parse("a\\.b\\065\\\\.", None).unwrap();
        assert_eq!(name.wire(), b"\x05a.bA\\\x00");
        assert_eq!(name.to_string(), "a\\.bA\\\\.");
        assert_eq!(Name::parse("a\\256.", None), Err(NameError::BadEscape));
        assert_eq!(Name::parse("a\\2", None), Err(NameError::BadEscape));
    }

    #[test]
    fn rejects_oversized_and_empty_labels() {
        let long = "a".repeat(64);
        assert_eq!(Name::parse(&format!("{long}."), None), Err(NameError::LabelTooLong));
        let many = "abcdefghi.".repeat(26);
        assert_eq!(Name::parse(&many, None), Err(NameError::NameTooLong));
        assert_eq!(Name::parse("a..b.", None), Err(NameError::EmptyLabel));
    }

    #[test]
    fn compares_case_insensitively() {
        assert_eq!(n("WWW.Example.COM."), n("www.example.com."));
        assert!(n("a.b.Example.com.").is_subdomain_of(&n("example.COM.")));
        assert!(!n("aexample.com.").is_subdomain_of(&n("example.com.")));
        assert!(n("x.").is_subdomain_of(&Name::root()));
    }

    #[test]
    fn walks_labels() {
        let name = n("a.bc.d.");
        assert_eq!(name.label_count(), 3);
        assert_eq!(label_starts(name.wire()).collect::<Vec<_>>(), vec![0, 2, 5]);
        assert_eq!(name.parent(), n("bc.d."));
        let dname = n("x.old.example.").replace_suffix(n("old.example.").wire().len(), &n("new.test.")).unwrap();
        assert_eq!(dname, n("x.new.test."));
    }
}
