//! The service manager's readiness protocol (`sd_notify`): a datagram to the socket named by
//! `NOTIFY_SOCKET`, as systemd's `Type=notify` and `Type=notify-reload` units expect. Without
//! that variable (run by hand, or by another supervisor) nothing is sent.
//!
//! The protocol is a few `KEY=VALUE` lines in one datagram (sd_notify(3)), so it is written
//! here rather than pulled in as a crate: `READY=1` once the sockets answer, `RELOADING=1`
//! (with `MONOTONIC_USEC`) when a reload starts and `READY=1` when it ends, `STOPPING=1` on the
//! way out, and `WATCHDOG=1` every half `WATCHDOG_USEC` when the unit sets `WatchdogSec=`.

use std::time::Duration;

/// Sends `state` (newline-separated `KEY=VALUE` pairs) to the service manager, if there is
/// one. Failures are logged at debug level and otherwise ignored: readiness notes must never
/// stop the server.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::debug!(error = %e, "cannot notify the service manager");
    }
}

#[cfg(target_os = "linux")]
fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_bytes();
    // A leading '@' names a socket in the abstract namespace (sd_notify(3)).
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(path))?,
    };
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    std::os::unix::net::UnixDatagram::unbound()?.send_to(state.as_bytes(), path).map(|_| ())
}

/// `RELOADING=1` with the monotonic time systemd asks for (`Type=notify-reload`).
pub fn reloading() {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let usec = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
}

/// How often to send `WATCHDOG=1`: half the unit's `WatchdogSec=`, when it set one for us.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok())
        && pid != std::process::id()
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}
