//! Completing an answer that reached a GSLB pool: the one place that decides who the client
//! is, where it is, which data center and members answer, with what TTL and ECS scope.
//!
//! The general path ([`super::answer()`]), the fast path ([`super::cache`]) and
//! [`super::explain`] all call [`complete`] and take the records from [`Completed::records`],
//! so the server and its explanation cannot tell different stories.

use std::net::{IpAddr, SocketAddr};

use super::Request;
use super::wire::Query;
use crate::dns::rtype;
use crate::policy::{self, Ask, Client, Decision, Family, Located, Ordered, Trace};

/// What a GSLB answer did, for metrics and the query log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GslbOutcome {
    /// Pool index in the configuration.
    pub pool: usize,
    /// Data center answered from, if one.
    pub datacenter: Option<usize>,
    /// False when the client could not be located (geo miss).
    pub located: bool,
}

/// A completed GSLB answer.
#[derive(Debug, Clone)]
pub struct Completed<'c> {
    /// Pool index in the configuration.
    pub pool: usize,
    /// The address family asked for.
    pub family: Family,
    /// The address the client was located by.
    pub client: Client,
    /// Where it was found, from the sources: only when the decision was traced (explain);
    /// queries take the order from the compiled table
    /// ([`crate::policy::compiled::Compiled::lookup`]).
    pub located: Option<Located<'c>>,
    /// False when the client could not be located (a geo miss: the pool's default order).
    pub found: bool,
    /// The data center, members, TTL and fallback.
    pub decision: Decision,
    /// The ECS scope prefix of the answer (0 unless the client came from ECS).
    pub scope: u8,
}

/// One address record of a GSLB answer, ready for the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// Member index in the pool.
    pub member: usize,
    /// A or AAAA.
    pub rtype: u16,
    /// The address octets: the first 4 (A) or all 16 (AAAA).
    pub octets: [u8; 16],
}

impl Address {
    /// The record data.
    pub fn rdata(&self) -> &[u8] {
        if self.rtype == rtype::A { &self.octets[..4] } else { &self.octets }
    }
}

impl Completed<'_> {
    /// What to count.
    pub fn outcome(&self) -> GslbOutcome {
        GslbOutcome { pool: self.pool, datacenter: self.decision.datacenter, located: self.found }
    }

    /// The answer's address records in answer order (members without an address of the family
    /// are left out).
    pub fn records<'a>(&'a self, config: &'a crate::config::Config) -> impl Iterator<Item = Address> + 'a {
        let members = &config.gslb.pools[self.pool].members;
        self.decision.members.iter().filter_map(move |&m| {
            let mut octets = [0u8; 16];
            let rtype = match (self.family, members[m].ipv4, members[m].ipv6) {
                (Family::V4, Some(a), _) => {
                    octets[..4].copy_from_slice(&a.octets());
                    rtype::A
                }
                (Family::V6, _, Some(a)) => {
                    octets = a.octets();
                    rtype::AAAA
                }
                _ => return None,
            };
            Some(Address { member: m, rtype, octets })
        })
    }
}

/// Completes the answer of `request`'s query `query` that reached pool `pool`: locates the
/// client, and chooses against the request's health view; `trace` records every step when
/// given (explain), and nothing is formatted when it is not.
pub fn complete<'c>(request: &Request<'c>, query: &Query<'_>, pool: usize, trace: Trace<'_>) -> Completed<'c> {
    let family = if query.qtype == rtype::AAAA { Family::V6 } else { Family::V4 };
    complete_as(request, query, pool, family, trace)
}

/// [`complete`] for the address family `family` whatever the query's type (an HTTPS record's
/// hints are what A and AAAA queries would answer).
pub fn complete_as<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    pool: usize,
    family: Family,
    trace: Trace<'_>,
) -> Completed<'c> {
    complete_with(request, query, pool, family, trace, None)
}

/// [`complete`] for the fast path: the walk of the pool's data centers is taken from `walks`
/// when one was made for the same order and health view (and kept there when it may be).
pub fn complete_remembering<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    pool: usize,
    walks: &mut Walks,
) -> Completed<'c> {
    let family = if query.qtype == rtype::AAAA { Family::V6 } else { Family::V4 };
    complete_with(request, query, pool, family, None, Some(walks))
}

fn complete_with<'c>(
    request: &Request<'c>,
    query: &Query<'_>,
    pool: usize,
    family: Family,
    trace: Trace<'_>,
    walks: Option<&mut Walks>,
) -> Completed<'c> {
    let config = request.config();
    let gslb = &config.gslb;
    let client = client_of(query, request.peer, gslb.pools[pool].ecs);
    // The seed makes shuffles differ between queries while staying a function of the query.
    let seed = (u64::from(query.id) << 16 | u64::from(request.peer.port())) ^ ip_bits(request.peer.ip());
    let health = request.health();
    // A query takes the data center order from the pool's compiled table; explain (a trace)
    // works it out from the sources, to tell why, with the table's scope.
    let hit = config.decisions.lookup(pool, client.addr);
    let (located, found, prefix, decision) = match (hit, trace) {
        (Some(hit), None) => {
            let ask = Ordered { pool, family, order: hit.order, client: &client, seed };
            let decision = match walks {
                Some(walks) => walks.decide(config, &ask, health),
                None => policy::choose_ordered(gslb, &ask, health, None),
            };
            (None, hit.located, hit.prefix, decision)
        }
        (hit, trace) => {
            let located = policy::locate(gslb, &config.geo, &client);
            let decision =
                policy::choose(gslb, &Ask { pool, family, located: &located, client: &client, seed }, health, trace);
            let prefix = hit.map_or(located.prefix(), |h| h.prefix);
            let found = !matches!(located, Located::Unknown { .. });
            (Some(located), found, prefix, decision)
        }
    };
    // The scope covers every bit the answer depends on: the widest network around the client
    // with the same data center order, and the client's own network where a traffic dial or
    // `sticky` hashed it.
    let scope = if client.from_ecs { prefix.max(decision.client_prefix) } else { 0 };
    Completed { pool, family, client, located, found, decision, scope }
}

/// Most walks a worker keeps; past them it forgets them all and starts again.
pub const MAX_WALKS: usize = 4096;

/// A worker's walks of pools' data centers ([`policy::walk`]), by pool, compiled order and
/// address family, made against one configuration and one health view: every client whose
/// address has the same order gets the same walk unless a traffic dial below 100 was consulted
/// (such walks are not kept), so a query with one only arranges the members ([`policy::settle`]).
/// Forgotten whenever the configuration or the health view changes.
#[derive(Debug, Default)]
pub struct Walks {
    generation: u64,
    serial: u64,
    kept: std::collections::HashMap<(usize, usize, bool), policy::Walk, rustc_hash::FxBuildHasher>,
}

impl Walks {
    /// The decision for `ask` (whose order comes from `config`'s compiled tables) against
    /// `health`, from a kept walk when there is one.
    fn decide(
        &mut self,
        config: &crate::config::Config,
        ask: &Ordered<'_>,
        health: &crate::health::HealthSnapshot,
    ) -> Decision {
        if self.generation != config.generation || self.serial != health.serial() {
            self.kept.clear();
            self.generation = config.generation;
            self.serial = health.serial();
        }
        // The order is a slice of the configuration's compiled table: its address names it.
        let key = (ask.pool, ask.order.as_ptr() as usize, ask.family == Family::V6);
        let gslb = &config.gslb;
        if let Some(walk) = self.kept.get(&key) {
            return policy::settle(gslb, ask, walk, health, &mut None);
        }
        let walk = policy::walk(gslb, ask, health, &mut None);
        let decision = policy::settle(gslb, ask, &walk, health, &mut None);
        if !walk.dialed {
            if self.kept.len() >= MAX_WALKS {
                self.kept.clear();
            }
            self.kept.insert(key, walk);
        }
        decision
    }
}

/// The address a pool locates the client by: the ECS address when the query has one with a
/// non-zero source prefix and the pool uses ECS, else the query's source, IPv4-mapped IPv6
/// sources unmapped (RFC 7871 §7.1.2: source prefix 0 asks for an answer that does not depend
/// on the client's network).
pub fn client_of(query: &Query<'_>, peer: SocketAddr, use_ecs: bool) -> Client {
    if let Some(ecs) = query.edns.and_then(|e| e.ecs).filter(|e| use_ecs && e.source_prefix > 0) {
        return Client { addr: ecs.ip(), prefix: ecs.source_prefix, from_ecs: true };
    }
    let addr = peer.ip().to_canonical();
    Client { addr, prefix: if addr.is_ipv4() { 32 } else { 128 }, from_ecs: false }
}

fn ip_bits(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64)
        }
    }
}
