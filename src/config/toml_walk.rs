//! Strict reading of TOML with line numbers and key paths in every message.
//!
//! serde stops at the first problem; an operator fixing a file wants them all. So files are
//! parsed into toml's spanned document tree and walked by hand: every unknown key, wrong type
//! or bad value is recorded as `file:line: key.path: message`, and walking goes on.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::zone::{Diagnostic, Location};

/// A spanned TOML value.
pub type Value<'i> = Spanned<DeValue<'i>>;

/// Collects diagnostics for one file.
pub struct Walker<'t> {
    file: Arc<Path>,
    text: &'t str,
    /// Every problem found so far.
    pub errors: Vec<Diagnostic>,
    /// Everything suspicious that is still accepted.
    pub warnings: Vec<Diagnostic>,
}

impl<'t> Walker<'t> {
    /// A walker over `text`, read from `file`.
    pub fn new(file: &Path, text: &'t str) -> Self {
        Walker { file: file.into(), text, errors: Vec::new(), warnings: Vec::new() }
    }

    /// The file being walked.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// Records a problem at `span` for key `path`.
    pub fn error(&mut self, span: &Range<usize>, path: &str, message: impl std::fmt::Display) {
        let at = Location { file: self.file.clone(), line: self.line(span) };
        let message = if path.is_empty() { message.to_string() } else { format!("{path}: {message}") };
        self.errors.push(Diagnostic { at, message });
    }

    /// Records something suspicious but accepted at `span` for key `path`.
    pub fn warn(&mut self, span: &Range<usize>, path: &str, message: impl std::fmt::Display) {
        let at = Location { file: self.file.clone(), line: self.line(span) };
        let message = if path.is_empty() { message.to_string() } else { format!("{path}: {message}") };
        self.warnings.push(Diagnostic { at, message });
    }

    /// Parses the whole document; syntax errors are recorded with their line.
    pub fn parse(&mut self) -> Option<Spanned<DeTable<'t>>> {
        match DeTable::parse(self.text) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_string();
                self.error(&span, "", format!("TOML syntax error: {message}"));
                None
            }
        }
    }

    /// Reports keys of `table` not in `allowed`.
    pub fn allow_keys(&mut self, table: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let known = allowed.join(", ");
                self.error(&key.span(), &join(path, key.get_ref()), format!("unknown key (expected one of: {known})"));
            }
        }
    }

    /// The value as a table, or an error.
    pub fn table<'v, 'i>(&mut self, v: &'v Value<'i>, path: &str) -> Option<&'v DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(&v.span(), path, format!("expected a table, found {}", other.type_str()));
                None
            }
        }
    }

    /// The value as a string, or an error.
    pub fn string<'v>(&mut self, v: &'v Value<'_>, path: &str) -> Option<&'v str> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.error(&v.span(), path, format!("expected a string, found {}", other.type_str()));
                None
            }
        }
    }

    /// The value as a boolean, or an error.
    pub fn boolean(&mut self, v: &Value<'_>, path: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.error(&v.span(), path, format!("expected true or false, found {}", other.type_str()));
                None
            }
        }
    }

    /// The value as an integer in `min..=max`, or an error.
    pub fn integer(&mut self, v: &Value<'_>, path: &str, min: i64, max: i64) -> Option<i64> {
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
            other => {
                self.error(&v.span(), path, format!("expected an integer, found {}", other.type_str()));
                return None;
            }
        };
        match n.filter(|n| (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.error(&v.span(), path, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    /// The value as a number (integer or float) in `min..=max`, or an error.
    pub fn number(&mut self, v: &Value<'_>, path: &str, min: f64, max: f64) -> Option<f64> {
        let n: Option<f64> = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
            other => {
                self.error(&v.span(), path, format!("expected a number, found {}", other.type_str()));
                return None;
            }
        };
        match n.filter(|n| n.is_finite() && (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.error(&v.span(), path, format!("must be a number from {min} to {max}"));
                None
            }
        }
    }

    /// The value as an array of strings (each with its span), or an error.
    pub fn strings<'v>(&mut self, v: &'v Value<'_>, path: &str) -> Option<Vec<(&'v str, Range<usize>)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error(&v.span(), path, format!("expected an array of strings, found {}", v.get_ref().type_str()));
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{path}[{i}]")) {
                out.push((s, item.span()));
            }
        }
        Some(out)
    }
}

/// Looks up `key` in `table`.
pub fn get<'v, 'i>(table: &'v DeTable<'i>, key: &str) -> Option<&'v Value<'i>> {
    table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

/// `path.key`, quoting keys that are not bare TOML keys.
pub fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare { key.to_string() } else { format!("\"{key}\"") };
    if path.is_empty() { key } else { format!("{path}.{key}") }
}
