//! Response rate limiting for UDP, in the style of BIND, NSD and Knot RRL.
//!
//! Responses are counted per second in buckets keyed by the client's network (a /24 or /56 by
//! default) and what is answered (name and type for answers; only the response code for
//! NXDOMAIN and errors, so that a flood of random names shares one bucket). Past `rate`
//! responses in a second, a bucket's responses are dropped, except every `slip`-th, which is
//! sent as a truncated reply (TC=1, question only) so that a real client behind a spoofed
//! address can still get its answer over TCP. TCP is never limited. In dry-run mode nothing
//! is limited, only counted.
//!
//! The table is a fixed array of atomics: no lock, no allocation, bounded memory whatever the
//! number of clients; two keys that share a slot share a limit, which errs on the side of
//! limiting a little early, never of not limiting.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Buckets in the table: 65536 × 8 octets = 512 KiB. Knot's default `rate-limit-table-size`
/// is 393241; a smaller table only means unrelated keys share a limit more often.
pub const TABLE_SIZE: usize = 1 << 16;

/// Default slip: every second limited response is sent truncated (BIND's and Knot's default).
pub const DEFAULT_SLIP: u32 = 2;
/// Default IPv4 prefix a client is counted by (BIND's `ipv4-prefix-length`).
pub const DEFAULT_V4_PREFIX: u8 = 24;
/// Default IPv6 prefix (BIND's `ipv6-prefix-length`).
pub const DEFAULT_V6_PREFIX: u8 = 56;

/// Rate limiting settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RrlConfig {
    /// Responses per second allowed per bucket.
    pub rate: u32,
    /// Every `slip`-th limited response is sent truncated; 0 never, 1 always.
    pub slip: u32,
    /// Prefix length IPv4 clients are grouped by.
    pub v4_prefix: u8,
    /// Prefix length IPv6 clients are grouped by.
    pub v6_prefix: u8,
    /// Count what would be limited, limit nothing.
    pub dry_run: bool,
}

impl RrlConfig {
    /// `rate` responses per second with the default slip and prefixes.
    pub fn new(rate: u32) -> RrlConfig {
        RrlConfig {
            rate,
            slip: DEFAULT_SLIP,
            v4_prefix: DEFAULT_V4_PREFIX,
            v6_prefix: DEFAULT_V6_PREFIX,
            dry_run: false,
        }
    }
}

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Send,
    /// Send a truncated reply instead.
    Slip,
    /// Send nothing.
    Drop,
}

/// The rate limiter.
#[derive(Debug)]
pub struct Rrl {
    config: RrlConfig,
    buckets: Box<[AtomicU64]>,
    epoch: Instant,
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Rrl {
    /// A limiter with `config`.
    pub fn new(config: RrlConfig) -> Rrl {
        Rrl { config, buckets: (0..TABLE_SIZE).map(|_| AtomicU64::new(0)).collect(), epoch: Instant::now() }
    }

    /// The settings.
    pub fn config(&self) -> &RrlConfig {
        &self.config
    }

    /// Counts a response to `client` for (`qname`, `qtype`, `rcode`) and says what to do.
    pub fn check(&self, client: IpAddr, qname: &[u8], qtype: u16, rcode: u16) -> Verdict {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        match client {
            IpAddr::V4(a) => {
                let len = self.config.v4_prefix.min(32);
                let bits = if len == 0 { 0 } else { u32::from(a) & (u32::MAX << (32 - u32::from(len))) };
                h = fnv(h, &bits.to_be_bytes());
            }
            IpAddr::V6(a) => {
                let len = self.config.v6_prefix.min(128);
                let bits = if len == 0 { 0 } else { u128::from(a) & (u128::MAX << (128 - u32::from(len))) };
                h = fnv(h, &bits.to_be_bytes());
            }
        }
        h = fnv(h, &rcode.to_be_bytes());
        if rcode == crate::dns::rcode::NOERROR {
            h = fnv(h, qname);
            h = fnv(h, &qtype.to_be_bytes());
        }
        let slot = &self.buckets[(h as usize) & (TABLE_SIZE - 1)];
        let now = self.epoch.elapsed().as_secs() as u32;
        let mut current = slot.load(Ordering::Relaxed);
        let count = loop {
            let (second, count) = ((current >> 32) as u32, current as u32);
            let next = if second == now {
                (current & !0xffff_ffff) | u64::from(count.saturating_add(1))
            } else {
                (u64::from(now) << 32) | 1
            };
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break next as u32,
                Err(seen) => current = seen,
            }
        };
        if count <= self.config.rate {
            return Verdict::Send;
        }
        let over = count - self.config.rate;
        if self.config.slip > 0 && over.is_multiple_of(self.config.slip) { Verdict::Slip } else { Verdict::Drop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_network_and_answer_with_slip() {
        let rrl = Rrl::new(RrlConfig { rate: 5, slip: 2, v4_prefix: 24, v6_prefix: 56, dry_run: false });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_net: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let verdicts: Vec<Verdict> =
            (0..10).map(|i| rrl.check(if i % 2 == 0 { a } else { same_net }, b"\x03www\x00", 1, 0)).collect();
        assert_eq!(&verdicts[..5], &[Verdict::Send; 5]);
        assert_eq!(&verdicts[5..], &[Verdict::Drop, Verdict::Slip, Verdict::Drop, Verdict::Slip, Verdict::Drop]);
        // Another network, and another name from the same network, have their own buckets.
        assert_eq!(rrl.check(other, b"\x03www\x00", 1, 0), Verdict::Send);
        assert_eq!(rrl.check(a, b"\x04mail\x00", 1, 0), Verdict::Send);
        // NXDOMAIN for random names shares one bucket per network.
        let nx: Vec<Verdict> = (0..7u8).map(|i| rrl.check(other, &[1, b'a' + i, 0], 1, 3)).collect();
        assert_eq!(nx.iter().filter(|v| **v == Verdict::Send).count(), 5);
    }

    #[test]
    fn slip_replies_are_truncated_question_only_and_keep_flags_and_opt() {
        use crate::query::{Outcome, slip};
        // ID 0x1234, RD and CD set, the question www. A IN, and an OPT record with DO.
        let mut q = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 1, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1];
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::Config::load(&root.join("tests/data/gslb"), &root.join("geo/dbip-country.mmdb"));
        let snapshot = crate::health::Snapshot::all_up(std::sync::Arc::new(config.unwrap()));
        let peer = "192.0.2.1:5353".parse().unwrap();
        let request = crate::query::Request::new(&snapshot, &q, peer, crate::query::Transport::Udp, 0);
        let outcome = Outcome {
            rcode: 0,
            truncated: false,
            qtype: Some(1),
            fallback: false,
            ecs: false,
            scope: 0,
            authoritative: true,
            gslb: None,
            cookie: false,
        };
        let mut out = Vec::new();
        let slipped = slip(&request, &outcome, &mut out).unwrap();
        assert!(slipped.truncated);
        // QR, RD and CD kept, AA as the answer had it, TC set; one question, no records, OPT.
        assert_eq!(&out[..12], &[0x12, 0x34, 0x87, 0x10, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&out[12..21], &q[12..21]);
        // The OPT: root, type 41, our payload size 1232, DO echoed, no options.
        assert_eq!(&out[21..], &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }
}
