//! What an operator deploying Meridian meets around the DNS: the log level checked, JSON log
//! lines, the query log reopened for logrotate, a broken state file that does not keep DNS
//! down. Each test runs the built binary on loopback, as a service manager would.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn an_unknown_log_level_is_refused_naming_the_valid_ones() {
    let c = copy_gslb_zones();
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warnn", "--zones"])
        .arg(&c.zones)
        .arg("--geo")
        .arg(&c.geo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("log level 'warnn'") && err.contains("off, error, warn, info, debug, trace"), "{err}");
}

#[test]
fn json_log_lines_parse_and_text_lines_carry_no_colour_codes_into_a_pipe() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let s = Serve::start(&c.zones, &["--geo", &geo, "--log-format", "json"]);
    let start: serde_json::Value = serde_json::from_str(s.seen.last().unwrap()).expect("a JSON line");
    assert_eq!(start["level"], "INFO");
    assert!(start["fields"]["message"].as_str().unwrap().contains("serving"), "{start}");
    drop(s);
    let s = Serve::start(&c.zones, &["--geo", &geo]);
    assert!(s.seen.iter().all(|l| !l.contains('\u{1b}')), "ANSI codes in a pipe: {:?}", s.seen);
}

#[test]
fn the_query_log_is_reopened_on_sighup_after_logrotate_moved_it() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let log = c.dir.path().join("queries.log");
    let rotated = c.dir.path().join("queries.log.1");
    let s = Serve::start(&c.zones, &["--geo", &geo, "--query-log", log.to_str().unwrap()]);
    udp(s.addr(), &query("www.gslb.test", 1, Q { id: 1, ..Q::default() }));
    let written = |path: &Path| std::fs::read_to_string(path).unwrap_or_default().lines().count();
    assert!(wait_until(Duration::from_secs(5), || written(&log) == 1).is_some(), "the first line is written");
    // SIGHUP (which also reloads) and SIGUSR1 each reopen it. The writer reopens within its
    // flush interval (200 ms); a query after that lands in the new file, and the rotated one
    // keeps only what was written before.
    for (id, signal) in [(2, "HUP"), (3, "USR1")] {
        std::fs::rename(&log, &rotated).unwrap();
        s.signal(signal);
        std::thread::sleep(Duration::from_millis(600));
        udp(s.addr(), &query("www.gslb.test", 1, Q { id, ..Q::default() }));
        assert!(
            wait_until(Duration::from_secs(5), || written(&log) == 1).is_some(),
            "a new queries.log after {signal}"
        );
        assert_eq!(written(&rotated), 1);
    }
}

#[test]
fn an_empty_state_file_is_moved_aside_and_the_server_starts() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let state = c.dir.path().join("state.json");
    std::fs::write(&state, "").unwrap();
    let s = Serve::start(&c.zones, &["--geo", &geo, "--state", state.to_str().unwrap()]);
    assert!(
        s.seen.iter().any(|l| l.contains("state file") && l.contains("moved aside") && l.contains("without overrides")),
        "{:#?}",
        s.seen
    );
    assert!(!udp(s.addr(), &query("www.gslb.test", 1, Q::default())).answers.is_empty(), "DNS is up");
    let aside: Vec<_> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("state.json.bad-"))
        .collect();
    assert_eq!(aside.len(), 1, "the broken file is kept for the operator to look at");
    let _ = &s.lines;
}

/// A socket in `dir` standing in for the service manager's `NOTIFY_SOCKET`, and its path.
fn notify_socket(dir: &Path) -> (std::os::unix::net::UnixDatagram, std::path::PathBuf) {
    let path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (socket, path)
}

#[test]
fn the_service_manager_hears_ready_reloading_and_stopping() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let (socket, path) = notify_socket(c.dir.path());
    let next = || {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let s = Serve::start_env(&c.zones, &["--geo", &geo], &[("NOTIFY_SOCKET", path.as_os_str())]);
    let ready = next();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    // READY=1 comes once the sockets answer.
    assert!(!udp(s.addr(), &query("www.gslb.test", 1, Q::default())).answers.is_empty());
    s.signal("HUP");
    let reloading = next();
    assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{reloading}");
    assert_eq!(next(), "READY=1");
    s.signal("TERM");
    assert_eq!(next(), "STOPPING=1");
}

#[test]
fn a_udp_port_held_by_another_reuseport_socket_refuses_the_start() {
    let c = copy_gslb_zones();
    // Another program's socket with SO_REUSEPORT: the batched loop's sockets could join it.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    other.set_reuse_port(true).unwrap();
    other.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let port = other.local_addr().unwrap().as_socket().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--no-watch", "--listen", &format!("127.0.0.1:{port}"), "--zones"])
        .arg(&c.zones)
        .arg("--geo")
        .arg(&c.geo)
        .arg("--state")
        .arg(c.dir.path().join("state.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("UDP port 127.0.0.1:{port} is already in use by another process")), "{err}");
}

#[test]
fn every_node_says_who_it_is_with_nsid_and_id_server() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let s = Serve::start(&c.zones, &["--geo", &geo, "--nsid", "node-7.ams", "--server-id", "node-7"]);
    let nsid = dig(s.port, &["+nsid", "www.gslb.test", "A"]);
    assert!(nsid.contains("NSID: 6e 6f 64 65 2d 37 2e 61 6d 73 (\"node-7.ams\")"), "{nsid}");
    assert!(nsid.contains("status: NOERROR"), "{nsid}");
    // Without +nsid no NSID is sent.
    assert!(!dig(s.port, &["www.gslb.test", "A"]).contains("NSID"));
    let id = dig(s.port, &["CH", "TXT", "id.server"]);
    assert!(id.contains("id.server.\t\t0\tCH\tTXT\t\"node-7\""), "{id}");
    assert!(id.contains("flags: qr aa"), "{id}");
    assert!(dig(s.port, &["CH", "TXT", "hostname.bind", "+short"]).trim() == "\"node-7\"");
    // version.bind is refused unless configured.
    assert!(dig(s.port, &["CH", "TXT", "version.bind"]).contains("status: REFUSED"));
    drop(s);
    let s = Serve::start(&c.zones, &["--geo", &geo, "--version-bind", "meridian", "--nsid", ""]);
    assert_eq!(dig(s.port, &["CH", "TXT", "version.bind", "+short"]).trim(), "\"meridian\"");
    assert!(!dig(s.port, &["+nsid", "www.gslb.test", "A"]).contains("NSID"), "--nsid \"\" sends none");
    // By default the host name answers.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if !host.trim().is_empty() {
        let id = dig(s.port, &["CH", "TXT", "id.server", "+short"]);
        assert!(id.contains(host.trim()), "{id} vs {host}");
    }
}

/// A free port below 1024 on 127.0.0.1 for UDP and TCP, probed now.
fn free_low_port() -> Option<u16> {
    (900..1024).find(|&p| {
        std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
    })
}

#[test]
fn started_as_root_with_user_it_serves_a_low_port_and_checks_as_that_user() {
    if !meridian::privileges::is_root() {
        eprintln!("skipped: giving up root needs root");
        return;
    }
    let Ok(nobody) = meridian::privileges::lookup("nobody", None) else {
        eprintln!("skipped: no user 'nobody' on this machine");
        return;
    };
    let live = LiveExample::new();
    // The account must be able to read its files, as in a package (/etc/meridian).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(live.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_low_port().expect("a free port below 1024");
    let listen = format!("127.0.0.1:{port}");
    let state = live.dir.path().join("state.json");
    let s = Serve::start(
        live.dir.path(),
        &["--user", "nobody", "--listen", &listen, "--api", "127.0.0.1:0", "--state", state.to_str().unwrap()],
    );
    // Every thread runs as nobody, with CAP_NET_BIND_SERVICE alone.
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).unwrap_or("").to_string();
    let uid = nobody.uid.to_string();
    assert_eq!(field("Uid:").split_whitespace().skip(1).collect::<Vec<_>>(), [uid.as_str(); 4], "{status}");
    assert_eq!(field("CapEff:").split_whitespace().nth(1), Some("0000000000000400"), "{status}");
    for task in std::fs::read_dir(format!("/proc/{}/task", s.child.id())).unwrap().filter_map(Result::ok) {
        let t = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        assert!(t.lines().any(|l| l.starts_with("Uid:") && l.contains(&uid)), "a thread kept other ids: {t}");
    }
    // The low port answers, and the checks run (as nobody) and bring members up.
    let low = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(!udp(low, &query("static.example.com", 1, Q::default())).answers.is_empty());
    let api: std::net::SocketAddr = s
        .seen
        .iter()
        .find_map(|l| l.split("API on http://").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .expect("the start-up line names the API");
    let checked = wait_until(Duration::from_secs(15), || {
        let (_, body) = http(api, "GET", "/status", None, None);
        body.contains("\"status\":\"up\"")
    });
    assert!(checked.is_some(), "no check result under --user");
}

/// A port free for TCP on 127.0.0.1 now (for an API address a settings file must name).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `meridian` the test started itself, stopped when dropped (a failed assertion included).
struct Started(std::process::Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `meridian` with `args` in `cwd` and waits for its start-up line.
fn start_in(cwd: &Path, args: &[&str]) -> Serve {
    Serve::spawn(Command::new(env!("CARGO_BIN_EXE_meridian")).args(args).current_dir(cwd))
}

#[test]
fn a_settings_file_names_everything_relative_to_itself_and_control_commands_read_it() {
    let c = copy_gslb_zones();
    let etc = c.dir.path();
    std::fs::write(etc.join("api-token"), "s3cret\n").unwrap();
    let api = free_port();
    let config = etc.join("meridian.toml");
    std::fs::write(
        &config,
        format!(
            "# as /etc/meridian/meridian.toml would be\nzones = \"zones\"\ngeo = \"geo.mmdb\"\n\
             listen = [\"127.0.0.1:0\"]\nstate = \"lib/state.json\"\napi = \"0.0.0.0:{api}\"\n\
             api-token-file = \"api-token\"\nno-watch = true\nallow-root = true\nnsid = \"from-the-file\"\n\
             log-format = \"json\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(etc.join("lib")).unwrap();
    // Started from `/`, flags overriding one key: relative paths still mean the file's
    // directory, and nothing is written to the working directory.
    let cfg = config.to_str().unwrap();
    let server = start_in(Path::new("/"), &["--config", cfg, "--log-format", "text"]);
    let (port, seen) = (server.port, &server.seen);
    assert!(seen.iter().any(|l| l.contains("settings from") && l.contains("meridian.toml")), "{seen:#?}");
    assert!(seen.iter().all(|l| !l.starts_with('{')), "--log-format text wins over the file: {seen:#?}");
    let nsid = dig(port, &["+nsid", "www.gslb.test", "A"]);
    assert!(nsid.contains("(\"from-the-file\")") && nsid.contains("status: NOERROR"), "{nsid}");
    // The control commands find the API (0.0.0.0 reached on loopback) and its token in the file.
    let (code, out, err) = meridian(&["--config", cfg, "drain", "ams", "--for", "10m"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let state = std::fs::read_to_string(etc.join("lib/state.json")).expect("the state file beside the settings");
    assert!(state.contains("ams"), "{state}");
    let (code, out, _) = meridian(&["--config", cfg, "overrides"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("ams") && out.contains("drain"), "{out}");
    // `check` reads the zones and geo database the file names.
    let (code, out, err) = meridian(&["--config", cfg, "check"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ok: 1 zone(s): gslb.test."), "{out}");
}

#[test]
fn a_bad_settings_file_is_refused_with_its_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("meridian.toml");
    std::fs::write(&config, "zones = \"zones\"\nlsten = [\"127.0.0.1:53\"]\n").unwrap();
    for command in [&["serve"][..], &["check"], &["reload"]] {
        let (code, _, err) = meridian(&[&["--config", config.to_str().unwrap()], command].concat());
        assert_eq!(code, Some(2), "{command:?}: {err}");
        assert!(err.contains(&format!("{}:2: unknown field `lsten`", config.display())), "{err}");
    }
    std::fs::write(&config, "rrl-rate = 10\nquery-log-rate = 5\n").unwrap();
    let (code, _, err) = meridian(&["--config", config.to_str().unwrap(), "serve"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("query-log-rate: 5 is not between 0 and 1"), "{err}");
    let (code, _, err) = meridian(&["--config", dir.path().join("missing.toml").to_str().unwrap(), "check"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

#[test]
fn with_a_settings_file_root_is_refused_unless_a_user_or_allow_root_is_given() {
    if !meridian::privileges::is_root() {
        eprintln!("skipped: the refusal applies to root only");
        return;
    }
    let c = copy_gslb_zones();
    let config = c.dir.path().join("meridian.toml");
    std::fs::write(&config, "zones = \"zones\"\ngeo = \"geo.mmdb\"\nlisten = [\"127.0.0.1:0\"]\nno-watch = true\n")
        .unwrap();
    let (code, _, err) = meridian(&["--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refusing to run as root") && err.contains("`user`"), "{err}");
    // Told to, it runs.
    let cfg = config.to_str().unwrap();
    let state = c.dir.path().join("state.json");
    let server = start_in(c.dir.path(), &["--config", cfg, "--allow-root", "--state", state.to_str().unwrap()]);
    assert!(dig(server.port, &["www.gslb.test", "A"]).contains("status: NOERROR"));
}

/// The COOKIE option dig printed (`; COOKIE: <hex> (good)`), as hex.
fn dig_cookie(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with("; COOKIE: ")).unwrap_or_else(|| panic!("no COOKIE in {out}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

/// `packet` (a query with an empty OPT record last) with a COOKIE option of `cookie`.
fn with_cookie(mut packet: Vec<u8>, cookie: &[u8]) -> Vec<u8> {
    let at = packet.len() - 2;
    packet[at..].copy_from_slice(&((4 + cookie.len()) as u16).to_be_bytes());
    packet.extend_from_slice(&10u16.to_be_bytes());
    packet.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    packet.extend_from_slice(cookie);
    packet
}

#[test]
fn a_fleet_sharing_a_cookie_secret_accepts_each_others_cookies_and_rrl_lets_them_through() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let shared = c.dir.path().join("cookie-secret");
    let other = c.dir.path().join("other-secret");
    std::fs::write(&shared, "# the fleet's\n9f1c2e6a0b7d4c3e8a5f6b2d1c0e9a8b\n").unwrap();
    std::fs::write(&other, "00112233445566778899aabbccddeeff\n").unwrap();
    let secret = |path: &Path| path.to_str().unwrap().to_string();
    let (a_secret, o_secret) = (secret(&shared), secret(&other));
    // Node b limits each client network to one response a second, dropping the rest.
    let a = Serve::start(&c.zones, &["--geo", &geo, "--cookie-secret-file", &a_secret]);
    let b = Serve::start(
        &c.zones,
        &[
            "--geo",
            &geo,
            "--cookie-secret-file",
            &a_secret,
            "--rrl-rate",
            "1",
            "--rrl-slip",
            "0",
            "--api",
            "127.0.0.1:0",
        ],
    );
    let elsewhere = Serve::start(&c.zones, &["--geo", &geo, "--cookie-secret-file", &o_secret]);
    // dig sends a client cookie; node a answers with a server cookie, which dig checks.
    let first = dig(a.port, &["+cookie", "www.gslb.test", "A"]);
    assert!(first.contains("status: NOERROR") && first.contains(" (good)"), "{first}");
    let cookie = dig_cookie(&first);
    assert_eq!(cookie.len(), 48, "8 octets of client cookie, 16 of server cookie: {cookie}");
    // Node b, with the same secret, takes it as its own: sent back unchanged.
    let at_b = dig(b.port, &[&format!("+cookie={cookie}"), "www.gslb.test", "A"]);
    assert_eq!(dig_cookie(&at_b), cookie, "{at_b}");
    // A node with another secret does not, and hands out a fresh one.
    let at_other = dig(elsewhere.port, &[&format!("+cookie={cookie}"), "www.gslb.test", "A"]);
    assert!(at_other.contains("status: NOERROR"), "{at_other}");
    assert_ne!(dig_cookie(&at_other)[16..], cookie[16..]);
    assert_eq!(dig_cookie(&at_other)[..16], cookie[..16], "the client cookie is echoed");
    // Rate limiting at node b: a burst with the valid cookie is answered whole; the same burst
    // without one (or with a cookie of another secret) is cut to about the rate.
    let valid = data_encoding::HEXLOWER.decode(cookie.as_bytes()).unwrap();
    let forged = data_encoding::HEXLOWER.decode(dig_cookie(&at_other).as_bytes()).unwrap();
    let burst = |cookie: Option<&[u8]>, first_id: u16| {
        (0..12u16)
            .filter(|i| {
                let q = query("www.gslb.test", 1, Q { id: first_id + i, edns: Some(1232), ..Q::default() });
                let q = match cookie {
                    Some(c) => with_cookie(q, c),
                    None => q,
                };
                udp_raw(b.addr(), &q, Duration::from_millis(300)).is_some()
            })
            .count()
    };
    assert_eq!(burst(Some(&valid), 100), 12, "a client proven by its cookie is never limited");
    assert!(burst(None, 200) <= 4, "without a cookie the rate applies");
    assert!(burst(Some(&forged), 300) <= 4, "a cookie of another secret proves nothing");
    let port = b.seen.iter().find_map(|l| l.split("API on http://127.0.0.1:").nth(1)).unwrap();
    let port: u16 = port.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
    let (_, metrics) = http(std::net::SocketAddr::from(([127, 0, 0, 1], port)), "GET", "/metrics", None, None);
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(value("meridian_rrl_cookie_passed_total ") >= 8, "{metrics}");
    assert!(value("meridian_cookie_valid_queries_total ") >= 13, "{metrics}");
}

#[test]
fn a_broken_cookie_secret_file_refuses_the_start_and_a_reload_keeps_the_old_secrets() {
    let c = copy_gslb_zones();
    let secret = c.dir.path().join("cookie-secret");
    std::fs::write(&secret, "not a secret\n").unwrap();
    let (code, _, err) = meridian(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--zones",
        c.zones.to_str().unwrap(),
        "--geo",
        c.geo.to_str().unwrap(),
        "--cookie-secret-file",
        secret.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{}:1: a cookie secret is 32 hex digits", secret.display())), "{err}");
    // Rotation at a reload: the old secret's cookies stay valid once a new one is put first;
    // a broken file at a reload is refused and the secrets in use stay.
    std::fs::write(&secret, "9f1c2e6a0b7d4c3e8a5f6b2d1c0e9a8b\n").unwrap();
    let geo = c.geo.to_string_lossy().into_owned();
    let s = Serve::start(&c.zones, &["--geo", &geo, "--cookie-secret-file", secret.to_str().unwrap()]);
    let cookie = dig_cookie(&dig(s.port, &["+cookie", "www.gslb.test", "A"]));
    std::fs::write(&secret, "00112233445566778899aabbccddeeff\n9f1c2e6a0b7d4c3e8a5f6b2d1c0e9a8b\n").unwrap();
    s.signal("HUP");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(dig_cookie(&dig(s.port, &[&format!("+cookie={cookie}"), "www.gslb.test", "A"])), cookie);
    let fresh = dig_cookie(&dig(s.port, &["+cookie=0102030405060708", "www.gslb.test", "A"]));
    std::fs::write(&secret, "oops\n").unwrap();
    s.signal("HUP");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(dig_cookie(&dig(s.port, &[&format!("+cookie={fresh}"), "www.gslb.test", "A"])), fresh);
    assert_eq!(dig_cookie(&dig(s.port, &[&format!("+cookie={cookie}"), "www.gslb.test", "A"])), cookie);
}

#[test]
fn the_watchdog_is_fed_while_the_workers_answer() {
    let c = copy_gslb_zones();
    let geo = c.geo.to_string_lossy().into_owned();
    let (socket, path) = notify_socket(c.dir.path());
    // WatchdogSec=0.4s: a WATCHDOG=1 every 0.2 s, while the batched workers come round.
    let s = Serve::start_env(
        &c.zones,
        &["--geo", &geo, "--udp-loop", "batched"],
        &[("NOTIFY_SOCKET", path.as_os_str()), ("WATCHDOG_USEC", std::ffi::OsStr::new("400000"))],
    );
    let mut pings = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while pings < 3 && std::time::Instant::now() < deadline {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification");
        pings += usize::from(&buf[..n] == b"WATCHDOG=1");
        udp(s.addr(), &query("www.gslb.test", 1, Q::default()));
    }
    assert!(pings >= 3, "{pings} WATCHDOG=1 in 3 s");
}

#[test]
fn under_journald_lines_carry_priorities_and_no_time_stamps() {
    use std::io::BufRead;
    use std::os::unix::fs::MetadataExt;
    let c = copy_gslb_zones();
    // Standard error is a pipe systemd would name in JOURNAL_STREAM as device:inode.
    let (reader, writer) = std::io::pipe().unwrap();
    let stat = std::fs::metadata(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&writer))).unwrap();
    let stream = format!("{}:{}", stat.dev(), stat.ino());
    let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-watch", "--zones"])
        .arg(&c.zones)
        .arg("--geo")
        .arg(&c.geo)
        .arg("--state")
        .arg(c.dir.path().join("state.json"))
        .env("JOURNAL_STREAM", &stream)
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .spawn()
        .unwrap();
    let _stop = Started(child);
    let mut lines = std::io::BufReader::new(reader).lines().map_while(Result::ok);
    let start = lines.find(|l| l.contains(" serving ")).expect("the start-up line");
    assert!(start.starts_with("<6> INFO meridian"), "{start}");
    drop(lines);
    // The same binary writing to a pipe the journal does not own keeps its time stamps.
    let s = Serve::start_env(
        &c.zones,
        &["--geo", c.geo.to_str().unwrap()],
        &[("JOURNAL_STREAM", std::ffi::OsStr::new("1:2"))],
    );
    let line = s.seen.last().unwrap();
    assert!(line.starts_with("20") && !line.starts_with('<'), "{line}");
}
