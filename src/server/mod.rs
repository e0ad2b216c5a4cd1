//! DNS over UDP and TCP.
//!
//! [`answer()`] is the whole query path as a plain function of (configuration snapshot, query
//! bytes, client address, transport) writing into a caller's buffer; [`wire`] reads queries in
//! place and [`encode`] writes responses. The transports ([`udp`], [`tcp`]) only move bytes:
//! they read the current [`Config`] once per query from an [`ArcSwap`] and never wait on
//! anything but their sockets.

pub mod answer;
pub mod cache;
pub mod encode;
pub mod metrics;
pub mod rrl;
pub mod tcp;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod udp_batch;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

pub use answer::{GslbOutcome, Outcome, Transport, answer};
pub use cache::{AnswerCache, answer_cached};

use crate::config::Config;
use crate::health::HealthSnapshot;

/// Counters kept by the transports.
#[derive(Debug, Default)]
pub struct Stats {
    /// Datagrams received.
    pub udp_queries: AtomicU64,
    /// Messages received over TCP.
    pub tcp_queries: AtomicU64,
    /// Connections closed at once because [`tcp::MAX_TCP_CONNECTIONS`] were open.
    pub tcp_refused: AtomicU64,
    /// Packets not answered (shorter than a header, or responses).
    pub dropped: AtomicU64,
    /// Queries whose answering panicked; each cost only that query.
    pub panics: AtomicU64,
    /// GSLB answers given by a pool's fallback because no data center could serve.
    pub fallbacks: AtomicU64,
    /// Queries refused as malformed (FORMERR).
    pub malformed: AtomicU64,
    /// Queries that carried an EDNS Client Subnet option.
    pub ecs_queries: AtomicU64,
    /// GSLB answers for clients that could not be located.
    pub geo_misses: AtomicU64,
    /// Answered queries by transport, type and rcode.
    pub queries: metrics::QueryCounters,
    /// GSLB answers by pool and data center.
    pub answers: metrics::AnswerCounters,
    /// UDP responses dropped by rate limiting.
    pub rrl_dropped: AtomicU64,
    /// UDP responses sent truncated by rate limiting (slip).
    pub rrl_slipped: AtomicU64,
    /// Responses rate limiting would have limited (dry run).
    pub rrl_would_limit: AtomicU64,
}

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
        }
    }
}

/// State shared by every transport task.
#[derive(Debug)]
pub struct Shared {
    /// The configuration queries are answered from; replaced whole on reload.
    pub config: ArcSwap<Config>,
    /// The health snapshot, published by the health table.
    pub health: Arc<ArcSwap<HealthSnapshot>>,
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
}

impl Shared {
    /// Installs a new configuration: counters first, then the configuration itself.
    pub fn install(&self, config: Arc<Config>) {
        self.bound.store(Arc::new(self.stats.answers.bind(&config)));
        self.config.store(config);
    }
}

/// Answers one query, turning a panic into a dropped query so that the listener lives on;
/// from `cache` where it can (the UDP workers keep one each), counted in `tally`.
#[allow(clippy::too_many_arguments)]
fn answer_guarded(
    shared: &Shared,
    (config, health): (&Config, &HealthSnapshot),
    packet: &[u8],
    peer: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
    cache: Option<&mut AnswerCache>,
    tally: &mut Tally,
) -> Option<Outcome> {
    let result = catch_panic(&shared.stats, peer, || match cache {
        Some(cache) => answer_cached(cache, config, health, packet, peer, transport, out),
        None => answer(config, health, packet, peer, transport, out),
    })?;
    match result {
        Some(outcome) => {
            tally.count(transport, &outcome, config.generation);
            if let Some(log) = &shared.query_log {
                log.offer(config, packet, peer, &outcome);
            }
            Some(outcome)
        }
        None => {
            tally.dropped += 1;
            None
        }
    }
}

/// Counts of one transport worker, added to the shared [`Stats`] by [`Tally::flush`]: the
/// batched UDP loop flushes once per batch, so a query costs no atomic operation and the
/// workers of different cores do not pass the counters' cache lines back and forth.
#[derive(Debug, Default)]
pub struct Tally {
    /// Datagrams received.
    pub udp_queries: u64,
    /// Packets not answered.
    pub dropped: u64,
    fallbacks: u64,
    malformed: u64,
    ecs_queries: u64,
    geo_misses: u64,
    /// (counter index, count) of answered queries.
    queries: smallvec::SmallVec<[(usize, u64); 8]>,
    /// GSLB answers.
    answers: smallvec::SmallVec<[GslbCount; 8]>,
}

/// (configuration generation, pool, data center, count) of GSLB answers.
type GslbCount = (u64, usize, Option<usize>, u64);

impl Tally {
    /// Counts one answered query.
    pub fn count(&mut self, transport: Transport, outcome: &Outcome, generation: u64) {
        let index = metrics::QueryCounters::index(transport, outcome);
        match self.queries.iter_mut().find(|(i, _)| *i == index) {
            Some((_, n)) => *n += 1,
            None => self.queries.push((index, 1)),
        }
        self.fallbacks += u64::from(outcome.fallback);
        self.malformed += u64::from(outcome.rcode == 1);
        self.ecs_queries += u64::from(outcome.ecs);
        if let Some(g) = outcome.gslb {
            self.geo_misses += u64::from(!g.located);
            let key = (generation, g.pool, g.datacenter);
            match self.answers.iter_mut().find(|a| (a.0, a.1, a.2) == key) {
                Some(a) => a.3 += 1,
                None => self.answers.push((generation, g.pool, g.datacenter, 1)),
            }
        }
    }

    /// Adds the counts to `shared`'s counters and starts again from zero. GSLB answers of a
    /// configuration that has since been replaced are not counted (their indexes may name
    /// other pools now).
    pub fn flush(&mut self, shared: &Shared) {
        let stats = &shared.stats;
        for (counter, n) in [
            (&stats.udp_queries, self.udp_queries),
            (&stats.dropped, self.dropped),
            (&stats.fallbacks, self.fallbacks),
            (&stats.malformed, self.malformed),
            (&stats.ecs_queries, self.ecs_queries),
            (&stats.geo_misses, self.geo_misses),
        ] {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
        for &(index, n) in &self.queries {
            stats.queries.add(index, n);
        }
        if !self.answers.is_empty() {
            let bound = shared.bound.load();
            for &(generation, pool, dc, n) in &self.answers {
                if generation == bound.generation {
                    bound.add(pool, dc, n);
                }
            }
        }
        self.queries.clear();
        self.answers.clear();
        let (queries, answers) = (std::mem::take(&mut self.queries), std::mem::take(&mut self.answers));
        *self = Tally { queries, answers, ..Tally::default() };
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

/// A running server: the addresses it listens on and its tasks.
pub struct Running {
    /// State shared with the tasks (swap `config` to reload).
    pub shared: Arc<Shared>,
    /// One address per `--listen`, with the port actually bound (UDP and TCP share it).
    pub addrs: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Running {
    /// Stops every task and thread.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// How many times to look for a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;

/// Binds UDP and TCP on every address in `listen` and starts serving `config`. Port 0 picks a
/// free port, the same for UDP and TCP.
pub async fn start(
    config: Arc<Config>,
    health: Arc<ArcSwap<HealthSnapshot>>,
    listen: &[SocketAddr],
    limits: Limits,
    query_log: Option<crate::querylog::QueryLog>,
) -> std::io::Result<Running> {
    let stats = Stats::default();
    let bound = ArcSwap::from_pointee(stats.answers.bind(&config));
    let shared = Arc::new(Shared {
        config: ArcSwap::new(config),
        health,
        stats,
        limits,
        bound,
        query_log,
        rrl: limits.rrl.map(rrl::Rrl::new),
    });
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    for &addr in listen {
        #[cfg(target_os = "linux")]
        if limits.udp_loop == UdpLoop::Batched {
            let (sockets, tcp) = bind_batched(addr).await?;
            addrs.push(sockets[0].local_addr()?);
            threads.extend(udp_batch::spawn(sockets, shared.clone(), stop.clone())?);
            tasks.push(tokio::spawn(tcp::serve(tcp, shared.clone())));
            continue;
        }
        let (udp, tcp) = bind_pair(addr).await?;
        let bound = udp.local_addr()?;
        addrs.push(bound);
        tasks.extend(udp::spawn(udp, shared.clone()));
        tasks.push(tokio::spawn(tcp::serve(tcp, shared.clone())));
    }
    Ok(Running { shared, addrs, tasks, threads, stop })
}

#[cfg(target_os = "linux")]
async fn bind_batched(addr: SocketAddr) -> std::io::Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    let mut last_err = None;
    for _ in 0..PORT_ATTEMPTS {
        let sockets = udp_batch::bind(addr, udp::udp_workers())?;
        let port = sockets[0].local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((sockets, tcp)),
            Err(e) if addr.port() == 0 => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
}

async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last_err = None;
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
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
