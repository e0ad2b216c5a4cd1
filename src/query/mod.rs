//! The query path: query bytes in, answer bytes out, with no I/O.
//!
//! Everything that turns a query into a response lives here, and nothing here awaits, locks,
//! reads a clock or touches a socket: the transports in `server` only move bytes, and every
//! one of them answers through the same functions.
//!
//! - [`wire`] reads a query in place, once: the parsed [`Query`] (or why it is rejected) is
//!   carried in the [`Request`] and handed on to rate limiting and the query log, never read
//!   again.
//! - [`answer()`] is the general path: pre-checks, resolution against the zone set, GSLB
//!   completion, the sections written by [`encode`] under the transport's size limit.
//! - [`cache`] is the fast path the UDP workers run: answers prepared once per question,
//!   byte for byte what [`answer()`] writes (tests/fast_path.rs).
//! - [`gslb`] completes an answer that reached a pool: who the client is, where, which data
//!   center and members, the TTL and the ECS scope. The general path, the fast path and
//!   [`explain`] all call it, so the three cannot drift.
//! - [`explain`] gives the step-by-step account of an answer from the very code above.
//!
//! No module here imports `server`, `api`, `reload` or `daemon`.

pub mod answer;
pub mod cache;
pub mod encode;
pub mod explain;
pub mod gslb;
pub mod secure;
pub mod wire;

use std::net::SocketAddr;

pub use answer::{GslbOutcome, MAX_TCP_MESSAGE, MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, Outcome, answer, slip};
pub use cache::{AnswerCache, answer_cached};
pub use wire::{Query, Reject};

use crate::config::Config;
use crate::health::{HealthSnapshot, Snapshot};

/// The transport a query came over: it decides the response size limit, and whether a reply
/// is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagrams: responses sized to the client's EDNS payload size, truncated past it.
    Udp,
    /// Streams: responses up to 65535 octets.
    Tcp,
    /// DNS over TLS (RFC 7858): a TCP stream inside TLS.
    Tls,
    /// DNS over HTTPS (RFC 8484), HTTP/2.
    Https,
    /// DNS over QUIC (RFC 9250): one query per QUIC stream.
    Quic,
}

impl Transport {
    /// Every transport, in the order metrics list them.
    pub const ALL: [Transport; 5] = [Transport::Udp, Transport::Tcp, Transport::Tls, Transport::Https, Transport::Quic];

    /// The name metrics, the query log and `/status` use.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Https => "https",
            Transport::Quic => "quic",
        }
    }

    /// True for the encrypted transports: their replies are padded when the query asks
    /// (RFC 7830, RFC 8467).
    pub fn encrypted(self) -> bool {
        matches!(self, Transport::Tls | Transport::Https | Transport::Quic)
    }
}

/// One query and everything it is answered from: the snapshot (configuration and the health
/// view built for it), the packet read once, who sent it and over what.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The configuration and health the query is answered from, loaded once.
    pub snapshot: &'a Snapshot,
    /// The packet as read by [`wire::parse`]: a query, or why it is not answered normally.
    pub parsed: Result<Query<'a>, Reject<'a>>,
    /// The source address and port.
    pub peer: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// The transport's clock when the packet came, in seconds since the Unix epoch (wrapping,
    /// as RFC 9018 timestamps do): server cookies are made and checked against it.
    pub now: u32,
}

impl<'a> Request<'a> {
    /// Reads `packet` (once) into a request answered from `snapshot`, received at `now`
    /// (seconds since the Unix epoch: [`crate::cookie::now`]).
    pub fn new(
        snapshot: &'a Snapshot,
        packet: &'a [u8],
        peer: SocketAddr,
        transport: Transport,
        now: u32,
    ) -> Request<'a> {
        Request { snapshot, parsed: wire::parse(packet), peer, transport, now }
    }

    /// The query, when the packet parsed cleanly.
    pub fn query(&self) -> Option<&Query<'a>> {
        self.parsed.as_ref().ok()
    }

    /// The configuration.
    pub fn config(&self) -> &'a Config {
        &self.snapshot.config
    }

    /// The health view of that configuration.
    pub fn health(&self) -> &'a HealthSnapshot {
        &self.snapshot.health
    }
}

#[cfg(test)]
mod tests {
    use super::Transport;

    #[test]
    fn transports_are_numbered_in_the_order_metrics_list_them() {
        for (i, t) in Transport::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t:?}");
        }
        let names: Vec<&str> = Transport::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["udp", "tcp", "tls", "https", "quic"]);
        assert!(Transport::ALL.iter().filter(|t| t.encrypted()).count() == 3);
    }
}
