//! An AF_XDP socket with its UMEM and its four rings, on rustix's system calls.
//!
//! Written here rather than taken from a crate: the one ring crate that needs no system library
//! (xdpilone) is EUPL-1.2, a copyleft licence this Apache-2.0 project would ship linked into
//! its binary, and the others (xsk-rs, afxdp) build libbpf and libxdp, which need libelf and
//! zlib development packages. What is needed is small: the kernel's rings are single-producer,
//! single-consumer arrays with a producer and a consumer index in shared memory
//! (Documentation/networking/af_xdp.rst), read with Acquire and written with Release.
//!
//! The UMEM is one anonymous mapping of [`FRAMES`] frames of [`FRAME_SIZE`] octets; a frame is
//! in exactly one place at a time: the fill ring, the receive ring, our hands, the transmit
//! ring, the completion ring, or the free list of [`Socket::free`]. This module and
//! `udp_batch.rs` hold the project's unsafe code for packets; every block says why it is sound.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::net::xdp::{
    SocketAddrXdp, SocketAddrXdpFlags, XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_UMEM_PGOFF_COMPLETION_RING,
    XDP_UMEM_PGOFF_FILL_RING, XdpDesc, XdpDescOptions, XdpRingOffset, XdpUmemReg, XdpUmemRegFlags,
};

/// Octets per UMEM frame: a page holds two. A reply is at most 14 + 40 + 8 + 1232 octets, which
/// fits after the kernel's 256-octet headroom with room to spare.
pub const FRAME_SIZE: u32 = 2048;
/// Frames per socket: the four rings' worth, so the fill ring can be kept full while replies
/// wait for completion. 8 MiB per queue.
pub const FRAMES: u32 = 4096;
/// Entries per ring (a power of two, as the kernel requires).
pub const RING_SIZE: u32 = 2048;
/// `XDP_MAX_TX_SKB_BUDGET` (Linux 6.17): descriptors one wake-up of the transmit path sends
/// in copy mode (32 by default); set to the ring size so one kick per batch suffices.
const XDP_MAX_TX_SKB_BUDGET: i32 = 9;
const SOL_XDP: i32 = 283;
/// `XDP_RING_NEED_WAKEUP` in a ring's flags word.
const NEED_WAKEUP: u32 = 1;

/// One shared ring: its mapping, the two indexes, and our cached copies. On the rings we fill
/// (fill, transmit) our index is the producer's and the kernel's the consumer's; on the rings
/// we read (receive, completion), the other way round.
struct Ring<T> {
    map: *mut libc::c_void,
    map_len: usize,
    /// The index we write.
    our_index: *const AtomicU32,
    /// The index the kernel writes.
    their_index: *const AtomicU32,
    flags: *const AtomicU32,
    descs: *mut T,
    mask: u32,
    /// Our index (the producer's for rings we fill, the consumer's for rings we read).
    ours: u32,
    /// The kernel's index as last read.
    theirs: u32,
}

// SAFETY: a Ring is owned by one worker thread at a time; the raw pointers point into a
// mapping that lives as long as the Ring.
unsafe impl<T> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// Maps the ring of `size` entries at page offset `pgoff` of `fd`.
    fn map(fd: &OwnedFd, offsets: &XdpRingOffset, size: u32, pgoff: u64, produce: bool) -> io::Result<Ring<T>> {
        let map_len = offsets.desc as usize + size as usize * std::mem::size_of::<T>();
        // SAFETY: a fresh shared mapping of the kernel's ring; nothing else refers to it yet.
        let map = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                map_len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED | rustix::mm::MapFlags::POPULATE,
                fd,
                pgoff,
            )?
        };
        let at = |off: u64| map.cast::<u8>().wrapping_add(off as usize);
        let flags_off =
            offsets.flags.ok_or_else(|| io::Error::other("kernel too old: rings without flags (before 5.4)"))?;
        let (producer, consumer) = (at(offsets.producer).cast(), at(offsets.consumer).cast());
        let (our_index, their_index) = if produce { (producer, consumer) } else { (consumer, producer) };
        let mut ring = Ring {
            map,
            map_len,
            our_index,
            their_index,
            flags: at(flags_off).cast(),
            descs: at(offsets.desc).cast(),
            mask: size - 1,
            ours: 0,
            theirs: 0,
        };
        // SAFETY: the indexes are aligned u32s inside the mapping, shared with the kernel, which
        // only ever accesses them atomically.
        ring.ours = unsafe { &*ring.our_index }.load(Ordering::Relaxed);
        ring.reread();
        Ok(ring)
    }

    /// Reads the kernel's index again. Acquire: the entries it published (or the slots it gave
    /// back) are seen with it.
    fn reread(&mut self) {
        // SAFETY: see `map`.
        self.theirs = unsafe { &*self.their_index }.load(Ordering::Acquire);
    }

    fn size(&self) -> u32 {
        self.mask + 1
    }

    /// Entries the kernel has produced and we have not consumed (reading its index again
    /// when the cached one shows none).
    fn available(&mut self) -> u32 {
        if self.theirs == self.ours {
            self.reread();
        }
        self.theirs.wrapping_sub(self.ours)
    }

    /// Room to produce entries: at least `want` when there is that much (the kernel's index
    /// is read again only when the cached one shows less).
    fn room(&mut self, want: u32) -> u32 {
        let free = self.size() - self.ours.wrapping_sub(self.theirs);
        if free >= want {
            return free;
        }
        self.reread();
        self.size() - self.ours.wrapping_sub(self.theirs)
    }

    /// Entries we produced that the kernel has not consumed yet.
    fn outstanding(&mut self) -> u32 {
        self.reread();
        self.ours.wrapping_sub(self.theirs)
    }

    /// The entry `i` places past our index.
    fn read(&self, i: u32) -> T {
        // SAFETY: masked into the ring; the kernel published it (Acquire in `available`).
        unsafe { self.descs.add((self.ours.wrapping_add(i) & self.mask) as usize).read() }
    }

    fn write(&mut self, i: u32, value: T) {
        // SAFETY: masked into the ring; `room` said the kernel is done with this slot.
        unsafe { self.descs.add((self.ours.wrapping_add(i) & self.mask) as usize).write(value) }
    }

    /// Hands `n` read entries back, or publishes `n` written ones.
    fn advance(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.ours = self.ours.wrapping_add(n);
        // SAFETY: see `map`. Release: the entries written before are seen before the index.
        unsafe { &*self.our_index }.store(self.ours, Ordering::Release);
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: see `map`.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & NEED_WAKEUP != 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, no longer referred to.
        let _ = unsafe { rustix::mm::munmap(self.map, self.map_len) };
    }
}

/// The UMEM's memory.
struct Area {
    base: *mut u8,
    len: usize,
}

// SAFETY: owned by one worker at a time.
unsafe impl Send for Area {}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: the anonymous mapping made in `Socket::open`, unregistered with the socket
        // (closed before this field drops: fields drop in declaration order).
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.len) };
    }
}

/// A received frame: where it is in the UMEM and how long.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Offset of the packet's first octet in the UMEM.
    pub addr: u64,
    /// Its length.
    pub len: u32,
}

/// An AF_XDP socket bound to one queue, with its own UMEM.
pub struct Socket {
    fd: OwnedFd,
    fill: Ring<u64>,
    completion: Ring<u64>,
    rx: Ring<XdpDesc>,
    tx: Ring<XdpDesc>,
    area: Area,
    /// Frames in our hands that are not in any ring.
    free: Vec<u64>,
    /// Transmit descriptors written since the last `flush`.
    pending_tx: u32,
    /// Fill descriptors written since the last `flush`.
    pending_fill: u32,
}

impl Socket {
    /// Opens a socket on queue `queue` of the interface `ifindex`, registers its UMEM, maps
    /// its rings, binds it, and puts frames on the fill ring. Errors carry the step and the
    /// system's reason; the caller names the interface.
    pub fn open(ifindex: u32, queue: u32) -> Result<Socket, OpenError> {
        let step = OpenError::at;
        let fd = rustix::net::socket(rustix::net::AddressFamily::XDP, rustix::net::SocketType::RAW, None)
            .map_err(step("AF_XDP socket"))?;
        let len = (FRAMES * FRAME_SIZE) as usize;
        // SAFETY: a fresh private anonymous mapping.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::POPULATE,
            )
            .map_err(step("UMEM memory"))?
        };
        let area = Area { base: base.cast(), len };
        let reg = XdpUmemReg {
            addr: base as u64,
            len: len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: XdpUmemRegFlags::empty(),
            tx_metadata_len: 0,
        };
        rustix::net::sockopt::set_xdp_umem_reg(&fd, reg).map_err(step("UMEM registration (locked memory)"))?;
        rustix::net::sockopt::set_xdp_umem_fill_ring_size(&fd, RING_SIZE).map_err(step("fill ring"))?;
        rustix::net::sockopt::set_xdp_umem_completion_ring_size(&fd, RING_SIZE).map_err(step("completion ring"))?;
        rustix::net::sockopt::set_xdp_rx_ring_size(&fd, RING_SIZE).map_err(step("receive ring"))?;
        rustix::net::sockopt::set_xdp_tx_ring_size(&fd, RING_SIZE).map_err(step("transmit ring"))?;
        let offsets = rustix::net::sockopt::xdp_mmap_offsets(&fd).map_err(step("ring offsets"))?;
        let mapped = |error| OpenError { step: "ring mapping", error };
        let fill = Ring::map(&fd, &offsets.fr, RING_SIZE, XDP_UMEM_PGOFF_FILL_RING, true).map_err(mapped)?;
        let completion =
            Ring::map(&fd, &offsets.cr, RING_SIZE, XDP_UMEM_PGOFF_COMPLETION_RING, false).map_err(mapped)?;
        let rx = Ring::map(&fd, &offsets.rx, RING_SIZE, XDP_PGOFF_RX_RING, false).map_err(mapped)?;
        let tx = Ring::map(&fd, &offsets.tx, RING_SIZE, XDP_PGOFF_TX_RING, true).map_err(mapped)?;
        let budget = RING_SIZE as libc::c_int;
        // SAFETY: a plain int option on our own socket. Older kernels refuse it (ENOPROTOOPT):
        // transmits then go 32 at a time, which is slower but correct.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                SOL_XDP,
                XDP_MAX_TX_SKB_BUDGET,
                (&budget as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let addr = SocketAddrXdp::new(SocketAddrXdpFlags::XDP_USE_NEED_WAKEUP, ifindex, queue);
        rustix::net::bind(&fd, &addr).map_err(step("bind to the queue"))?;
        let mut socket = Socket {
            fd,
            fill,
            completion,
            rx,
            tx,
            area,
            free: (0..u64::from(FRAMES)).rev().map(|i| i * u64::from(FRAME_SIZE)).collect(),
            pending_tx: 0,
            pending_fill: 0,
        };
        socket.refill();
        socket.flush();
        Ok(socket)
    }

    /// The socket, for the XSKMAP and for statistics.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Up to `max` received frames (not yet released).
    pub fn receive(&mut self, max: u32, out: &mut Vec<Received>) {
        out.clear();
        let n = self.rx.available().min(max);
        for i in 0..n {
            let d = self.rx.read(i);
            out.push(Received { addr: d.addr, len: d.len });
        }
        self.rx.advance(n);
    }

    /// The frame holding `r`, from its first octet to the end of its UMEM frame (where a
    /// reply may be written).
    pub fn frame(&mut self, r: Received) -> Option<&mut [u8]> {
        let start = r.addr as usize;
        let end = (r.addr / u64::from(FRAME_SIZE) + 1) as usize * FRAME_SIZE as usize;
        if start + r.len as usize > end || end > self.area.len {
            return None;
        }
        // SAFETY: inside the UMEM; the kernel handed this frame to us on the receive ring and
        // touches it again only once we put it on a ring.
        Some(unsafe { std::slice::from_raw_parts_mut(self.area.base.add(start), end - start) })
    }

    /// Gives a frame back (nothing to send from it).
    pub fn recycle(&mut self, addr: u64) {
        self.free.push(addr - addr % u64::from(FRAME_SIZE));
    }

    /// Queues `len` octets at `addr` for sending; false (the frame recycled) when the
    /// transmit ring is full.
    pub fn transmit(&mut self, addr: u64, len: u32) -> bool {
        if self.tx.room(self.pending_tx + 1) <= self.pending_tx {
            self.recycle(addr);
            return false;
        }
        self.tx.write(self.pending_tx, XdpDesc { addr, len, options: XdpDescOptions::empty() });
        self.pending_tx += 1;
        true
    }

    /// Takes back the frames the kernel has sent.
    pub fn complete(&mut self) {
        let n = self.completion.available();
        for i in 0..n {
            let addr = self.completion.read(i);
            self.free.push(addr - addr % u64::from(FRAME_SIZE));
        }
        self.completion.advance(n);
    }

    /// Puts free frames on the fill ring.
    pub fn refill(&mut self) {
        let room = self.fill.room(self.fill.size()).saturating_sub(self.pending_fill);
        for _ in 0..room {
            let Some(addr) = self.free.pop() else { break };
            self.fill.write(self.pending_fill, addr);
            self.pending_fill += 1;
        }
    }

    /// Publishes what was queued on the transmit and fill rings, and wakes the kernel's
    /// transmit path when it asks to be woken and has something to send (replies queued now,
    /// or left by a wake-up that found it busy). Returns whether replies are still waiting.
    pub fn flush(&mut self) -> bool {
        self.fill.advance(std::mem::take(&mut self.pending_fill));
        let queued = std::mem::take(&mut self.pending_tx);
        self.tx.advance(queued);
        if (queued > 0 || self.tx.outstanding() > 0) && self.tx.needs_wakeup() {
            // A zero-length send is the wake-up; EAGAIN or EBUSY (the kernel is busy sending)
            // and ENOBUFS leave the rest for the next one.
            let _ = rustix::net::send(&self.fd, &[], rustix::net::SendFlags::DONTWAIT);
            return self.tx.outstanding() > 0;
        }
        false
    }

    /// Whether the kernel wants a wake-up to take frames from the fill ring.
    pub fn fill_needs_wakeup(&self) -> bool {
        self.fill.needs_wakeup()
    }

    /// Waits until a frame arrives or `timeout` passes.
    pub fn wait(&self, timeout: std::time::Duration) {
        let mut fds = [rustix::event::PollFd::new(&self.fd, rustix::event::PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(timeout).ok();
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
    }
}

/// A step of [`Socket::open`] that failed, with the system's error (its code kept, so the
/// caller can say what to do).
#[derive(Debug)]
pub struct OpenError {
    /// What was being done.
    pub step: &'static str,
    /// Why it failed.
    pub error: io::Error,
}

impl OpenError {
    fn at(step: &'static str) -> impl Fn(rustix::io::Errno) -> OpenError {
        move |e| OpenError { step, error: e.into() }
    }
}
