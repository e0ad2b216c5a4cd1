//! Counters the query path updates without locks or allocation, read by the metrics endpoint.
//!
//! Every plain counter is declared once, in [`counters!`]'s table below: the shared atomics
//! ([`Stats`]), each worker's plain tally ([`Tally`]) and its flush, and the Prometheus names
//! and help texts all come from that one list. Queries are also counted in a fixed table by
//! transport, type and rcode (types and rcodes outside the table are counted as "other"), and
//! GSLB answers per pool and data center in counters that are looked up by name once per
//! configuration and then reached by index.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Shared;
use crate::config::Config;
use crate::dns::{rcode, rtype};
use crate::query::{Outcome, Transport};

/// Declares the plain counters once: the field, its Prometheus name and help.
macro_rules! counters {
    ($( $(#[doc = $doc:literal])+ $field:ident => $metric:literal, $help:literal; )+) => {
        /// Counters kept by the transports, shared by every worker.
        #[derive(Debug, Default)]
        pub struct Stats {
            $( $(#[doc = $doc])+ pub $field: AtomicU64, )+
            /// Answered queries by transport, type and rcode.
            pub queries: QueryCounters,
            /// GSLB answers by pool and data center.
            pub answers: AnswerCounters,
        }

        /// Counts of one transport worker, added to the shared [`Stats`] by [`Tally::flush`]:
        /// the batched UDP loop flushes once per batch, so a query costs no atomic operation
        /// and the workers of different cores do not pass the counters' cache lines back and
        /// forth.
        #[derive(Debug, Default)]
        pub struct Tally {
            $( $(#[doc = $doc])+ pub $field: u64, )+
            /// (counter index, count) of answered queries.
            queries: smallvec::SmallVec<[(usize, u64); 8]>,
            /// GSLB answers.
            answers: smallvec::SmallVec<[GslbCount; 8]>,
        }

        impl Stats {
            /// Every plain counter as (Prometheus name, help, value).
            pub fn plain(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$( ($metric, $help, self.$field.load(Ordering::Relaxed)), )+]
            }
        }

        impl Tally {
            /// Adds the plain counts to `stats` and zeroes them.
            fn flush_plain(&mut self, stats: &Stats) {
                $(
                    if self.$field > 0 {
                        stats.$field.fetch_add(self.$field, Ordering::Relaxed);
                        self.$field = 0;
                    }
                )+
            }
        }
    };
}

counters! {
    /// Datagrams received.
    udp_queries => "meridian_udp_datagrams_total", "UDP datagrams received.";
    /// Messages received over TCP.
    tcp_queries => "meridian_tcp_messages_total", "DNS messages received over TCP.";
    /// Messages received over DNS over TLS.
    tls_queries => "meridian_tls_messages_total", "DNS messages received over DNS over TLS.";
    /// Requests received over DNS over HTTPS.
    https_queries => "meridian_https_requests_total", "HTTP requests received by the DNS over HTTPS listeners.";
    /// Streams received over DNS over QUIC.
    quic_queries => "meridian_quic_streams_total", "Query streams received over DNS over QUIC.";
    /// Encrypted connections refused because their listener's connection limit was reached.
    tls_refused => "meridian_encrypted_refused_total",
        "DNS over TLS, HTTPS and QUIC connections refused because the listener's connection limit was reached.";
    /// TLS and QUIC handshakes that failed or took too long.
    tls_handshakes_failed => "meridian_tls_handshakes_failed_total",
        "TLS and QUIC handshakes that failed or did not finish within the handshake timeout.";
    /// Connections closed at once because the connection limit was reached.
    tcp_refused => "meridian_tcp_refused_total",
        "TCP connections closed at once because the connection limit was reached.";
    /// Packets not answered (shorter than a header, or responses).
    dropped => "meridian_dropped_packets_total", "Packets not answered (shorter than a header, or responses).";
    /// Queries whose answering panicked; each cost only that query.
    panics => "meridian_panics_total", "Queries whose answering panicked (each dropped; the server went on).";
    /// Queries refused as malformed (FORMERR).
    malformed => "meridian_malformed_queries_total", "Queries answered with FORMERR.";
    /// Queries that carried an EDNS Client Subnet option.
    ecs_queries => "meridian_ecs_queries_total", "Queries carrying an EDNS Client Subnet option.";
    /// UDP responses dropped by rate limiting.
    rrl_dropped => "meridian_rrl_dropped_total", "UDP responses dropped by response rate limiting.";
    /// UDP responses sent truncated by rate limiting (slip).
    rrl_slipped => "meridian_rrl_slipped_total", "UDP responses sent truncated by response rate limiting.";
    /// Responses rate limiting would have limited (dry run).
    rrl_would_limit => "meridian_rrl_would_limit_total", "Responses rate limiting would have limited (dry run).";
    /// Responses over the rate sent anyway because the query presented a valid server cookie.
    rrl_cookie_passed => "meridian_rrl_cookie_passed_total",
        "UDP responses over the rate limit sent anyway: the query presented a valid server cookie.";
    /// Zone transfers (AXFR, IXFR) served.
    transfers_served => "meridian_transfers_served_total", "Zone transfers (AXFR and IXFR) served to secondaries.";
    /// Zone transfer requests refused (not permitted, or a TSIG that failed).
    transfers_refused => "meridian_transfers_refused_total",
        "Zone transfer requests (AXFR, IXFR over TCP) refused: not permitted by the zone's [transfer], or a TSIG that failed.";
    /// Zone transfer requests whose TSIG failed.
    transfers_tsig_failed => "meridian_transfers_tsig_failed_total",
        "Zone transfer requests refused because their TSIG failed (unknown key, bad signature, time off).";
    /// Zone transfers out that stopped before their last message was sent.
    transfers_failed => "meridian_transfers_failed_total",
        "Zone transfers to secondaries that stopped before the last message was sent (connection lost or too slow).";
    /// Queries presenting a valid server cookie.
    cookies_valid => "meridian_cookie_valid_queries_total",
        "Queries presenting a valid server cookie (RFC 7873), over every transport.";
}

/// (configuration generation, pool, data center, [answers, fallbacks, geo misses]) of GSLB
/// answers.
type GslbCount = (u64, usize, Option<usize>, [u64; 3]);

impl Tally {
    /// Counts one answered query.
    pub fn count(&mut self, transport: Transport, outcome: &Outcome, generation: u64) {
        let index = QueryCounters::index(transport, outcome);
        match self.queries.iter_mut().find(|(i, _)| *i == index) {
            Some((_, n)) => *n += 1,
            None => self.queries.push((index, 1)),
        }
        self.malformed += u64::from(outcome.rcode == rcode::FORMERR);
        self.ecs_queries += u64::from(outcome.ecs);
        self.cookies_valid += u64::from(outcome.cookie);
        if let Some(g) = outcome.gslb {
            let key = (generation, g.pool, g.datacenter);
            let add = [1, u64::from(outcome.fallback), u64::from(!g.located)];
            match self.answers.iter_mut().find(|a| (a.0, a.1, a.2) == key) {
                Some(a) => a.3.iter_mut().zip(add).for_each(|(n, k)| *n += k),
                None => self.answers.push((generation, g.pool, g.datacenter, add)),
            }
        }
    }

    /// Adds the counts to `shared`'s counters and starts again from zero. GSLB answers of a
    /// configuration older than the last two are not counted (their indexes may name other
    /// pools now).
    pub fn flush(&mut self, shared: &Shared) {
        let stats = &shared.stats;
        self.flush_plain(stats);
        for &(index, n) in &self.queries {
            stats.queries.add(index, n);
        }
        if !self.answers.is_empty() {
            let bound = shared.bound.load();
            for &(generation, pool, dc, n) in &self.answers {
                bound.add(generation, pool, dc, n);
            }
        }
        self.queries.clear();
        self.answers.clear();
    }
}

/// Query types counted by name (mnemonics from [`crate::dns`]); everything else is "other".
pub const QTYPES: [u16; 12] = [
    rtype::A,
    rtype::NS,
    rtype::CNAME,
    rtype::SOA,
    rtype::PTR,
    rtype::MX,
    rtype::TXT,
    rtype::AAAA,
    rtype::SRV,
    rtype::DS,
    rtype::HTTPS,
    rtype::ANY,
];

/// Response codes counted by name; everything else is "other".
pub const RCODES: [u16; 8] = [
    rcode::NOERROR,
    rcode::FORMERR,
    rcode::SERVFAIL,
    rcode::NXDOMAIN,
    rcode::NOTIMP,
    rcode::REFUSED,
    rcode::YXDOMAIN,
    rcode::BADVERS,
];

/// The label of a counted type or rcode slot: its mnemonic, or "other" for the last slot.
fn label(table: &[u16], slot: usize, name: fn(u16) -> Option<&'static str>) -> &'static str {
    table.get(slot).and_then(|&n| name(n)).unwrap_or("other")
}

const TRANSPORTS: [&str; 5] = [
    Transport::ALL[0].name(),
    Transport::ALL[1].name(),
    Transport::ALL[2].name(),
    Transport::ALL[3].name(),
    Transport::ALL[4].name(),
];

/// Queries by transport, type and rcode.
#[derive(Debug)]
pub struct QueryCounters {
    counts: Vec<AtomicU64>,
}

impl Default for QueryCounters {
    fn default() -> Self {
        QueryCounters {
            counts: (0..TRANSPORTS.len() * QTYPE_SLOTS_N * RCODE_SLOTS_N).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Slots of the type table: the named types and "other".
const QTYPE_SLOTS_N: usize = QTYPES.len() + 1;
/// Slots of the rcode table: the named rcodes and "other".
const RCODE_SLOTS_N: usize = RCODES.len() + 1;

/// For each value below `N`, its slot in `table` (the slot after the table, "other", for
/// values the table does not name): one load per query rather than a search of the table.
const fn slots<const N: usize>(table: &[u16]) -> [u8; N] {
    let mut slots = [table.len() as u8; N];
    let mut i = 0;
    while i < table.len() {
        slots[table[i] as usize] = i as u8;
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
        _ => QTYPES.len(),
    }
}

fn rcode_index(rcode: u16) -> usize {
    RCODE_SLOTS.get(usize::from(rcode)).map_or(RCODES.len(), |&s| usize::from(s))
}

#[cfg(test)]
mod slot_tests {
    use super::*;

    #[test]
    fn slots_agree_with_the_tables() {
        for t in 0..=u16::MAX {
            let want = QTYPES.iter().position(|&n| n == t).unwrap_or(QTYPES.len());
            assert_eq!(qtype_index(Some(t)), want, "type {t}");
            let want = RCODES.iter().position(|&n| n == t).unwrap_or(RCODES.len());
            assert_eq!(rcode_index(t), want, "rcode {t}");
        }
        assert_eq!(qtype_index(None), QTYPES.len());
        assert_eq!(label(&QTYPES, qtype_index(Some(rtype::HTTPS)), crate::dns::type_name), "HTTPS");
        assert_eq!(label(&RCODES, rcode_index(rcode::BADVERS), crate::dns::rcode_name), "BADVERS");
        assert_eq!(label(&RCODES, rcode_index(9), crate::dns::rcode_name), "other");
    }
}

impl QueryCounters {
    /// Counts one answered query.
    pub fn record(&self, transport: Transport, outcome: &Outcome) {
        self.add(QueryCounters::index(transport, outcome), 1);
    }

    /// The counter an answered query goes to.
    pub fn index(transport: Transport, outcome: &Outcome) -> usize {
        // The variants are declared in the order of `Transport::ALL`.
        let t = transport as usize;
        (t * QTYPE_SLOTS_N + qtype_index(outcome.qtype)) * RCODE_SLOTS_N + rcode_index(outcome.rcode)
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
            for q in 0..QTYPE_SLOTS_N {
                for r in 0..RCODE_SLOTS_N {
                    let n = self.counts[(t * QTYPE_SLOTS_N + q) * RCODE_SLOTS_N + r].load(Ordering::Relaxed);
                    if n > 0 {
                        let qname = label(&QTYPES, q, crate::dns::type_name);
                        out.push((*tname, qname, label(&RCODES, r, crate::dns::rcode_name), n));
                    }
                }
            }
        }
        out
    }
}

/// GSLB answers per (pool, data center), and fallbacks and geo misses per pool, kept by name
/// across reloads.
#[derive(Debug, Default)]
pub struct AnswerCounters {
    registry: Mutex<HashMap<(String, String), Arc<AtomicU64>>>,
    per_pool: Mutex<HashMap<(String, PoolCount), Arc<AtomicU64>>>,
}

/// What is counted per pool besides answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolCount {
    /// Answers given by the pool's fallback.
    Fallbacks,
    /// Answers for clients that could not be located.
    GeoMisses,
}

/// The per-pool counters as Prometheus exports them: (kind, name, help).
pub const POOL_COUNTERS: [(PoolCount, &str, &str); 2] = [
    (
        PoolCount::Fallbacks,
        "meridian_gslb_fallbacks_total",
        "GSLB answers given by a pool's fallback because no data center could serve.",
    ),
    (PoolCount::GeoMisses, "meridian_geo_misses_total", "GSLB answers for clients no network or geo record placed."),
];

/// One pool's counters in one configuration: answers by data center index (the last slot is
/// for answers from no single data center: the `all` fallback), fallbacks, geo misses.
#[derive(Debug, Default, Clone)]
struct PoolSlots {
    datacenters: Vec<Arc<AtomicU64>>,
    fallbacks: Arc<AtomicU64>,
    geo_misses: Arc<AtomicU64>,
}

/// The counters of one configuration, by pool index, and those of the configuration it
/// replaced, so that answers of the moment of a reload are counted too.
#[derive(Debug, Default)]
pub struct BoundCounters {
    /// The configuration generation these indexes belong to.
    pub generation: u64,
    pools: Vec<PoolSlots>,
    previous: Option<(u64, Vec<PoolSlots>)>,
}

impl AnswerCounters {
    /// Counters for `config`, reusing those of names seen before.
    pub fn bind(&self, config: &Config) -> BoundCounters {
        let mut registry = crate::sync::lock(&self.registry);
        let mut per_pool = crate::sync::lock(&self.per_pool);
        let dcs: Vec<String> =
            config.gslb.datacenters.iter().map(|d| d.name.clone()).chain(std::iter::once("none".to_string())).collect();
        let pools = config
            .gslb
            .pools
            .iter()
            .map(|p| {
                let mut count = |kind| per_pool.entry((p.name.clone(), kind)).or_default().clone();
                PoolSlots {
                    datacenters: dcs
                        .iter()
                        .map(|d| registry.entry((p.name.clone(), d.clone())).or_default().clone())
                        .collect(),
                    fallbacks: count(PoolCount::Fallbacks),
                    geo_misses: count(PoolCount::GeoMisses),
                }
            })
            .collect();
        BoundCounters { generation: config.generation, pools, previous: None }
    }

    /// Every non-zero answer counter as (pool, data center, count).
    pub fn snapshot(&self) -> Vec<(String, String, u64)> {
        let registry = crate::sync::lock(&self.registry);
        let mut out: Vec<(String, String, u64)> = registry
            .iter()
            .map(|((p, d), c)| (p.clone(), d.clone(), c.load(Ordering::Relaxed)))
            .filter(|(_, _, n)| *n > 0)
            .collect();
        out.sort();
        out
    }

    /// Every pool's count of `kind`, zeros included (so a pool's series exists from the start).
    pub fn per_pool(&self, kind: PoolCount) -> Vec<(String, u64)> {
        let per_pool = crate::sync::lock(&self.per_pool);
        let mut out: Vec<(String, u64)> = per_pool
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|((p, _), c)| (p.clone(), c.load(Ordering::Relaxed)))
            .collect();
        out.sort();
        out
    }
}

impl BoundCounters {
    /// These counters, keeping `replaced`'s as the previous configuration's.
    pub fn after(self, replaced: &BoundCounters) -> BoundCounters {
        BoundCounters { previous: Some((replaced.generation, replaced.pools.clone())), ..self }
    }

    /// Counts `n` answers of `pool` from `dc` (or from no single data center), of which
    /// `fallbacks` came from the fallback and `geo_misses` went to clients not located, given
    /// by the configuration of `generation`.
    pub fn add(&self, generation: u64, pool: usize, dc: Option<usize>, n: [u64; 3]) {
        let pools = match &self.previous {
            _ if generation == self.generation => &self.pools,
            Some((g, pools)) if *g == generation => pools,
            _ => return,
        };
        if let Some(p) = pools.get(pool) {
            let i = dc.unwrap_or(p.datacenters.len() - 1).min(p.datacenters.len() - 1);
            p.datacenters[i].fetch_add(n[0], Ordering::Relaxed);
            for (counter, k) in [(&p.fallbacks, n[1]), (&p.geo_misses, n[2])] {
                if k > 0 {
                    counter.fetch_add(k, Ordering::Relaxed);
                }
            }
        }
    }
}
