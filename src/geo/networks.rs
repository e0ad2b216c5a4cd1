//! Longest-prefix match over the operator's own networks (CIDR -> value), IPv4 and IPv6.
//!
//! One hash map per prefix length present; a lookup masks the address to each length, longest
//! first, so its cost is bounded by the number of distinct lengths (at most 33 or 129) and
//! does not grow with the number of networks.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxBuildHasher;

/// A set of networks, each with a value.
#[derive(Debug, Clone)]
pub struct NetworkTable<T> {
    v4: Vec<(u8, HashMap<u32, T, FxBuildHasher>)>,
    v6: Vec<(u8, HashMap<u128, T, FxBuildHasher>)>,
}

impl<T> Default for NetworkTable<T> {
    fn default() -> Self {
        NetworkTable { v4: Vec::new(), v6: Vec::new() }
    }
}

fn mask4(addr: u32, len: u8) -> u32 {
    if len == 0 { 0 } else { addr & (u32::MAX << (32 - u32::from(len))) }
}

fn mask6(addr: u128, len: u8) -> u128 {
    if len == 0 { 0 } else { addr & (u128::MAX << (128 - u32::from(len))) }
}

impl<T> NetworkTable<T> {
    /// Adds `net` (host bits ignored). Returns the old value when the network was present.
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        let len = net.prefix_len();
        match net {
            IpNet::V4(n) => {
                let key = mask4(u32::from(n.addr()), len);
                let pos = self.v4.iter().position(|(l, _)| *l == len).unwrap_or_else(|| {
                    self.v4.push((len, HashMap::default()));
                    self.v4.sort_by_key(|e| std::cmp::Reverse(e.0));
                    self.v4.iter().position(|(l, _)| *l == len).unwrap_or(0)
                });
                self.v4[pos].1.insert(key, value)
            }
            IpNet::V6(n) => {
                let key = mask6(u128::from(n.addr()), len);
                let pos = self.v6.iter().position(|(l, _)| *l == len).unwrap_or_else(|| {
                    self.v6.push((len, HashMap::default()));
                    self.v6.sort_by_key(|e| std::cmp::Reverse(e.0));
                    self.v6.iter().position(|(l, _)| *l == len).unwrap_or(0)
                });
                self.v6[pos].1.insert(key, value)
            }
        }
    }

    /// The value of the longest network containing `addr`, with that network's prefix length.
    pub fn lookup(&self, addr: IpAddr) -> Option<(&T, u8)> {
        match addr {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(len, map)| map.get(&mask4(a, *len)).map(|v| (v, *len)))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().find_map(|(len, map)| map.get(&mask6(a, *len)).map(|v| (v, *len)))
            }
        }
    }

    /// Every network with its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> {
        let v4 = self.v4.iter().flat_map(|(len, m)| {
            m.iter().filter_map(move |(&k, v)| Some((IpNet::new(IpAddr::V4(k.into()), *len).ok()?, v)))
        });
        let v6 = self.v6.iter().flat_map(|(len, m)| {
            m.iter().filter_map(move |(&k, v)| Some((IpNet::new(IpAddr::V6(k.into()), *len).ok()?, v)))
        });
        v4.chain(v6)
    }

    /// Every IPv4 network as (first address, prefix length, value), in no particular order.
    pub fn v4_entries(&self) -> impl Iterator<Item = (u32, u8, &T)> {
        self.v4.iter().flat_map(|(len, m)| m.iter().map(move |(&k, v)| (k, *len, v)))
    }

    /// Every IPv6 network as (first address, prefix length, value), in no particular order.
    pub fn v6_entries(&self) -> impl Iterator<Item = (u128, u8, &T)> {
        self.v6.iter().flat_map(|(len, m)| m.iter().map(move |(&k, v)| (k, *len, v)))
    }

    /// The value of exactly `net` (host bits ignored), if it is there.
    pub fn lookup_exact(&self, net: IpNet) -> Option<&T> {
        let len = net.prefix_len();
        match net {
            IpNet::V4(n) => {
                let key = mask4(u32::from(n.addr()), len);
                self.v4.iter().find(|(l, _)| *l == len).and_then(|(_, m)| m.get(&key))
            }
            IpNet::V6(n) => {
                let key = mask6(u128::from(n.addr()), len);
                self.v6.iter().find(|(l, _)| *l == len).and_then(|(_, m)| m.get(&key))
            }
        }
    }

    /// True when no network was added.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_in_both_families() {
        let mut t = NetworkTable::default();
        t.insert("10.0.0.0/8".parse().unwrap(), "eight");
        t.insert("10.1.0.0/16".parse().unwrap(), "sixteen");
        t.insert("0.0.0.0/0".parse().unwrap(), "default4");
        t.insert("2001:db8::/32".parse().unwrap(), "v6");
        t.insert("2001:db8:1::/48".parse().unwrap(), "v6-48");
        let l = |s: &str| t.lookup(s.parse().unwrap()).map(|(v, l)| (*v, l));
        assert_eq!(l("10.1.2.3"), Some(("sixteen", 16)));
        assert_eq!(l("10.2.2.3"), Some(("eight", 8)));
        assert_eq!(l("192.0.2.1"), Some(("default4", 0)));
        assert_eq!(l("2001:db8:1::5"), Some(("v6-48", 48)));
        assert_eq!(l("2001:db8:2::5"), Some(("v6", 32)));
        assert_eq!(l("2001:db9::1"), None);
    }

    #[test]
    fn host_bits_are_ignored_and_duplicates_reported() {
        let mut t = NetworkTable::default();
        assert!(t.insert("192.0.2.77/24".parse().unwrap(), 1).is_none());
        assert_eq!(t.insert("192.0.2.0/24".parse().unwrap(), 2), Some(1));
        assert_eq!(t.lookup("192.0.2.200".parse().unwrap()), Some((&2, 24)));
    }
}
