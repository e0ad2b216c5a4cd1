//! `--xdp IFACE`: UDP queries taken from the network card before the kernel's IP and UDP stack,
//! through AF_XDP sockets (docs/xdp.md).
//!
//! An XDP program ([`program`], `xdp/meridian_xdp.c`) on the interface sends UDP datagrams
//! addressed to a served address and port to an AF_XDP socket per receive queue ([`ring`]),
//! and passes everything else to the kernel: ARP, ICMP, TCP, other ports, IPv4 options,
//! fragments, IPv6 extension headers, VLAN-tagged frames. A worker thread per queue reads the
//! frames, answers through [`super::udp::reply`] (the function every UDP loop answers through,
//! so the DNS octets are the same), writes the reply's headers in the same frame ([`frame`])
//! and sends it on the socket's transmit ring. The ordinary UDP and TCP sockets stay bound on
//! the same addresses and serve what the program passes.
//!
//! Everything that needs privileges (the sockets, the program, its maps and link) is made by
//! [`Xdp::open`] while the process has one thread, before `--user` drops root; nothing after
//! needs them.

pub mod frame;
mod program;
mod ring;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Shared, XdpMode as Mode};
use crate::sync::lock;

/// Frames taken from the receive ring at once (as the batched loop's datagrams per call).
const BATCH: u32 = 64;
/// How often an idle worker looks at the stop flag and stores its proof of life.
const STOP_CHECK: Duration = Duration::from_millis(200);
/// The smallest MTU replies fit in unfragmented: IPv6 and UDP headers and the largest UDP
/// payload Meridian sends (1232 octets). XDP replies are never fragmented.
const MIN_MTU: u32 = 40 + 8 + crate::query::MAX_UDP_PAYLOAD as u32;
/// The kernel's headroom before a received frame in copy mode (XDP_PACKET_HEADROOM).
const HEADROOM: usize = 256;
// The largest reply fits in a UMEM frame after the headroom.
const _: () =
    assert!(HEADROOM + frame::MAX_HEADERS + crate::query::MAX_UDP_PAYLOAD as usize <= ring::FRAME_SIZE as usize);

/// One receive queue's counts kept in user space, and its socket for the kernel's.
#[derive(Debug)]
struct Queue {
    answered: AtomicU64,
    malformed: AtomicU64,
    tx_full: AtomicU64,
    /// A duplicate of the worker's socket, for `XDP_STATISTICS`.
    fd: OwnedFd,
}

/// What one queue has counted (the metrics' `meridian_xdp_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Frames the program sent to the socket.
    pub redirected: u64,
    /// Frames the program passed to the kernel.
    pub passed: u64,
    /// Replies queued for sending.
    pub answered: u64,
    /// Frames whose headers did not add up.
    pub malformed: u64,
    /// Replies dropped for a full transmit ring.
    pub tx_ring_full: u64,
    /// Frames the kernel dropped for a full receive ring.
    pub rx_ring_full: u64,
    /// Frames the kernel dropped for want of a frame on the fill ring.
    pub fill_ring_empty: u64,
    /// Frames the kernel dropped otherwise (larger than a UMEM frame).
    pub rx_dropped: u64,
}

/// The XDP path of one interface, opened.
pub struct Xdp {
    /// The interface.
    pub interface: String,
    /// The attach mode asked for.
    pub mode: Mode,
    /// The addresses and ports the program sends to the sockets.
    pub served: Vec<SocketAddr>,
    queues: Vec<Queue>,
    /// The sockets, until the workers take them.
    sockets: std::sync::Mutex<Vec<ring::Socket>>,
    program: program::Program,
}

impl std::fmt::Debug for Xdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xdp").field("interface", &self.interface).field("mode", &self.mode).finish()
    }
}

impl Xdp {
    /// Opens a socket per receive queue of `interface`, loads the program with the addresses
    /// of `listen` that are on the interface, and attaches it. Every error names the
    /// interface and what to do; nothing falls back to sockets silently.
    pub fn open(interface: &str, mode: Mode, listen: &[SocketAddr]) -> Result<Xdp, String> {
        let fail = |e: String| format!("--xdp {interface}: {e}");
        let sys = std::path::Path::new("/sys/class/net").join(interface);
        let read = |file: &str| std::fs::read_to_string(sys.join(file)).map(|s| s.trim().to_string());
        let Ok(ifindex) = read("ifindex") else {
            let mut known: Vec<String> = std::fs::read_dir("/sys/class/net")
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            known.sort();
            return Err(fail(format!("no such network interface (this system has: {})", known.join(", "))));
        };
        let ifindex: u32 = ifindex.parse().map_err(|_| fail(format!("unreadable ifindex '{ifindex}'")))?;
        let mtu: u32 = read("mtu").ok().and_then(|m| m.parse().ok()).unwrap_or(0);
        if mtu < MIN_MTU {
            return Err(fail(format!("MTU {mtu} is below {MIN_MTU}: replies sent through XDP are never fragmented")));
        }
        let queues = std::fs::read_dir(sys.join("queues"))
            .map_err(|e| fail(format!("cannot count its receive queues: {e}")))?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
            .count() as u32;
        if queues == 0 || queues > program::MAX_QUEUES {
            return Err(fail(format!("{queues} receive queues (1 to {} are supported)", program::MAX_QUEUES)));
        }
        let served = served_on(interface, listen).map_err(fail)?;
        check_capabilities().map_err(fail)?;
        let mut sockets = Vec::new();
        for queue in 0..queues {
            sockets.push(ring::Socket::open(ifindex, queue).map_err(|e| fail(socket_error(queue, &e)))?);
        }
        let fds: Vec<&OwnedFd> = sockets.iter().map(ring::Socket::fd).collect();
        let program = program::Program::attach(interface, aya_mode(mode), &served, &fds).map_err(fail)?;
        let queues = sockets
            .iter()
            .map(|s| {
                Ok(Queue {
                    answered: AtomicU64::new(0),
                    malformed: AtomicU64::new(0),
                    tx_full: AtomicU64::new(0),
                    fd: s.fd().try_clone()?,
                })
            })
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Xdp {
            interface: interface.to_string(),
            mode,
            served,
            queues,
            sockets: std::sync::Mutex::new(sockets),
            program,
        })
    }

    /// The counts of each queue, in queue order.
    pub fn counts(&self) -> Vec<QueueCounts> {
        self.queues
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let (redirected, passed) = self.program.counts(i as u32);
                let stats = rustix::net::sockopt::xdp_statistics(&q.fd).ok();
                let kernel = |f: fn(&rustix::net::xdp::XdpStatistics) -> u64| stats.as_ref().map_or(0, f);
                QueueCounts {
                    redirected,
                    passed,
                    answered: q.answered.load(Ordering::Relaxed),
                    malformed: q.malformed.load(Ordering::Relaxed),
                    tx_ring_full: q.tx_full.load(Ordering::Relaxed),
                    rx_ring_full: kernel(|s| s.rx_ring_full.unwrap_or(0)),
                    fill_ring_empty: kernel(|s| s.rx_fill_ring_empty_descs.unwrap_or(0)),
                    rx_dropped: kernel(|s| s.rx_dropped),
                }
            })
            .collect()
    }

    /// A line for the start's log.
    pub fn describe(&self) -> String {
        let served: Vec<String> = self.served.iter().map(ToString::to_string).collect();
        format!(
            "XDP on {} ({} mode, {} queue(s)) for {}",
            self.interface,
            self.mode.name(),
            self.queues.len(),
            served.join(", ")
        )
    }
}

fn aya_mode(mode: Mode) -> aya::programs::XdpMode {
    match mode {
        Mode::Auto => aya::programs::XdpMode::Default,
        Mode::Native => aya::programs::XdpMode::Driver,
        Mode::Generic => aya::programs::XdpMode::Skb,
    }
}

/// The listen addresses the interface has, with their ports (an unspecified address stands
/// for each of the interface's addresses of its family).
fn served_on(interface: &str, listen: &[SocketAddr]) -> Result<Vec<SocketAddr>, String> {
    let own = interface_addresses(interface).map_err(|e| format!("cannot read its addresses: {e}"))?;
    let mut served = Vec::new();
    for addr in listen {
        if addr.port() == 0 {
            return Err(format!("listen address {addr} has no port: XDP needs the port to match"));
        }
        for ip in &own {
            let wanted = match addr.ip() {
                IpAddr::V4(a) if a.is_unspecified() => ip.is_ipv4(),
                IpAddr::V6(a) if a.is_unspecified() => ip.is_ipv6(),
                a => a == *ip,
            };
            if wanted && !served.contains(&SocketAddr::new(*ip, addr.port())) {
                served.push(SocketAddr::new(*ip, addr.port()));
            }
        }
    }
    if served.is_empty() {
        let listen: Vec<String> = listen.iter().map(ToString::to_string).collect();
        let own: Vec<String> = own.iter().map(ToString::to_string).collect();
        return Err(format!(
            "none of the listen addresses ({}) is on this interface (it has: {})",
            listen.join(", "),
            if own.is_empty() { "no address".to_string() } else { own.join(", ") }
        ));
    }
    Ok(served)
}

/// The interface's IPv4 and IPv6 addresses (getifaddrs).
fn interface_addresses(interface: &str) -> io::Result<Vec<IpAddr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut at = list;
    while !at.is_null() {
        // SAFETY: a node of the list getifaddrs returned, alive until freeifaddrs.
        let entry = unsafe { &*at };
        at = entry.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string of the node.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) };
        if entry.ifa_addr.is_null() || name.to_bytes() != interface.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points at a sockaddr of the family it names.
        let ip = match i32::from(unsafe { (*entry.ifa_addr).sa_family }) {
            libc::AF_INET => {
                let sin = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
                IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
            }
            libc::AF_INET6 => {
                let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                IpAddr::from(sin6.sin6_addr.s6_addr)
            }
            _ => continue,
        };
        out.push(ip);
    }
    // SAFETY: the list from getifaddrs, no longer referred to.
    unsafe { libc::freeifaddrs(list) };
    Ok(out)
}

/// Refuses to go on without the capabilities XDP needs, naming the missing ones.
fn check_capabilities() -> Result<(), String> {
    use rustix::thread::CapabilitySet as C;
    let have = rustix::thread::capabilities(None).map_err(|e| format!("cannot read capabilities: {e}"))?.effective;
    let needed = [
        (C::NET_RAW, "CAP_NET_RAW"),
        (C::NET_ADMIN, "CAP_NET_ADMIN"),
        (C::BPF, "CAP_BPF"),
        (C::IPC_LOCK, "CAP_IPC_LOCK"),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(c, _)| !(have.contains(*c) || (*c == C::BPF && have.contains(C::SYS_ADMIN))))
        .map(|(_, n)| *n)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "needs the capabilities CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and CAP_IPC_LOCK (missing: {}); \
         start as root (with --user to drop them once XDP is set up) or grant them in the unit \
         (docs/xdp.md)",
        missing.join(", ")
    ))
}

fn socket_error(queue: u32, e: &ring::OpenError) -> String {
    let (step, error) = (e.step, &e.error);
    match error.raw_os_error() {
        Some(libc::EAFNOSUPPORT) => "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)".into(),
        Some(libc::EPERM) => format!("AF_XDP socket for queue {queue}: {step}: {error} (needs CAP_NET_RAW)"),
        Some(libc::EBUSY) => format!(
            "receive queue {queue} already has an AF_XDP socket: another server in XDP mode (Meridian, Knot) \
             runs on this interface ({step}: {error})"
        ),
        Some(libc::ENOBUFS | libc::ENOMEM) => format!(
            "AF_XDP socket for queue {queue}: {step}: {error} ({} MiB of locked memory per queue: needs \
             CAP_IPC_LOCK or a higher LimitMEMLOCK)",
            (ring::FRAMES * ring::FRAME_SIZE) >> 20
        ),
        _ => format!("AF_XDP socket for queue {queue}: {step}: {error}"),
    }
}

/// Starts a worker thread per queue, each registered in `liveness`; they stop when `stop` is
/// set. The sockets can be taken once.
pub fn spawn(
    xdp: &Arc<Xdp>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    liveness: &mut super::Liveness,
) -> io::Result<Vec<JoinHandle<()>>> {
    let sockets = std::mem::take(&mut *lock(&xdp.sockets));
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (xdp, shared, stop) = (xdp.clone(), shared.clone(), stop.clone());
            let beat = liveness.add();
            std::thread::Builder::new()
                .name(format!("xdp-{i}"))
                .spawn(move || worker(socket, &xdp.queues[i], &shared, &stop, &beat))
        })
        .collect()
}

fn worker(mut socket: ring::Socket, queue: &Queue, shared: &Shared, stop: &AtomicBool, beat: &AtomicU32) {
    let mut received = Vec::with_capacity(BATCH as usize);
    let mut out = Vec::with_capacity(usize::from(crate::query::MAX_UDP_PAYLOAD));
    let mut cache = crate::query::AnswerCache::new();
    let mut tally = super::Tally::default();
    while !stop.load(Ordering::Relaxed) {
        socket.complete();
        socket.refill();
        socket.receive(BATCH, &mut received);
        if received.is_empty() {
            // Replies the kernel has not taken yet: come back soon to wake it again.
            let waiting = socket.flush();
            socket.wait(if waiting { Duration::from_millis(1) } else { STOP_CHECK });
            beat.store(crate::cookie::now(), Ordering::Relaxed);
            continue;
        }
        let now = crate::cookie::now();
        beat.store(now, Ordering::Relaxed);
        let (mut answered, mut malformed, mut full) = (0, 0, 0);
        let snapshot = shared.snapshot.load();
        let batch = super::udp::Batch { snapshot: &snapshot, now };
        for r in received.drain(..) {
            match answer(&mut socket, r, shared, batch, &mut out, &mut cache, &mut tally) {
                Answered::Reply(len) if socket.transmit(r.addr, len as u32) => answered += 1,
                Answered::Reply(_) => full += 1,
                Answered::Nothing => socket.recycle(r.addr),
                Answered::Malformed => {
                    malformed += 1;
                    socket.recycle(r.addr);
                }
            }
        }
        drop(snapshot);
        tally.flush(shared);
        let _ = socket.flush();
        if socket.fill_needs_wakeup() {
            socket.wait(Duration::ZERO);
        }
        queue.answered.fetch_add(answered, Ordering::Relaxed);
        queue.malformed.fetch_add(malformed, Ordering::Relaxed);
        queue.tx_full.fetch_add(full, Ordering::Relaxed);
    }
}

/// What became of a received frame.
enum Answered {
    /// A reply of this many octets is in the frame.
    Reply(usize),
    /// Nothing to send (not a query, or rate limiting dropped it).
    Nothing,
    /// A frame the kernel placed out of bounds, or whose headers do not add up.
    Malformed,
}

/// Answers the query in frame `r`, writing the reply over it.
fn answer(
    socket: &mut ring::Socket,
    r: ring::Received,
    shared: &Shared,
    batch: super::udp::Batch<'_>,
    out: &mut Vec<u8>,
    cache: &mut crate::query::AnswerCache,
    tally: &mut super::Tally,
) -> Answered {
    let Some(frame) = socket.frame(r) else { return Answered::Malformed };
    let Ok(query) = frame::read(&frame[..r.len as usize]) else { return Answered::Malformed };
    if !super::udp::reply(shared, batch, &frame[query.payload.clone()], query.peer, out, cache, tally) {
        return Answered::Nothing;
    }
    // A UMEM frame holds the largest reply after the kernel's headroom (ring::FRAME_SIZE).
    let Some(room) = frame.get_mut(query.headers..query.headers + out.len()) else { return Answered::Nothing };
    room.copy_from_slice(out);
    Answered::Reply(frame::reply(frame, query.headers, out.len()))
}
