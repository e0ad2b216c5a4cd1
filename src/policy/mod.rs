//! Choosing the answer for a GSLB name: a pure function.
//!
//! [`locate`] finds where a client is (operator networks first, then the geo database);
//! [`choose`] orders the pool's data centers for that place (a region map's pinned order, else
//! great-circle distance, else the pool's default order), walks them to the first that can
//! serve according to the [`Health`] view, and picks that data center's addresses in the
//! order of the pool's selection policy. Nothing here reads a clock, does I/O or takes a lock;
//! randomness comes in as a seed, so the same inputs give the same answer, and every step can
//! be recorded in a [`Trace`] (what `meridian explain` prints).

pub mod compiled;
mod select;

use std::net::IpAddr;

use smallvec::SmallVec;

use crate::config::gslb::{DcId, Gslb, Network, NetworkTarget, Pool};
use crate::geo::{Code, GeoDb, Location, Precision, Unit, distance_km};

/// Which address family a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A records.
    V4,
    /// AAAA records.
    V6,
}

/// What the query path may do with a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Answer it.
    Up,
    /// Its checks fail, or an operator forced it down.
    Down,
    /// An operator drained it: no new answers.
    Drained,
}

/// Whether members can take answers: the health table's snapshot, or [`AllUp`].
pub trait Health {
    /// What queries may do with member `member` of pool `pool`.
    fn view(&self, pool: usize, member: usize) -> View;

    /// The member's smoothed check round-trip time in seconds, when known (for `fastest`).
    fn rtt(&self, _pool: usize, _member: usize) -> Option<f64> {
        None
    }

    /// The traffic dial of data center `dc` set at run time, which wins over the
    /// configuration's (the data center's and the pool's).
    fn dial(&self, _dc: DcId) -> Option<u8> {
        None
    }

    /// The traffic dial of data center `dc` set at run time for pool `pool` only, which wins
    /// over [`Health::dial`].
    fn pool_dial(&self, _pool: usize, _dc: DcId) -> Option<u8> {
        None
    }

    /// The dial capacity spillover allows data center `dc` (100: no shedding); the dial in
    /// force is the lower of this and the operator's or configuration's.
    fn spill(&self, _dc: DcId) -> u8 {
        100
    }

    /// The mean load data center `dc`'s members last reported to capacity spillover.
    fn load(&self, _dc: DcId) -> Option<f64> {
        None
    }
}

/// Every member is up.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllUp;

impl Health for AllUp {
    fn view(&self, _pool: usize, _member: usize) -> View {
        View::Up
    }
}

/// The address a client is located by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The ECS address (masked to its source prefix) or the query's source address.
    pub addr: IpAddr,
    /// The prefix length that is significant in `addr`: the ECS source prefix, or the full
    /// width for a source address.
    pub prefix: u8,
    /// True when `addr` came from an EDNS Client Subnet option.
    pub from_ecs: bool,
}

/// Where a client was found, and by what.
#[derive(Debug, Clone, PartialEq)]
pub enum Located<'g> {
    /// An operator network matched.
    Network {
        /// The entry.
        network: Network<'g>,
        /// Its prefix length.
        prefix: u8,
        /// The location it implies, when it names a region or a point.
        location: Option<Location>,
    },
    /// The geo database placed the address.
    Geo {
        /// The location.
        location: Location,
        /// Prefix length of the database network that matched.
        prefix: u8,
        /// The location's point as a unit vector.
        unit: Unit,
    },
    /// Nothing knows the address (private, loopback, unallocated, or no data).
    Unknown {
        /// Prefix length of the database network that matched (0 when none did).
        prefix: u8,
    },
}

impl Located<'_> {
    /// The prefix length of the network that decided: the ECS scope of the answer.
    pub fn prefix(&self) -> u8 {
        match self {
            Located::Network { prefix, .. } | Located::Geo { prefix, .. } | Located::Unknown { prefix } => *prefix,
        }
    }

    fn location(&self) -> Option<&Location> {
        match self {
            Located::Network { location, .. } => location.as_ref(),
            Located::Geo { location, .. } => Some(location),
            Located::Unknown { .. } => None,
        }
    }
}

/// Finds where `client` is: the operator's networks first, then the geo database.
pub fn locate<'g>(gslb: &'g Gslb, geo: &GeoDb, client: &Client) -> Located<'g> {
    if let Some((network, prefix)) = gslb.networks.lookup(client.addr) {
        return network_located(geo, network, prefix);
    }
    let hit = geo.locate(client.addr);
    match hit.location {
        Some(location) => {
            Located::Geo { location, prefix: hit.prefix, unit: hit.unit.unwrap_or_else(|| Unit::of(location.point)) }
        }
        None => Located::Unknown { prefix: hit.prefix },
    }
}

/// Where a client in the operator network `network` (of `prefix` bits) is.
fn network_located<'g>(geo: &GeoDb, network: Network<'g>, prefix: u8) -> Located<'g> {
    let location = match &network.target {
        NetworkTarget::Datacenters(_) => None,
        NetworkTarget::Point(point) => Some(Location {
            point: *point,
            precision: Precision::Record,
            continent: None,
            country: None,
            subdivision: None,
        }),
        NetworkTarget::Region { continent, country, subdivision } => {
            region_location(geo, *continent, *country, *subdivision)
        }
    };
    Located::Network { network, prefix, location }
}

fn region_location(
    geo: &GeoDb,
    continent: Option<Code>,
    country: Option<Code>,
    subdivision: Option<Code>,
) -> Option<Location> {
    let from_country = country.and_then(|c| geo.country(c));
    let continent = continent.or(from_country.map(|(c, _)| c));
    let (point, precision) = match (from_country, continent.and_then(|c| geo.continent(c))) {
        (Some((_, p)), _) => (p, Precision::Country),
        (None, Some(p)) => (p, Precision::Continent),
        (None, None) => return None,
    };
    Some(Location { point, precision, continent, country, subdivision })
}

/// Why the data centers are in the order they are.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderReason {
    /// An operator network listed them.
    Network,
    /// A region map entry pinned them (`map.key`), the rest by distance.
    Map(String),
    /// By great-circle distance from the client.
    Distance,
    /// The client could not be located: the pool's default order.
    Default,
}

/// Why a data center was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No member has an address of the family asked for.
    NoAddress,
    /// Every member with such an address is down.
    Down,
    /// Every member with such an address is drained (or down).
    Drained,
    /// Some are up, but fewer than `min_healthy` asks.
    TooFewHealthy {
        /// Members up.
        up: usize,
        /// Members needed.
        needed: usize,
    },
}

/// One step of a decision, for `meridian explain` and `/explain`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The data center order and why, with distances in km where known.
    Order(OrderReason, Vec<(DcId, Option<f64>)>),
    /// A bias changed the distances: each data center's distance as ordered (km times
    /// `1 - bias / 100`), in the order that results.
    Biased(Vec<(DcId, f64)>),
    /// The data center could serve, but its traffic dial (percent kept) sends this client's
    /// network on to the next; true when capacity spillover lowered the dial to that.
    Dialed(DcId, u8, bool),
    /// Every data center that could serve dialed the client away: the first of them answers
    /// anyway (dials move clients, they never empty an answer).
    DialedBack(DcId),
    /// A data center was passed over.
    Skipped(DcId, Skip),
    /// The data center answered.
    Chose(DcId),
    /// No data center has an address of the family.
    NoData,
    /// No data center could serve: the pool's fallback applied.
    Fallback(crate::config::gslb::Fallback),
}

/// Where steps are recorded; `None` on the query path, which records nothing.
pub type Trace<'t> = Option<&'t mut Vec<Step>>;

/// The answer for one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The data center answered from; `None` when no data center has the family, or for the
    /// `all` fallback.
    pub datacenter: Option<DcId>,
    /// Member indexes in the pool, in answer order.
    pub members: Members,
    /// TTL of the records: the pool's, or its `degraded_ttl` when the client's first data
    /// center could not serve or a fallback answered.
    pub ttl: u32,
    /// The fallback that applied, if no data center could serve.
    pub fallback: Option<crate::config::gslb::Fallback>,
    /// Further data centers whose members follow the first's (`datacenters_per_answer`).
    pub also: SmallVec<[DcId; 4]>,
    /// How many leading bits of the client's address the decision depends on beyond its
    /// location (a traffic dial or `sticky` hash the client's network): the ECS scope must be
    /// at least this long. 0 when nothing but the location counts.
    pub client_prefix: u8,
}

fn record(trace: &mut Trace<'_>, step: impl FnOnce() -> Step) {
    if let Some(t) = trace.as_deref_mut() {
        t.push(step());
    }
}

/// Data centers in the order they are tried, each with its closeness to the client (the
/// cosine of the angle between them, larger is nearer; 0 when the client has no location).
/// Inline up to 8 entries: ordering allocates nothing for any pool of a usual size.
type Ranked = SmallVec<[(DcId, f64); 8]>;

/// Member indexes of a pool, inline up to 8.
pub type Members = SmallVec<[usize; 8]>;

/// Which rule ordered the data centers; turned into an [`OrderReason`] (which owns text) only
/// when a trace asks for it, so that the query path formats nothing.
#[derive(Debug, Clone, Copy)]
enum OrderRule {
    Network,
    Map { map: usize, key: MapKey },
    Distance,
    Default,
}

#[derive(Debug, Clone, Copy)]
enum MapKey {
    Subdivision(Code, Code),
    Country(Code),
    Continent(Code),
}

impl OrderRule {
    fn reason(self, gslb: &Gslb) -> OrderReason {
        match self {
            OrderRule::Network => OrderReason::Network,
            OrderRule::Map { map, key } => {
                let key = match key {
                    MapKey::Subdivision(c, s) => format!("subdivisions.{c}-{s}"),
                    MapKey::Country(c) => format!("countries.{c}"),
                    MapKey::Continent(c) => format!("continents.{c}"),
                };
                OrderReason::Map(format!("{}.{key}", gslb.maps[map].name))
            }
            OrderRule::Distance => OrderReason::Distance,
            OrderRule::Default => OrderReason::Default,
        }
    }
}

/// Orders the pool's data centers for a located client, with the distance to each in km
/// where the client's location is known.
pub fn order(gslb: &Gslb, pool: &Pool, located: &Located<'_>) -> (OrderReason, Vec<(DcId, Option<f64>)>) {
    let mut list = Ranked::new();
    let (rule, _) = order_into(gslb, pool, located, &mut list);
    (rule.reason(gslb), with_km(gslb, located, &list))
}

fn with_km(gslb: &Gslb, located: &Located<'_>, list: &Ranked) -> Vec<(DcId, Option<f64>)> {
    let point = located.location().map(|l| l.point);
    list.iter().map(|&(d, _)| (d, point.map(|p| distance_km(p, gslb.datacenters[d].point)))).collect()
}

/// Orders the pool's data centers into `list`; also says whether a bias changed the keys
/// (they are then minus the biased angle, not the cosine).
fn order_into(gslb: &Gslb, pool: &Pool, located: &Located<'_>, list: &mut Ranked) -> (OrderRule, bool) {
    let from = match located {
        Located::Geo { unit, .. } => Some(*unit),
        _ => located.location().map(|l| Unit::of(l.point)),
    };
    // With a bias anywhere in the pool, data centers are ranked by their biased angle (Route
    // 53's `distance * (1 - bias / 100)`); without, by the cosine alone (no trigonometry).
    let biased = from.is_some() && pool.default_order.iter().any(|&d| gslb.datacenters[d].bias != 0);
    let closeness = |d: DcId| {
        let dc = &gslb.datacenters[d];
        match from {
            None => 0.0,
            Some(u) if biased => -(u.closeness(dc.unit).clamp(-1.0, 1.0).acos() * (1.0 - f64::from(dc.bias) / 100.0)),
            Some(u) => u.closeness(dc.unit),
        }
    };
    // Nearest first; the sort is stable, so ties keep the default order and the result is
    // deterministic.
    let by_distance = |list: &mut [(DcId, f64)]| {
        if from.is_some() {
            list.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
    };
    // The pinned data centers first (those of the pool, in the given order), the rest of the
    // pool's by distance.
    let pinned = |first: &[DcId], list: &mut Ranked| {
        list.extend(first.iter().filter(|d| pool.default_order.contains(d)).map(|&d| (d, closeness(d))));
        let head = list.len();
        list.extend(pool.default_order.iter().filter(|d| !first.contains(d)).map(|&d| (d, closeness(d))));
        by_distance(&mut list[head..]);
    };
    if let Located::Network { network: Network { target: NetworkTarget::Datacenters(first), .. }, .. } = located {
        pinned(first, list);
        return (OrderRule::Network, biased);
    }
    if let (Some(map_id), Some(loc)) = (pool.map, located.location()) {
        let map = &gslb.maps[map_id];
        let hit = loc
            .country
            .zip(loc.subdivision)
            .and_then(|(c, s)| map.subdivisions.get(&(c, s)).map(|l| (MapKey::Subdivision(c, s), l)))
            .or_else(|| loc.country.and_then(|c| map.countries.get(&c).map(|l| (MapKey::Country(c), l))))
            .or_else(|| loc.continent.and_then(|c| map.continents.get(&c).map(|l| (MapKey::Continent(c), l))));
        if let Some((key, first)) = hit {
            pinned(first, list);
            return (OrderRule::Map { map: map_id, key }, biased);
        }
    }
    list.extend(pool.default_order.iter().map(|&d| (d, closeness(d))));
    by_distance(list);
    (if from.is_some() { OrderRule::Distance } else { OrderRule::Default }, biased)
}

/// Whether a traffic dial of `percent` keeps `client` at the data center whose name hashes to
/// `dc_key`: a hash of the client's network (its /24 or /56, as `sticky` groups clients) and
/// the data center, uniform over 0..10 000, must fall below `percent * 100`. Deterministic, so a
/// client does not flap between queries or instances; monotonic, so raising a dial only brings
/// clients back and lowering it only sends clients away.
pub fn dial_keeps(client: &Client, dc_key: u64, percent: u8) -> bool {
    match percent {
        100.. => true,
        0 => false,
        p => select::mix(select::client_key(client) ^ dc_key) % 10_000 < u64::from(p) * 100,
    }
}

/// What a pool is asked: which pool and address family, for which client, found where, and
/// the seed the selection policies draw from.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a, 'g> {
    /// Pool index in the configuration.
    pub pool: usize,
    /// The address family asked for.
    pub family: Family,
    /// Where the client is.
    pub located: &'a Located<'g>,
    /// The client.
    pub client: &'a Client,
    /// Randomness for shuffles, a function of the query so that answers are reproducible.
    pub seed: u64,
}

/// The traffic dial of data center `dc` for pool `pool_id`: the one set (a run-time dial for
/// this pool, else for the data center, else the configuration's), and the one in force (the
/// lower of that and what capacity spillover allows).
pub fn dial_in_force(gslb: &Gslb, pool_id: usize, dc: DcId, health: &impl Health) -> (u8, u8) {
    let set = health
        .pool_dial(pool_id, dc)
        .or_else(|| health.dial(dc))
        .unwrap_or_else(|| gslb.pools[pool_id].dial(&gslb.datacenters, dc));
    (set, set.min(health.spill(dc)))
}

/// What a pool is asked when the data centers are already in order (from a compiled table,
/// [`compiled::Compiled::lookup`]).
#[derive(Debug, Clone, Copy)]
pub struct Ordered<'a> {
    /// Pool index in the configuration.
    pub pool: usize,
    /// The address family asked for.
    pub family: Family,
    /// The pool's data centers in the order they are tried.
    pub order: &'a [DcId],
    /// The client.
    pub client: &'a Client,
    /// Randomness for shuffles, a function of the query.
    pub seed: u64,
}

/// Chooses the answer of the pool `ask` names for its client: orders the data centers from
/// where the client is, then [`choose_ordered`].
pub fn choose(gslb: &Gslb, ask: &Ask<'_, '_>, health: &impl Health, mut trace: Trace<'_>) -> Decision {
    let Ask { pool: pool_id, family, located, client, seed } = *ask;
    let pool = &gslb.pools[pool_id];
    let mut order = Ranked::new();
    let (rule, biased) = order_into(gslb, pool, located, &mut order);
    record(&mut trace, || Step::Order(rule.reason(gslb), with_km(gslb, located, &order)));
    if biased {
        let km = crate::geo::distance::EARTH_RADIUS_KM;
        record(&mut trace, || Step::Biased(order.iter().map(|&(d, key)| (d, -key * km)).collect()));
    }
    let order: SmallVec<[DcId; 8]> = order.iter().map(|&(d, _)| d).collect();
    choose_ordered(gslb, &Ordered { pool: pool_id, family, order: &order, client, seed }, health, trace)
}

/// Chooses the answer of the pool `ask` names from its data centers in the order given: the
/// first that can serve per `health` and whose traffic dial keeps the client, its members
/// arranged by the pool's selection policy ([`walk`], then [`settle`]).
pub fn choose_ordered(gslb: &Gslb, ask: &Ordered<'_>, health: &impl Health, mut trace: Trace<'_>) -> Decision {
    let walk = walk(gslb, ask, health, &mut trace);
    settle(gslb, ask, &walk, health, &mut trace)
}

/// A pool's data centers walked in order against a health view: those that answer with their
/// members up (before the selection policy arranges them), or what the fallback needs.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The data centers that answer, each with its members up, in pool order.
    chosen: SmallVec<[(DcId, Members); 2]>,
    /// The client's first choice could not serve.
    degraded: bool,
    /// The first data center with members of the family (the `nearest` fallback's).
    first_with_family: Option<DcId>,
    /// A traffic dial below 100 was consulted, so the walk depends on the client's network;
    /// otherwise it is the same for every client with this order, pool, family and health
    /// view, and may be kept for them.
    pub dialed: bool,
}

/// Walks the data centers of `ask`'s order: each with members of the family, enough of them
/// up, and a dial that keeps the client answers, up to `datacenters_per_answer`; when every
/// one that could serve dialed the client away, the first of them answers anyway.
pub fn walk(gslb: &Gslb, ask: &Ordered<'_>, health: &impl Health, trace: &mut Trace<'_>) -> Walk {
    let Ordered { pool: pool_id, family, order, client, .. } = *ask;
    let pool = &gslb.pools[pool_id];
    let mut walk = Walk { chosen: SmallVec::new(), degraded: false, first_with_family: None, dialed: false };
    // The first data center that could serve but dialed this client away, with its members up.
    let mut dialed_away: Option<(DcId, Members)> = None;
    for &dc in order {
        let mut candidates = 0;
        let mut drained = false;
        let mut up = Members::new();
        for (i, m) in pool.members.iter().enumerate() {
            if m.dc != dc || !has_family(m, family) {
                continue;
            }
            candidates += 1;
            match health.view(pool_id, i) {
                View::Up => up.push(i),
                View::Drained => drained = true,
                View::Down => {}
            }
        }
        if candidates == 0 {
            record(trace, || Step::Skipped(dc, Skip::NoAddress));
            continue;
        }
        walk.first_with_family.get_or_insert(dc);
        let needed = pool.min_healthy.needed(candidates);
        if up.len() < needed {
            let why = if !up.is_empty() {
                Skip::TooFewHealthy { up: up.len(), needed }
            } else if drained {
                Skip::Drained
            } else {
                Skip::Down
            };
            record(trace, || Step::Skipped(dc, why));
            // Degraded: the client's first choice cannot serve (not a later one's failure).
            walk.degraded |= walk.chosen.is_empty();
            continue;
        }
        let (set, dial) = dial_in_force(gslb, pool_id, dc, health);
        if dial < 100 {
            walk.dialed = true;
            if !dial_keeps(client, gslb.datacenters[dc].key, dial) {
                record(trace, || Step::Dialed(dc, dial, dial < set));
                if dialed_away.is_none() {
                    dialed_away = Some((dc, up));
                }
                continue;
            }
        }
        record(trace, || Step::Chose(dc));
        walk.chosen.push((dc, up));
        if walk.chosen.len() >= pool.datacenters_per_answer {
            break;
        }
    }
    if walk.chosen.is_empty()
        && let Some((dc, up)) = dialed_away
    {
        record(trace, || Step::DialedBack(dc));
        walk.chosen.push((dc, up));
    }
    walk
}

/// A CNAME pool's members answer any question.
fn has_family(m: &crate::config::gslb::Member, family: Family) -> bool {
    match family {
        _ if m.cname.is_some() => true,
        Family::V4 => m.ipv4.is_some(),
        Family::V6 => m.ipv6.is_some(),
    }
}

/// The decision for `ask`'s client from a walk of its order: the chosen data centers' members
/// arranged by the pool's selection policy (with the query's seed and the client), or the
/// pool's fallback when none could serve.
pub fn settle(gslb: &Gslb, ask: &Ordered<'_>, walk: &Walk, health: &impl Health, trace: &mut Trace<'_>) -> Decision {
    let Ordered { pool: pool_id, family, client, seed, .. } = *ask;
    let pool = &gslb.pools[pool_id];
    let client_prefix = if walk.dialed || pool.selection == crate::config::gslb::Selection::Sticky {
        select::key_len(client)
    } else {
        0
    };
    if let Some((first, up)) = walk.chosen.first() {
        let mut members = select::arrange(pool, up.clone(), |i| health.rtt(pool_id, i), client, seed);
        for (_, up) in &walk.chosen[1..] {
            members.extend(select::arrange(pool, up.clone(), |i| health.rtt(pool_id, i), client, seed));
        }
        return Decision {
            datacenter: Some(*first),
            members,
            ttl: if walk.degraded { pool.degraded_ttl } else { pool.ttl },
            fallback: None,
            also: walk.chosen[1..].iter().map(|&(dc, _)| dc).collect(),
            client_prefix,
        };
    }
    let Some(nearest) = walk.first_with_family else {
        record(trace, || Step::NoData);
        return Decision {
            datacenter: None,
            members: Members::new(),
            ttl: pool.ttl,
            fallback: None,
            also: SmallVec::new(),
            client_prefix,
        };
    };
    // Nothing can serve: the pool's fallback, never an accidental empty answer.
    use crate::config::gslb::Fallback;
    record(trace, || Step::Fallback(pool.fallback));
    let (datacenter, members) = match pool.fallback {
        Fallback::Nearest => {
            let all: Members = (0..pool.members.len())
                .filter(|&i| pool.members[i].dc == nearest && has_family(&pool.members[i], family))
                .collect();
            (Some(nearest), select::arrange(pool, all, |_| None, client, seed))
        }
        Fallback::All => {
            let all: Members = (0..pool.members.len()).filter(|&i| has_family(&pool.members[i], family)).collect();
            (None, all)
        }
        Fallback::ServFail => (None, Members::new()),
    };
    Decision {
        datacenter,
        members,
        ttl: pool.degraded_ttl,
        fallback: Some(pool.fallback),
        also: SmallVec::new(),
        client_prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::gslb::{Datacenter, Member, RegionMap, Selection};
    use crate::geo::{Point, Unit};
    use std::collections::HashMap;

    fn dc(name: &str, lat: f64, lon: f64) -> Datacenter {
        let point = Point { lat, lon };
        Datacenter {
            name: name.into(),
            point,
            unit: Unit::of(point),
            continent: None,
            country: None,
            dial: 100,
            bias: 0,
            key: crate::config::gslb::datacenter_key(name),
            spillover: None,
        }
    }

    fn member(name: &str, dc: DcId, v4: Option<&str>, v6: Option<&str>, weight: u32) -> Member {
        Member {
            name: name.into(),
            dc,
            ipv4: v4.map(|a| a.parse().unwrap()),
            ipv6: v6.map(|a| a.parse().unwrap()),
            cname: None,
            weight,
            probe: None,
        }
    }

    /// ams (0), iad (1), sin (2); pool 0 has two members in each, sin without IPv6.
    fn gslb(selection: Selection, answers: Option<usize>) -> Gslb {
        let mut map = RegionMap { name: "regions".into(), ..RegionMap::default() };
        map.continents.insert(Code::new("OC").unwrap(), vec![2, 1]);
        map.countries.insert(Code::new("BR").unwrap(), vec![1]);
        map.subdivisions.insert((Code::new("US").unwrap(), Code::new("CA").unwrap()), vec![2, 1, 0]);
        let mut networks = crate::config::gslb::Networks::default();
        let net: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
        networks.insert(net, NetworkTarget::Datacenters(vec![2]));
        Gslb {
            datacenters: vec![dc("ams", 52.37, 4.90), dc("iad", 38.95, -77.45), dc("sin", 1.35, 103.82)],
            pools: vec![Pool {
                name: "www".into(),
                owners: vec![],
                ttl: 60,
                answers,
                selection,
                ecs: true,
                default_order: vec![1, 0, 2],
                map: Some(0),
                min_healthy: crate::config::gslb::MinHealthy::Count(1),
                fallback: crate::config::gslb::Fallback::Nearest,
                degraded_ttl: 5,
                health_quorum: crate::config::gslb::Quorum::Majority,
                dials: Vec::new(),
                datacenters_per_answer: 1,
                https: None,
                svcb: None,
                members: vec![
                    member("ams-1", 0, Some("192.0.2.1"), Some("2001:db8::1"), 1),
                    member("ams-2", 0, Some("192.0.2.2"), Some("2001:db8::2"), 3),
                    member("iad-1", 1, Some("198.51.100.1"), Some("2001:db8:1::1"), 1),
                    member("iad-2", 1, Some("198.51.100.2"), None, 1),
                    member("sin-1", 2, Some("203.0.113.1"), None, 1),
                    member("sin-2", 2, Some("203.0.113.2"), None, 1),
                ],
            }],
            maps: vec![map],
            networks,
            by_owner: HashMap::new(),
            warnings: Vec::new(),
            digest: String::new(),
            transfers: HashMap::new(),
            secondaries: HashMap::new(),
            tsig_keys: HashMap::new(),
            inputs: Vec::new(),
        }
    }

    fn at(
        lat: f64,
        lon: f64,
        country: Option<&str>,
        continent: Option<&str>,
        subdivision: Option<&str>,
    ) -> Located<'static> {
        Located::Geo {
            location: Location {
                point: Point { lat, lon },
                precision: Precision::Record,
                continent: continent.and_then(Code::new),
                country: country.and_then(Code::new),
                subdivision: subdivision.and_then(Code::new),
            },
            prefix: 24,
            unit: Unit::of(Point { lat, lon }),
        }
    }

    fn client() -> Client {
        Client { addr: "192.0.2.99".parse().unwrap(), prefix: 24, from_ecs: true }
    }

    struct Down(Vec<usize>);
    impl Health for Down {
        fn view(&self, _pool: usize, member: usize) -> View {
            if self.0.contains(&member) { View::Down } else { View::Up }
        }
    }

    fn names(g: &Gslb, order: &[(DcId, Option<f64>)]) -> Vec<String> {
        order.iter().map(|(d, _)| g.datacenters[*d].name.clone()).collect()
    }

    #[test]
    fn orders_by_distance_with_pins_and_defaults() {
        let g = gslb(Selection::Shuffle, None);
        let pool = &g.pools[0];
        let cases: Vec<(Located<'_>, &[&str], OrderReason)> = vec![
            // Paris, New York, Tokyo: nearest first.
            (at(48.85, 2.35, Some("FR"), Some("EU"), None), &["ams", "iad", "sin"], OrderReason::Distance),
            (at(40.71, -74.0, Some("US"), Some("NA"), None), &["iad", "ams", "sin"], OrderReason::Distance),
            (at(35.68, 139.69, Some("JP"), Some("AS"), None), &["sin", "ams", "iad"], OrderReason::Distance),
            // Sydney: continent pin (sin, iad) then the rest by distance.
            (
                at(-33.87, 151.21, Some("AU"), Some("OC"), None),
                &["sin", "iad", "ams"],
                OrderReason::Map("regions.continents.OC".into()),
            ),
            // A country pin beats the continent; São Paulo pinned to iad, then by distance.
            (
                at(-23.55, -46.63, Some("BR"), Some("SA"), None),
                &["iad", "ams", "sin"],
                OrderReason::Map("regions.countries.BR".into()),
            ),
            // A subdivision pin beats the country.
            (
                at(37.77, -122.42, Some("US"), Some("NA"), Some("CA")),
                &["sin", "iad", "ams"],
                OrderReason::Map("regions.subdivisions.US-CA".into()),
            ),
            // Unknown: the pool's default order.
            (Located::Unknown { prefix: 8 }, &["iad", "ams", "sin"], OrderReason::Default),
        ];
        for (located, expect, reason) in cases {
            let (got_reason, got) = order(&g, pool, &located);
            assert_eq!(names(&g, &got), expect, "{located:?}");
            assert_eq!(got_reason, reason, "{located:?}");
        }
    }

    #[test]
    fn operator_networks_pin_then_fall_back_by_distance() {
        let g = gslb(Selection::Shuffle, None);
        let located = Located::Network {
            network: g.networks.lookup("10.1.2.3".parse().unwrap()).unwrap().0,
            prefix: 8,
            location: None,
        };
        let (reason, got) = order(&g, &g.pools[0], &located);
        assert_eq!(reason, OrderReason::Network);
        // sin pinned; the rest in the default order, as the network gives no location.
        assert_eq!(names(&g, &got), ["sin", "iad", "ams"]);
        assert_eq!(located.prefix(), 8);
    }

    #[test]
    fn distance_ties_keep_the_default_order() {
        let mut g = gslb(Selection::Shuffle, None);
        g.datacenters[0].point = g.datacenters[1].point;
        let (_, got) = order(&g, &g.pools[0], &at(40.0, -75.0, None, None, None));
        assert_eq!(names(&g, &got), ["iad", "ams", "sin"]);
    }

    #[test]
    fn skips_data_centers_that_cannot_serve_and_records_why() {
        let g = gslb(Selection::Shuffle, None);
        let mut trace = Vec::new();
        // A Tokyo client asking AAAA: sin has no IPv6, so ams answers.
        let d = choose(
            &g,
            &Ask {
                pool: 0,
                family: Family::V6,
                located: &at(35.68, 139.69, None, None, None),
                client: &client(),
                seed: 1,
            },
            &AllUp,
            Some(&mut trace),
        );
        assert_eq!(d.datacenter, Some(0));
        assert_eq!(trace[1], Step::Skipped(2, Skip::NoAddress));
        assert_eq!(trace[2], Step::Chose(0));
        // With ams down too, iad answers, with only its IPv6 member.
        let mut trace = Vec::new();
        let d = choose(
            &g,
            &Ask {
                pool: 0,
                family: Family::V6,
                located: &at(35.68, 139.69, None, None, None),
                client: &client(),
                seed: 1,
            },
            &Down(vec![0, 1]),
            Some(&mut trace),
        );
        assert_eq!(d.datacenter, Some(1));
        assert_eq!(d.members.as_slice(), &[2]);
        assert_eq!(trace[2], Step::Skipped(0, Skip::Down));
        // Nothing up at all: no data center (the health work adds the fallback policy).
        // The degraded TTL applies when the first choice could not serve.
        assert_eq!(d.ttl, 5);
    }

    #[test]
    fn answers_limits_and_shuffle_varies_with_the_seed() {
        let g = gslb(Selection::Shuffle, Some(1));
        let paris = at(48.85, 2.35, None, None, None);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..64 {
            let d = choose(
                &g,
                &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed },
                &AllUp,
                None,
            );
            assert_eq!(d.members.len(), 1);
            seen.insert(d.members[0]);
        }
        assert_eq!(seen, [0usize, 1].into_iter().collect());
        // Same seed, same answer: the function is pure.
        let a =
            choose(&g, &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 7 }, &AllUp, None);
        assert_eq!(
            a,
            choose(&g, &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 7 }, &AllUp, None)
        );
    }

    #[test]
    fn weighted_follows_the_weights() {
        let g = gslb(Selection::Weighted, Some(1));
        let paris = at(48.85, 2.35, None, None, None);
        let firsts = (0..4000u64)
            .filter(|&seed| {
                choose(&g, &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed }, &AllUp, None)
                    .members[0]
                    == 1
            })
            .count();
        // ams-2 has weight 3 of 4: about 3000 of 4000 draws.
        assert!((2800..3200).contains(&firsts), "{firsts}");
    }

    #[test]
    fn sticky_keeps_a_client_on_its_member_and_moves_few_on_removal() {
        let g = gslb(Selection::Sticky, Some(1));
        let paris = at(48.85, 2.35, None, None, None);
        let mut per_member = [0usize; 2];
        let mut moved = 0;
        for i in 0..500u32 {
            let c = Client {
                addr: std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8))),
                prefix: 24,
                from_ecs: true,
            };
            let first =
                choose(&g, &Ask { pool: 0, family: Family::V4, located: &paris, client: &c, seed: 1 }, &AllUp, None)
                    .members[0];
            // Any seed, same member: stickiness does not depend on randomness.
            assert_eq!(
                first,
                choose(&g, &Ask { pool: 0, family: Family::V4, located: &paris, client: &c, seed: 99 }, &AllUp, None)
                    .members[0]
            );
            per_member[first] += 1;
            // Taking the other member down never moves this client.
            let other = 1 - first;
            let again = choose(
                &g,
                &Ask { pool: 0, family: Family::V4, located: &paris, client: &c, seed: 5 },
                &Down(vec![other]),
                None,
            )
            .members[0];
            if again != first {
                moved += 1;
            }
        }
        assert_eq!(moved, 0);
        assert!(per_member[0] > 150 && per_member[1] > 150, "{per_member:?}");
    }

    struct Views(Vec<View>);
    impl Health for Views {
        fn view(&self, _pool: usize, member: usize) -> View {
            self.0[member]
        }
    }

    #[test]
    fn min_healthy_drain_and_reasons() {
        use crate::config::gslb::MinHealthy;
        let paris = at(48.85, 2.35, None, None, None);
        let mut g = gslb(Selection::Shuffle, None);
        // ams needs both of its members up.
        g.pools[0].min_healthy = MinHealthy::Fraction(1.0);
        let one_down = Views(vec![View::Up, View::Down, View::Up, View::Up, View::Up, View::Up]);
        let mut trace = Vec::new();
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 1 },
            &one_down,
            Some(&mut trace),
        );
        assert_eq!(d.datacenter, Some(1));
        assert_eq!(trace[1], Step::Skipped(0, Skip::TooFewHealthy { up: 1, needed: 2 }));
        assert_eq!(d.ttl, 5, "degraded TTL while the first choice cannot serve");
        // With the default (one member is enough), the up member answers alone.
        g.pools[0].min_healthy = MinHealthy::Count(1);
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 1 },
            &one_down,
            None,
        );
        assert_eq!((d.datacenter, d.members.to_vec(), d.ttl), (Some(0), vec![0], 60));
        // Drained members are skipped with their own reason.
        let drained = Views(vec![View::Drained, View::Drained, View::Up, View::Up, View::Up, View::Up]);
        let mut trace = Vec::new();
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 1 },
            &drained,
            Some(&mut trace),
        );
        assert_eq!(d.datacenter, Some(1));
        assert_eq!(trace[1], Step::Skipped(0, Skip::Drained));
    }

    #[test]
    fn every_fallback_when_nothing_can_serve() {
        use crate::config::gslb::Fallback;
        let paris = at(48.85, 2.35, None, None, None);
        let all_down = Down((0..6).collect());
        let mut g = gslb(Selection::Shuffle, None);
        // nearest: the configured addresses of the first data center in the client's order.
        let mut trace = Vec::new();
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 1 },
            &all_down,
            Some(&mut trace),
        );
        assert_eq!(d.fallback, Some(Fallback::Nearest));
        assert_eq!(d.datacenter, Some(0));
        let mut m = d.members.clone();
        m.sort();
        assert_eq!(m.as_slice(), &[0, 1]);
        assert_eq!(d.ttl, 5);
        assert_eq!(trace.last(), Some(&Step::Fallback(Fallback::Nearest)));
        // all: every configured address of the family.
        g.pools[0].fallback = Fallback::All;
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V6, located: &paris, client: &client(), seed: 1 },
            &all_down,
            None,
        );
        assert_eq!(d.members.as_slice(), &[0, 1, 2]);
        // servfail: nothing, flagged.
        g.pools[0].fallback = Fallback::ServFail;
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: 1 },
            &all_down,
            None,
        );
        assert_eq!((d.fallback, d.members.len()), (Some(Fallback::ServFail), 0));
        // A family no member has is NODATA, not a fallback.
        let mut g = gslb(Selection::Shuffle, None);
        for m in &mut g.pools[0].members {
            m.ipv6 = None;
        }
        let d = choose(
            &g,
            &Ask { pool: 0, family: Family::V6, located: &paris, client: &client(), seed: 1 },
            &all_down,
            None,
        );
        assert_eq!((d.fallback, d.datacenter, d.members.len()), (None, None, 0));
    }

    struct Rtts(Vec<Option<f64>>);
    impl Health for Rtts {
        fn view(&self, _pool: usize, _member: usize) -> View {
            View::Up
        }
        fn rtt(&self, _pool: usize, member: usize) -> Option<f64> {
            self.0[member]
        }
    }

    #[test]
    fn fastest_prefers_quick_members_without_emptying_slow_ones() {
        use select::fastest_weights;
        // (round-trip times, expected weights)
        let cases: [(&[Option<f64>], &[f64]); 4] = [
            (&[Some(0.01), Some(0.02)], &[100.0, 50.0]),
            // 10 ms against 1 s: the slow one is floored at a tenth of the fast one's weight.
            (&[Some(0.01), Some(1.0)], &[100.0, 10.0]),
            // Unmeasured members get the largest weight.
            (&[Some(0.01), None], &[100.0, 100.0]),
            (&[None, None], &[1.0, 1.0]),
        ];
        for (rtts, want) in cases {
            let got = fastest_weights(rtts);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-9, "{rtts:?}: {got:?}");
            }
        }
        // Over many draws the 5 ms member of ams answers first about 2/3 of the time against a
        // 10 ms one, and the slow one still gets its share.
        let mut g = gslb(Selection::Fastest, Some(1));
        g.pools[0].members.truncate(2);
        let paris = at(48.85, 2.35, None, None, None);
        let health = Rtts(vec![Some(0.005), Some(0.010)]);
        let first = (0..3000u64)
            .filter(|&s| {
                choose(
                    &g,
                    &Ask { pool: 0, family: Family::V4, located: &paris, client: &client(), seed: s },
                    &health,
                    None,
                )
                .members[0]
                    == 0
            })
            .count();
        assert!((1850..2150).contains(&first), "{first}");
    }

    fn ask_at<'a>(located: &'a Located<'a>, client: &'a Client, family: Family) -> Ask<'a, 'a> {
        Ask { pool: 0, family, located, client, seed: 7 }
    }

    /// A client in 198.18.x.y/24 number `n` (0..65 536 networks), from ECS.
    fn network(n: u32) -> Client {
        let a = 0xc612_0000u32 | (n << 8);
        Client { addr: IpAddr::V4(a.into()), prefix: 24, from_ecs: true }
    }

    #[test]
    fn a_dial_keeps_its_share_of_client_networks_stably_and_monotonically() {
        let paris = at(48.85, 2.35, Some("FR"), Some("EU"), None);
        for percent in [0u8, 1, 10, 30, 50, 75, 99, 100] {
            let mut g = gslb(Selection::Shuffle, None);
            g.datacenters[0].dial = percent;
            let mut kept = 0usize;
            let n = 100_000u32;
            for i in 0..n {
                // 100 000 networks: 65 536 /24s of 198.18.0.0/15 and 34 464 of 100.64.0.0/10.
                let client = if i < 65_536 {
                    network(i)
                } else {
                    Client {
                        addr: IpAddr::V4((0x6440_0000u32 | ((i - 65_536) << 8)).into()),
                        prefix: 24,
                        from_ecs: true,
                    }
                };
                let d = choose(&g, &ask_at(&paris, &client, Family::V4), &AllUp, None);
                match d.datacenter {
                    Some(0) => kept += 1,
                    // The rest go to the next in their order (iad from Paris), never elsewhere.
                    other => assert_eq!(other, Some(1), "dial {percent}"),
                }
                assert_eq!(d.client_prefix, if percent < 100 { 24 } else { 0 }, "the scope covers the hashed network");
            }
            let share = kept as f64 / f64::from(n) * 100.0;
            assert!((share - f64::from(percent)).abs() <= 1.0, "dial {percent}%: kept {share:.2}%");
        }
        // The same network always gets the same answer, and raising a dial only brings networks
        // back (30 % kept is a subset of 60 % kept).
        let key = datacenter_key_of("ams");
        for i in 0..20_000 {
            let c = network(i);
            assert_eq!(dial_keeps(&c, key, 30), dial_keeps(&c, key, 30));
            if dial_keeps(&c, key, 30) {
                assert!(dial_keeps(&c, key, 60), "network {i} kept at 30 % but not at 60 %");
            }
        }
        // Two data centers' dials pick different networks (the hash includes the data center).
        let (a, b) = (datacenter_key_of("ams"), datacenter_key_of("iad"));
        let same = (0..10_000).filter(|&i| dial_keeps(&network(i), a, 50) == dial_keeps(&network(i), b, 50)).count();
        assert!((4_000..6_000).contains(&same), "{same}");
    }

    /// The point a fraction `f` of the way from `a` to `b` along the great circle.
    fn slerp(a: Point, b: Point, f: f64) -> Point {
        let xyz = |p: Point| {
            let (la, lo) = (p.lat.to_radians(), p.lon.to_radians());
            [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
        };
        let (u, v) = (xyz(a), xyz(b));
        let omega = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]).clamp(-1.0, 1.0).acos();
        let (s0, s1) = (((1.0 - f) * omega).sin() / omega.sin(), (f * omega).sin() / omega.sin());
        let w = [s0 * u[0] + s1 * v[0], s0 * u[1] + s1 * v[1], s0 * u[2] + s1 * v[2]];
        Point { lat: w[2].asin().to_degrees(), lon: w[1].atan2(w[0]).to_degrees() }
    }

    fn datacenter_key_of(name: &str) -> u64 {
        crate::config::gslb::datacenter_key(name)
    }

    #[test]
    fn dials_move_clients_between_serving_data_centers_and_never_empty_an_answer() {
        let paris = at(48.85, 2.35, Some("FR"), Some("EU"), None);
        let c = client();
        // ams dialed to 0: a graceful drain, the next in order answers with the usual TTL.
        let mut g = gslb(Selection::Shuffle, None);
        g.datacenters[0].dial = 0;
        let mut trace = Vec::new();
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &AllUp, Some(&mut trace));
        assert_eq!((d.datacenter, d.ttl, d.fallback), (Some(1), 60, None));
        assert!(trace.contains(&Step::Dialed(0, 0, false)), "{trace:?}");
        // A pool's own dial overrides the data center's.
        g.pools[0].dials = vec![(0, 100)];
        assert_eq!(choose(&g, &ask_at(&paris, &c, Family::V4), &AllUp, None).datacenter, Some(0));
        assert_eq!(g.pools[0].dial(&g.datacenters, 0), 100);
        assert_eq!(g.pools[0].dial(&g.datacenters, 1), 100);
        // Every data center that can serve dialed to 0: the first of them answers anyway.
        g.pools[0].dials.clear();
        for dc in &mut g.datacenters {
            dc.dial = 0;
        }
        let mut trace = Vec::new();
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &AllUp, Some(&mut trace));
        assert_eq!((d.datacenter, d.fallback), (Some(0), None));
        assert_eq!(trace.last(), Some(&Step::DialedBack(0)));
        // ams dialed away and iad down: sin serves (dials never send clients to a down site).
        g.datacenters[1].dial = 100;
        g.datacenters[2].dial = 100;
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &Down(vec![2, 3]), None);
        assert_eq!(d.datacenter, Some(2));
        assert_eq!(d.ttl, 5, "iad, where the dial sends the client, is down: degraded");
    }

    #[test]
    fn bias_moves_the_catchment_boundary_by_the_expected_distance() {
        // Clients along the great circle from ams to iad: where do they switch?
        let g0 = gslb(Selection::Shuffle, None);
        let (ams, iad) = (g0.datacenters[0].point, g0.datacenters[1].point);
        let boundary = |bias: i8| {
            let mut g = gslb(Selection::Shuffle, None);
            g.datacenters[0].bias = bias;
            let c = client();
            // Fraction of the way from ams to iad, by 0.1 % steps, where iad first wins.
            (0..=1000)
                .map(|k| f64::from(k) / 1000.0)
                .find(|&f| {
                    let p = slerp(ams, iad, f);
                    let l = at(p.lat, p.lon, None, None, None);
                    choose(&g, &ask_at(&l, &c, Family::V4), &AllUp, None).datacenter == Some(1)
                })
                .unwrap()
        };
        // Unbiased: halfway. A bias of b makes ams's distance count (1 - b/100): the boundary f
        // solves f (1 - b/100) = 1 - f, so f = 1 / (2 - b/100).
        for bias in [0i8, 50, -50, 90, -90] {
            let want = 1.0 / (2.0 - f64::from(bias) / 100.0);
            let got = boundary(bias);
            assert!((got - want).abs() < 0.0025, "bias {bias}: boundary at {got}, expected {want}");
        }
        // Explain sees the biased distances, nearest first.
        let mut g = gslb(Selection::Shuffle, None);
        g.datacenters[0].bias = 50;
        let mut trace = Vec::new();
        let paris = at(48.85, 2.35, Some("FR"), Some("EU"), None);
        choose(&g, &ask_at(&paris, &client(), Family::V4), &AllUp, Some(&mut trace));
        let Some(Step::Biased(list)) = trace.iter().find(|s| matches!(s, Step::Biased(_))) else { panic!("{trace:?}") };
        assert_eq!(list[0].0, 0);
        let real = distance_km(Point { lat: 48.85, lon: 2.35 }, ams);
        assert!((list[0].1 - real * 0.5).abs() < 1.0, "{} vs {real}", list[0].1);
        // Without any bias, no such step (and no trigonometry on the query path).
        let mut trace = Vec::new();
        choose(&gslb(Selection::Shuffle, None), &ask_at(&paris, &client(), Family::V4), &AllUp, Some(&mut trace));
        assert!(!trace.iter().any(|s| matches!(s, Step::Biased(_))));
    }

    #[test]
    fn an_answer_lists_the_members_of_the_first_n_serving_data_centers() {
        let paris = at(48.85, 2.35, Some("FR"), Some("EU"), None);
        let c = client();
        let mut g = gslb(Selection::Shuffle, Some(1));
        g.pools[0].datacenters_per_answer = 2;
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &AllUp, None);
        assert_eq!((d.datacenter, d.also.as_slice()), (Some(0), &[1][..]));
        // `answers` applies per data center: one member of each, the first's first.
        assert_eq!(d.members.len(), 2);
        assert_eq!(g.pools[0].members[d.members[0]].dc, 0);
        assert_eq!(g.pools[0].members[d.members[1]].dc, 1);
        // ams down: iad and sin, with the degraded TTL (the client's first choice failed).
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &Down(vec![0, 1]), None);
        assert_eq!((d.datacenter, d.also.as_slice(), d.ttl), (Some(1), &[2][..], 5));
        // sin has no IPv6: for AAAA only ams and iad can serve.
        g.pools[0].datacenters_per_answer = 3;
        let d = choose(&g, &ask_at(&paris, &c, Family::V6), &AllUp, None);
        assert_eq!((d.datacenter, d.also.as_slice()), (Some(0), &[1][..]));
        // A later data center's failure does not make the answer degraded.
        let d = choose(&g, &ask_at(&paris, &c, Family::V4), &Down(vec![4, 5]), None);
        assert_eq!((d.datacenter, d.also.as_slice(), d.ttl), (Some(0), &[1][..], 60));
    }
}
