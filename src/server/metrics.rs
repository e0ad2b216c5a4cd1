//! Counters the query path updates without locks or allocation, read by the metrics endpoint.
//!
//! Queries are counted in a fixed table by transport, type and rcode (types and rcodes outside
//! the table are counted as "other"), and GSLB answers per pool and data center in counters
//! that are looked up by name once per configuration and then reached by index.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::answer::{Outcome, Transport};
use crate::config::Config;

/// Query types counted by name; everything else is "other".
pub const QTYPES: [(u16, &str); 13] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (65, "HTTPS"),
    (255, "ANY"),
    (0, "other"),
];

/// Response codes counted by name; everything else is "other".
pub const RCODES: [(u16, &str); 9] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (16, "BADVERS"),
    (u16::MAX, "other"),
];

const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// Queries by transport, type and rcode.
#[derive(Debug)]
pub struct QueryCounters {
    counts: Vec<AtomicU64>,
}

impl Default for QueryCounters {
    fn default() -> Self {
        QueryCounters {
            counts: (0..TRANSPORTS.len() * QTYPES.len() * RCODES.len()).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// For each value below `N`, its slot in `table` (the last slot, "other", for values the
/// table does not name): one load per query rather than a search of the table.
const fn slots<const N: usize>(table: &[(u16, &str)]) -> [u8; N] {
    let other = table.len() - 1;
    let mut slots = [other as u8; N];
    let mut i = 0;
    while i < other {
        slots[table[i].0 as usize] = i as u8;
        i += 1;
    }
    slots
}

/// Slot in [`QTYPES`] of each type below 256 (all the named ones).
const QTYPE_SLOTS: [u8; 256] = slots(&QTYPES);
/// Slot in [`RCODES`] of each rcode up to 16 (all the named ones).
const RCODE_SLOTS: [u8; 17] = slots(&RCODES);

fn qtype_index(qtype: Option<u16>) -> usize {
    match qtype {
        Some(t) if t < 256 => usize::from(QTYPE_SLOTS[usize::from(t)]),
        _ => QTYPES.len() - 1,
    }
}

fn rcode_index(rcode: u16) -> usize {
    RCODE_SLOTS.get(usize::from(rcode)).map_or(RCODES.len() - 1, |&s| usize::from(s))
}

#[cfg(test)]
mod slot_tests {
    use super::*;

    #[test]
    fn slots_agree_with_the_tables() {
        for t in 0..=u16::MAX {
            let want = QTYPES[..QTYPES.len() - 1].iter().position(|&(n, _)| n == t).unwrap_or(QTYPES.len() - 1);
            assert_eq!(qtype_index(Some(t)), want, "type {t}");
            let want = RCODES[..RCODES.len() - 1].iter().position(|&(n, _)| n == t).unwrap_or(RCODES.len() - 1);
            assert_eq!(rcode_index(t), want, "rcode {t}");
        }
        assert_eq!(qtype_index(None), QTYPES.len() - 1);
    }
}

impl QueryCounters {
    /// Counts one answered query.
    pub fn record(&self, transport: Transport, outcome: &Outcome) {
        self.add(QueryCounters::index(transport, outcome), 1);
    }

    /// The counter an answered query goes to.
    pub fn index(transport: Transport, outcome: &Outcome) -> usize {
        let t = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
        };
        (t * QTYPES.len() + qtype_index(outcome.qtype)) * RCODES.len() + rcode_index(outcome.rcode)
    }

    /// Adds `n` to counter `index` (from [`QueryCounters::index`]).
    pub fn add(&self, index: usize, n: u64) {
        if let Some(c) = self.counts.get(index) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Every non-zero counter as (transport, qtype, rcode, count).
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (t, tname) in TRANSPORTS.iter().enumerate() {
            for (q, (_, qname)) in QTYPES.iter().enumerate() {
                for (r, (_, rname)) in RCODES.iter().enumerate() {
                    let n = self.counts[(t * QTYPES.len() + q) * RCODES.len() + r].load(Ordering::Relaxed);
                    if n > 0 {
                        out.push((*tname, *qname, *rname, n));
                    }
                }
            }
        }
        out
    }
}

/// GSLB answers per (pool, data center), kept by name across reloads.
#[derive(Debug, Default)]
pub struct AnswerCounters {
    registry: Mutex<HashMap<(String, String), Arc<AtomicU64>>>,
}

/// The counters of one configuration, by pool and data center index (the last slot of each
/// pool is for answers from no single data center: the `all` fallback).
#[derive(Debug, Default)]
pub struct BoundCounters {
    /// The configuration generation these indexes belong to.
    pub generation: u64,
    slots: Vec<Vec<Arc<AtomicU64>>>,
}

impl AnswerCounters {
    /// Counters for `config`, reusing those of names seen before.
    pub fn bind(&self, config: &Config) -> BoundCounters {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let dcs: Vec<String> =
            config.gslb.datacenters.iter().map(|d| d.name.clone()).chain(std::iter::once("none".to_string())).collect();
        let slots = config
            .gslb
            .pools
            .iter()
            .map(|p| dcs.iter().map(|d| registry.entry((p.name.clone(), d.clone())).or_default().clone()).collect())
            .collect();
        BoundCounters { generation: config.generation, slots }
    }

    /// Every non-zero counter as (pool, data center, count).
    pub fn snapshot(&self) -> Vec<(String, String, u64)> {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, String, u64)> = registry
            .iter()
            .map(|((p, d), c)| (p.clone(), d.clone(), c.load(Ordering::Relaxed)))
            .filter(|(_, _, n)| *n > 0)
            .collect();
        out.sort();
        out
    }
}

impl BoundCounters {
    /// Counts `n` answers of `pool` from `dc` (or from no single data center).
    pub fn add(&self, pool: usize, dc: Option<usize>, n: u64) {
        if let Some(slots) = self.slots.get(pool) {
            let i = dc.unwrap_or(slots.len() - 1).min(slots.len() - 1);
            slots[i].fetch_add(n, Ordering::Relaxed);
        }
    }
}
