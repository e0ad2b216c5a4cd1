//! Decisions compiled at load, so that a query does one longest-prefix match.
//!
//! Where a client goes depends, before health, only on where it is: the operator networks
//! first, then the geo database's network, turned into a data-center order by the pool's
//! region map, distances and default order ([`super::locate`] and the ordering in
//! [`super::choose`]). Pools with the same default order and region map order every address
//! alike, so each such set gets one [`Table`]: the address space of each family cut into
//! ranges, each with the order of the data centers for the clients in it. The geo
//! database's networks and the operator networks are walked together in address order
//! (operator networks nested in each other and in the database's networks alike), each
//! piece's order is worked out once per distinct source (database record, operator network
//! target) by the same code the uncompiled decision runs, and neighbouring pieces with the
//! same order are merged, as gdnsd does with its `nets` and maps.
//!
//! A lookup is then a table index on the first 16 bits and a binary search among the ranges
//! that start in that /16; the ECS scope is the widest aligned network around the address that
//! stays inside its range: the widest for which the order is the same, usually much wider than
//! the database network that located the client (resolvers then cache one answer for more
//! clients), and never covering an operator network inside a database network that would
//! answer otherwise. `meridian explain` still tells the story from the sources; the tests
//! hold the table to them for every network of the shipped database and random addresses.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use super::{Located, Ranked, network_located, order_into};
use crate::config::gslb::{DcId, Gslb, Network};
use crate::geo::GeoDb;

/// Most tables compiled (distinct default orders and region maps among the pools); pools past
/// them are answered from the sources, a little slower. Each table costs a few MiB with a
/// country database (more with a city database or a long network list).
pub const MAX_TABLES: usize = 32;

/// Most distinct orders in one table (each range holds an order's index as 16 bits).
const MAX_ORDERS: usize = u16::MAX as usize;

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The pool's data centers in the order they are tried for the address.
    pub order: &'a [DcId],
    /// False when neither an operator network nor the geo database placed the client (a geo
    /// miss, answered with the pool's default order and counted as such).
    pub located: bool,
    /// The prefix length of the widest network around the address with the same order.
    pub prefix: u8,
}

/// Every pool's compiled table (when it has one).
#[derive(Debug, Default)]
pub struct Compiled {
    /// Pool index -> table index; `u32::MAX` for pools answered from the sources.
    by_pool: Vec<u32>,
    tables: Vec<Table>,
    /// Why some pools (or all) were not compiled, for the load's warnings.
    pub note: Option<String>,
}

/// The ranges of one default order and region map.
#[derive(Debug)]
struct Table {
    orders: Vec<Box<[DcId]>>,
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl Compiled {
    /// Compiles the tables of `gslb`'s pools against `geo`.
    pub fn build(gslb: &Gslb, geo: &GeoDb) -> Compiled {
        // Pools that order alike share a table: the default order and the region map are all a
        // pool brings to the ordering (data centers, biases and networks are the definitions').
        let mut keys: FxHashMap<(&[DcId], Option<usize>), u32> = FxHashMap::default();
        let mut pools_of_table: Vec<usize> = Vec::new();
        let mut by_pool = Vec::with_capacity(gslb.pools.len());
        let mut left_out = 0;
        for (i, pool) in gslb.pools.iter().enumerate() {
            let key = (pool.default_order.as_slice(), pool.map);
            let next = pools_of_table.len() as u32;
            let table = match keys.get(&key) {
                Some(&t) => t,
                None if pools_of_table.len() < MAX_TABLES => {
                    keys.insert(key, next);
                    pools_of_table.push(i);
                    next
                }
                None => {
                    left_out += 1;
                    u32::MAX
                }
            };
            by_pool.push(table);
        }
        let mut compiler = Compiler {
            gslb,
            geo,
            pools: pools_of_table,
            sources: FxHashMap::default(),
            last: None,
            orders_of_source: Vec::new(),
            located: Vec::new(),
            interned: Vec::new(),
            failed: None,
        };
        compiler.interned.resize_with(compiler.pools.len(), FxHashMap::default);
        let v4 = compiler.family::<u32>(false);
        let v6 = compiler.family::<u128>(true);
        let mut note = (left_out > 0).then(|| {
            format!(
                "{left_out} pools have default orders or region maps past the first {MAX_TABLES} distinct ones: \
                 their decisions are not compiled (answered from the sources, slower per query)"
            )
        });
        let failed = compiler.failed.take();
        let (Some(v4), Some(v6), None) = (v4, v6, &failed) else {
            let why = failed.unwrap_or_else(|| "the geo database's tree cannot be walked".into());
            note =
                Some(format!("GSLB decisions are not compiled ({why}): answered from the sources, slower per query"));
            return Compiled { by_pool: vec![u32::MAX; gslb.pools.len()], tables: Vec::new(), note };
        };
        let tables = v4
            .into_iter()
            .zip(v6)
            .zip(compiler.interned)
            .map(|((v4, v6), interned)| {
                let mut orders: Vec<(Box<[DcId]>, u16)> = interned.into_iter().collect();
                orders.sort_unstable_by_key(|(_, i)| *i);
                Table { orders: orders.into_iter().map(|(o, _)| o).collect(), v4: v4.finish(), v6: v6.finish() }
            })
            .collect();
        Compiled { by_pool, tables, note }
    }

    /// The order for clients at `addr` of pool `pool`, with the widest prefix around `addr` that
    /// has it; `None` when the pool's decisions are not compiled.
    #[inline]
    pub fn lookup(&self, pool: usize, addr: IpAddr) -> Option<Hit<'_>> {
        let table = self.tables.get(*self.by_pool.get(pool)? as usize)?;
        let (order, prefix, located) = match addr {
            IpAddr::V4(a) => table.v4.find(u32::from(a)),
            IpAddr::V6(a) => table.v6.find(u128::from(a)),
        };
        Some(Hit { order: &table.orders[usize::from(order)], located, prefix })
    }

    /// How many tables there are, and their IPv4 and IPv6 ranges in all.
    pub fn size(&self) -> (usize, usize, usize) {
        let v4 = self.tables.iter().map(|t| t.v4.starts.len()).sum();
        let v6 = self.tables.iter().map(|t| t.v6.starts.len()).sum();
        (self.tables.len(), v4, v6)
    }
}

/// Where the pieces of the address space get their orders from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    /// An operator network's target (by index).
    Network(u32),
    /// A geo database record (by offset), or no data.
    Geo(Option<usize>),
}

struct Compiler<'g> {
    gslb: &'g Gslb,
    geo: &'g GeoDb,
    /// One pool of each table (any: they order alike).
    pools: Vec<usize>,
    /// Each distinct source met so far -> its index.
    sources: FxHashMap<Source, u32>,
    /// The last piece's source and its index.
    last: Option<(Source, u32)>,
    /// Source index * tables + table -> the order's index in that table.
    orders_of_source: Vec<u16>,
    /// Source index -> whether it locates clients.
    located: Vec<bool>,
    /// Each table's orders -> index.
    interned: Vec<FxHashMap<Box<[DcId]>, u16>>,
    failed: Option<String>,
}

impl Compiler<'_> {
    /// The ranges of one address family for every table, or `None` when the geo database's
    /// tree could not be walked.
    fn family<A: Bits>(&mut self, v6: bool) -> Option<Vec<Builder<A>>> {
        let mut networks: Vec<(A, u8, u32)> =
            self.gslb.networks.indexed(v6).map(|(first, len, target)| (A::from_u128(first), len, target)).collect();
        // Outer networks before those nested in them.
        networks.sort_unstable_by_key(|&(first, len, _)| (first, len));
        let mut builders: Vec<Builder<A>> = (0..self.pools.len()).map(|_| Builder::default()).collect();
        let mut operator = OperatorRanges::new(&networks);
        let mut current = operator.next()?;
        // A tree has at most one network more than it has nodes; aliased subtrees (IPv4 under
        // several IPv6 prefixes) are walked once for each alias.
        let geo = self.geo;
        let limit = geo.node_count().saturating_mul(8).saturating_add(64);
        let walked = geo.for_each_network(v6, limit, |first, len, record| {
            let first = A::from_u128(first);
            let last = first.last(len);
            let mut at = first;
            loop {
                let end = last.min(current.last);
                self.piece(&mut builders, at, current.network, record);
                if current.last == end
                    && end != A::MAX
                    && let Some(next) = operator.next()
                {
                    current = next;
                }
                if end == last {
                    break;
                }
                at = end.next();
            }
        });
        walked.then_some(builders)
    }

    /// Gives the addresses from `at` (up to the next piece) the order of their source in each
    /// table: the operator network covering them, else the database's record.
    fn piece<A: Bits>(
        &mut self,
        builders: &mut [Builder<A>],
        at: A,
        network: Option<(u32, A, u8)>,
        record: Option<usize>,
    ) {
        if self.failed.is_some() {
            return;
        }
        let source = match network {
            Some((target, _, _)) => Source::Network(target),
            None => Source::Geo(record),
        };
        let tables = self.pools.len();
        // Neighbouring pieces mostly share their source.
        let cached = self.last.filter(|(s, _)| *s == source).map(|(_, i)| i as usize);
        let index = match cached.or_else(|| self.sources.get(&source).map(|&i| i as usize)) {
            Some(i) => i,
            None => {
                let located = match network {
                    Some((target, first, len)) => {
                        let Ok(net) = ipnet::IpNet::new(first.ip(), len) else {
                            self.failed = Some(format!("operator network {first:?}/{len} is not a network"));
                            return;
                        };
                        network_located(self.geo, Network { net, target: self.gslb.networks.target(target) }, len)
                    }
                    None => match record.and_then(|r| self.geo.place_at(r, at.ip())) {
                        Some((location, unit)) => Located::Geo { location, prefix: 0, unit },
                        None => Located::Unknown { prefix: 0 },
                    },
                };
                let found = !matches!(located, Located::Unknown { .. });
                for t in 0..tables {
                    let mut ranked = Ranked::new();
                    order_into(self.gslb, &self.gslb.pools[self.pools[t]], &located, &mut ranked);
                    let order: Box<[DcId]> = ranked.iter().map(|&(d, _)| d).collect();
                    let interned = &mut self.interned[t];
                    let next = interned.len();
                    if next >= MAX_ORDERS {
                        self.failed = Some(format!("more than {MAX_ORDERS} distinct data center orders"));
                        return;
                    }
                    let i = *interned.entry(order).or_insert(next as u16);
                    self.orders_of_source.push(i);
                }
                self.located.push(found);
                let i = self.sources.len();
                self.sources.insert(source, i as u32);
                i
            }
        };
        self.last = Some((source, index as u32));
        let located = self.located[index];
        for (t, builder) in builders.iter_mut().enumerate() {
            builder.push(at, self.orders_of_source[index * tables + t], located);
        }
    }
}

/// The operator networks of one family as ranges covering the whole space, each with the
/// longest network holding it (target index, first address, prefix length), if any.
struct OperatorRanges<'n, A> {
    networks: &'n [(A, u8, u32)],
    next: usize,
    /// The first address not given yet.
    at: A,
    /// Networks holding `at`, outermost first, each with its last address.
    open: Vec<(A, (u32, A, u8))>,
    done: bool,
}

/// A range of addresses and the operator network holding them.
#[derive(Debug, Clone, Copy)]
struct Range<A> {
    last: A,
    network: Option<(u32, A, u8)>,
}

impl<'n, A: Bits> OperatorRanges<'n, A> {
    fn new(networks: &'n [(A, u8, u32)]) -> Self {
        OperatorRanges { networks, next: 0, at: A::ZERO, open: Vec::new(), done: false }
    }
}

impl<A: Bits> Iterator for OperatorRanges<'_, A> {
    type Item = Range<A>;

    fn next(&mut self) -> Option<Range<A>> {
        if self.done {
            return None;
        }
        loop {
            let starts = self.networks.get(self.next).map(|n| n.0);
            match (self.open.last().copied(), starts) {
                // The next network starts inside the innermost open one (or outside any).
                (Some((last, _)), Some(first)) if first <= last => {}
                (None, Some(_)) => {}
                // The innermost open network ends before the next starts.
                (Some((last, (target, first, len))), _) => {
                    self.open.pop();
                    if self.at > last {
                        // Ended with a nested network that reached its end.
                        continue;
                    }
                    let range = Range { last, network: Some((target, first, len)) };
                    if last == A::MAX {
                        self.done = true;
                    } else {
                        self.at = last.next();
                    }
                    return Some(range);
                }
                (None, None) => {
                    self.done = true;
                    return Some(Range { last: A::MAX, network: None });
                }
            }
            let (first, len, target) = self.networks[self.next];
            if first > self.at {
                let range = Range { last: first.prev(), network: self.open.last().map(|o| o.1) };
                self.at = first;
                return Some(range);
            }
            self.open.push((first.last(len), (target, first, len)));
            self.next += 1;
        }
    }
}

/// One table's ranges of one family while they are made.
#[derive(Debug)]
struct Builder<A> {
    starts: Vec<A>,
    orders: Vec<u16>,
    located: Vec<Located3>,
    /// Where whether clients are located changes, whatever the order.
    flag_starts: Vec<A>,
    flags: Vec<bool>,
}

/// Whether a range's clients are located: all, none, or some (then
/// [`Ranges::flag_starts`] tells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Located3 {
    No,
    Yes,
    Mixed,
}

impl<A> Default for Builder<A> {
    fn default() -> Self {
        Builder {
            starts: Vec::new(),
            orders: Vec::new(),
            located: Vec::new(),
            flag_starts: Vec::new(),
            flags: Vec::new(),
        }
    }
}

impl<A: Bits> Builder<A> {
    /// The addresses from `at` on have `order` (until the next push); merged with the range
    /// before when it has the same order, whether or not the clients are located (a resolver
    /// may cache the answer for both alike; the geo-miss count stays exact through the flags).
    fn push(&mut self, at: A, order: u16, located: bool) {
        let flag = if located { Located3::Yes } else { Located3::No };
        if self.orders.last() != Some(&order) {
            self.starts.push(at);
            self.orders.push(order);
            self.located.push(flag);
        } else if let Some(last) = self.located.last_mut()
            && *last != flag
        {
            *last = Located3::Mixed;
        }
        if self.flags.last() != Some(&located) {
            self.flag_starts.push(at);
            self.flags.push(located);
        }
    }

    fn finish(self) -> Ranges<A> {
        let starts = self.starts.into_boxed_slice();
        // index[h]: the first range starting at or after the h-th /16 (the 65 536th: none).
        let mut index = Vec::with_capacity((1 << 16) + 1);
        let mut i = 0;
        for h in 0..1usize << 16 {
            let block = A::block(h);
            while i < starts.len() && starts[i] < block {
                i += 1;
            }
            index.push(i as u32);
        }
        index.push(starts.len() as u32);
        // The flags are needed only where a range mixes located and unlocated clients.
        let mixed = self.located.contains(&Located3::Mixed);
        let (flag_starts, flags) = if mixed { (self.flag_starts, self.flags) } else { (Vec::new(), Vec::new()) };
        Ranges {
            starts,
            orders: self.orders.into_boxed_slice(),
            located: self.located.into_boxed_slice(),
            flag_starts: flag_starts.into_boxed_slice(),
            flags: flags.into_boxed_slice(),
            index: index.into_boxed_slice(),
        }
    }
}

/// The address space of one family cut into ranges, each with an order index.
#[derive(Debug)]
struct Ranges<A> {
    /// Each range's first address, ascending; the first is 0.
    starts: Box<[A]>,
    orders: Box<[u16]>,
    located: Box<[Located3]>,
    /// Where whether clients are located changes (kept only when some range is mixed).
    flag_starts: Box<[A]>,
    flags: Box<[bool]>,
    /// 65 537 entries: see [`Builder::finish`].
    index: Box<[u32]>,
}

impl<A: Bits> Ranges<A> {
    /// The order of `addr`'s range, the prefix length of the widest network around `addr`
    /// inside that range, and whether `addr` is located.
    #[inline]
    fn find(&self, addr: A) -> (u16, u8, bool) {
        let h = addr.top16();
        let (lo, hi) = (self.index[h] as usize, self.index[h + 1] as usize);
        // The last range starting at or before `addr`: among those starting in its /16, else
        // the one before them (ranges start at 0, so there is one).
        let i = (lo + self.starts[lo..hi].partition_point(|&s| s <= addr)).saturating_sub(1);
        let start = self.starts[i];
        // The network of `addr` grows until it would take in the address before the range or
        // the first after it.
        let mut len = 0;
        if start != A::ZERO {
            len = addr.common(start.prev()) + 1;
        }
        if let Some(&next) = self.starts.get(i + 1) {
            len = len.max(addr.common(next) + 1);
        }
        let located = match self.located[i] {
            Located3::Yes => true,
            Located3::No => false,
            Located3::Mixed => {
                let j = self.flag_starts.partition_point(|&s| s <= addr).saturating_sub(1);
                self.flags[j]
            }
        };
        (self.orders[i], len as u8, located)
    }
}

/// An address as a number: `u32` for IPv4, `u128` for IPv6.
trait Bits: Copy + Ord + std::fmt::Debug {
    const ZERO: Self;
    const MAX: Self;
    /// From a number below 2^width.
    fn from_u128(v: u128) -> Self;
    /// The first 16 bits.
    fn top16(self) -> usize;
    /// The first address of the `h`-th /16.
    fn block(h: usize) -> Self;
    /// How many leading bits `self` and `other` have in common.
    fn common(self, other: Self) -> u32;
    fn next(self) -> Self;
    fn prev(self) -> Self;
    /// The last address of the network of `len` bits starting at `self`.
    fn last(self, len: u8) -> Self;
    fn ip(self) -> IpAddr;
}

macro_rules! bits {
    ($t:ty, $ip:ty) => {
        impl Bits for $t {
            const ZERO: Self = 0;
            const MAX: Self = <$t>::MAX;
            fn from_u128(v: u128) -> Self {
                v as $t
            }
            #[inline]
            fn top16(self) -> usize {
                (self >> (<$t>::BITS - 16)) as usize
            }
            fn block(h: usize) -> Self {
                (h as $t) << (<$t>::BITS - 16)
            }
            #[inline]
            fn common(self, other: Self) -> u32 {
                (self ^ other).leading_zeros()
            }
            fn next(self) -> Self {
                self.wrapping_add(1)
            }
            fn prev(self) -> Self {
                self.wrapping_sub(1)
            }
            fn last(self, len: u8) -> Self {
                self | <$t>::MAX.checked_shr(u32::from(len)).unwrap_or(0)
            }
            fn ip(self) -> IpAddr {
                IpAddr::from(<$ip>::from(self))
            }
        }
    };
}

bits!(u32, std::net::Ipv4Addr);
bits!(u128, std::net::Ipv6Addr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::geo::GeoDb;
    use crate::policy::{Client, locate};
    use ipnet::IpNet;
    use std::path::Path;

    /// The order the uncompiled decision gives `addr`, and the prefix of what located it.
    fn from_sources(config: &Config, pool: usize, addr: IpAddr) -> ((Box<[DcId]>, bool), u8) {
        let client = Client { addr, prefix: if addr.is_ipv4() { 32 } else { 128 }, from_ecs: true };
        let located = locate(&config.gslb, &config.geo, &client);
        let mut ranked = Ranked::new();
        order_into(&config.gslb, &config.gslb.pools[pool], &located, &mut ranked);
        let order: Box<[DcId]> = ranked.iter().map(|&(d, _)| d).collect();
        ((order, !matches!(located, Located::Unknown { .. })), located.prefix())
    }

    /// Tallies of [`check`]: addresses checked, and how many got a scope wider than, equal to
    /// and narrower than the network that located them.
    #[derive(Debug, Default)]
    struct Tally {
        checked: usize,
        wider: usize,
        same: usize,
        narrower: usize,
    }

    /// The compiled order of `addr` is the uncompiled one, and the network its scope names has
    /// that order at both ends (and, with `spread`, at six addresses inside).
    fn check(config: &Config, pool: usize, addr: IpAddr, spread: bool, tally: &mut Tally) {
        let hit = config.decisions.lookup(pool, addr).expect("the pool is compiled");
        let (order, prefix) = from_sources(config, pool, addr);
        assert_eq!((hit.order, hit.located), (&*order.0, order.1), "{addr}");
        let net = IpNet::new(addr, hit.prefix).unwrap().trunc();
        let (first, last) = (net.network(), net.broadcast());
        let inside = |k: u128| match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let (a, b) = (u32::from(a), u32::from(b));
                IpAddr::from(std::net::Ipv4Addr::from(a + ((u128::from(b - a) * k / 7) as u32)))
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let (a, b) = (u128::from(a), u128::from(b));
                IpAddr::from(std::net::Ipv6Addr::from(a + (b - a) / 7 * k))
            }
            _ => unreachable!(),
        };
        for other in [first, last].into_iter().chain((1..7).filter(|_| spread).map(inside)) {
            assert_eq!(from_sources(config, pool, other).0.0, order.0, "{addr} scope {net}: {other}");
        }
        tally.checked += 1;
        match hit.prefix.cmp(&prefix) {
            std::cmp::Ordering::Less => tally.wider += 1,
            std::cmp::Ordering::Equal => tally.same += 1,
            std::cmp::Ordering::Greater => tally.narrower += 1,
        }
    }

    /// Random addresses: half IPv4, half IPv6 (global unicast, and the ranges an IPv6 tree
    /// aliases to its IPv4 part).
    fn random(n: usize, mut each: impl FnMut(IpAddr)) {
        let mut x: u128 = 0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15;
        let v6: [(u128, u32); 4] = [(0x2000 << 112, 3), (0xffff << 32, 96), (0x2002 << 112, 16), (0, 96)];
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 2 == 0 {
                each(IpAddr::from(std::net::Ipv4Addr::from(x as u32)));
            } else {
                let (base, len) = v6[(i / 2) % v6.len()];
                each(IpAddr::from(std::net::Ipv6Addr::from(base | (x >> len))));
            }
        }
    }

    /// Every network of the shipped database (its first and last address), every operator
    /// network of the shipped example and the addresses around them, and 100 000 random
    /// addresses: the compiled table gives the order the sources give.
    #[test]
    fn the_compiled_table_agrees_with_the_sources_over_the_shipped_database() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&root.join("zones"), &root.join("geo/dbip-country.mmdb")).unwrap();
        assert!(config.decisions.note.is_none(), "{:?}", config.decisions.note);
        let pool = config.gslb.pools.iter().position(|p| p.name == "www").unwrap();
        let mut tally = Tally::default();
        let reader = maxminddb::Reader::open_readfile(root.join("geo/dbip-country.mmdb")).unwrap();
        let mut networks = 0;
        for lookup in reader.networks(maxminddb::WithinOptions::default().include_networks_without_data()).unwrap() {
            let net = lookup.unwrap().network().unwrap();
            let net = IpNet::new(net.network(), net.prefix()).unwrap();
            check(&config, pool, net.network(), false, &mut tally);
            networks += 1;
        }
        assert!(networks > 500_000, "{networks} networks");
        for network in config.gslb.networks.iter() {
            let (first, last) = (network.net.network(), network.net.broadcast());
            for addr in [first, last] {
                check(&config, pool, addr, true, &mut tally);
            }
        }
        let mut random_tally = Tally::default();
        random(100_000, |addr| check(&config, pool, addr, true, &mut random_tally));
        // Merging by order widens many scopes; none is narrower (no operator network of the
        // example lies inside a database network).
        assert_eq!(tally.narrower + random_tally.narrower, 0, "{tally:?} {random_tally:?}");
        assert!(tally.wider > tally.checked / 3, "{tally:?}");
        assert!(random_tally.wider > random_tally.checked / 10, "{random_tally:?}");
        let (tables, v4, v6) = config.decisions.size();
        assert_eq!(tables, 1);
        eprintln!("networks: {tally:?}; random: {random_tally:?}; {v4} IPv4 ranges, {v6} IPv6 ranges");
    }

    /// A small pseudo-random generator (xorshift), the same sequence every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A generated database (nested networks of both families, records with coordinates,
    /// with a country only, with a continent only) and generated definitions (four data
    /// centers, one biased; two pools that order differently, one with a region map; nested
    /// operator networks of every kind of target): the compiled tables agree with the sources
    /// for every network of both, and for 100 000 random addresses.
    #[test]
    fn the_compiled_tables_agree_with_the_sources_over_a_generated_database() {
        use mmdb_writer::{Value, Writer};
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let s = |v: &str| Value::String(v.to_string());
        let places = [
            ("NL", "EU", 52.4, 4.9),
            ("DE", "EU", 50.1, 8.7),
            ("US", "NA", 40.7, -74.0),
            ("US", "NA", 37.8, -122.4),
            ("BR", "SA", -23.5, -46.6),
            ("SG", "AS", 1.35, 103.8),
            ("JP", "AS", 35.7, 139.7),
            ("AU", "OC", -33.9, 151.2),
            ("ZA", "AF", -26.2, 28.0),
            ("IN", "AS", 19.1, 72.9),
        ];
        let record = |rng: &mut Rng| {
            let (cc, continent, lat, lon) = places[rng.below(places.len() as u64) as usize];
            let jitter = |rng: &mut Rng| (rng.below(2000) as f64 - 1000.0) / 200.0;
            match rng.below(4) {
                0 => Value::map([("country", Value::map([("iso_code", s(cc))]))]),
                1 => Value::map([("continent", Value::map([("code", s(continent))]))]),
                _ => Value::map([
                    ("continent", Value::map([("code", s(continent))])),
                    ("country", Value::map([("iso_code", s(cc))])),
                    (
                        "location",
                        Value::map([
                            ("latitude", Value::Double(lat + jitter(rng))),
                            ("longitude", Value::Double(lon + jitter(rng))),
                        ]),
                    ),
                ]),
            }
        };
        // Wider networks first: a later, longer one cuts into an earlier one it lies in.
        let mut nets: Vec<IpNet> = Vec::new();
        for _ in 0..3000 {
            let len = 8 + rng.below(21) as u8;
            nets.push(IpNet::new(IpAddr::from(std::net::Ipv4Addr::from(rng.next() as u32)), len).unwrap().trunc());
        }
        for _ in 0..800 {
            let len = 12 + rng.below(53) as u8;
            let addr = (0x2000u128 << 112) | (u128::from(rng.next()) << 61);
            nets.push(IpNet::new(IpAddr::from(std::net::Ipv6Addr::from(addr)), len).unwrap().trunc());
        }
        let v4_nets: Vec<IpNet> = nets[..3000].to_vec();
        nets.sort_by_key(|n| n.prefix_len());
        let mut w = Writer::builder("Meridian-Test-City").description(&[("en", "generated")]).build();
        for net in &nets {
            w.insert_value(*net, record(&mut rng)).unwrap();
        }
        let geo_path = dir.path().join("geo.mmdb");
        std::fs::write(&geo_path, w.to_bytes().unwrap()).unwrap();
        // Operator networks, many inside the database's networks and inside each other.
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(
            zones.join("gen.test.zone"),
            "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n",
        )
        .unwrap();
        let mut toml = String::from(
            "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[datacenters.iad]\nlat = 38.95\nlon = -77.45\nbias = 20\n\
             [datacenters.sin]\nlat = 1.35\nlon = 103.82\n[datacenters.gru]\nlat = -23.4\nlon = -46.5\n\
             [maps.regions.continents]\nOC = [\"sin\", \"iad\"]\n[maps.regions.countries]\nIN = [\"ams\"]\n\
             [pools.www]\nnames = [\"www\"]\ndefault_order = [\"iad\", \"ams\", \"sin\", \"gru\"]\nmap = \"regions\"\n\
             [pools.api]\nnames = [\"api\"]\ndefault_order = [\"sin\", \"gru\", \"ams\"]\n",
        );
        for (pool, dcs) in [("www", &["ams", "iad", "sin", "gru"][..]), ("api", &["sin", "gru", "ams"])] {
            for (i, dc) in dcs.iter().enumerate() {
                toml.push_str(&format!(
                    "[pools.{pool}.members.{dc}]\ndatacenter = \"{dc}\"\nipv4 = \"192.0.2.{}\"\n",
                    i + 1
                ));
            }
        }
        toml.push_str("[networks]\n");
        let mut operator: Vec<IpNet> = Vec::new();
        for i in 0..400 {
            let net = if i % 4 == 3 {
                let addr = (0x2000u128 << 112) | (u128::from(rng.next()) << 61);
                IpNet::new(IpAddr::from(std::net::Ipv6Addr::from(addr)), 16 + rng.below(80) as u8)
            } else if i % 2 == 0 {
                // Inside a database network, or the same network.
                let outer = v4_nets[rng.below(3000) as usize];
                let len = outer.prefix_len() + rng.below(u64::from(33 - outer.prefix_len())) as u8;
                let offset = rng.next() as u32 >> outer.prefix_len().min(31);
                let IpAddr::V4(first) = outer.network() else { unreachable!() };
                IpNet::new(IpAddr::from(std::net::Ipv4Addr::from(u32::from(first) | offset)), len)
            } else {
                IpNet::new(IpAddr::from(std::net::Ipv4Addr::from(rng.next() as u32)), 6 + rng.below(20) as u8)
            };
            let net = net.unwrap().trunc();
            if operator.contains(&net) {
                continue;
            }
            operator.push(net);
            let target = match rng.below(4) {
                0 => "{ datacenters = [\"gru\"] }".to_string(),
                1 => format!("{{ country = \"{}\" }}", places[rng.below(places.len() as u64) as usize].0),
                2 => "{ continent = \"OC\" }".to_string(),
                _ => format!("{{ lat = {}, lon = {} }}", rng.below(160) as f64 - 80.0, rng.below(360) as f64 - 180.0),
            };
            toml.push_str(&format!("\"{net}\" = {target}\n"));
        }
        std::fs::write(zones.join("gen.test.toml"), toml).unwrap();
        let config = Config::load(&zones, &geo_path).unwrap();
        assert_eq!(config.decisions.size().0, 2, "two pools that order differently: two tables");
        let reader = maxminddb::Reader::open_readfile(&geo_path).unwrap();
        let options = maxminddb::WithinOptions::default().include_networks_without_data();
        let mut addresses: Vec<IpAddr> = Vec::new();
        for lookup in reader.networks(options).unwrap() {
            let net = lookup.unwrap().network().unwrap();
            let net = IpNet::new(net.network(), net.prefix()).unwrap();
            addresses.extend([net.network(), net.broadcast()]);
        }
        for net in &operator {
            addresses.extend([net.network(), net.broadcast()]);
        }
        for pool in 0..config.gslb.pools.len() {
            let mut tally = Tally::default();
            for &addr in &addresses {
                check(&config, pool, addr, false, &mut tally);
            }
            random(50_000, |addr| check(&config, pool, addr, false, &mut tally));
            assert!(tally.wider > 0 && tally.narrower > 0, "operator networks inside database networks: {tally:?}");
        }
    }

    /// Past [`MAX_TABLES`] distinct orderings, the further pools are answered from the sources
    /// (no table, `lookup` says so) and the load says why; the first ones keep their tables.
    #[test]
    fn pools_past_the_table_limit_are_answered_from_the_sources_and_said_so() {
        use mmdb_writer::{Value, Writer};
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::builder("Meridian-Test-City").description(&[("en", "tiny")]).build();
        let place = Value::map([("country", Value::map([("iso_code", Value::String("NL".into()))]))]);
        w.insert_value("81.0.0.0/16".parse::<IpNet>().unwrap(), place).unwrap();
        let geo = dir.path().join("geo.mmdb");
        std::fs::write(&geo, w.to_bytes().unwrap()).unwrap();
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(
            zones.join("cap.test.zone"),
            "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n",
        )
        .unwrap();
        let dcs = ["a", "b", "c", "d", "e"];
        let mut toml = String::new();
        for (i, dc) in dcs.iter().enumerate() {
            toml.push_str(&format!("[datacenters.{dc}]\nlat = {}\nlon = {}\n", 10 * i, 20 * i));
        }
        // 40 pools, each with its own permutation of the five data centers.
        let mut orders: Vec<Vec<&str>> = Vec::new();
        let mut perm = dcs.to_vec();
        while orders.len() < MAX_TABLES + 8 {
            orders.push(perm.clone());
            // The next permutation in lexicographic order.
            let i = (0..perm.len() - 1).rev().find(|&i| perm[i] < perm[i + 1]).unwrap();
            let j = (i + 1..perm.len()).rev().find(|&j| perm[j] > perm[i]).unwrap();
            perm.swap(i, j);
            perm[i + 1..].reverse();
        }
        for (p, order) in orders.iter().enumerate() {
            let list = order.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
            toml.push_str(&format!("[pools.p{p}]\nnames = [\"p{p}\"]\ndefault_order = [{list}]\n"));
            for dc in dcs {
                toml.push_str(&format!("[pools.p{p}.members.{dc}]\ndatacenter = \"{dc}\"\nipv4 = \"192.0.2.1\"\n"));
            }
        }
        std::fs::write(zones.join("cap.test.toml"), toml).unwrap();
        let config =
            Config::load_serving(&zones, std::sync::Arc::new(GeoDb::open(&geo).unwrap()), None, false).unwrap();
        assert_eq!(config.decisions.size().0, MAX_TABLES);
        let note = config.decisions.note.as_deref().unwrap_or_default();
        assert!(note.contains("8 pools have default orders or region maps past the first 32"), "{note}");
        assert!(config.warnings.iter().any(|w| w.message == note), "{:?}", config.warnings);
        let addr: IpAddr = "81.0.1.1".parse().unwrap();
        // Tables go to the first distinct orderings in the definitions' pool order.
        for (p, pool) in config.gslb.pools.iter().enumerate() {
            assert_eq!(config.decisions.lookup(p, addr).is_some(), p < MAX_TABLES, "{}", pool.name);
        }
    }
}
