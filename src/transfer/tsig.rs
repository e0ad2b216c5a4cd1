//! TSIG (RFC 8945): shared-secret signatures on zone transfers and NOTIFY, both directions.
//!
//! Keys are read from files in BIND's `key "name" { algorithm ...; secret "..."; };` form (what
//! `tsig-keygen` prints, and what BIND, Knot's `keymgr -t` conversion, NSD and PowerDNS
//! operators already keep). hickory-proto reads the TSIG record of a received message and gives
//! the octets its MAC covers (the header with the record taken out and the original ID put
//! back); the MACs themselves are ring's HMAC through hickory's `TSigner`. What is signed here
//! is built here: the TSIG variables (§4.3.3), and the chain of a multi-message answer (§5.3.1:
//! each message covers the previous MAC and only the timers).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, signed_bitmessage_to_buf};

use crate::dns::{class, rtype};
use crate::query::wire::skip_name;
use crate::zone::{Diagnostic, Location, Name};

/// How far apart two clocks may be (RFC 8945 §10: 300 seconds recommended).
pub const FUDGE: u16 = 300;

/// TSIG error codes (RFC 8945 §3).
pub mod error {
    /// The MAC does not verify.
    pub const BADSIG: u16 = 16;
    /// The key is not known here.
    pub const BADKEY: u16 = 17;
    /// The time signed is outside the fudge.
    pub const BADTIME: u16 = 18;
}

/// One shared secret, by the name both ends know it by.
pub struct Key {
    /// The key's name (the TSIG record's owner).
    pub name: Name,
    /// The algorithm's name as written in key files (`hmac-sha256`).
    pub algorithm: &'static str,
    signer: TSigner,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Key").field("name", &self.name.to_string()).field("algorithm", &self.algorithm).finish()
    }
}

/// The algorithms supported, by their names in key files and on the wire.
const ALGORITHMS: &[(&str, TsigAlgorithm)] = &[
    ("hmac-sha256", TsigAlgorithm::HmacSha256),
    ("hmac-sha384", TsigAlgorithm::HmacSha384),
    ("hmac-sha512", TsigAlgorithm::HmacSha512),
];

impl Key {
    /// A key named `name` with `algorithm` (a name from key files) and `secret`.
    pub fn new(name: Name, algorithm: &str, secret: Vec<u8>) -> Result<Key, String> {
        let lower = algorithm.trim_end_matches('.').to_ascii_lowercase();
        let Some(&(algorithm, ref alg)) = ALGORITHMS.iter().find(|(n, _)| *n == lower) else {
            return Err(format!(
                "algorithm '{algorithm}' is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512 \
                 (tsig-keygen -a hmac-sha256 NAME makes a key)"
            ));
        };
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        let hname = hickory_proto::rr::Name::from_ascii(name.to_string()).map_err(|e| e.to_string())?;
        let signer = TSigner::new(secret, alg.clone(), hname, FUDGE).map_err(|e| e.to_string())?;
        Ok(Key { name, algorithm, signer })
    }

    /// The algorithm's name in wire form.
    fn algorithm_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.algorithm.len() + 2);
        out.push(self.algorithm.len() as u8);
        out.extend_from_slice(self.algorithm.as_bytes());
        out.push(0);
        out
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // Only the three algorithms above are ever built, all of which ring computes.
        self.signer.sign(data).unwrap_or_default()
    }
}

/// Keys by name (the name's lower-case wire form, [`Name::key`]).
pub type Keys = HashMap<Box<[u8]>, Arc<Key>>;

/// A message whose TSIG verified.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The key it was signed with.
    pub key: Arc<Key>,
    /// Its MAC: what the signature of the answer covers first.
    pub mac: Vec<u8>,
}

/// Why a signed message is not accepted, and what to answer (RFC 8945 §5.2: NOTAUTH with a
/// TSIG error; BADKEY and BADSIG unsigned, BADTIME signed).
#[derive(Debug, Clone)]
pub enum Failure {
    /// The TSIG record could not be read: FORMERR.
    Malformed(String),
    /// The key (or its algorithm) is not known here.
    BadKey(Name),
    /// The MAC does not verify.
    BadSig(Arc<Key>),
    /// The time signed is outside the fudge; the request's MAC, to sign the answer with.
    BadTime(Arc<Key>, Vec<u8>),
}

impl Failure {
    /// How the log says it.
    pub fn describe(&self) -> String {
        match self {
            Failure::Malformed(e) => format!("unreadable TSIG record ({e})"),
            Failure::BadKey(name) => format!("TSIG key {name} is not known here (BADKEY)"),
            Failure::BadSig(key) => format!("TSIG signature by key {} does not verify (BADSIG)", key.name),
            Failure::BadTime(key, _) => {
                format!("TSIG time signed by key {} is more than {FUDGE} s from ours (BADTIME)", key.name)
            }
        }
    }
}

/// The seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// True when the last record of `message` is a TSIG record (cheap: walks the records' headers).
pub fn is_signed(message: &[u8]) -> bool {
    last_record_type(message) == Some(rtype::TSIG)
}

fn last_record_type(p: &[u8]) -> Option<u16> {
    let count = |i: usize| Some(usize::from(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?])));
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(p, pos)? + 4;
    }
    let mut last = None;
    for _ in 0..an + ns + ar {
        let after = skip_name(p, pos)?;
        last = Some(u16::from_be_bytes([*p.get(after)?, *p.get(after + 1)?]));
        let rdlen = usize::from(u16::from_be_bytes([*p.get(after + 8)?, *p.get(after + 9)?]));
        pos = after + 10 + rdlen;
    }
    (pos == p.len()).then_some(last).flatten()
}

/// Checks the TSIG of a received request against `keys` at time `now`.
pub fn check_request(message: &[u8], keys: &Keys, now: u64) -> Result<Signed, Failure> {
    check(message, keys, None, now)
}

/// Checks the TSIG of `message`: a request (`prior` `None`), or the first answer to a request
/// whose MAC is `prior`.
fn check(message: &[u8], keys: &Keys, prior: Option<&[u8]>, now: u64) -> Result<Signed, Failure> {
    let (tbv, record) =
        signed_bitmessage_to_buf(message, prior, true).map_err(|e| Failure::Malformed(e.to_string()))?;
    let name = Name::parse(&record.name.to_ascii(), None).map_err(|e| Failure::Malformed(e.to_string()))?;
    let Some(key) = keys.get(&name.key()) else {
        return Err(Failure::BadKey(name));
    };
    let tsig = &record.data;
    if tsig.algorithm != *key.signer.algorithm() {
        return Err(Failure::BadKey(name));
    }
    // Truncated MACs (RFC 8945 §5.2.2.1) are not accepted: BIND and Knot send full ones.
    if key.signer.verify(&tbv, &tsig.mac).is_err() {
        return Err(Failure::BadSig(key.clone()));
    }
    if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
        return Err(Failure::BadTime(key.clone(), tsig.mac.clone()));
    }
    Ok(Signed { key: key.clone(), mac: tsig.mac.clone() })
}

/// What the MAC of a message covers besides the message (RFC 8945 §4.3.3, §5.3.1).
enum Variables {
    /// All of them, with this TSIG error and other data: a request, or the first answer.
    All(u16, Vec<u8>),
    /// The time signed and the fudge only: the later messages of an answer.
    Timers,
}

/// Signs `message` (complete, unsigned) with `key` at `now`: appends the TSIG record and counts
/// it in ARCOUNT. `prior` is the MAC this one follows (the request's, or the previous
/// message's); `first` says whether all variables are covered (a request or the first answer)
/// or only the timers. Returns the MAC, which the next message of a chain follows.
pub fn sign(message: &mut Vec<u8>, key: &Key, prior: Option<&[u8]>, first: bool, now: u64) -> Vec<u8> {
    let variables = if first { Variables::All(0, Vec::new()) } else { Variables::Timers };
    sign_with(message, key, prior, variables, now)
}

fn sign_with(message: &mut Vec<u8>, key: &Key, prior: Option<&[u8]>, variables: Variables, now: u64) -> Vec<u8> {
    let id = [message[0], message[1]];
    let mut tbs = Vec::with_capacity(message.len() + 128);
    if let Some(prior) = prior {
        tbs.extend_from_slice(&(prior.len() as u16).to_be_bytes());
        tbs.extend_from_slice(prior);
    }
    tbs.extend_from_slice(message);
    let algorithm = key.algorithm_wire();
    let time = time48(now);
    let (error, other) = match &variables {
        Variables::All(error, other) => {
            tbs.extend_from_slice(key.name.key().as_ref());
            tbs.extend_from_slice(&class::ANY.to_be_bytes());
            tbs.extend_from_slice(&0u32.to_be_bytes());
            tbs.extend_from_slice(&algorithm);
            tbs.extend_from_slice(&time);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
            tbs.extend_from_slice(&error.to_be_bytes());
            tbs.extend_from_slice(&(other.len() as u16).to_be_bytes());
            tbs.extend_from_slice(other);
            (*error, other.as_slice())
        }
        Variables::Timers => {
            tbs.extend_from_slice(&time);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
            (0, &[][..])
        }
    };
    let mac = key.mac(&tbs);
    append(message, key.name.wire(), &algorithm, &time, &mac, id, error, other);
    mac
}

/// Appends an unsigned TSIG record carrying `error` (BADKEY, BADSIG) to `message`.
pub fn append_error(message: &mut Vec<u8>, key_name: &Name, algorithm: Option<&Key>, error: u16, now: u64) {
    let id = [message[0], message[1]];
    let algorithm = algorithm.map_or_else(|| b"\x0bhmac-sha256\x00".to_vec(), Key::algorithm_wire);
    append(message, key_name.wire(), &algorithm, &time48(now), &[], id, error, &[]);
}

/// Signs an answer refused for BADTIME: covered like a first answer, with the server's time as
/// other data (RFC 8945 §5.2.3).
pub fn sign_badtime(message: &mut Vec<u8>, key: &Key, request_mac: &[u8], now: u64) {
    sign_with(message, key, Some(request_mac), Variables::All(error::BADTIME, time48(now).to_vec()), now);
}

fn time48(now: u64) -> [u8; 6] {
    let b = now.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[allow(clippy::too_many_arguments)]
fn append(
    message: &mut Vec<u8>,
    owner: &[u8],
    algorithm: &[u8],
    time: &[u8; 6],
    mac: &[u8],
    id: [u8; 2],
    error: u16,
    other: &[u8],
) {
    message.extend_from_slice(owner);
    message.extend_from_slice(&rtype::TSIG.to_be_bytes());
    message.extend_from_slice(&class::ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
    message.extend_from_slice(&(rdlen as u16).to_be_bytes());
    message.extend_from_slice(algorithm);
    message.extend_from_slice(time);
    message.extend_from_slice(&FUDGE.to_be_bytes());
    message.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    message.extend_from_slice(mac);
    message.extend_from_slice(&id);
    message.extend_from_slice(&error.to_be_bytes());
    message.extend_from_slice(&(other.len() as u16).to_be_bytes());
    message.extend_from_slice(other);
    let arcount = u16::from_be_bytes([message[10], message[11]]).wrapping_add(1);
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
}

/// Follows the signed messages of an answer to a request this side signed (RFC 8945 §5.3.1):
/// the first must be signed; later ones may go unsigned for up to 99 messages, each signed one
/// covering those since the last.
pub struct Verifier {
    key: Arc<Key>,
    prior: Vec<u8>,
    first: bool,
    unsigned: Vec<u8>,
    unsigned_count: usize,
}

impl Verifier {
    /// A verifier for the answers to a request signed by `key` with MAC `request_mac`.
    pub fn new(key: Arc<Key>, request_mac: Vec<u8>) -> Verifier {
        Verifier { key, prior: request_mac, first: true, unsigned: Vec::new(), unsigned_count: 0 }
    }

    /// Checks the next message of the answer.
    pub fn verify(&mut self, message: &[u8], now: u64) -> Result<(), String> {
        if !is_signed(message) {
            if self.first {
                return Err(format!("the answer is not signed with TSIG key {}", self.key.name));
            }
            self.unsigned_count += 1;
            if self.unsigned_count >= 100 {
                return Err("more than 99 messages in a row without TSIG".into());
            }
            self.unsigned.extend_from_slice(message);
            return Ok(());
        }
        let (tbv, record) =
            signed_bitmessage_to_buf(message, Some(&self.prior), self.first).map_err(|e| e.to_string())?;
        let tsig = &record.data;
        if let Some(e) = tsig.error {
            return Err(format!("the other side says TSIG error {}", u16::from(e)));
        }
        if tsig.algorithm != *self.key.signer.algorithm()
            || Name::parse(&record.name.to_ascii(), None).ok().map(|n| n.key()) != Some(self.key.name.key())
        {
            return Err(format!("the answer is signed with another key than {}", self.key.name));
        }
        // Unsigned messages since the last signed one sit between the prior MAC and this one.
        let tbv = if self.unsigned.is_empty() {
            tbv
        } else {
            let at = 2 + self.prior.len();
            let mut joined = tbv[..at].to_vec();
            joined.extend_from_slice(&self.unsigned);
            joined.extend_from_slice(&tbv[at..]);
            joined
        };
        self.key
            .signer
            .verify(&tbv, &tsig.mac)
            .map_err(|_| format!("TSIG by key {} does not verify", self.key.name))?;
        if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
            return Err(format!("TSIG time is more than {} s from ours: check the clocks", tsig.fudge));
        }
        self.prior = tsig.mac.clone();
        self.first = false;
        self.unsigned.clear();
        self.unsigned_count = 0;
        Ok(())
    }

    /// True when every message so far was covered by a signature.
    pub fn complete(&self) -> bool {
        !self.first && self.unsigned.is_empty()
    }
}

/// Reads the keys of a BIND key file (`key "name" { algorithm hmac-sha256; secret "..."; };`,
/// any number, with `#`, `//` and `/* */` comments). Every problem names the file and line.
pub fn read_key_file(path: &Path) -> Result<Vec<Key>, Vec<Diagnostic>> {
    let at = |line: usize| Location { file: path.into(), line };
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![Diagnostic { at: at(0), message: format!("cannot read the key file: {e}") }])?;
    parse_keys(&text)
        .map_err(|errors| errors.into_iter().map(|(line, message)| Diagnostic { at: at(line), message }).collect())
}

/// A token of a key file and its line.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    End,
}

fn tokens(text: &str) -> Result<Vec<(usize, Token)>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'/') => while chars.next_if(|&c| c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        None => return Err((start, "a /* comment is not closed".into())),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            prev = c;
                        }
                    }
                }
            }
            '{' => out.push((line, Token::Open)),
            '}' => out.push((line, Token::Close)),
            ';' => out.push((line, Token::End)),
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err((start, "a quoted string is not closed".into())),
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            s.push(c);
                        }
                    }
                }
                out.push((start, Token::Quoted(s)));
            }
            c => {
                let mut s = String::from(c);
                while let Some(c) = chars.next_if(|c| !c.is_whitespace() && !"{};\"".contains(*c)) {
                    s.push(c);
                }
                out.push((line, Token::Word(s)));
            }
        }
    }
    Ok(out)
}

fn parse_keys(text: &str) -> Result<Vec<Key>, Vec<(usize, String)>> {
    let tokens = tokens(text).map_err(|e| vec![e])?;
    let mut keys: Vec<Key> = Vec::new();
    let mut errors = Vec::new();
    let mut it = tokens.into_iter().peekable();
    let last_line =
        |it: &mut std::iter::Peekable<std::vec::IntoIter<(usize, Token)>>, or: usize| it.peek().map_or(or, |(l, _)| *l);
    while let Some((line, token)) = it.next() {
        let word = |t: &Token| match t {
            Token::Word(s) | Token::Quoted(s) => Some(s.clone()),
            _ => None,
        };
        if !matches!(&token, Token::Word(w) if w == "key") {
            errors.push((line, "expected 'key \"NAME\" { algorithm ...; secret \"...\"; };'".into()));
            return Err(errors);
        }
        let Some((_, name_token)) = it.next() else {
            errors.push((line, "the key has no name".into()));
            return Err(errors);
        };
        let Some(name_text) = word(&name_token) else {
            errors.push((line, "the key has no name".into()));
            return Err(errors);
        };
        if !matches!(it.next(), Some((_, Token::Open))) {
            errors.push((line, format!("key \"{name_text}\": expected '{{' after the name")));
            return Err(errors);
        }
        let mut algorithm = None;
        let mut secret = None;
        loop {
            let Some((l, t)) = it.next() else {
                errors.push((line, format!("key \"{name_text}\": not closed with '}};'")));
                return Err(errors);
            };
            match t {
                Token::Close => break,
                Token::Word(field) if field == "algorithm" || field == "secret" => {
                    let value = it.next().and_then(|(_, t)| word(&t));
                    if !matches!(it.next(), Some((_, Token::End))) {
                        errors.push((l, format!("key \"{name_text}\": {field}: expected one value and ';'")));
                        return Err(errors);
                    }
                    if field == "algorithm" {
                        algorithm = value.map(|v| (l, v));
                    } else {
                        secret = value.map(|v| (l, v));
                    }
                }
                Token::Word(other) | Token::Quoted(other) => {
                    errors.push((
                        l,
                        format!("key \"{name_text}\": unknown field '{other}' (algorithm and secret are read)"),
                    ));
                    return Err(errors);
                }
                _ => {
                    errors.push((l, format!("key \"{name_text}\": expected 'algorithm' or 'secret'")));
                    return Err(errors);
                }
            }
        }
        let end_line = last_line(&mut it, line);
        if !matches!(it.next(), Some((_, Token::End))) {
            errors.push((end_line, format!("key \"{name_text}\": expected ';' after '}}'")));
            return Err(errors);
        }
        let name = match Name::parse(&name_text, Some(&Name::root())) {
            Ok(n) => n,
            Err(e) => {
                errors.push((line, format!("key \"{name_text}\": not a valid key name: {e}")));
                continue;
            }
        };
        let (Some((al, algorithm)), Some((sl, secret))) = (algorithm, secret) else {
            errors.push((line, format!("key \"{name_text}\": needs both 'algorithm' and 'secret'")));
            continue;
        };
        let decoded = match data_encoding::BASE64.decode(secret.as_bytes()) {
            Ok(d) => d,
            Err(_) => {
                errors.push((sl, format!("key \"{name_text}\": the secret is not valid base64")));
                continue;
            }
        };
        if keys.iter().any(|k| k.name == name) {
            errors.push((line, format!("key \"{name_text}\" is defined twice")));
            continue;
        }
        match Key::new(name, &algorithm, decoded) {
            Ok(k) => keys.push(k),
            Err(e) => errors.push((al, format!("key \"{name_text}\": {e}"))),
        }
    }
    if errors.is_empty() { Ok(keys) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# made by tsig-keygen\nkey \"xfr.example.\" {\n\talgorithm hmac-sha256;\n\tsecret \
                        \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=\";\n};\n/* a second\n one */ key other { \
                        algorithm HMAC-SHA512; secret \"b3RoZXI=\"; }; // done\n";

    fn keys() -> Keys {
        parse_keys(FILE).unwrap().into_iter().map(|k| (k.name.key(), Arc::new(k))).collect()
    }

    #[test]
    fn bind_key_files_are_read_with_their_comments() {
        let keys = parse_keys(FILE).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].name.to_string(), "xfr.example.");
        assert_eq!(keys[0].algorithm, "hmac-sha256");
        assert_eq!(keys[1].name.to_string(), "other.");
        assert_eq!(keys[1].algorithm, "hmac-sha512");
        assert!(!format!("{:?}", keys[0]).contains("c2Vj"), "the secret never shows in Debug");
    }

    #[test]
    fn bad_key_files_are_refused_with_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("key a { algorithm hmac-md5; secret \"YQ==\"; };", 1, "'hmac-md5' is not supported"),
            ("key a {\n algorithm hmac-sha256;\n secret \"%%%\";\n};", 3, "not valid base64"),
            ("key a {\n algorithm hmac-sha256;\n};", 1, "needs both 'algorithm' and 'secret'"),
            ("key a {\n algorithm hmac-sha256;\n secrte \"YQ==\";\n};", 3, "unknown field 'secrte'"),
            ("key a { algorithm hmac-sha256; secret \"YQ==\"; }", 1, "expected ';' after '}'"),
            (
                "key \"a\" { algorithm hmac-sha256; secret \"YQ==\"; };\nkey a. { algorithm hmac-sha256; secret \"YQ==\"; };",
                2,
                "defined twice",
            ),
            ("\n\nsecret \"x\";", 3, "expected 'key"),
            ("key a { algorithm hmac-sha256; secret \"YQ==; };", 1, "quoted string is not closed"),
        ];
        for (text, line, message) in cases {
            let errors = parse_keys(text).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert_eq!(errors[0].0, *line, "{text:?}: {errors:?}");
            assert!(errors[0].1.contains(message), "{text:?}: {errors:?}");
        }
    }

    fn query() -> Vec<u8> {
        let mut p = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(b"\x07example\x00\x00\xfc\x00\x01");
        p
    }

    #[test]
    fn a_signed_request_verifies_and_anything_else_is_named() {
        let keys = keys();
        let key = keys.values().find(|k| k.algorithm == "hmac-sha256").unwrap().clone();
        let now = 1_764_000_000;
        let mut signed = query();
        let mac = sign(&mut signed, &key, None, true, now);
        assert!(is_signed(&signed) && !is_signed(&query()));
        let ok = check_request(&signed, &keys, now + 10).expect("verifies");
        assert_eq!(ok.mac, mac);
        assert_eq!(ok.key.name, key.name);
        // One bit changed in the question: BADSIG.
        let mut bad = signed.clone();
        bad[14] ^= 0x20;
        assert!(matches!(check_request(&bad, &keys, now), Err(Failure::BadSig(_))));
        // Too far from our clock: BADTIME.
        assert!(matches!(check_request(&signed, &keys, now + 301), Err(Failure::BadTime(..))));
        // A key we do not have: BADKEY.
        let stranger = Key::new(Name::parse("stranger.", None).unwrap(), "hmac-sha256", b"x".to_vec()).unwrap();
        let mut unknown = query();
        sign(&mut unknown, &stranger, None, true, now);
        assert!(matches!(check_request(&unknown, &keys, now), Err(Failure::BadKey(n)) if n.to_string() == "stranger."));
    }

    #[test]
    fn a_chain_of_answers_verifies_in_order_and_only_in_order() {
        let keys = keys();
        let key = keys.values().next().unwrap().clone();
        let now = 1_764_000_000;
        let mut request = query();
        let request_mac = sign(&mut request, &key, None, true, now);
        let mut answers = Vec::new();
        let mut prior = request_mac.clone();
        for i in 0..3u8 {
            let mut m = query();
            m[2] = 0x84;
            m.push(i); // not a valid message body, but the chain only covers octets
            m.pop();
            prior = sign(&mut m, &key, Some(&prior), i == 0, now);
            answers.push(m);
        }
        let mut v = Verifier::new(key.clone(), request_mac.clone());
        for a in &answers {
            v.verify(a, now).unwrap();
        }
        assert!(v.complete());
        // Out of order: the second message first fails.
        let mut v = Verifier::new(key.clone(), request_mac);
        assert!(v.verify(&answers[1], now).is_err());
        // An unsigned first answer is refused.
        let mut v = Verifier::new(key, vec![1; 32]);
        assert!(v.verify(&query(), now).unwrap_err().contains("not signed"));
    }
}
