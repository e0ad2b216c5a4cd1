//! What every transport shares: the published snapshot, counters, limits, the rate limiter and
//! the query log ([`Shared`]), and [`answer_guarded`], the one call through which every loop
//! answers (a panic costs one query; counting and the query log happen here).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;

use super::{Stats, Tally, metrics, rrl, tcp};
use crate::health::Snapshot;
use crate::query::{AnswerCache, Outcome, Request, answer, answer_cached};

/// Bounds on what clients may hold; defaults are the named constants of [`tcp`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Concurrent TCP connections.
    pub tcp_connections: usize,
    /// Wait for the first octet of the next TCP query.
    pub tcp_idle: std::time::Duration,
    /// Time to finish reading a TCP message, or writing a reply.
    pub tcp_io: std::time::Duration,
    /// Response rate limiting for UDP; off when `None`.
    pub rrl: Option<rrl::RrlConfig>,
    /// Which UDP loop serves queries.
    pub udp_loop: UdpLoop,
    /// Concurrent connections per encrypted listener (DoT, DoH, DoQ).
    pub tls_connections: usize,
    /// How long an encrypted connection may stay without a query.
    pub tls_idle: std::time::Duration,
    /// How long a TLS or QUIC handshake may take.
    pub tls_handshake: std::time::Duration,
    /// Queries one DoH or DoQ connection may have in flight (HTTP/2 and QUIC streams).
    pub tls_streams: u32,
}

/// The UDP loops (both answer through the same function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpLoop {
    /// Tokio tasks, one `recvfrom`/`sendto` per query; the default where the batched loop
    /// does not exist.
    Tokio,
    /// Linux only, and the default there: a blocking thread per core with `SO_REUSEPORT`
    /// sockets and `recvmmsg`/`sendmmsg` batches ([`udp_batch`]), which costs less CPU per
    /// query (docs/performance.md).
    Batched,
}

impl Default for UdpLoop {
    fn default() -> Self {
        if cfg!(target_os = "linux") { UdpLoop::Batched } else { UdpLoop::Tokio }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            tcp_connections: tcp::MAX_TCP_CONNECTIONS,
            tcp_idle: tcp::TCP_IDLE_TIMEOUT,
            tcp_io: tcp::TCP_IO_TIMEOUT,
            rrl: None,
            udp_loop: UdpLoop::default(),
            tls_connections: super::tls::MAX_TLS_CONNECTIONS,
            tls_idle: super::tls::TLS_IDLE_TIMEOUT,
            tls_handshake: super::tls::TLS_HANDSHAKE_TIMEOUT,
            tls_streams: super::tls::MAX_TLS_STREAMS,
        }
    }
}

/// State shared by every transport task.
#[derive(Debug)]
pub struct Shared {
    /// What queries are answered from: the configuration and its health view, published as
    /// one by the health table (a reload and a health change alike).
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Counters.
    pub stats: Stats,
    /// Client bounds.
    pub limits: Limits,
    /// Answer counters bound to the current configuration.
    pub bound: ArcSwap<metrics::BoundCounters>,
    /// Where sampled queries are logged, if anywhere.
    pub query_log: Option<crate::querylog::QueryLog>,
    /// The UDP rate limiter, if on.
    pub rrl: Option<rrl::Rrl>,
    /// Zone transfers that may run at once ([`crate::transfer::MAX_TRANSFERS_OUT`]).
    pub transfers_out: tokio::sync::Semaphore,
    /// The secondary zones' tasks, which NOTIFY wakes.
    pub secondaries: Arc<crate::transfer::secondary::Secondaries>,
    /// The certificate of the encrypted listeners, when there are any (reloaded with the
    /// zones).
    pub tls: Option<Arc<super::tls::Certificates>>,
    /// Every listener: its transport and bound address (set once all are bound).
    pub listeners: std::sync::OnceLock<Vec<(crate::query::Transport, SocketAddr)>>,
    /// The XDP path (`--xdp`), for its counters.
    pub xdp: Option<Arc<super::Xdp>>,
}

impl Shared {
    /// Binds the answer counters to `config` before it is installed; answers of the
    /// configuration being replaced keep being counted until the next binding.
    pub fn bind_counters(&self, config: &crate::config::Config) {
        let current = self.bound.load_full();
        self.bound.store(Arc::new(self.stats.answers.bind(config).after(&current)));
    }
}

/// Answers one request, turning a panic into a dropped query so that the listener lives on;
/// from `cache` where it can (the UDP workers keep one each), counted in `tally` and offered
/// to the query log.
pub(super) fn answer_guarded(
    shared: &Shared,
    request: &Request<'_>,
    out: &mut Vec<u8>,
    cache: Option<&mut AnswerCache>,
    tally: &mut Tally,
) -> Option<Outcome> {
    let result = catch_panic(&shared.stats, request.peer, || match cache {
        Some(cache) => answer_cached(cache, request, out),
        None => answer(request, out),
    })?;
    match result {
        Some(outcome) => {
            tally.count(request.transport, &outcome, request.config().generation);
            if let Some(log) = &shared.query_log {
                log.offer(request, &outcome);
            }
            Some(outcome)
        }
        None => {
            tally.dropped += 1;
            None
        }
    }
}

/// Runs `f`, turning a panic into `None` (counted and logged) so that one bad query costs
/// only itself: the listener and every other query go on.
fn catch_panic<T>(stats: &Stats, peer: SocketAddr, f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            stats.panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%peer, "answering a query panicked; the query was dropped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_costs_one_query_and_is_counted() {
        let stats = Stats::default();
        let peer: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let lost: Option<u8> = catch_panic(&stats, peer, || panic!("a hostile packet"));
        std::panic::set_hook(hook);
        assert_eq!(lost, None);
        assert_eq!(stats.panics.load(Ordering::Relaxed), 1);
        // The next query is answered as usual.
        assert_eq!(catch_panic(&stats, peer, || 7), Some(7));
        assert_eq!(stats.panics.load(Ordering::Relaxed), 1);
    }
}
