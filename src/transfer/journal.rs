//! The IXFR journal (RFC 1995): the differences between the successive versions of each
//! transferable zone that this process loaded, so that a secondary one or a few serials behind
//! gets what changed instead of the whole zone.
//!
//! A difference is taken between what a transfer of the old version sent and what one of the
//! new version sends ([`super::records`]), GSLB names included, so an incremental transfer
//! always leaves a secondary with exactly what a full one would. The journal is bounded: the
//! oldest differences are dropped once the records they hold outnumber the zone's own (a
//! secondary that far behind is better served by the whole zone), or past [`MAX_VERSIONS`].
//! It lives in memory, with the configuration it belongs to: after a restart, a secondary
//! behind gets the whole zone once, as RFC 1995 §4 allows.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::dns::rtype;
use crate::zone::Zone;

/// The most versions a zone's journal keeps.
pub const MAX_VERSIONS: usize = 1000;

/// The fewest records a journal may hold whatever the zone's size: a small zone still gets
/// incremental transfers for a while.
const MIN_BUDGET: usize = 1000;

/// One record of a difference: owner (wire form, as spelled), type, TTL, data.
pub type Rec = (Box<[u8]>, u16, u32, Box<[u8]>);

/// What changed from one serial to the next.
#[derive(Debug)]
pub struct Change {
    /// The SOA (TTL, data) before.
    pub from: (u32, Box<[u8]>),
    /// The SOA (TTL, data) after.
    pub to: (u32, Box<[u8]>),
    /// Records that went away.
    pub deleted: Vec<Rec>,
    /// Records that came.
    pub added: Vec<Rec>,
}

impl Change {
    fn serial_from(&self) -> u32 {
        crate::zone::SoaTimers::of(&self.from.1).map_or(0, |t| t.serial)
    }

    fn size(&self) -> usize {
        self.deleted.len() + self.added.len() + 2
    }
}

/// The changes of one zone, oldest first, each starting where the one before ended.
#[derive(Debug, Default)]
pub struct Journal {
    /// The changes (shared with the journals of earlier configurations).
    pub changes: Vec<Arc<Change>>,
}

impl Journal {
    /// The changes from serial `from` to the current version, when the journal reaches back
    /// that far.
    pub fn since(&self, from: u32) -> Option<&[Arc<Change>]> {
        let i = self.changes.iter().position(|c| c.serial_from() == from)?;
        Some(&self.changes[i..])
    }
}

/// The journals of `new`: those of `old` carried over, with the change to each zone whose
/// transfers are allowed and whose serial moved. A zone whose serial moved backwards (or
/// whose transfer rules appeared) starts a new journal.
pub fn follow(old: &Config, new: &Config) -> HashMap<Box<[u8]>, Arc<Journal>> {
    let mut out = HashMap::new();
    for zone in new.zones.zones() {
        let key = zone.origin().key();
        if !new.gslb.transfers.contains_key(&key) {
            continue;
        }
        let Some(before) = old.zones.zones().iter().find(|z| z.origin().key() == key) else { continue };
        let kept = old.journals.get(&key).cloned();
        let later = zone.serial().wrapping_sub(before.serial()) as i32 > 0;
        if zone.serial() == before.serial() {
            if let Some(j) = kept {
                out.insert(key, j);
            }
            continue;
        }
        if !later {
            continue;
        }
        let change = difference(before, old, zone, new);
        let mut changes: Vec<Arc<Change>> = kept.map(|j| j.changes.clone()).unwrap_or_default();
        changes.push(Arc::new(change));
        let budget = zone.len().max(MIN_BUDGET);
        let mut held: usize = changes.iter().map(|c| c.size()).sum();
        while !changes.is_empty() && (changes.len() > MAX_VERSIONS || held > budget) {
            held -= changes.remove(0).size();
        }
        if !changes.is_empty() {
            out.insert(key, Arc::new(Journal { changes }));
        }
    }
    out
}

/// What a transfer of `after` sends that one of `before` did not, and the reverse.
fn difference(before: &Zone, old: &Config, after: &Zone, new: &Config) -> Change {
    let set = |zone: &Zone, config: &Config| -> HashMap<Rec, usize> {
        let mut m = HashMap::new();
        for (owner, t, ttl, rdata) in super::records(zone, config) {
            if t == rtype::SOA {
                continue;
            }
            *m.entry((Box::from(owner), t, ttl, Box::from(&*rdata))).or_insert(0) += 1;
        }
        m
    };
    let (a, b) = (set(before, old), set(after, new));
    let minus = |x: &HashMap<Rec, usize>, y: &HashMap<Rec, usize>| -> Vec<Rec> {
        let mut v: Vec<Rec> = x
            .iter()
            .flat_map(|(r, &n)| std::iter::repeat_n(r.clone(), n.saturating_sub(y.get(r).copied().unwrap_or(0))))
            .collect();
        v.sort();
        v
    };
    let soa = |z: &Zone| (z.soa().ttl, z.soa().first().into());
    Change { from: soa(before), to: soa(after), deleted: minus(&a, &b), added: minus(&b, &a) }
}
