//! DNSSEC on the general path: what a signed zone adds to a resolution.
//!
//! [`keys`] puts a signed zone's DNSKEY set (and CDS/CDNSKEY) at its apex for every query.
//! For queries with DO set, [`sign`] adds, after the resolver and the GSLB completion:
//! - denial of existence by compact answers (RFC 9824): one NSEC at the name denied, its next
//!   name the name right after it, so no other name is disclosed; a name that does not exist
//!   is answered NOERROR with NXNAME in the NSEC's bitmap, or NXDOMAIN with the same proof to
//!   a resolver that sets the Compact Answers OK flag;
//! - at a referral, the child's DS, or an NSEC at the cut proving there is none;
//! - an RRSIG after every RRset of every section the zone is authoritative for: not the NS of
//!   a referral, glue, or a CNAME synthesized from a DNAME (RFC 4035 §3.1.1, RFC 6672 §5.3.1).
//!
//! A wildcard's answer is signed at the name asked, as an online signer may: the resolver sees
//! a name that exists, and no proof that no closer name does is needed. GSLB answers are
//! signed as they are chosen; each signature is kept ([`crate::dnssec::Signatures`]) by what it
//! covers, so each answer a pool gives is signed once a week, not once a query.

use std::borrow::Cow;

use crate::config::Config;
use crate::dns::rtype;
use crate::dnssec::{self, ZoneKeys};
use crate::zone::{Found, Name, Rcode, Resolution, Rr, Zone};

/// TTL of the DNSKEY, CDS and CDNSKEY sets (BIND's `dnskey-ttl` default).
pub const KEY_TTL: u32 = 3600;

/// The zone that holds `owner`'s `rtype` data (DS: the parent side of a cut) if we serve it.
fn zone_of<'c>(config: &'c Config, owner: &Name, rtype: u16) -> Option<&'c Zone> {
    let key = owner.key();
    let zone = config.zones.lookup(&key)?.ok()?;
    if rtype == rtype::DS && zone.origin() == owner && !owner.is_root() {
        return config.zones.lookup(&key[1 + usize::from(key[0])..])?.ok();
    }
    Some(zone)
}

/// The key records of `qtype` (DNSKEY, CDS, CDNSKEY) of a signed zone at `now`.
fn key_records(keys: &ZoneKeys, qtype: u16, now: u64) -> Vec<Vec<u8>> {
    match qtype {
        rtype::DNSKEY => keys.published(now).map(|k| k.dnskey.clone()).collect(),
        rtype::CDNSKEY => keys.published(now).filter(|k| k.timing.synced(now)).map(|k| k.dnskey.clone()).collect(),
        rtype::CDS => keys.published(now).filter(|k| k.timing.synced(now)).map(|k| k.ds()).collect(),
        _ => Vec::new(),
    }
}

/// True when the question is one [`keys`] may answer: the fast path leaves these to the
/// general path (the key sets change with the keys' timing, not only with the configuration).
pub fn is_key_question(config: &Config, qtype: u16) -> bool {
    !config.keyring.is_empty() && matches!(qtype, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY)
}

/// Answers a DNSKEY, CDS or CDNSKEY question at a signed zone's apex from its keys, in place
/// of what the zone file has (a signed zone's key sets are its keys').
pub fn keys<'c>(config: &'c Config, qname: &Name, qtype: u16, now: u32, res: &mut Resolution<'c>) {
    if !is_key_question(config, qtype) || res.rcode != Rcode::NoError {
        return;
    }
    let Some(zone) = zone_of(config, qname, qtype) else { return };
    if zone.origin() != qname {
        return;
    }
    let Some(keys) = config.keyring.zone(zone.origin()) else { return };
    let records = key_records(keys, qtype, u64::from(now));
    res.answer.retain(|rr| rr.rtype != qtype);
    if records.is_empty() {
        if res.answer.is_empty() && res.authority.is_empty() {
            res.authority.push(zone.negative_soa());
        }
        return;
    }
    res.authority.clear();
    for rdata in records {
        res.answer.push(Rr { owner: qname.clone(), rtype: qtype, ttl: KEY_TTL, rdata: Cow::Owned(rdata) });
    }
}

/// The types at `node` of `zone` for an NSEC's bitmap: its RRsets, what a GSLB pool there
/// answers, the key sets at a signed apex, and RRSIG and NSEC.
fn types_at(config: &Config, zone: &Zone, node: &crate::zone::Node, now: u64) -> Vec<u16> {
    let mut types: Vec<u16> = node.rrsets.iter().map(|s| s.rtype).collect();
    if let Some((pool, alias)) = zone.pool_at(node.name.wire()) {
        let pool = &config.gslb.pools[pool];
        if alias {
            types.push(rtype::CNAME);
        } else {
            if pool.members.iter().any(|m| m.ipv4.is_some()) {
                types.push(rtype::A);
            }
            if pool.members.iter().any(|m| m.ipv6.is_some()) {
                types.push(rtype::AAAA);
            }
            for t in [rtype::HTTPS, rtype::SVCB] {
                if pool.service(t).is_some() {
                    types.push(t);
                }
            }
        }
    }
    if node.name == *zone.origin()
        && let Some(keys) = config.keyring.zone(zone.origin())
    {
        types.retain(|&t| !matches!(t, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY));
        for t in [rtype::DNSKEY, rtype::CDS, rtype::CDNSKEY] {
            if !key_records(keys, t, now).is_empty() {
                types.push(t);
            }
        }
    }
    types.retain(|&t| !matches!(t, rtype::RRSIG | rtype::NSEC));
    types.extend([rtype::RRSIG, rtype::NSEC]);
    types.sort_unstable();
    types.dedup();
    types
}

/// The NSEC at `name` in `zone` with `types`, TTL that of a negative answer (RFC 9077).
fn nsec<'c>(zone: &'c Zone, name: &Name, types: &mut Vec<u16>) -> Rr<'c> {
    let key = name.key();
    let rdata = dnssec::nsec_rdata(&dnssec::successor(&key), types);
    Rr {
        owner: Name::from_wire_unchecked(&key),
        rtype: rtype::NSEC,
        ttl: zone.negative_soa().ttl,
        rdata: Cow::Owned(rdata),
    }
}

/// The last name of the answer's alias chain: what a negative answer denies.
fn last_name(qname: &Name, res: &Resolution<'_>) -> Name {
    match res.answer.last() {
        Some(rr) if rr.rtype == rtype::CNAME => Name::from_wire_unchecked(&rr.rdata),
        _ => qname.clone(),
    }
}

/// Adds denial, DS and RRSIG records to a resolution of `qname`/`qtype` for a query with DO
/// set; returns the RCODE to send (compact denial answers a name that does not exist NOERROR
/// unless `compact_ok`).
pub fn sign<'c>(
    config: &'c Config,
    qname: &Name,
    qtype: u16,
    now: u32,
    compact_ok: bool,
    res: &mut Resolution<'c>,
) -> Rcode {
    let keyring = &config.keyring;
    let now64 = u64::from(now);
    let mut rcode = res.rcode;
    // Denial: NXDOMAIN and NODATA carry the zone's SOA in authority.
    let negative = matches!(res.rcode, Rcode::NxDomain | Rcode::NoError)
        && res.authority.iter().any(|rr| rr.rtype == rtype::SOA)
        && !res.authority.iter().any(|rr| rr.rtype == rtype::NS);
    if negative {
        let denied = last_name(qname, res);
        if let Some(zone) = zone_of(config, &denied, qtype)
            && keyring.zone(zone.origin()).is_some()
        {
            let mut types = if res.rcode == Rcode::NxDomain {
                vec![rtype::RRSIG, rtype::NSEC, rtype::NXNAME]
            } else {
                match zone.find(&denied.key(), qtype) {
                    Found::Node(node) => types_at(config, zone, node, now64),
                    // At a cut (a DS question answered from the parent side).
                    Found::Delegation(node) if node.name == denied => types_at(config, zone, node, now64),
                    _ => vec![rtype::RRSIG, rtype::NSEC],
                }
            };
            // Never claim the type denied.
            types.retain(|&t| t != qtype || t == rtype::NSEC || t == rtype::RRSIG);
            res.authority.push(nsec(zone, &denied, &mut types));
            if res.rcode == Rcode::NxDomain && !compact_ok {
                rcode = Rcode::NoError;
            }
        }
    }
    // A referral: the DS at the cut, or the proof there is none.
    if let Some(cut) = res.authority.iter().find(|rr| rr.rtype == rtype::NS).map(|rr| rr.owner.clone())
        && let Some(zone) = zone_of(config, &cut, rtype::DS)
        && zone.origin() != &cut
        && keyring.zone(zone.origin()).is_some()
        && let Some(node) = zone.node(&cut.key())
    {
        match node.get(rtype::DS) {
            Some(ds) => {
                for rdata in ds.rdatas() {
                    res.authority.push(Rr {
                        owner: node.name.clone(),
                        rtype: rtype::DS,
                        ttl: ds.ttl,
                        rdata: Cow::Borrowed(rdata),
                    });
                }
            }
            None => {
                let mut types = types_at(config, zone, node, now64);
                res.authority.push(nsec(zone, &cut, &mut types));
            }
        }
    }
    let answer = signatures(config, now, &res.answer);
    let authority = signatures(config, now, &res.authority);
    let additional = signatures(config, now, &res.additional);
    interleave(&mut res.answer, answer);
    interleave(&mut res.authority, authority);
    interleave(&mut res.additional, additional);
    rcode
}

/// Puts each RRSIG right after the RRset it covers (RFC 4035 §3.1.1 wants them in the same
/// section; after their set is where every server puts them). `sigs` holds, for each index of
/// the last record of a set, its RRSIG records.
fn interleave<'c>(rrs: &mut Vec<Rr<'c>>, sigs: Vec<(usize, Vec<Rr<'c>>)>) {
    if sigs.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(rrs.len() + sigs.iter().map(|(_, s)| s.len()).sum::<usize>());
    let mut sigs = sigs.into_iter().peekable();
    for (i, rr) in std::mem::take(rrs).into_iter().enumerate() {
        out.push(rr);
        while let Some((_, s)) = sigs.next_if(|(at, _)| *at == i) {
            out.extend(s);
        }
    }
    *rrs = out;
}

/// The RRSIGs of the RRsets in `rrs` (consecutive records of one owner and type) that a signed
/// zone of ours is authoritative for, each with the index of its set's last record.
fn signatures<'c>(config: &'c Config, now: u32, rrs: &[Rr<'c>]) -> Vec<(usize, Vec<Rr<'c>>)> {
    let mut out = Vec::new();
    let now64 = u64::from(now);
    let mut start = 0;
    while start < rrs.len() {
        let first = &rrs[start];
        let mut end = start + 1;
        while end < rrs.len() && rrs[end].rtype == first.rtype && rrs[end].owner == first.owner {
            end += 1;
        }
        if let Some(zone) = zone_of(config, &first.owner, first.rtype)
            && let Some(keys) = config.keyring.zone(zone.origin())
            && signed_here(zone, first)
        {
            let signers = keys.signers(first.rtype, now64);
            let rdatas: Vec<&[u8]> = rrs[start..end].iter().map(|rr| &rr.rdata[..]).collect();
            let mut made = Vec::new();
            let set = dnssec::ToSign { owner: &first.owner, rtype: first.rtype, ttl: first.ttl, rdatas: &rdatas };
            dnssec::sign_rrset(zone.origin(), &signers, &set, now, &config.keyring.signatures, &mut made);
            let sigs = made
                .into_iter()
                .map(|rdata| Rr {
                    owner: first.owner.clone(),
                    rtype: rtype::RRSIG,
                    ttl: first.ttl,
                    rdata: Cow::Owned(rdata),
                })
                .collect();
            out.push((end - 1, sigs));
        }
        start = end;
    }
    out
}

/// Whether `zone` signs `rr`'s RRset: its own data, not a delegation's NS, glue below a cut,
/// or a CNAME a DNAME synthesized.
fn signed_here(zone: &Zone, rr: &Rr<'_>) -> bool {
    match rr.rtype {
        rtype::DS | rtype::NSEC | rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY => true,
        rtype::RRSIG => false,
        rtype::NS if rr.owner != *zone.origin() => false,
        t => match zone.find(&rr.owner.key(), t) {
            Found::Delegation(_) => false,
            Found::Dname(_) => t != rtype::CNAME,
            Found::Node(_) | Found::NxDomain => true,
        },
    }
}
