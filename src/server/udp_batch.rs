//! A batched UDP loop for Linux: one blocking thread per core, each with its own socket on the
//! same address (`SO_REUSEPORT`, so the kernel spreads clients over them), reading up to
//! [`BATCH`] datagrams with one `recvmmsg` and sending the replies with one `sendmmsg`.
//!
//! The tokio loop costs one `recvfrom` and one `sendto` per query, and most of the time of a
//! query is spent there (docs/performance.md); batching spreads each system call over many
//! queries. Answering is the same function as in every loop ([`super::udp::reply`]). The only
//! unsafe code of the project is here: the `recvmmsg`/`sendmmsg` calls and the conversion of
//! the kernel's socket addresses.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Shared;

/// Datagrams per system call. 32 spreads each call's fixed cost over enough queries that it
/// no longer dominates (Knot and NSD batch 32-64), while a batch still fits the L2 cache:
/// 32 × 4 KiB buffers in and out.
pub const BATCH: usize = 32;
/// Largest query read: a query is a few hundred octets; a longer datagram is cut and dropped
/// as malformed (the tokio loop reads 64 KiB only to tell the same).
const RECV_BUFFER: usize = 4096;
/// How often a blocked worker looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Binds `threads` sockets on `addr` with `SO_REUSEPORT` (port 0: the first picks the port,
/// the rest join it). Returns them; the first one's address is the bound one.
pub fn bind(addr: SocketAddr, threads: usize) -> io::Result<Vec<UdpSocket>> {
    let mut out = Vec::new();
    let mut at = addr;
    for _ in 0..threads.max(1) {
        let s =
            socket2::Socket::new(socket2::Domain::for_address(at), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        if at.is_ipv6() {
            s.set_only_v6(true)?;
        }
        s.set_reuse_port(true)?;
        s.bind(&at.into())?;
        let s: UdpSocket = s.into();
        s.set_read_timeout(Some(STOP_CHECK))?;
        at = s.local_addr()?;
        out.push(s);
    }
    Ok(out)
}

/// Starts one blocking worker per socket, each registered in `liveness`; they stop when
/// `stop` is set.
pub fn spawn(
    sockets: Vec<UdpSocket>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    liveness: &mut super::Liveness,
) -> io::Result<Vec<JoinHandle<()>>> {
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let shared = shared.clone();
            let stop = stop.clone();
            let beat = liveness.add();
            std::thread::Builder::new().name(format!("udp-{i}")).spawn(move || worker(s, &shared, &stop, &beat))
        })
        .collect()
}

fn to_socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote an AF_INET address, which sockaddr_storage can hold.
            let sin = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for AF_INET6.
            let sin6 = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn worker(socket: UdpSocket, shared: &Shared, stop: &AtomicBool, beat: &std::sync::atomic::AtomicU32) {
    let fd = socket.as_raw_fd();
    let mut bufs = vec![[0u8; RECV_BUFFER]; BATCH];
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut cache = crate::query::AnswerCache::new();
    let mut tally = super::Tally::default();
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let mut out_iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut out_hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    while !stop.load(Ordering::Relaxed) {
        for i in 0..BATCH {
            iovs[i] = libc::iovec { iov_base: bufs[i].as_mut_ptr().cast(), iov_len: RECV_BUFFER };
            hdrs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_control = std::ptr::null_mut();
            hdrs[i].msg_hdr.msg_controllen = 0;
            hdrs[i].msg_hdr.msg_flags = 0;
            hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points at a live buffer and address slot of this thread.
        let n =
            unsafe { libc::recvmmsg(fd, hdrs.as_mut_ptr(), BATCH as u32, libc::MSG_WAITFORONE, std::ptr::null_mut()) };
        // One clock reading per turn of the loop (a batch, or an idle STOP_CHECK): the
        // watchdog's proof of life and the cookies' timestamp.
        let now = crate::cookie::now();
        beat.store(now, Ordering::Relaxed);
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => continue,
                _ => {
                    tracing::debug!(error = %e, "recvmmsg");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let mut count = 0;
        // One configuration and health snapshot per batch: a reload or a health change is
        // seen from the next batch on, a few microseconds later.
        let snapshot = shared.snapshot.load();
        let batch = super::udp::Batch { snapshot: &snapshot, now };
        for i in 0..n as usize {
            let len = hdrs[i].msg_len as usize;
            let Some(peer) = to_socket_addr(&addrs[i]) else { continue };
            if hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                tally.dropped += 1;
                continue;
            }
            let (packet, out) = (&bufs[i][..len], &mut outs[count]);
            if super::udp::reply(shared, batch, packet, peer, out, &mut cache, &mut tally) {
                out_iovs[count] = libc::iovec { iov_base: out.as_mut_ptr().cast(), iov_len: out.len() };
                out_hdrs[count].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
                out_hdrs[count].msg_hdr.msg_namelen = hdrs[i].msg_hdr.msg_namelen;
                out_hdrs[count].msg_hdr.msg_iov = &mut out_iovs[count];
                out_hdrs[count].msg_hdr.msg_iovlen = 1;
                out_hdrs[count].msg_hdr.msg_control = std::ptr::null_mut();
                out_hdrs[count].msg_hdr.msg_controllen = 0;
                out_hdrs[count].msg_hdr.msg_flags = 0;
                count += 1;
            }
        }
        drop(snapshot);
        tally.flush(shared);
        let mut sent = 0;
        while sent < count {
            // SAFETY: headers [sent, count) point at replies and addresses alive until here.
            let r = unsafe { libc::sendmmsg(fd, out_hdrs[sent..].as_mut_ptr(), (count - sent) as u32, 0) };
            if r <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // A reply that cannot be sent (the client's port closed) is skipped, not retried.
                tracing::debug!(error = %e, "sendmmsg");
                sent += 1;
                continue;
            }
            sent += r as usize;
        }
    }
}
