//! The Debian package as an operator meets it: `dpkg -i`, the unit checked by
//! `systemd-analyze verify`, the secrets made at installation, `/etc/meridian/` edited, the
//! installed binary started as root with its installed settings (no flags), serving a port
//! below 1024 as the `meridian` user, control commands reading their API and token from the
//! settings, and `dpkg --purge` cleaning up.
//!
//! It installs into the machine, so it runs only when asked: `.ci/run` builds the package with
//! `scripts/package.sh --profile dev` and runs this test with `MERIDIAN_DEB` naming it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A free port on 127.0.0.1 for UDP and TCP, below 1024 when `low`.
fn free_port(low: bool) -> u16 {
    let range = if low { 900..1024 } else { 20000..30000 };
    range
        .into_iter()
        .find(|&p| {
            std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
        })
        .expect("a free port")
}

/// Removes the package however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "meridian"]);
    }
}

#[test]
fn the_package_installs_and_serves_as_the_meridian_user_from_its_installed_settings() {
    let Some(deb) = std::env::var_os("MERIDIAN_DEB") else {
        eprintln!("skipped: set MERIDIAN_DEB to a package built by scripts/package.sh (.ci/run does)");
        return;
    };
    if !meridian::privileges::is_root() {
        eprintln!("skipped: installing a package needs root");
        return;
    }
    let deb = deb.to_string_lossy().into_owned();
    let (ok, out) = run("dpkg", &["-i", &deb]);
    assert!(ok, "dpkg -i {deb}: {out}");
    let _installed = Installed;

    // The account, and the secrets made for it, readable by its group only.
    let account = meridian::privileges::lookup("meridian", None).expect("the meridian account");
    for secret in ["/etc/meridian/api-token", "/etc/meridian/cookie-secret"] {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(secret).unwrap_or_else(|e| panic!("{secret}: {e}"));
        assert_eq!((m.mode() & 0o777, m.gid()), (0o640, account.gid), "{secret}");
    }
    for file in [
        "/usr/bin/meridian",
        "/usr/share/meridian/dbip-country.mmdb",
        "/usr/share/man/man8/meridian.8.gz",
        "/usr/share/bash-completion/completions/meridian",
        "/etc/meridian/zones/example.com.zone",
        "/etc/logrotate.d/meridian",
    ] {
        assert!(Path::new(file).exists(), "{file} is installed");
    }

    // The unit passes systemd's own check (a missing `man` only fails its Documentation= probe).
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let (ok, out) = run("systemd-analyze", &["verify", "/usr/lib/systemd/system/meridian.service"]);
        let has_man = Path::new("/usr/bin/man").exists();
        let problems: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("meridian.service"))
            .filter(|l| has_man || !l.contains("Command 'man meridian(8)'"))
            .collect();
        assert!(problems.is_empty(), "systemd-analyze verify:\n{out}");
        assert!(ok || !has_man, "systemd-analyze verify failed:\n{out}");
    } else {
        eprintln!("note: no systemd-analyze here; the unit was not verified");
    }

    // The operator edits /etc/meridian/: a port below 1024 (which the meridian account may bind
    // only through the capability it keeps) and a free API port.
    let (port, api) = (free_port(true), free_port(false));
    let settings = std::fs::read_to_string("/etc/meridian/meridian.toml").unwrap();
    let edited: String = settings
        .lines()
        .map(|l| {
            if l.starts_with("listen = ") {
                format!("listen = [\"127.0.0.1:{port}\"]")
            } else if l.starts_with("api = ") {
                format!("api = \"127.0.0.1:{api}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write("/etc/meridian/meridian.toml", edited + "\n").unwrap();

    // What the unit's ExecStartPre runs, then the server as root with no flags at all: the
    // installed binary reads /etc/meridian/meridian.toml and switches to `user = "meridian"`.
    let (ok, out) = run("/usr/bin/meridian", &["check", "--as-serve"]);
    assert!(ok && out.contains("serve would serve zone example.com."), "{out}");
    let server = common::Serve::spawn(Command::new("/usr/bin/meridian").current_dir("/"));
    let seen = &server.seen;
    assert!(seen.iter().any(|l| l.contains("settings from /etc/meridian/meridian.toml")), "{seen:#?}");
    assert_eq!(server.port, port, "the port of the installed settings: {seen:#?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    let uid = account.uid.to_string();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == uid), "{uid_line}");

    let dig = |args: &[&str]| common::dig(port, args);
    let answer = dig(&["www.example.com", "+subnet=193.0.0.0/21"]);
    assert!(answer.contains("status: NOERROR") && answer.contains("192.0.2.10"), "{answer}");
    assert!(dig(&["+cookie", "example.com", "SOA"]).contains("(good)"), "a server cookie from the installed secret");

    // Control commands find the API and the token in the installed settings.
    let (ok, out) = run("/usr/bin/meridian", &["reload"]);
    assert!(ok, "meridian reload: {out}");
    let (ok, out) = run("/usr/bin/meridian", &["drain", "ams", "--for", "5m"]);
    assert!(ok, "meridian drain: {out}");
    let state = Path::new("/var/lib/meridian/state.json");
    assert!(common::wait_until(Duration::from_secs(5), || state.exists()).is_some(), "the state file is written");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(state).unwrap().uid(), account.uid, "written by the meridian user");
    drop(server);

    let (ok, out) = run("dpkg", &["--purge", "meridian"]);
    assert!(ok, "dpkg --purge: {out}");
    assert!(!Path::new("/etc/meridian/meridian.toml").exists() && !Path::new("/var/lib/meridian").exists());
}
