//! Master files -> records, with directives (RFC 1035 §5.1, RFC 2308 §4, BIND's `$GENERATE`).
//!
//! Every problem is reported with its file and line, and parsing goes on after a bad entry so
//! that `meridian check` can list every error of a file at once. The rules follow BIND 9, the
//! reference operators test with (`named-checkzone`):
//! - `$ORIGIN` and the previous owner are scoped to their file: an `$INCLUDE` restores both
//!   when it returns; `$TTL` is not scoped (BIND carries it back out of an include).
//! - A record without a TTL takes `$TTL`; without `$TTL`, the SOA's MINIMUM (BIND warns).
//! - A TTL above 2^31-1 becomes 0 (RFC 2181 §8), with a warning.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{self, Entry, Token};
use super::name::{self, Name};
use super::rdata;
use crate::dns::{self, rtype};

/// Nesting bound for `$INCLUDE`. BIND has none and loops until it runs out of file
/// descriptors; 16 levels is far beyond any real layout and stops include cycles.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Largest TTL kept as written (RFC 2181 §8); larger values are read as 0.
pub const MAX_TTL: u32 = 0x7fff_ffff;

/// Largest number of records one `$GENERATE` may make. BIND has no bound; 65536 is the
/// size of the largest range an operator writes for a /16 of PTR records.
pub const MAX_GENERATE: u64 = 65_536;

/// One record read from a master file.
#[derive(Debug, Clone)]
pub struct Record {
    /// Owner name.
    pub owner: Name,
    /// Record type.
    pub rtype: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// Record data in uncompressed wire format.
    pub rdata: Vec<u8>,
    /// Where it was written.
    pub at: Location,
}

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: Arc<Path>,
    /// Line number, 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A problem found in a file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where.
    pub at: Location,
    /// What, in lower case, saying what to do where it helps.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What parsing a master file produced.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Errors: the zone must not be loaded when there is any.
    pub errors: Vec<Diagnostic>,
    /// Warnings: reported, the zone still loads.
    pub warnings: Vec<Diagnostic>,
    /// Every file read: the zone file, then the files it included, in the order read.
    pub files: Vec<PathBuf>,
}

struct State<'s> {
    default_ttl: Option<u32>,
    /// Set once the SOA is read when there is no `$TTL` (BIND's fallback).
    soa_minimum: Option<u32>,
    out: Parsed,
    /// Where each record goes as it is read.
    sink: &'s mut dyn FnMut(Record),
}

struct FileScope<'a> {
    file: Arc<Path>,
    origin: Name,
    last_owner: Option<Name>,
    depth: usize,
    include_stack: &'a [PathBuf],
}

/// Parses the master file at `path` for the zone `origin`.
pub fn parse_file(path: &Path, origin: &Name) -> Parsed {
    let mut records = Vec::new();
    let mut parsed = read_file_into(path, origin, &mut |r| records.push(r));
    parsed.records = records;
    parsed
}

/// Parses the master file at `path` for the zone `origin`, handing each record to `sink` as
/// it is read, so that no more than one record is held here at a time: the `Parsed` returned
/// has the diagnostics and files, and no records.
pub fn read_file_into(path: &Path, origin: &Name, sink: &mut dyn FnMut(Record)) -> Parsed {
    let mut state = State { default_ttl: None, soa_minimum: None, out: Parsed::default(), sink };
    read_file(path, origin.clone(), 0, &[], &mut state, None);
    state.out
}

/// Parses master-file `text` as if read from `path`; `$INCLUDE` paths resolve beside `path`.
pub fn parse_text(path: &Path, text: &str, origin: &Name) -> Parsed {
    let mut records = Vec::new();
    let mut sink = |r| records.push(r);
    let mut state = State { default_ttl: None, soa_minimum: None, out: Parsed::default(), sink: &mut sink };
    let file: Arc<Path> = path.into();
    let mut scope = FileScope { file, origin: origin.clone(), last_owner: None, depth: 0, include_stack: &[] };
    parse_entries(text, &mut scope, &mut state);
    let mut parsed = state.out;
    parsed.records = records;
    parsed
}

fn read_file(
    path: &Path,
    origin: Name,
    depth: usize,
    stack: &[PathBuf],
    state: &mut State<'_>,
    included_at: Option<&Location>,
) {
    let file: Arc<Path> = path.into();
    state.out.files.push(path.to_path_buf());
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            // Zone files are octets; names and strings may hold any byte through escapes, but
            // raw non-UTF-8 octets are kept as they are by a lossless Latin-1 reading.
            Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
        },
        Err(e) => {
            let at = included_at.cloned().unwrap_or(Location { file: file.clone(), line: 0 });
            state.out.errors.push(Diagnostic { at, message: format!("cannot read {}: {e}", path.display()) });
            return;
        }
    };
    let mut inner_stack = stack.to_vec();
    inner_stack.push(path.to_path_buf());
    let mut scope = FileScope { file, origin, last_owner: None, depth, include_stack: &inner_stack };
    parse_entries(&text, &mut scope, state);
}

fn parse_entries(text: &str, scope: &mut FileScope<'_>, state: &mut State<'_>) {
    for entry in lexer::Lexer::new(text) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let at = Location { file: scope.file.clone(), line: e.line };
                state.out.errors.push(Diagnostic { at, message: e.message });
                return;
            }
        };
        let entry = &entry;
        let at = Location { file: scope.file.clone(), line: entry.line };
        let first = &entry.tokens[0];
        let result = if !entry.blank_owner && !first.quoted && first.text.starts_with('$') {
            directive(entry, &at, scope, state)
        } else {
            record(entry, &at, scope, state)
        };
        if let Err(message) = result {
            state.out.errors.push(Diagnostic { at, message });
        }
    }
}

fn directive(entry: &Entry, at: &Location, scope: &mut FileScope<'_>, state: &mut State<'_>) -> Result<(), String> {
    let args = &entry.tokens[1..];
    let keyword = entry.tokens[0].text.to_ascii_uppercase();
    match keyword.as_str() {
        "$ORIGIN" => {
            let [name] = args else {
                return Err("$ORIGIN takes exactly one domain name".into());
            };
            scope.origin = Name::parse(&name.text, Some(&scope.origin))
                .map_err(|e| format!("$ORIGIN '{}' is not a valid name: {e}", name.text))?;
            Ok(())
        }
        "$TTL" => {
            let [ttl] = args else {
                return Err("$TTL takes exactly one TTL".into());
            };
            let value = rdata::parse_ttl(&ttl.text).ok_or_else(|| format!("$TTL '{}' is not a valid TTL", ttl.text))?;
            state.default_ttl = Some(clamp_ttl(value, at, state));
            Ok(())
        }
        "$INCLUDE" => {
            let (file, origin) = match args {
                [file] => (file, scope.origin.clone()),
                [file, origin] => (
                    file,
                    Name::parse(&origin.text, Some(&scope.origin))
                        .map_err(|e| format!("$INCLUDE origin '{}' is not a valid name: {e}", origin.text))?,
                ),
                _ => return Err("$INCLUDE takes a file name and an optional origin".into()),
            };
            if scope.depth + 1 > MAX_INCLUDE_DEPTH {
                return Err(format!(
                    "$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep (is a file including itself?)"
                ));
            }
            let base = scope.file.parent().unwrap_or(Path::new("."));
            let path = base.join(&file.text);
            if scope.include_stack.iter().any(|p| p == &path) {
                return Err(format!("$INCLUDE of {} would include itself", path.display()));
            }
            // The included file has its own origin and previous owner; both come back
            // unchanged afterwards (RFC 1035 §5.1). `$TTL` set inside stays set, as in BIND.
            read_file(&path, origin, scope.depth + 1, scope.include_stack, state, Some(at));
            Ok(())
        }
        "$GENERATE" => generate(args, at, scope, state),
        _ => Err(format!("unknown directive '{}' (known: $ORIGIN, $TTL, $INCLUDE, $GENERATE)", entry.tokens[0].text)),
    }
}

fn clamp_ttl(value: u32, at: &Location, state: &mut State<'_>) -> u32 {
    if value > MAX_TTL {
        state.out.warnings.push(Diagnostic {
            at: at.clone(),
            message: format!("TTL {value} is above 2147483647 and is read as 0 (RFC 2181 section 8)"),
        });
        0
    } else {
        value
    }
}

fn is_class(text: &str) -> Option<&'static str> {
    // Every record's type passes through here: only a word that can be a class is copied.
    if text.len() > "CLASS65535".len() || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "IN" | "CLASS1" => Some("IN"),
        "CH" | "CLASS3" => Some("CH"),
        "HS" | "CLASS4" => Some("HS"),
        "CS" | "CLASS2" => Some("CS"),
        "NONE" | "CLASS254" => Some("NONE"),
        "ANY" | "CLASS255" => Some("ANY"),
        _ if upper.starts_with("CLASS") && upper[5..].parse::<u16>().is_ok() => Some("other"),
        _ => None,
    }
}

fn record(entry: &Entry, at: &Location, scope: &mut FileScope<'_>, state: &mut State<'_>) -> Result<(), String> {
    let mut tokens = entry.tokens.as_slice();
    let owner = if entry.blank_owner {
        scope.last_owner.clone().ok_or("record has no owner name and there is no previous owner to repeat")?
    } else {
        let text = &tokens[0].text;
        tokens = &tokens[1..];
        Name::parse(text, Some(&scope.origin)).map_err(|e| format!("owner name '{text}' is not valid: {e}"))?
    };
    scope.last_owner = Some(owner.clone());

    // TTL and class may come in either order, each at most once (RFC 1035 §5.1).
    let mut ttl = None;
    let mut class = None;
    while let Some(token) = tokens.first() {
        if ttl.is_none() && !token.quoted && token.text.starts_with(|c: char| c.is_ascii_digit()) {
            let value = rdata::parse_ttl(&token.text).ok_or_else(|| format!("'{}' is not a valid TTL", token.text))?;
            ttl = Some(value);
        } else if class.is_none() && !token.quoted && is_class(&token.text).is_some() {
            class = is_class(&token.text);
        } else {
            break;
        }
        tokens = &tokens[1..];
    }
    if let Some(class) = class.filter(|&c| c != "IN") {
        return Err(format!("class {class} does not match the zone's class IN (Meridian serves class IN only)"));
    }
    let Some((type_token, rdata_tokens)) = tokens.split_first() else {
        return Err("record has no type".into());
    };
    let rtype =
        dns::type_from_text(&type_token.text).ok_or_else(|| format!("unknown record type '{}'", type_token.text))?;
    if dns::is_meta_type(rtype) {
        return Err(format!("type {} is a query or meta type and cannot be stored in a zone", type_token.text));
    }
    let data = rdata::parse(rtype, rdata_tokens, &scope.origin)?;
    // A name that ends with the zone's own name but has no final dot is read relative to the
    // zone: almost always a forgotten dot. It loads (BIND loads it silently), with a warning.
    let owner_token = (!entry.blank_owner).then(|| &entry.tokens[0]);
    for token in owner_token.into_iter().chain(rdata_tokens.iter()).filter(|t| !t.quoted) {
        if name::looks_absolute(&token.text, &scope.origin)
            && let Ok(read_as) = Name::parse(&token.text, Some(&scope.origin))
        {
            state
                .out
                .warnings
                .push(Diagnostic { at: at.clone(), message: name::missing_dot_warning(&token.text, &read_as) });
        }
    }
    if rtype == rtype::SOA && state.default_ttl.is_none() && state.soa_minimum.is_none() {
        // The MINIMUM field is the last four octets of the SOA data.
        let min = u32::from_be_bytes([
            data[data.len() - 4],
            data[data.len() - 3],
            data[data.len() - 2],
            data[data.len() - 1],
        ]);
        state.soa_minimum = Some(clamp_ttl(min, at, state));
    }
    let ttl = match ttl {
        Some(value) => clamp_ttl(value, at, state),
        None => match (state.default_ttl, state.soa_minimum) {
            (Some(t), _) => t,
            (None, Some(min)) => {
                state.out.warnings.push(Diagnostic {
                    at: at.clone(),
                    message: "no TTL given and no $TTL set: using the SOA MINIMUM".into(),
                });
                min
            }
            (None, None) => {
                return Err("no TTL given and no $TTL set before this record: add '$TTL 3600' at the top".into());
            }
        },
    };
    (state.sink)(Record { owner, rtype, ttl, rdata: data, at: at.clone() });
    Ok(())
}

/// Widest `$GENERATE` field: a domain name holds at most 255 octets (RFC 1035 §2.3.4).
const MAX_GENERATE_WIDTH: usize = 255;

/// BIND's `$GENERATE range lhs [ttl] [class] type rhs`: `$` in lhs and rhs becomes the
/// iterator, `${offset,width,base}` formats it, `\$` is a literal dollar.
fn generate(args: &[Token], at: &Location, scope: &mut FileScope<'_>, state: &mut State<'_>) -> Result<(), String> {
    let usage = "$GENERATE takes: start-stop[/step] owner [ttl] [class] type rdata";
    let [range, lhs, rest @ ..] = args else {
        return Err(usage.into());
    };
    let (bounds, step) = match range.text.split_once('/') {
        Some((b, s)) => (b, s.parse::<u64>().ok().filter(|&s| s > 0).ok_or(usage)?),
        None => (range.text.as_str(), 1),
    };
    let (start, stop) = bounds
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .filter(|(a, b)| a <= b)
        .ok_or_else(|| format!("$GENERATE range '{}' is not start-stop with start <= stop", range.text))?;
    if (stop - start) / step + 1 > MAX_GENERATE {
        return Err(format!("$GENERATE range makes more than {MAX_GENERATE} records"));
    }
    // BIND substitutes into the text of the right-hand side and reads the result again, so
    // quotes do not survive: `TXT "gen $"` makes the two strings `gen` and `1`.
    let rhs_text: Vec<String> = rest.iter().map(|t| t.text.clone()).collect();
    let mut i = start;
    while i <= stop {
        let mut text = substitute(&lhs.text, i)?;
        for t in &rhs_text {
            text.push(' ');
            text.push_str(&substitute(t, i)?);
        }
        let mut entries = lexer::entries(&text).map_err(|e| format!("$GENERATE makes a bad record: {}", e.message))?;
        let Some(mut entry) = entries.pop().filter(|_| entries.is_empty()) else {
            return Err("$GENERATE makes a bad record".into());
        };
        for t in &mut entry.tokens {
            t.line = at.line;
        }
        entry.line = at.line;
        let saved_owner = scope.last_owner.clone();
        record(&entry, at, scope, state)?;
        scope.last_owner = saved_owner;
        i += step;
    }
    Ok(())
}

fn substitute(template: &str, value: u64) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    if next == '$' {
                        out.pop();
                    }
                    out.push(next);
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let spec: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let mut parts = spec.split(',');
                let offset: i64 =
                    parts.next().unwrap_or("0").parse().map_err(|_| format!("bad $GENERATE modifier '{{{spec}}}'"))?;
                // A name holds at most 255 octets, so no wider field can be part of one.
                let width: usize = parts
                    .next()
                    .unwrap_or("0")
                    .parse()
                    .ok()
                    .filter(|&w| w <= MAX_GENERATE_WIDTH)
                    .ok_or_else(|| format!("bad $GENERATE modifier '{{{spec}}}' (a width of at most 255)"))?;
                let base = parts.next().unwrap_or("d");
                // BIND works on 32-bit values: a sum outside them is an error, and a negative
                // one is printed signed in decimal and as its 32-bit pattern in the other bases.
                let v = (value as i64)
                    .checked_add(offset)
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(|| format!("$GENERATE modifier '{{{spec}}}' makes a number out of range"))?;
                let bits = v as u32;
                let text = match base {
                    "d" => format!("{v:0width$}"),
                    "o" => format!("{bits:0width$o}"),
                    "x" => format!("{bits:0width$x}"),
                    "X" => format!("{bits:0width$X}"),
                    // Nibbles for ip6.arpa: hex digits lowest first, joined by dots; the width
                    // counts characters, dots included, padding with further zero nibbles.
                    "n" | "N" => {
                        let hex = if base == "n" { format!("{bits:x}") } else { format!("{bits:X}") };
                        let mut nibbles: String =
                            hex.chars().rev().flat_map(|c| [c, '.']).collect::<String>().trim_end_matches('.').into();
                        while nibbles.len() < width {
                            nibbles.push_str(".0");
                        }
                        if nibbles.len() > width && width > hex.len() * 2 - 1 {
                            nibbles.truncate(width);
                        }
                        nibbles
                    }
                    _ => return Err(format!("$GENERATE base '{base}' is not one of d o x X n N")),
                };
                out.push_str(&text);
            }
            '$' => out.push_str(&value.to_string()),
            c => out.push(c),
        }
    }
    Ok(out)
}
