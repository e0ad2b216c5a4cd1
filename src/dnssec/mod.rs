//! DNSSEC online signing: zone keys ([`keys`]), the RRSIG of an RRset as RFC 4034 §3.1.8.1
//! defines what is signed, the signatures kept by what they sign ([`Signatures`]), and the
//! NSEC records of compact denial (RFC 9824). The query path decides what to sign
//! (`query::secure`); this module knows how.
//!
//! Signing uses ring directly (ECDSA P-256 and Ed25519, already in the tree through rustls):
//! hickory-proto's DNSSEC signer wants its own record types and would have the query path
//! build them for every RRset, where signing here works on the wire form the zone already
//! holds.

pub mod command;
pub mod keys;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::dns::rtype;
use crate::zone::Name;
use keys::Key;

pub use crate::dns::rtype::NXNAME;

/// Signatures are valid from the start of the week before the current one to two weeks after
/// the start of the current one, so a signature made at any time this week is the same one
/// (a cache hit for the rest of the week) and has at least a week to run: PowerDNS aligns
/// its validity windows to weeks too. A clock up to a week slow still validates.
pub const WEEK: u32 = 7 * 86_400;

/// The signature validity window (inception, expiration) for a signature made at `now`
/// (seconds since the epoch, wrapping as RRSIG times do: RFC 4034 §3.1.5).
pub fn validity(now: u32) -> (u32, u32) {
    let start = now - now % WEEK;
    (start.wrapping_sub(WEEK), start.wrapping_add(2 * WEEK))
}

/// The keys of one zone.
#[derive(Debug, Default)]
pub struct ZoneKeys {
    /// Every key read for the zone, in file name order.
    pub keys: Vec<Key>,
}

impl ZoneKeys {
    /// The keys in the DNSKEY set at `now`.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(move |k| k.timing.published(now))
    }

    /// The keys that sign an RRset of type `rtype` at `now`: the active key-signing (SEP) keys
    /// sign the DNSKEY, CDS and CDNSKEY sets, the active zone-signing keys everything else;
    /// a zone whose active keys are all of one kind (a combined signing key, the default)
    /// signs everything with them.
    pub fn signers(&self, rtype: u16, now: u64) -> SmallVec<[&Key; 2]> {
        let active: SmallVec<[&Key; 4]> = self.keys.iter().filter(|k| k.timing.active(now)).collect();
        let keyset = matches!(rtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY);
        let wanted: SmallVec<[&Key; 2]> = active.iter().copied().filter(|k| k.is_sep() == keyset).collect();
        if wanted.is_empty() { active.into_iter().collect() } else { wanted }
    }
}

/// Where a key is in its life at some time (from its timing metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Not yet published.
    Waiting,
    /// In the DNSKEY set, not signing (before Activate, or after Inactive).
    Published,
    /// In the DNSKEY set and signing.
    Active,
    /// Out of the DNSKEY set for good (Delete passed).
    Removed,
}

impl Key {
    /// Its state at `now`.
    pub fn state(&self, now: u64) -> KeyState {
        if self.timing.active(now) {
            KeyState::Active
        } else if self.timing.published(now) {
            KeyState::Published
        } else if self.timing.delete.is_some_and(|d| d <= now) {
            KeyState::Removed
        } else {
            KeyState::Waiting
        }
    }
}

/// What a key does for its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// Key-signing key: signs the key sets (a zone that also has zone-signing keys).
    #[serde(rename = "KSK")]
    Ksk,
    /// Zone-signing key.
    #[serde(rename = "ZSK")]
    Zsk,
    /// Combined signing key: a key-signing key in a zone without zone-signing keys.
    #[serde(rename = "CSK")]
    Csk,
}

impl ZoneKeys {
    /// `key`'s role in this zone.
    pub fn role(&self, key: &Key) -> Role {
        match (key.is_sep(), self.keys.iter().any(|k| !k.is_sep())) {
            (false, _) => Role::Zsk,
            (true, true) => Role::Ksk,
            (true, false) => Role::Csk,
        }
    }
}

/// One key's standing at some time, for `/status`, the metrics, the log and `meridian key
/// list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyReport {
    /// The zone.
    pub zone: String,
    /// `K<zone>.+<alg>+<tag>`.
    pub key: String,
    /// The key tag.
    pub tag: u16,
    /// The algorithm number.
    pub algorithm: u8,
    /// Its role.
    pub role: Role,
    /// Its state.
    pub state: KeyState,
    /// Its CDS and CDNSKEY are published.
    pub cds: bool,
    /// The next change of its timing, if one is set: (what, when, seconds since the epoch).
    pub next: Option<(&'static str, u64)>,
}

impl Keyring {
    /// Every key's standing at `now`, zone by zone.
    pub fn report(&self, now: u64) -> Vec<KeyReport> {
        let mut out: Vec<KeyReport> = self
            .zones
            .values()
            .flat_map(|z| z.keys.iter().map(move |k| (z, k)))
            .map(|(z, k)| KeyReport {
                zone: k.zone.to_string(),
                key: k.base_name(),
                tag: k.tag,
                algorithm: k.algorithm.number(),
                role: z.role(k),
                state: k.state(now),
                cds: k.timing.synced(now),
                next: k.timing.events().filter(|&(_, t)| t > now).min_by_key(|&(_, t)| t),
            })
            .collect();
        out.sort_by(|a, b| (&a.zone, &a.key).cmp(&(&b.zone, &b.key)));
        out
    }
}

/// Longest wait between two looks at the keys' states (a reload may bring new keys).
const KEY_STEP_CHECK: u64 = 60;

/// Logs each signed zone's keys as their timing moves them (published, active, inactive,
/// removed: the steps of a rollover), and the keys a reload brings or takes away; runs for the
/// life of the server. The answers do not wait for it: each query judges the keys at its own
/// time.
pub async fn log_key_steps(snapshots: Arc<arc_swap::ArcSwap<crate::health::Snapshot>>) {
    let mut seen: HashMap<String, (KeyState, bool)> = HashMap::new();
    loop {
        let now = u64::from(crate::cookie::now());
        let report = snapshots.load().config.keyring.report(now);
        for k in &report {
            let state = (k.state, k.cds);
            match seen.insert(k.key.clone(), state) {
                Some(before) if before == state => {}
                before => tracing::info!(
                    zone = %k.zone,
                    key = %k.key,
                    role = ?k.role,
                    state = ?k.state,
                    cds = k.cds,
                    was = ?before.map(|b| b.0),
                    next = ?k.next.map(|(what, t)| format!("{what} {}", keys::stamp(t))),
                    "DNSSEC key step"
                ),
            }
        }
        seen.retain(|key, _| {
            let kept = report.iter().any(|k| &k.key == key);
            if !kept {
                tracing::info!(key = %key, "DNSSEC key no longer in the key directory");
            }
            kept
        });
        let next = report.iter().filter_map(|k| k.next.map(|(_, t)| t)).min();
        let wait = next.map_or(KEY_STEP_CHECK, |t| t.saturating_sub(now).clamp(1, KEY_STEP_CHECK));
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

/// Every zone's keys, by the zone's lower-cased wire name, and the signatures made with them.
#[derive(Debug, Default)]
pub struct Keyring {
    zones: HashMap<Box<[u8]>, ZoneKeys>,
    /// Signatures kept across queries (and reloads).
    pub signatures: Arc<Signatures>,
}

impl Keyring {
    /// True when no zone is signed.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The keys of the zone whose apex is `origin`, if it is signed.
    pub fn zone(&self, origin: &Name) -> Option<&ZoneKeys> {
        if self.zones.is_empty() {
            return None;
        }
        self.zones.get(&origin.key()[..])
    }

    /// Until when (the request clock) an answer signed at `now` stays what it is: the end
    /// of the signatures' week, or the next change of a key's timing, whichever comes first.
    pub fn valid_until(&self, now: u32) -> u32 {
        let week_end = (now - now % WEEK).saturating_add(WEEK);
        let next_key = self
            .zones
            .values()
            .flat_map(|z| &z.keys)
            .flat_map(|k| k.timing.events())
            .map(|(_, t)| t)
            .filter(|&t| t > u64::from(now))
            .min()
            .map_or(u32::MAX, |t| u32::try_from(t).unwrap_or(u32::MAX));
        week_end.min(next_key)
    }

    /// The signed zones' origins and keys.
    pub fn zones(&self) -> impl Iterator<Item = (&[u8], &ZoneKeys)> {
        self.zones.iter().map(|(k, v)| (&k[..], v))
    }

    /// Reads the keys in `dir` (a missing directory: none), keeping `signatures`. Keys of zones
    /// not in `served` are reported, as are unreadable files; neither stops the others.
    pub fn read(
        dir: &Path,
        served: &[&Name],
        signatures: Arc<Signatures>,
    ) -> (Keyring, Vec<(std::path::PathBuf, usize, String)>) {
        let (keys, mut errors) = keys::read_dir(dir);
        let mut zones: HashMap<Box<[u8]>, ZoneKeys> = HashMap::new();
        for key in keys {
            if !served.iter().any(|z| **z == key.zone) {
                errors.push((key.file.clone(), 0, format!("a key for {}, which is not a zone served here", key.zone)));
                continue;
            }
            zones.entry(key.zone.key()).or_default().keys.push(key);
        }
        (Keyring { zones, signatures }, errors)
    }
}

/// The signatures made, by a 128-bit hash of everything a signature covers (the RRSIG's fields,
/// the signing key and the RRset in canonical form): bounded; its hits and misses are exported.
pub struct Signatures {
    cache: quick_cache::sync::Cache<u128, [u8; 64]>,
}

/// Most signatures kept: about 200 octets each with the table's own cost.
pub const MAX_SIGNATURES: usize = 200_000;

impl Default for Signatures {
    fn default() -> Self {
        Signatures::new(MAX_SIGNATURES)
    }
}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signatures({} kept)", self.cache.len())
    }
}

impl Signatures {
    /// A cache of at most `capacity` signatures.
    pub fn new(capacity: usize) -> Signatures {
        Signatures { cache: quick_cache::sync::Cache::new(capacity.max(1)) }
    }

    /// Signatures found, made, and kept now.
    pub fn counts(&self) -> (u64, u64, usize) {
        (self.cache.hits(), self.cache.misses(), self.cache.len())
    }
}

/// An RRset to sign: owner, type, TTL and each record's data in wire form (names
/// uncompressed).
#[derive(Debug, Clone, Copy)]
pub struct ToSign<'a> {
    /// The owner name.
    pub owner: &'a Name,
    /// The type.
    pub rtype: u16,
    /// The TTL (the RRSIG's original TTL).
    pub ttl: u32,
    /// The records' data.
    pub rdatas: &'a [&'a [u8]],
}

/// The RRSIG records' data for `set` signed by each of `signers` for zone `zone` at time `now`,
/// each pushed to `out`.
pub fn sign_rrset(
    zone: &Name,
    signers: &[&Key],
    set: &ToSign<'_>,
    now: u32,
    signatures: &Signatures,
    out: &mut Vec<Vec<u8>>,
) {
    let ToSign { owner, rtype, ttl, rdatas } = *set;
    let (inception, expiration) = validity(now);
    let owner_key = owner.key();
    // Canonical RRs (RFC 4034 §6.3): names lower-cased, sorted by their data, duplicates gone.
    let mut canonical: SmallVec<[std::borrow::Cow<'_, [u8]>; 8]> =
        rdatas.iter().map(|r| canonical_rdata(rtype, r)).collect();
    canonical.sort();
    canonical.dedup();
    for key in signers {
        let mut data =
            Vec::with_capacity(128 + canonical.iter().map(|r| owner_key.len() + 10 + r.len()).sum::<usize>());
        data.extend_from_slice(&rtype.to_be_bytes());
        data.push(key.algorithm.number());
        data.push(owner.label_count() as u8);
        data.extend_from_slice(&ttl.to_be_bytes());
        data.extend_from_slice(&expiration.to_be_bytes());
        data.extend_from_slice(&inception.to_be_bytes());
        data.extend_from_slice(&key.tag.to_be_bytes());
        data.extend_from_slice(&zone.key());
        let fields = data.len();
        for r in &canonical {
            data.extend_from_slice(&owner_key);
            data.extend_from_slice(&rtype.to_be_bytes());
            data.extend_from_slice(&1u16.to_be_bytes());
            data.extend_from_slice(&ttl.to_be_bytes());
            data.extend_from_slice(&(r.len() as u16).to_be_bytes());
            data.extend_from_slice(r);
        }
        let id = fingerprint(&key.dnskey, &data);
        let signature = match signatures.cache.get(&id) {
            Some(s) => s,
            None => {
                let mut s = [0u8; 64];
                let made = key.sign(&data);
                if made.len() != 64 {
                    continue; // ring's random source failed: no signature rather than a wrong one
                }
                s.copy_from_slice(&made);
                signatures.cache.insert(id, s);
                s
            }
        };
        let mut rrsig = data;
        rrsig.truncate(fields);
        rrsig.extend_from_slice(&signature);
        out.push(rrsig);
    }
}

fn fingerprint(dnskey: &[u8], data: &[u8]) -> u128 {
    use std::hash::Hasher;
    let mut h = siphasher::sip128::SipHasher13::new_with_keys(0x6d65_7269_6469_616e, 0x7369_676e_6174_7572);
    h.write(dnskey);
    h.write(data);
    siphasher::sip128::Hasher128::finish128(&h).as_u128()
}

/// `rdata` in canonical form (RFC 4034 §6.2 as amended by RFC 6840 §5.1): the domain names in
/// the types that carry them uncompressed lower-cased.
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // Where the names start: (offset of the first, how many follow each other).
    let (at, names) = match rtype {
        // MD (3) and MF (4) are long obsolete and have no constants.
        rtype::NS | rtype::CNAME | rtype::PTR | rtype::DNAME | 3 | 4 | rtype::MB | rtype::MG | rtype::MR => (0, 1),
        rtype::SOA | rtype::RP | rtype::MINFO => (0, 2),
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX => (2, 1),
        rtype::SRV => (6, 1),
        rtype::PX => (2, 2),
        rtype::NAPTR => {
            // ORDER, PREFERENCE, then FLAGS, SERVICES, REGEXP as character strings.
            let mut i = 4;
            for _ in 0..3 {
                i += 1 + usize::from(*rdata.get(i).unwrap_or(&0));
            }
            (i, 1)
        }
        _ => return std::borrow::Cow::Borrowed(rdata),
    };
    let mut out = rdata.to_vec();
    let mut i = at;
    for _ in 0..names {
        while i < out.len() && out[i] != 0 {
            let len = usize::from(out[i]);
            let end = (i + 1 + len).min(out.len());
            out[i + 1..end].make_ascii_lowercase();
            i = end;
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// An NSEC record's data: `next`, then the type bitmap of `types` (RFC 4034 §4.1.2).
pub fn nsec_rdata(next: &[u8], types: &mut Vec<u16>) -> Vec<u8> {
    let mut out = next.to_vec();
    crate::dns::write_type_bitmap(types, &mut out);
    out
}

/// The name right after `name` in canonical order (RFC 4471 §3.1.2: `\000.` prepended), or
/// `name` itself when that would be longer than a name may be.
pub fn successor(name: &[u8]) -> Vec<u8> {
    if name.len() + 2 > 255 {
        return name.to_vec();
    }
    let mut next = Vec::with_capacity(name.len() + 2);
    next.extend_from_slice(&[1, 0]);
    next.extend_from_slice(name);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_windows_are_the_same_all_week_and_run_a_week_at_least() {
        let monday: u32 = 1_796_148_975;
        let (i, e) = validity(monday);
        assert!(i <= monday - WEEK && e >= monday + WEEK, "{i} {e}");
        let start = monday - monday % WEEK;
        assert_eq!(validity(start), validity(start + WEEK - 1));
        assert_ne!(validity(start), validity(start + WEEK));
    }

    #[test]
    fn type_bitmaps_follow_rfc_4034() {
        // RFC 4034 §4.3's example: A MX RRSIG NSEC TYPE1234.
        let mut types = vec![rtype::A, rtype::MX, rtype::RRSIG, rtype::NSEC, 1234];
        let rdata = nsec_rdata(b"\x04host\x07example\x03com\x00", &mut types);
        let bitmap = &rdata[18..];
        // Window 0: A (1), MX (15), RRSIG (46), NSEC (47); window 4: 1234 & 0xff = 210, the
        // third bit of the 27th octet.
        let mut window4 = vec![0x04, 27];
        window4.extend([0u8; 26]);
        window4.push(0x20);
        assert_eq!(bitmap, [&[0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03][..], &window4].concat());
    }

    #[test]
    fn canonical_data_lowercases_the_names_of_the_types_that_have_them() {
        assert_eq!(&*canonical_rdata(rtype::MX, b"\x00\x0a\x02MX\x03Foo\x00"), b"\x00\x0a\x02mx\x03foo\x00");
        assert_eq!(&*canonical_rdata(rtype::TXT, b"\x03ABC"), b"\x03ABC");
        let soa =
            b"\x02NS\x00\x02HM\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05";
        assert_eq!(&canonical_rdata(rtype::SOA, soa)[..8], b"\x02ns\x00\x02hm\x00");
        assert_eq!(&canonical_rdata(rtype::SOA, soa)[8..], &soa[8..]);
    }

    #[test]
    fn successors_prepend_a_zero_label() {
        assert_eq!(successor(b"\x01a\x00"), b"\x01\x00\x01a\x00");
        let long =
            [&[63u8][..], &[b'x'; 63], &[63], &[b'x'; 63], &[63], &[b'x'; 63], &[61], &[b'x'; 61], &[0]].concat();
        assert_eq!(long.len(), 255);
        assert_eq!(successor(&long), long);
    }
}
