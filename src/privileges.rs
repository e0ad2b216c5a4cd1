//! Giving up root: `serve --user NAME` switches to that account before anything else happens,
//! keeping only the capability to bind ports below 1024.
//!
//! The switch happens first thing, while the process still has one thread, so every thread
//! started later (the runtime, the UDP workers, the checks, the query log) inherits the new
//! credentials: no probe ever runs and no file is ever written as root. `CAP_NET_BIND_SERVICE`
//! is kept across the switch (`PR_SET_KEEPCAPS`) and is the only capability left, which is
//! what a systemd unit's `User=` with `AmbientCapabilities=CAP_NET_BIND_SERVICE` gives.
//! Accounts are read from `/etc/passwd` and `/etc/group`, or given as numbers.

/// An account to run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user's name (or number) as given.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Group id: the named group, or the user's primary group.
    pub gid: u32,
}

/// Finds `user` (a name or a number) and `group` (likewise; the user's primary group when
/// `None`).
pub fn lookup(user: &str, group: Option<&str>) -> Result<Account, String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => {
            (uid, find(&passwd, |f| f.get(2) == Some(&user)).and_then(|f| f.get(3)?.parse().ok()).unwrap_or(uid))
        }
        Err(_) => {
            let f = find(&passwd, |f| f.first() == Some(&user))
                .ok_or_else(|| format!("no user '{user}' in /etc/passwd"))?;
            let id = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
            (id(2).ok_or("bad /etc/passwd line")?, id(3).ok_or("bad /etc/passwd line")?)
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
                find(&groups, |f| f.first() == Some(&g))
                    .and_then(|f| f.get(2)?.parse().ok())
                    .ok_or_else(|| format!("no group '{g}' in /etc/group"))?
            }
        },
    };
    Ok(Account { name: user.to_string(), uid, gid })
}

/// The fields of the first `:`-separated line of `table` that `matches`.
fn find(table: &str, matches: impl Fn(&[&str]) -> bool) -> Option<Vec<&str>> {
    table.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| matches(f))
}

/// Switches the process to `account`, keeping only `CAP_NET_BIND_SERVICE`. Must be called
/// while the process has a single thread (before the runtime starts). Already running as that
/// account (a unit's `User=` with the same `user` in the settings), there is nothing to do:
/// `Ok(false)`. Another account without root cannot switch: the error says so.
#[cfg(target_os = "linux")]
pub fn drop_to(account: &Account) -> Result<bool, String> {
    use rustix::process::{Gid, Uid};
    if !is_root() {
        let me = rustix::process::geteuid().as_raw();
        if me == account.uid {
            return Ok(false);
        }
        return Err(format!(
            "cannot switch to user {} (uid {}): running as uid {me}, not root",
            account.name, account.uid
        ));
    }
    use rustix::thread::{self, CapabilitySet, CapabilitySets};
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").map(|v| v.trim().to_string())));
    if threads.as_deref() != Some("1") {
        return Err("the process must give up root before it starts threads".into());
    }
    let fail = |what: &str, e: rustix::io::Errno| format!("cannot {what} for user {}: {e}", account.name);
    // rustix's checked wrappers of prctl, setgroups, setresgid, setresuid and capset (no
    // unsafe code here); with one thread, the thread's credentials are the process's.
    let gid = Gid::from_raw(account.gid);
    let uid = Uid::from_raw(account.uid);
    thread::set_keep_capabilities(true).map_err(|e| fail("keep capabilities", e))?;
    thread::set_thread_groups(&[gid]).map_err(|e| fail("set the groups", e))?;
    thread::set_thread_res_gid(gid, gid, gid).map_err(|e| fail("set the group id", e))?;
    thread::set_thread_res_uid(uid, uid, uid).map_err(|e| fail("set the user id", e))?;
    let keep = CapabilitySet::NET_BIND_SERVICE;
    thread::set_capabilities(
        None,
        CapabilitySets { effective: keep, permitted: keep, inheritable: CapabilitySet::empty() },
    )
    .map_err(|e| fail("keep CAP_NET_BIND_SERVICE", e))?;
    thread::set_keep_capabilities(false).map_err(|e| fail("clear keep-capabilities", e))?;
    Ok(true)
}

/// Gives up every capability but `CAP_NET_BIND_SERVICE` (kept when held), without changing
/// account: after `--xdp` is set up by a process that a service manager started with the XDP
/// capabilities (docs/xdp.md), nothing needs them any more. Must be called while the process
/// has a single thread, as [`drop_to`].
#[cfg(target_os = "linux")]
pub fn keep_only_bind_service() -> Result<(), String> {
    use rustix::thread::{self, CapabilitySet, CapabilitySets};
    let now = thread::capabilities(None).map_err(|e| format!("cannot read capabilities: {e}"))?;
    let keep = now.permitted & CapabilitySet::NET_BIND_SERVICE;
    thread::set_capabilities(
        None,
        CapabilitySets { effective: keep, permitted: keep, inheritable: CapabilitySet::empty() },
    )
    .map_err(|e| format!("cannot give up the XDP capabilities: {e}"))
}

/// Elsewhere there are no capabilities.
#[cfg(not(target_os = "linux"))]
pub fn keep_only_bind_service() -> Result<(), String> {
    Ok(())
}

/// Elsewhere there is no capability to keep: the switch is refused.
#[cfg(not(target_os = "linux"))]
pub fn drop_to(account: &Account) -> Result<bool, String> {
    Err(format!("--user {} is supported on Linux only", account.name))
}

/// True when the process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_by_name_and_number() {
        let root = lookup("root", None).unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup("0", Some("0")).unwrap().uid, 0);
        assert!(lookup("no-such-user-here", None).unwrap_err().contains("no user 'no-such-user-here'"));
        assert!(lookup("root", Some("no-such-group")).unwrap_err().contains("no group"));
    }
}
