//! Zone keys in BIND's `dnssec-keygen` files: `K<zone>.+<alg>+<tag>.key` (the DNSKEY record,
//! with comments) and `.private` (`Private-key-format: v1.3`, the private key and the key's
//! timing metadata). Read from the key directory, written by `meridian key generate`, so keys
//! move between Meridian and BIND's tools both ways.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use data_encoding::{BASE64, HEXUPPER};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::zone::Name;

pub use crate::dns::dnskey::{SEP, ZONE as ZONE_KEY};

/// The signing algorithms Meridian signs with (RFC 8624 §3.1: the two recommended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 13: ECDSA with curve P-256 and SHA-256 (RFC 6605).
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The algorithm number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm with that number, if Meridian signs with it.
    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The mnemonic BIND writes after the number.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// Reads `13`, `15` or a mnemonic (any case; `ecdsa` and `ed25519` too).
    pub fn parse(text: &str) -> Option<Algorithm> {
        match text.to_ascii_lowercase().as_str() {
            "13" | "ecdsap256sha256" | "ecdsa" | "ecdsa256" => Some(Algorithm::EcdsaP256Sha256),
            "15" | "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// When a key enters and leaves the zone (BIND's timing metadata, seconds since the epoch):
/// published in the DNSKEY set from `publish` until `delete`, signing from `activate` until
/// `inactive`. An unset time is never reached (an unset `publish` or `activate`: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// Created.
    pub created: Option<u64>,
    /// Enters the DNSKEY set.
    pub publish: Option<u64>,
    /// Starts signing.
    pub activate: Option<u64>,
    /// Stops signing.
    pub inactive: Option<u64>,
    /// Leaves the DNSKEY set.
    pub delete: Option<u64>,
    /// Its CDS and CDNSKEY appear (asking the parent to add its DS).
    pub sync_publish: Option<u64>,
    /// Its CDS and CDNSKEY go.
    pub sync_delete: Option<u64>,
}

impl Timing {
    fn between(from: Option<u64>, until: Option<u64>, now: u64) -> bool {
        from.is_some_and(|t| t <= now) && until.is_none_or(|t| now < t)
    }

    /// In the DNSKEY set at `now`.
    pub fn published(&self, now: u64) -> bool {
        Timing::between(self.publish.or(self.activate), self.delete, now)
    }

    /// Signing at `now`.
    pub fn active(&self, now: u64) -> bool {
        Timing::between(self.activate, self.inactive, now) && self.published(now)
    }

    /// Its CDS and CDNSKEY published at `now`.
    pub fn synced(&self, now: u64) -> bool {
        Timing::between(self.sync_publish, self.sync_delete, now) && self.published(now)
    }

    /// The times at which something changes, in order.
    pub fn events(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("publish", self.publish),
            ("activate", self.activate),
            ("sync-publish", self.sync_publish),
            ("sync-delete", self.sync_delete),
            ("inactive", self.inactive),
            ("delete", self.delete),
        ]
        .into_iter()
        .filter_map(|(what, t)| t.map(|t| (what, t)))
    }
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One zone key: its DNSKEY, its private half, and when it is used.
pub struct Key {
    /// The zone.
    pub zone: Name,
    /// DNSKEY flags (ZONE, and SEP for a key-signing or combined key).
    pub flags: u16,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The key tag (RFC 4034 Appendix B).
    pub tag: u16,
    /// The DNSKEY record's data.
    pub dnskey: Vec<u8>,
    /// The timing metadata.
    pub timing: Timing,
    /// The `.private` file it was read from.
    pub file: PathBuf,
    pair: Pair,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} {} {} {})", self.zone, self.flags, self.algorithm.number(), self.tag)
    }
}

impl Key {
    /// A key-signing or combined key (the SEP flag).
    pub fn is_sep(&self) -> bool {
        self.flags & SEP != 0
    }

    /// BIND's base name: `K<zone>.+<alg>+<tag>`.
    pub fn base_name(&self) -> String {
        base_name(&self.zone, self.algorithm, self.tag)
    }

    /// Signs `data`: 64 octets for both algorithms (ECDSA's r and s, RFC 6605 §4).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(pair) => {
                // ring's ECDSA signing only fails when the random source does.
                pair.sign(&SystemRandom::new(), data).map(|s| s.as_ref().to_vec()).unwrap_or_default()
            }
            Pair::Ed25519(pair) => pair.sign(data).as_ref().to_vec(),
        }
    }

    /// The DS record's data for this key with SHA-256 (digest type 2, RFC 4509).
    pub fn ds(&self) -> Vec<u8> {
        let mut data = self.zone.key().to_vec();
        data.extend_from_slice(&self.dnskey);
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        let mut ds = Vec::with_capacity(4 + 32);
        ds.extend_from_slice(&self.tag.to_be_bytes());
        ds.push(self.algorithm.number());
        ds.push(2);
        ds.extend_from_slice(digest.as_ref());
        ds
    }

    /// The DS record in zone-file form.
    pub fn ds_text(&self, ttl: u32) -> String {
        let ds = self.ds();
        format!("{} {ttl} IN DS {} {} 2 {}", self.zone, self.tag, self.algorithm.number(), HEXUPPER.encode(&ds[4..]))
    }
}

/// `K<zone>.+<alg>+<tag>`, the root zone's being `K.+<alg>+<tag>`.
pub fn base_name(zone: &Name, algorithm: Algorithm, tag: u16) -> String {
    let zone = if zone.is_root() { ".".to_string() } else { zone.to_string().to_ascii_lowercase() };
    format!("K{zone}+{:03}+{tag:05}", algorithm.number())
}

/// The key tag of a DNSKEY record's data (RFC 4034 Appendix B).
pub fn key_tag(dnskey: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, &b) in dnskey.iter().enumerate() {
        acc += if i & 1 == 1 { u32::from(b) } else { u32::from(b) << 8 };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

fn dnskey_rdata(flags: u16, algorithm: Algorithm, public: &[u8]) -> Vec<u8> {
    let mut rdata = Vec::with_capacity(4 + public.len());
    rdata.extend_from_slice(&flags.to_be_bytes());
    rdata.push(3);
    rdata.push(algorithm.number());
    rdata.extend_from_slice(public);
    rdata
}

/// Makes the key pair from the private key and the DNSKEY's public key field (ECDSA's is the
/// point's x and y, without the uncompressed-point octet ring wants).
fn pair(algorithm: Algorithm, private: &[u8], public: &[u8]) -> Result<Pair, String> {
    match algorithm {
        Algorithm::EcdsaP256Sha256 => {
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(public);
            EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                private,
                &point,
                &SystemRandom::new(),
            )
            .map(Pair::Ecdsa)
            .map_err(|e| format!("the private key does not make a P-256 key pair with the DNSKEY's public key: {e}"))
        }
        Algorithm::Ed25519 => {
            Ed25519KeyPair::from_seed_and_public_key(private, public).map(Pair::Ed25519).map_err(|e| {
                format!("the private key does not make an Ed25519 key pair with the DNSKEY's public key: {e}")
            })
        }
    }
}

/// A key pair made by [`generate`]: the two files' text and their base name.
pub struct Generated {
    /// `K<zone>.+<alg>+<tag>`.
    pub base: String,
    /// The `.key` file.
    pub key_file: String,
    /// The `.private` file.
    pub private_file: String,
    /// The key tag.
    pub tag: u16,
}

/// Makes a new key for `zone` with ring's key generation, in BIND's file formats.
pub fn generate(zone: &Name, algorithm: Algorithm, flags: u16, timing: &Timing) -> Result<Generated, String> {
    let rng = SystemRandom::new();
    let (private, public) = match algorithm {
        Algorithm::EcdsaP256Sha256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| "the system's random source failed".to_string())?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
                .map_err(|e| format!("ring rejected its own key: {e}"))?;
            let private = pkcs8_private_octets(doc.as_ref()).ok_or("ring's PKCS#8 document has no private key")?;
            (private, pair.public_key().as_ref()[1..].to_vec())
        }
        Algorithm::Ed25519 => {
            let mut seed = [0u8; 32];
            rng.fill(&mut seed).map_err(|_| "the system's random source failed".to_string())?;
            let pair =
                Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| format!("ring rejected the seed: {e}"))?;
            (seed.to_vec(), pair.public_key().as_ref().to_vec())
        }
    };
    let dnskey = dnskey_rdata(flags, algorithm, &public);
    let tag = key_tag(&dnskey);
    // The pair must be usable as it will be read back.
    pair(algorithm, &private, &public)?;
    let base = base_name(zone, algorithm, tag);
    let kind = if flags & SEP != 0 { "key-signing" } else { "zone-signing" };
    let mut key_file = format!("; This is a {kind} key, keyid {tag}, for {zone}\n");
    let mut private_file = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {}\n",
        algorithm.number(),
        algorithm.mnemonic(),
        BASE64.encode(&private)
    );
    for (label, t) in timing_fields(timing) {
        let _ = writeln!(key_file, "; {label}: {} ({})", stamp(t), readable(t));
        let _ = writeln!(private_file, "{label}: {}", stamp(t));
    }
    let _ = writeln!(key_file, "{zone} IN DNSKEY {flags} 3 {} {}", algorithm.number(), BASE64.encode(&public));
    Ok(Generated { base, key_file, private_file, tag })
}

fn timing_fields(t: &Timing) -> impl Iterator<Item = (&'static str, u64)> {
    [
        ("Created", t.created),
        ("Publish", t.publish),
        ("Activate", t.activate),
        ("Inactive", t.inactive),
        ("Delete", t.delete),
        ("SyncPublish", t.sync_publish),
        ("SyncDelete", t.sync_delete),
    ]
    .into_iter()
    .filter_map(|(label, v)| v.map(|v| (label, v)))
}

/// The private key's octets in a PKCS#8 document as ring writes them: the innermost OCTET
/// STRING of 32 octets (ECPrivateKey's `privateKey` for P-256, RFC 5915).
fn pkcs8_private_octets(der: &[u8]) -> Option<Vec<u8>> {
    fn walk(mut der: &[u8], depth: usize) -> Option<Vec<u8>> {
        while der.len() >= 2 && depth < 6 {
            let tag = der[0];
            let (len, head) = match der[1] {
                n @ 0..=0x7f => (usize::from(n), 2),
                0x81 => (usize::from(*der.get(2)?), 3),
                0x82 => ((usize::from(*der.get(2)?) << 8) | usize::from(*der.get(3)?), 4),
                _ => return None,
            };
            let content = der.get(head..head + len)?;
            match tag {
                0x04 if len == 32 => return Some(content.to_vec()),
                // SEQUENCE, and OCTET STRINGs that wrap a structure.
                0x30 | 0x04 => {
                    if let Some(found) = walk(content, depth + 1) {
                        return Some(found);
                    }
                }
                _ => {}
            }
            der = &der[head + len..];
        }
        None
    }
    walk(der, 0)
}

/// Every key in `dir` (its `*.private` files with their `.key` files), or one message per file
/// that could not be read, naming the file and line. A missing directory has no keys.
pub fn read_dir(dir: &Path) -> (Vec<Key>, Vec<(PathBuf, usize, String)>) {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (keys, errors);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "private"))
        .collect();
    paths.sort();
    for private in paths {
        match read_pair(&private) {
            Ok(key) => keys.push(key),
            Err((file, line, message)) => errors.push((file, line, message)),
        }
    }
    (keys, errors)
}

/// Reads one key from its `.private` file and the `.key` file beside it.
pub fn read_pair(private_path: &Path) -> Result<Key, (PathBuf, usize, String)> {
    let key_path = private_path.with_extension("key");
    let fail = |path: &Path, line: usize, message: String| (path.to_path_buf(), line, message);
    let key_text = std::fs::read_to_string(&key_path)
        .map_err(|e| fail(&key_path, 0, format!("cannot read the key's public half: {e}")))?;
    // The DNSKEY record: `owner [ttl] [class] DNSKEY flags protocol algorithm base64...`.
    let (line, record) = key_text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split(';').next().unwrap_or("")))
        .find(|(_, l)| l.split_whitespace().any(|w| w.eq_ignore_ascii_case("DNSKEY")))
        .ok_or_else(|| fail(&key_path, 0, "no DNSKEY record in the file".into()))?;
    let words: Vec<&str> = record.split_whitespace().collect();
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("DNSKEY")).unwrap_or(0);
    if at == 0 || words.len() < at + 5 {
        return Err(fail(&key_path, line, "expected `zone. IN DNSKEY flags 3 algorithm key`".into()));
    }
    let zone =
        Name::parse(words[0], None).map_err(|e| fail(&key_path, line, format!("the owner {:?}: {e}", words[0])))?;
    let flags: u16 = words[at + 1]
        .parse()
        .map_err(|_| fail(&key_path, line, format!("flags {:?} are not a number", words[at + 1])))?;
    if words[at + 2] != "3" {
        return Err(fail(&key_path, line, format!("protocol {} (DNSKEY's must be 3)", words[at + 2])));
    }
    let algorithm = words[at + 3].parse::<u8>().ok().and_then(Algorithm::from_number).ok_or_else(|| {
        fail(
            &key_path,
            line,
            format!("algorithm {}: Meridian signs with 13 (ECDSAP256SHA256) and 15 (ED25519)", words[at + 3]),
        )
    })?;
    if flags & ZONE_KEY == 0 {
        return Err(fail(&key_path, line, format!("flags {flags} lack the zone key bit (256): not a zone key")));
    }
    let public = BASE64
        .decode(words[at + 4..].concat().as_bytes())
        .map_err(|e| fail(&key_path, line, format!("the public key is not base64: {e}")))?;
    let want = match algorithm {
        Algorithm::EcdsaP256Sha256 => 64,
        Algorithm::Ed25519 => 32,
    };
    if public.len() != want {
        return Err(fail(
            &key_path,
            line,
            format!("the public key has {} octets; algorithm {} has {want}", public.len(), algorithm.number()),
        ));
    }

    let private_text =
        std::fs::read_to_string(private_path).map_err(|e| fail(private_path, 0, format!("cannot read: {e}")))?;
    let mut private = None;
    let mut timing = Timing::default();
    let mut format_seen = false;
    for (i, l) in private_text.lines().enumerate() {
        let line = i + 1;
        let l = l.trim();
        if l.is_empty() || l.starts_with(';') {
            continue;
        }
        let Some((field, value)) = l.split_once(':') else {
            return Err(fail(private_path, line, format!("expected `Field: value`, found {l:?}")));
        };
        let value = value.trim();
        let time = || {
            parse_stamp(value)
                .ok_or_else(|| fail(private_path, line, format!("{field}: {value:?} is not a YYYYMMDDHHMMSS time")))
        };
        match field {
            "Private-key-format" => {
                if !value.starts_with("v1.") {
                    return Err(fail(private_path, line, format!("format {value}: Meridian reads v1.x (BIND's)")));
                }
                format_seen = true;
            }
            "Algorithm" => {
                let n = value.split_whitespace().next().unwrap_or("");
                if n.parse::<u8>().ok() != Some(algorithm.number()) {
                    return Err(fail(
                        private_path,
                        line,
                        format!("algorithm {n}, but the .key file says {}", algorithm.number()),
                    ));
                }
            }
            "PrivateKey" => {
                private = Some(
                    BASE64
                        .decode(value.as_bytes())
                        .map_err(|e| fail(private_path, line, format!("PrivateKey is not base64: {e}")))?,
                );
            }
            "Created" => timing.created = Some(time()?),
            "Publish" => timing.publish = Some(time()?),
            "Activate" => timing.activate = Some(time()?),
            "Inactive" => timing.inactive = Some(time()?),
            "Delete" => timing.delete = Some(time()?),
            "SyncPublish" => timing.sync_publish = Some(time()?),
            "SyncDelete" => timing.sync_delete = Some(time()?),
            // BIND's other fields (Revoke, Successor, ...) do not change what Meridian does.
            _ => {}
        }
    }
    if !format_seen {
        return Err(fail(private_path, 1, "not a BIND private key file (no `Private-key-format:` line)".into()));
    }
    let private = private.ok_or_else(|| fail(private_path, 0, "no PrivateKey field".into()))?;
    // A key file without timing is BIND's "publish and activate now" (dnssec-keygen -G aside):
    // one written by hand or by an older tool signs from the start.
    if timing.publish.is_none() && timing.activate.is_none() {
        timing.publish = Some(0);
        timing.activate = Some(0);
    }
    let pair = pair(algorithm, &private, &public).map_err(|m| fail(private_path, 0, m))?;
    let dnskey = dnskey_rdata(flags, algorithm, &public);
    Ok(Key { zone, flags, algorithm, tag: key_tag(&dnskey), dnskey, timing, file: private_path.to_path_buf(), pair })
}

/// `YYYYMMDDHHMMSS` (UTC) as seconds since the epoch.
pub fn parse_stamp(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<u64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 || y < 1970 {
        return None;
    }
    Some(days_from_civil(y as i64, mo as u32, d as u32) as u64 * 86_400 + h * 3600 + mi * 60 + s)
}

/// Seconds since the epoch as `YYYYMMDDHHMMSS` (UTC).
pub fn stamp(t: u64) -> String {
    let (y, m, d) = civil_from_days((t / 86_400) as i64);
    let s = t % 86_400;
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn readable(t: u64) -> String {
    let s = stamp(t);
    format!("{}-{}-{} {}:{}:{} UTC", &s[0..4], &s[4..6], &s[6..8], &s[8..10], &s[10..12], &s[12..14])
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A time on the command line, as `dnssec-keygen` takes them: `YYYYMMDDHHMMSS`, `now`, or an
/// offset from now (`now+1d`, `+2w`, `-3h`; units s, m (minutes), h, d, w, no unit: seconds).
pub fn parse_time(text: &str, now: u64) -> Option<u64> {
    if let Some(t) = parse_stamp(text) {
        return Some(t);
    }
    let rest = text.strip_prefix("now").unwrap_or(text);
    if rest.is_empty() {
        return (text == "now").then_some(now);
    }
    let (sign, rest) = match rest.as_bytes()[0] {
        b'+' => (1i64, &rest[1..]),
        b'-' => (-1i64, &rest[1..]),
        _ => return None,
    };
    let (digits, unit) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len()));
    let n: i64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" | "mi" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    u64::try_from(now as i64 + sign * n.checked_mul(scale)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_and_write_the_same_instant() {
        for (text, t) in [("19700101000000", 0), ("20261201181615", 1_796_148_975), ("20000229235959", 951_868_799)] {
            assert_eq!(parse_stamp(text), Some(t), "{text}");
            assert_eq!(stamp(t), text);
        }
        for bad in ["2026120118161", "20261301000000", "2026120100000x", "19691231235959"] {
            assert_eq!(parse_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn command_line_times() {
        let now = 1_000_000;
        assert_eq!(parse_time("now", now), Some(now));
        assert_eq!(parse_time("+1d", now), Some(now + 86_400));
        assert_eq!(parse_time("now-2h", now), Some(now - 7200));
        assert_eq!(parse_time("+3w", now), Some(now + 3 * 604_800));
        assert_eq!(parse_time("+90", now), Some(now + 90));
        assert_eq!(parse_time("19700112134640", now), Some(1_000_000));
        assert_eq!(parse_time("tomorrow", now), None);
        assert_eq!(parse_time("+1y", now), None);
    }

    /// RFC 4034 §5.4's example key (RSASHA1, from the RFC) has tag 60485; the tag is the
    /// checksum of the record data whatever the algorithm.
    #[test]
    fn key_tag_of_the_rfc_example() {
        let public = BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let dnskey = dnskey_rdata(256, Algorithm::EcdsaP256Sha256, &public);
        let mut rsa = dnskey.clone();
        rsa[3] = 5;
        assert_eq!(key_tag(&rsa), 60485);
    }

    #[test]
    fn generated_keys_read_back_and_sign() {
        let dir = tempfile::tempdir().unwrap();
        let zone = Name::parse("Example.COM.", None).unwrap();
        for (algorithm, flags) in [(Algorithm::EcdsaP256Sha256, ZONE_KEY | SEP), (Algorithm::Ed25519, ZONE_KEY)] {
            let timing = Timing { created: Some(100), publish: Some(100), activate: Some(200), ..Timing::default() };
            let g = generate(&zone, algorithm, flags, &timing).unwrap();
            assert!(g.base.starts_with("Kexample.com.+0"), "{}", g.base);
            std::fs::write(dir.path().join(format!("{}.key", g.base)), &g.key_file).unwrap();
            std::fs::write(dir.path().join(format!("{}.private", g.base)), &g.private_file).unwrap();
            let key = read_pair(&dir.path().join(format!("{}.private", g.base))).unwrap();
            assert_eq!((key.tag, key.flags, key.algorithm), (g.tag, flags, algorithm));
            assert_eq!(key.timing, timing);
            assert!(key.timing.published(150) && !key.timing.active(150) && key.timing.active(200));
            // The signature verifies with the DNSKEY's public key (ring's verifier).
            let sig = key.sign(b"signed data");
            let (verifier, public): (&dyn ring::signature::VerificationAlgorithm, Vec<u8>) = match algorithm {
                Algorithm::EcdsaP256Sha256 => {
                    (&ring::signature::ECDSA_P256_SHA256_FIXED, [&[4u8][..], &key.dnskey[4..]].concat())
                }
                Algorithm::Ed25519 => (&ring::signature::ED25519, key.dnskey[4..].to_vec()),
            };
            ring::signature::UnparsedPublicKey::new(verifier, &public).verify(b"signed data", &sig).unwrap();
        }
        let (keys, errors) = read_dir(dir.path());
        assert_eq!((keys.len(), errors.len()), (2, 0));
    }

    #[test]
    fn bad_key_files_are_named_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let zone = Name::parse("example.com.", None).unwrap();
        let g = generate(&zone, Algorithm::EcdsaP256Sha256, ZONE_KEY | SEP, &Timing::default()).unwrap();
        let key = dir.path().join(format!("{}.key", g.base));
        let private = dir.path().join(format!("{}.private", g.base));
        std::fs::write(&key, g.key_file.replace(" 3 13 ", " 3 8 ")).unwrap();
        std::fs::write(&private, &g.private_file).unwrap();
        let err = read_pair(&private).unwrap_err();
        assert_eq!(err.0, key);
        assert!(err.2.contains("algorithm 8"), "{}", err.2);
        std::fs::write(&key, &g.key_file).unwrap();
        std::fs::write(&private, g.private_file.replace("PrivateKey: ", "PrivateKey: AAAA")).unwrap();
        let err = read_pair(&private).unwrap_err();
        assert!(err.2.contains("key pair") || err.2.contains("base64"), "{}", err.2);
        std::fs::write(&private, format!("{}Activate: soon\n", g.private_file)).unwrap();
        let err = read_pair(&private).unwrap_err();
        assert_eq!(err.1, 4, "{err:?}");
        assert!(err.2.contains("Activate"), "{}", err.2);
    }
}
