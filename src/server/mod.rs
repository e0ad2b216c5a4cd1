//! The transports: DNS over UDP and TCP, rate limiting and counters. Nothing here answers.
//!
//! Every transport reads the current [`Snapshot`] (configuration and health together) once
//! per query or batch, reads the packet once into a [`Request`], hands it to the query path
//! ([`crate::query`]) and sends what comes back; rate limiting ([`rrl`]) and the query log get
//! the same parsed request. The loops ([`udp_batch`], [`udp`], [`tcp`]) differ only in how
//! bytes move and never wait on anything but their sockets.

pub mod metrics;
pub mod rrl;
mod shared;
pub mod tcp;
pub mod tls;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod udp_batch;
#[cfg(target_os = "linux")]
pub mod xdp;

/// The XDP path of an interface (`--xdp`), opened before the server starts.
#[cfg(target_os = "linux")]
pub use xdp::Xdp;
/// How the program is attached: `auto` lets the kernel choose (the driver's own hook when it
/// has one), `native` needs the driver's hook, `generic` runs in the kernel's stack after the
/// driver (every interface has it; slower).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// The kernel's choice.
    Auto,
    /// The driver's hook (XDP_FLAGS_DRV_MODE).
    Native,
    /// Generic XDP (XDP_FLAGS_SKB_MODE).
    Generic,
}

impl XdpMode {
    /// From the setting's text.
    pub fn parse(text: &str) -> Result<XdpMode, String> {
        match text {
            "auto" => Ok(XdpMode::Auto),
            "native" => Ok(XdpMode::Native),
            "generic" => Ok(XdpMode::Generic),
            _ => Err(format!("'{text}' is not auto, native or generic")),
        }
    }

    /// The setting's text.
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::Auto => "auto",
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        }
    }
}

/// Elsewhere there is no XDP: nothing of this type can exist.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub enum Xdp {}

#[cfg(not(target_os = "linux"))]
impl Xdp {
    /// What `main` logs of an opened XDP path; no value exists to call it on.
    pub fn describe(&self) -> String {
        match *self {}
    }
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

pub use metrics::{Stats, Tally};
pub use shared::{Limits, Shared, UdpLoop};

use crate::health::Snapshot;
use crate::query::Transport;

/// A running server: the addresses it listens on and its tasks.
pub struct Running {
    /// State shared with the tasks (swap `config` to reload).
    pub shared: Arc<Shared>,
    /// One address per `--listen`, with the port actually bound (UDP and TCP share it).
    pub addrs: Vec<SocketAddr>,
    /// Whether the blocking UDP workers still come round their loops.
    pub liveness: Liveness,
    tasks: Vec<JoinHandle<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// The proof of life of the batched UDP workers, for the service manager's watchdog. Each
/// worker stores the time (seconds since the epoch) of its latest turn round its loop: every
/// batch, and at least every 200 ms when idle (its socket's read timeout). A worker stuck in
/// answering, or gone, stops the watchdog being fed, and systemd restarts the service. The
/// tokio loops and TCP need none: the watchdog task runs on their runtime.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    beats: Vec<Arc<std::sync::atomic::AtomicU32>>,
}

impl Liveness {
    /// Registers a worker; it stores its turns in the returned slot.
    fn add(&mut self) -> Arc<std::sync::atomic::AtomicU32> {
        let beat = Arc::new(std::sync::atomic::AtomicU32::new(crate::cookie::now()));
        self.beats.push(beat.clone());
        beat
    }

    /// How many workers have not come round their loop within `max_age` seconds of `now`.
    pub fn stalled(&self, now: u32, max_age: u32) -> usize {
        self.beats.iter().filter(|b| now.wrapping_sub(b.load(Ordering::Relaxed)) > max_age).count()
    }
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

/// Binds UDP and TCP on every address in `listen`, and the encrypted listeners `tls` asks
/// for (presenting `certificates`), and starts serving what `snapshot` publishes. Port 0 picks
/// a free port, the same for UDP and TCP.
pub async fn start(
    snapshot: Arc<ArcSwap<Snapshot>>,
    listen: &[SocketAddr],
    limits: Limits,
    query_log: Option<crate::querylog::QueryLog>,
    tls: &tls::TlsOptions,
    certificates: Option<Arc<tls::Certificates>>,
    xdp: Option<Arc<Xdp>>,
) -> std::io::Result<Running> {
    let named = |what: &str, addr: SocketAddr, e: std::io::Error| {
        let e = explain_bind_error(addr, e);
        std::io::Error::new(e.kind(), format!("{what} {addr}: {e}"))
    };
    // The encrypted listeners first: a certificate or port problem stops the start before
    // anything serves.
    let mut streams = Vec::new();
    let mut quic = Vec::new();
    if tls.any() {
        let Some(certificates) = &certificates else {
            return Err(std::io::Error::other("dot, doh and doq need tls-certificate and tls-key"));
        };
        for (what, transport, addrs) in [("dot", Transport::Tls, &tls.dot), ("doh", Transport::Https, &tls.doh)] {
            for &addr in addrs {
                let listener = TcpListener::bind(addr).await.map_err(|e| named(what, addr, e))?;
                streams.push((transport, listener));
            }
        }
        let config = tls::server_config(certificates.clone(), &[tls::doq::ALPN], true);
        for &addr in &tls.doq {
            let socket = std::net::UdpSocket::bind(addr).map_err(|e| named("doq", addr, e))?;
            let bound = socket.local_addr()?;
            quic.push((bound, tls::doq::endpoint(socket, config.clone(), &limits).map_err(|e| named("doq", addr, e))?));
        }
    }
    let stats = Stats::default();
    let bound = ArcSwap::from_pointee(stats.answers.bind(&snapshot.load().config));
    let shared = Arc::new(Shared {
        snapshot,
        stats,
        limits,
        bound,
        query_log,
        rrl: limits.rrl.map(rrl::Rrl::new),
        transfers_out: tokio::sync::Semaphore::new(crate::transfer::MAX_TRANSFERS_OUT),
        secondaries: Arc::default(),
        tls: certificates.clone(),
        listeners: std::sync::OnceLock::new(),
        xdp: xdp.clone(),
    });
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut liveness = Liveness::default();
    for &addr in listen {
        refuse_taken(addr).map_err(|e| explain_bind_error(addr, e))?;
        #[cfg(target_os = "linux")]
        if limits.udp_loop == UdpLoop::Batched {
            let (sockets, tcp) = bind_batched(addr).await?;
            addrs.push(sockets[0].local_addr()?);
            threads.extend(udp_batch::spawn(sockets, shared.clone(), stop.clone(), &mut liveness)?);
            tasks.push(tokio::spawn(tcp::serve(tcp, shared.clone())));
            continue;
        }
        let (udp, tcp) = bind_pair(addr).await?;
        let bound = udp.local_addr()?;
        addrs.push(bound);
        tasks.extend(udp::spawn(udp, shared.clone()));
        tasks.push(tokio::spawn(tcp::serve(tcp, shared.clone())));
    }
    // The XDP workers after the sockets: what the program passes (fragments, options, other
    // interfaces) is served by the sockets bound above.
    #[cfg(target_os = "linux")]
    if let Some(xdp) = &xdp {
        threads.extend(xdp::spawn(xdp, shared.clone(), stop.clone(), &mut liveness)?);
    }
    let mut listeners: Vec<(Transport, SocketAddr)> =
        addrs.iter().flat_map(|&a| [(Transport::Udp, a), (Transport::Tcp, a)]).collect();
    if let Some(certificates) = certificates {
        let dot = tls::server_config(certificates.clone(), &[tls::dot::ALPN], false);
        let doh = tls::server_config(certificates, &[tls::doh::ALPN], false);
        let path: Arc<str> = Arc::from(tls.doh_path());
        for (transport, listener) in streams {
            listeners.push((transport, listener.local_addr()?));
            tasks.push(match transport {
                Transport::Tls => tokio::spawn(tls::dot::serve(listener, shared.clone(), dot.clone())),
                _ => tokio::spawn(tls::doh::serve(listener, shared.clone(), doh.clone(), path.clone())),
            });
        }
        for (bound, endpoint) in quic {
            listeners.push((Transport::Quic, bound));
            tasks.push(tokio::spawn(tls::doq::serve(endpoint, shared.clone())));
        }
    }
    let _ = shared.listeners.set(listeners);
    Ok(Running { shared, addrs, liveness, tasks, threads, stop })
}

/// Fails when another process holds the UDP port of `addr`. The batched loop's sockets set
/// `SO_REUSEPORT`, and the kernel would let them join another program's `SO_REUSEPORT` socket
/// on the same port and split the queries between the two without a word; a plain socket
/// bound first cannot join, so trying one tells.
fn refuse_taken(addr: SocketAddr) -> std::io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    probe.bind(&addr.into()).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => std::io::Error::new(
            e.kind(),
            format!("UDP port {addr} is already in use by another process (if it set SO_REUSEPORT, both would get a share of the queries)"),
        ),
        _ => e,
    })
}

/// Adds what to do to the usual reasons a port cannot be bound.
fn explain_bind_error(addr: SocketAddr, e: std::io::Error) -> std::io::Error {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if addr.port() < 1024 => std::io::Error::new(
            e.kind(),
            format!(
                "{e}: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (AmbientCapabilities= in a systemd unit, or setcap cap_net_bind_service=+ep on the binary)"
            ),
        ),
        _ => e,
    }
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
    fn a_worker_that_stops_coming_round_is_seen_stalled() {
        let mut liveness = Liveness::default();
        let (a, b) = (liveness.add(), liveness.add());
        a.store(1000, Ordering::Relaxed);
        b.store(1000, Ordering::Relaxed);
        assert_eq!(liveness.stalled(1010, 15), 0);
        b.store(990, Ordering::Relaxed);
        assert_eq!(liveness.stalled(1010, 15), 1, "b's last turn is 20 s old");
        assert_eq!(liveness.stalled(1030, 15), 2);
        // The clock wrapping past 2^32 changes nothing.
        a.store(u32::MAX - 2, Ordering::Relaxed);
        assert_eq!(liveness.stalled(5, 15), 1);
        assert_eq!(Liveness::default().stalled(1, 0), 0, "no batched workers: nothing to wait for");
    }
}
