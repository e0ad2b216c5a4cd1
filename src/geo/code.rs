//! Short upper-case region codes (continent, country, subdivision) kept inline, so that a
//! location is `Copy` and locating a client allocates nothing.

use std::fmt;

/// A region code of one to three ASCII letters or digits, stored upper-case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    bytes: [u8; 3],
    len: u8,
}

impl Code {
    /// Parses a code of 1-3 ASCII letters or digits, upper-casing it.
    pub fn new(text: &str) -> Option<Code> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > 3 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut bytes = [0u8; 3];
        for (d, s) in bytes.iter_mut().zip(b) {
            *d = s.to_ascii_uppercase();
        }
        Some(Code { bytes, len: b.len() as u8 })
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn parses_and_uppercases() {
        assert_eq!(Code::new("nl").unwrap().as_str(), "NL");
        assert_eq!(Code::new("CA").unwrap(), Code::new("ca").unwrap());
        assert!(Code::new("").is_none());
        assert!(Code::new("ABCD").is_none());
        assert!(Code::new("U-").is_none());
    }
}
