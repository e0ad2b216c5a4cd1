//! Ordering the chosen data center's members: shuffle, weighted, sticky.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::{Client, Members};
use crate::config::gslb::{Pool, Selection};

/// splitmix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator; the seed makes the
/// choice reproducible for a given query.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A float in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, for stable hashes of names and networks.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// How many leading bits of the client's address [`client_key`] uses.
pub(super) fn key_len(client: &Client) -> u8 {
    match client.addr {
        IpAddr::V4(_) => client.prefix.min(24),
        IpAddr::V6(_) => client.prefix.min(56),
    }
}

/// The network a sticky client is known by: the significant part of its address, at most a
/// /24 or a /56 (the usual size of one customer's allocation), so that hosts behind one
/// resolver stay together.
pub(super) fn client_key(client: &Client) -> u64 {
    match client.addr {
        IpAddr::V4(a) => {
            let len = client.prefix.min(24);
            let bits = if len == 0 { 0 } else { u32::from(a) & (u32::MAX << (32 - u32::from(len))) };
            fnv(&[len], fnv(&bits.to_be_bytes(), FNV_OFFSET))
        }
        IpAddr::V6(a) => {
            let len = client.prefix.min(56);
            let bits = if len == 0 { 0 } else { u128::from(a) & (u128::MAX << (128 - u32::from(len))) };
            fnv(&[len], fnv(&bits.to_be_bytes(), FNV_OFFSET))
        }
    }
}

/// A member is never weighted below this fraction of the fastest member's weight under
/// `fastest`, so that a member whose checks are slow still gets some answers (and one slow
/// check cannot take a member out of rotation).
pub const FASTEST_FLOOR: f64 = 0.1;

/// Weights for `fastest`: inversely proportional to the smoothed round-trip time, floored at
/// [`FASTEST_FLOOR`] of the largest; members without a measurement get the largest weight
/// (they are new, and probably fine).
/// Inline up to 8 members, as [`Members`]: the query path allocates nothing for a usual pool.
pub fn fastest_weights(rtts: &[Option<f64>]) -> SmallVec<[f64; 8]> {
    let inv: SmallVec<[Option<f64>; 8]> = rtts.iter().map(|r| r.filter(|r| *r > 0.0).map(|r| 1.0 / r)).collect();
    let max = inv.iter().flatten().copied().fold(0.0, f64::max);
    if max == 0.0 {
        return rtts.iter().map(|_| 1.0).collect();
    }
    inv.iter().map(|w| w.map_or(max, |w| w.max(max * FASTEST_FLOOR))).collect()
}

/// Orders `up` (member indexes) by the pool's selection and keeps at most `answers`. `rtt`
/// gives a member's smoothed check round-trip time (used by `fastest`).
pub fn arrange(
    pool: &Pool,
    mut up: Members,
    rtt: impl Fn(usize) -> Option<f64>,
    client: &Client,
    seed: u64,
) -> Members {
    let mut rng = Rng(seed);
    // Sorts `up` by a random key per member, largest first.
    let by_key = |up: &mut Members, key: &mut dyn FnMut(usize, usize) -> f64| {
        let mut keyed: SmallVec<[(f64, usize); 8]> = up.iter().enumerate().map(|(n, &i)| (key(n, i), i)).collect();
        keyed.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        up.clear();
        up.extend(keyed.into_iter().map(|(_, i)| i));
    };
    match pool.selection {
        Selection::Shuffle => {
            // Fisher-Yates.
            for i in (1..up.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                up.swap(i, j);
            }
        }
        Selection::Weighted => {
            // Efraimidis-Spirakis weighted sampling without replacement: sort by
            // u^(1/w), largest first, which is ln(u)/w in log space.
            by_key(&mut up, &mut |_, i| rng.unit().ln() / f64::from(pool.members[i].weight));
        }
        Selection::Fastest => {
            let rtts: SmallVec<[Option<f64>; 8]> = up.iter().map(|&i| rtt(i)).collect();
            let weights = fastest_weights(&rtts);
            by_key(&mut up, &mut |n, _| rng.unit().ln() / weights[n]);
        }
        Selection::Sticky => {
            // Rendezvous (highest random weight) hashing: each member's score depends only on
            // the client and the member, so removing one member moves only its clients.
            let key = client_key(client);
            up.sort_by_key(|&i| std::cmp::Reverse(mix(fnv(pool.members[i].name.as_bytes(), key))));
        }
    }
    if let Some(n) = pool.answers {
        up.truncate(n);
    }
    up
}
