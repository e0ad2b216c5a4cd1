//! The XDP program (`xdp/meridian_xdp.c`, its object committed beside it) loaded with aya,
//! its maps filled, and attached through a bpf_link.
//!
//! aya because it is pure Rust (no libbpf, libelf or zlib to install) and well kept. The link
//! is the safety: a bpf_link is detached by the kernel when the last descriptor of it closes,
//! which happens when the process ends however it ends, so a crashed Meridian never leaves an
//! interface sending DNS into a socket nobody reads. aya falls back to the older netlink attach
//! (which outlives the process) when the kernel refuses a link; we refuse to run on that.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use aya::maps::{HashMap, MapData, PerCpuArray, XskMap};
use aya::programs::links::FdLink;
use aya::programs::{Xdp, XdpMode};

/// The program's object file (`scripts/build-xdp.sh` makes it from `xdp/meridian_xdp.c`).
static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../xdp/meridian_xdp.o");
/// The largest queue number the program can redirect (its `MAX_QUEUES`).
pub const MAX_QUEUES: u32 = 64;

/// A served address and port, as the program's `listen` map keys them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct ListenKey {
    addr: [u8; 16],
    port: [u8; 2],
    zero: u16,
}

// SAFETY: plain octets with no padding (16 + 2 + 2).
unsafe impl aya::Pod for ListenKey {}

/// The loaded, attached program and the maps user space reads.
pub struct Program {
    /// Detaches the program when dropped (or when the process ends).
    _link: FdLink,
    counters: PerCpuArray<MapData, u64>,
    _ebpf: aya::Ebpf,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    /// Loads the program, lists `served` in its map, points queue `i` at `sockets[i]`, and
    /// attaches it to `interface` in `mode`.
    pub fn attach(
        interface: &str,
        mode: XdpMode,
        served: &[SocketAddr],
        sockets: &[&std::os::fd::OwnedFd],
    ) -> Result<Program, String> {
        let mut ebpf = aya::Ebpf::load(OBJECT).map_err(|e| format!("cannot load the XDP program: {e}"))?;
        let mut listen: HashMap<MapData, ListenKey, u8> = map(&mut ebpf, "listen")?;
        for addr in served {
            let ip = match addr.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let key = ListenKey { addr: ip.octets(), port: addr.port().to_be_bytes(), zero: 0 };
            listen.insert(key, 1, 0).map_err(|e| format!("cannot list {addr} in the XDP program's map: {e}"))?;
        }
        let mut xsks: XskMap<MapData> = map(&mut ebpf, "xsks")?;
        for (queue, fd) in sockets.iter().enumerate() {
            xsks.set(queue as u32, fd.as_raw_fd(), 0)
                .map_err(|e| format!("cannot register the AF_XDP socket of queue {queue}: {e}"))?;
        }
        let counters: PerCpuArray<MapData, u64> = map(&mut ebpf, "counters")?;
        let program: &mut Xdp = ebpf
            .program_mut("meridian_xdp")
            .ok_or("the XDP object has no program meridian_xdp")?
            .try_into()
            .map_err(|e| format!("meridian_xdp is not an XDP program: {e}"))?;
        program.load().map_err(|e| format!("the kernel refused the XDP program: {e}"))?;
        let id = program.attach(interface, mode).map_err(|e| attach_error(interface, e))?;
        let link = program.take_link(id).map_err(|e| format!("cannot take the XDP link: {e}"))?;
        let link = FdLink::try_from(link).map_err(|_| {
            format!(
                "the kernel attached the XDP program to {interface} without a bpf_link (Linux before 5.9?): \
                 it would stay attached if Meridian crashed, so Meridian refuses to run this way"
            )
        })?;
        Ok(Program { _link: link, counters, _ebpf: ebpf })
    }

    /// Frames redirected to queue `queue`'s socket and frames passed to the kernel, summed over
    /// the CPUs.
    pub fn counts(&self, queue: u32) -> (u64, u64) {
        let sum = |i: u32| self.counters.get(&i, 0).map_or(0, |v| v.iter().sum::<u64>());
        (sum(2 * queue), sum(2 * queue + 1))
    }
}

fn map<T: TryFrom<aya::maps::Map>>(ebpf: &mut aya::Ebpf, name: &str) -> Result<T, String> {
    let m = ebpf.take_map(name).ok_or_else(|| format!("the XDP object has no map {name}"))?;
    T::try_from(m).map_err(|_| format!("the XDP object's map {name} has the wrong type"))
}

fn attach_error(interface: &str, e: aya::programs::ProgramError) -> String {
    let mut text = e.to_string();
    if let Some(source) = std::error::Error::source(&e) {
        text = format!("{text}: {source}");
    }
    // The link cannot be made while another program is attached: EEXIST in generic mode,
    // EBUSY in native mode.
    let code = match &e {
        aya::programs::ProgramError::SyscallError(s) => s.io_error.raw_os_error(),
        _ => None,
    };
    if matches!(code, Some(libc::EEXIST | libc::EBUSY)) {
        return format!(
            "{interface} already has an XDP program (another server, or one left by a tool): \
             `ip link set dev {interface} xdp off` removes it ({text})"
        );
    }
    format!("cannot attach the XDP program to {interface}: {text}")
}
