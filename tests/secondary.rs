//! Meridian as a secondary: Knot is the hidden primary of gslb.test (signing with TSIG), and
//! Meridian keeps the zone by transfer, answers its static names as Knot does and its pool
//! names by GSLB, follows a change within seconds of Knot's NOTIFY, writes a copy that a
//! restart serves at once, and stops serving a copy older than the SOA expire.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, SystemTime};

use common::*;
use hickory_proto::op::ResponseCode;

const KEY_NAME: &str = "xfr.gslb.test.";
const SECRET: &str = "dGhpcnR5LXR3by1vY3RldHMtb2Ytc2VjcmV0LWtleSE=";

struct Knot {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Knot {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("knot.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    free_dns_port()
}

/// Knot serving `zone_file` as the primary of gslb.test on `port`, transfers allowed to
/// 127.0.0.1 with the key, NOTIFY sent to `notify` (signed).
fn knot_primary(zone_file: &Path, port: u16, notify: u16) -> Option<Knot> {
    knot_primary_with(zone_file, port, notify, true)
}

/// As [`knot_primary`]; `signed` false lets 127.0.0.1 transfer without a key.
fn knot_primary_with(zone_file: &Path, port: u16, notify: u16, signed: bool) -> Option<Knot> {
    let knotd = "/usr/sbin/knotd";
    if !Path::new(knotd).exists() {
        eprintln!("skipped: knotd is not installed (./scripts/test.sh installs knot)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::copy(zone_file, dir.path().join("gslb.test.zone")).unwrap();
    let acl_key = if signed { format!("    key: {KEY_NAME}\n") } else { String::new() };
    let conf = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
         log:\n  - target: \"{d}/knot.log\"\n    any: info\n\
         database:\n  storage: \"{d}\"\n\
         key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
         remote:\n  - id: meridian\n    address: 127.0.0.1@{notify}\n    key: {KEY_NAME}\n\
         acl:\n  - id: transfer\n    address: 127.0.0.1\n{acl_key}    action: transfer\n\
         template:\n  - id: default\n    storage: \"{d}\"\n\
         zone:\n  - domain: gslb.test\n    file: gslb.test.zone\n    notify: meridian\n    acl: transfer\n    \
         zonefile-load: difference\n"
    );
    std::fs::write(dir.path().join("knot.conf"), conf).unwrap();
    let child = spawn_server(knotd, &[], &dir.path().join("knot.conf"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = wait_until(Duration::from_secs(10), || {
        udp_raw(addr, &query("gslb.test", 6, Q::default()), Duration::from_millis(300)).is_some()
    });
    assert!(up.is_some(), "knotd did not start");
    Some(Knot { child, addr, dir })
}

/// The GSLB test zones with gslb.test declared secondary of `primary` (its zone file gone:
/// it comes by transfer), signed with the key.
fn secondary_zones(primary: u16) -> GslbCopy {
    let c = copy_gslb_zones();
    std::fs::rename(c.zones.join("gslb.test.zone"), c.dir.path().join("primary.zone")).unwrap();
    std::fs::write(
        c.zones.join("transfer.key"),
        format!("key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"),
    )
    .unwrap();
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!(
            "tsig_key_files = [\"transfer.key\"]\n{text}\n[secondary]\nprimaries = [\"127.0.0.1:{primary}\"]\nkey = \"{KEY_NAME}\"\n"
        ),
    )
    .unwrap();
    c
}

fn serve(c: &GslbCopy, port: u16) -> Serve {
    let listen = format!("127.0.0.1:{port}");
    let api = format!("127.0.0.1:{}", free_port());
    Serve::start(&c.zones, &["--geo", c.geo.to_str().unwrap(), "--listen", &listen, "--api", &api])
}

fn api_of(s: &Serve) -> SocketAddr {
    s.seen.iter().find_map(|l| l.split("API on http://").nth(1)).unwrap().trim().parse().unwrap()
}

fn soa_serial(addr: SocketAddr) -> Option<u32> {
    let m = udp_raw(addr, &query("gslb.test", 6, Q::default()), Duration::from_millis(300))
        .and_then(|r| hickory_proto::op::Message::from_vec(&r).ok())?;
    m.answers.iter().find_map(|r| match &r.data {
        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

#[test]
fn meridian_keeps_a_zone_from_a_knot_primary_with_gslb_on_its_names() {
    let (primary_port, our_port) = (free_port(), free_port());
    let c = secondary_zones(primary_port);
    let Some(knot) = knot_primary(&c.dir.path().join("primary.zone"), primary_port, our_port) else { return };
    let s = serve(&c, our_port);
    let ours = SocketAddr::from(([127, 0, 0, 1], our_port));
    // The first transfer: at start.
    let loaded = wait_until(Duration::from_secs(15), || soa_serial(ours) == Some(1));
    assert!(loaded.is_some(), "not transferred; Knot's log:\n{}", knot.log());
    // Static names: what Knot answers.
    for (qname, qtype) in
        [("gslb.test", 6), ("gslb.test", 2), ("ns1.gslb.test", 1), ("alias.gslb.test", 5), ("nothing.gslb.test", 1)]
    {
        let a = udp(ours, &query(qname, qtype, Q::default()));
        let b = udp(knot.addr, &query(qname, qtype, Q::default()));
        assert_eq!(a.metadata.response_code, b.metadata.response_code, "{qname} {qtype}");
        assert_eq!(rrs(&a.answers), rrs(&b.answers), "{qname} {qtype}");
    }
    // The pool's name is answered by GSLB: a client in Europe (by ECS) gets ams.
    let eu = udp(
        ours,
        &query("www.gslb.test", 1, Q { id: 1, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() }),
    );
    assert_eq!(eu.metadata.response_code, ResponseCode::NoError);
    let got = rrs(&eu.answers);
    assert!(!got.is_empty() && got.iter().all(|r| r.contains(" A 192.0.2.1")), "{got:?}");
    let asia = udp(
        ours,
        &query("www.gslb.test", 1, Q { id: 1, edns: Some(1232), ecs: Some((1, 24, &[1, 0, 16])), ..Q::default() }),
    );
    assert_eq!(rrs(&asia.answers), vec!["www.gslb.test. 30 A 203.0.113.10".to_string()]);
    // The copy: a zone file named-checkzone accepts.
    let copy = c.zones.join("secondary/gslb.test.zone");
    let check = std::process::Command::new("named-checkzone").arg("gslb.test").arg(&copy).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    // /status: a secondary, with its last transfer.
    let (code, body) = http(api_of(&s), "GET", "/status", None, None);
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let zone = &status["zones"][0];
    assert_eq!(zone["role"], "secondary", "{zone}");
    assert_eq!(zone["state"], "loaded", "{zone}");
    assert_eq!(zone["secondary"]["last_transfer"]["serial"], 1, "{zone}");
    assert_eq!(zone["secondary"]["key"], KEY_NAME, "{zone}");

    // A change at the primary: Knot's NOTIFY brings it within seconds (the refresh is an hour).
    let primary_file = knot.dir.path().join("gslb.test.zone");
    let text = std::fs::read_to_string(&primary_file).unwrap();
    let changed = text.replace("hostmaster 1 3600", "hostmaster 2 3600").replace("A    192.0.2.53", "A    192.0.2.99");
    assert_ne!(changed, text);
    std::fs::write(&primary_file, changed).unwrap();
    assert!(
        std::process::Command::new("kill").args(["-HUP", &knot.child.id().to_string()]).status().unwrap().success()
    );
    let followed = wait_until(Duration::from_secs(15), || {
        rrs(&udp(ours, &query("ns1.gslb.test", 1, Q::default())).answers)
            == vec!["ns1.gslb.test. 3600 A 192.0.2.99".to_string()]
    });
    assert!(followed.is_some(), "the change was not followed; Knot's log:\n{}", knot.log());
    eprintln!("the change was served {:?} after Knot reloaded", followed.unwrap());
    let (_, metrics) = http(api_of(&s), "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_secondary_transfers_total{zone=\"gslb.test.\"} 2"), "{metrics}");
    // The first transfer was whole (no copy yet), the change came by IXFR as changes (Knot
    // keeps the difference of its reload): the log says which.
    let mut log = s.seen.join("\n");
    while let Ok(line) = s.lines.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&line);
        log.push('\n');
    }
    let kinds: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("zone transferred in"))
        .map(|l| if l.contains("IXFR") { "IXFR" } else { "AXFR" })
        .collect();
    assert_eq!(kinds, ["AXFR", "IXFR"], "{log}");

    // NOTIFY from elsewhere, or unsigned: REFUSED.
    let mut notify = query("gslb.test", 6, Q::default());
    notify[2] = 0x20; // opcode NOTIFY
    let from_elsewhere = UdpSocket::bind("127.0.0.2:0").unwrap();
    from_elsewhere.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    from_elsewhere.send_to(&notify, ours).unwrap();
    let mut buf = [0u8; 512];
    let n = from_elsewhere.recv(&mut buf).unwrap();
    assert_eq!(buf[3] & 0x0f, 5, "{:?}", &buf[..n]);
    let reply = udp_raw(ours, &notify, Duration::from_secs(2)).unwrap();
    assert_eq!(reply[3] & 0x0f, 5, "an unsigned NOTIFY from the primary's address is refused too");

    // Restart with the primary gone: the copy is served at once.
    drop(knot);
    drop(s);
    let s = serve(&c, our_port);
    assert_eq!(soa_serial(ours), Some(2), "the copy is served at start");
    drop(s);

    // A copy last confirmed longer ago than the SOA expire (604800 s) is not served.
    let old = SystemTime::now() - Duration::from_secs(604_800 + 3600);
    std::fs::File::options().write(true).open(&copy).unwrap().set_modified(old).unwrap();
    let s = serve(&c, our_port);
    let reply = udp(ours, &query("ns1.gslb.test", 1, Q::default()));
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let (_, body) = http(api_of(&s), "GET", "/status", None, None);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["zones"][0]["state"], "expired", "{body}");
    // The primary is gone: the attempt at start failed, and /status says why.
    let mut said = String::new();
    wait_until(Duration::from_secs(10), || {
        let (_, body) = http(api_of(&s), "GET", "/status", None, None);
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        said = status["zones"][0]["secondary"]["last_error"].as_str().unwrap_or_default().to_string();
        !said.is_empty()
    });
    assert!(said.contains(&format!("127.0.0.1:{primary_port}")), "{said}");
}

#[test]
fn a_secondary_without_primaries_or_with_an_unknown_key_is_named_with_its_line() {
    let c = copy_gslb_zones();
    let toml = c.zones.join("gslb.test.toml");
    std::fs::remove_file(c.zones.join("gslb.test.zone")).unwrap();
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[secondary]\nprimaries = [\"ns1.example\"]\nkey = \"nokey.\"\n")).unwrap();
    let lines = std::fs::read_to_string(&toml).unwrap();
    let line = |needle: &str| lines.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (code, out, err) = meridian(&["check", "--zones", c.zones.to_str().unwrap(), "--geo", c.geo.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains(&format!("gslb.test.toml:{}: secondary.primaries[0]: not an address", line("primaries"))),
        "{all}"
    );
    assert!(all.contains(&format!("gslb.test.toml:{}: secondary.key: no TSIG key 'nokey.'", line("key ="))), "{all}");
}

/// A relay in front of a primary on 127.0.0.1: UDP passed as it is, TCP answers passed until
/// `cut` octets (when set), then both connections closed: a transfer cut in the middle.
struct Relay {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn relay(to: SocketAddr) -> Relay {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let cut = std::sync::Arc::new(AtomicUsize::new(usize::MAX));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        udp.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut buf = [0u8; 65535];
        while !s.load(Ordering::Relaxed) {
            let Ok((n, client)) = udp.recv_from(&mut buf) else { continue };
            if let Some(reply) = udp_raw(to, &buf[..n], Duration::from_secs(1)) {
                let _ = udp.send_to(&reply, client);
            }
        }
    });
    let (s, c) = (stop.clone(), cut.clone());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((mut client, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let limit = c.load(Ordering::Relaxed);
            std::thread::spawn(move || {
                client.set_nonblocking(false).unwrap();
                let mut server = std::net::TcpStream::connect(to).unwrap();
                let mut len = [0u8; 2];
                client.read_exact(&mut len).unwrap();
                let mut request = vec![0u8; usize::from(u16::from_be_bytes(len))];
                client.read_exact(&mut request).unwrap();
                server.write_all(&len).unwrap();
                server.write_all(&request).unwrap();
                let (mut sent, mut buf) = (0usize, [0u8; 4096]);
                server.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                while let Ok(n) = server.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let n = n.min(limit.saturating_sub(sent));
                    if client.write_all(&buf[..n]).is_err() || n == 0 {
                        break;
                    }
                    sent += n;
                    if sent >= limit {
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    Relay { port, cut, stop }
}

fn status_of(s: &Serve) -> serde_json::Value {
    serde_json::from_str(&http(api_of(s), "GET", "/status", None, None).1).unwrap()
}

/// Waits until the zone's `last_error` contains `what`; the error.
fn error_until(s: &Serve, what: &str) -> String {
    let mut said = String::new();
    wait_until(Duration::from_secs(15), || {
        said = status_of(s)["zones"][0]["secondary"]["last_error"].as_str().unwrap_or_default().to_string();
        said.contains(what)
    });
    said
}

#[test]
fn a_cut_or_oversized_transfer_keeps_the_copy_served_and_says_why() {
    let (primary_port, our_port) = (free_port(), free_port());
    let c = copy_gslb_zones();
    // The primary's zone, large enough for several messages.
    let primary = c.dir.path().join("primary.zone");
    let text = std::fs::read_to_string(c.zones.join("gslb.test.zone")).unwrap();
    // (Knot 3.2 reads no $GENERATE: the records are written out.)
    let padding: String = (1..=3000).map(|i| format!("host{i} TXT \"{}\"\n", "padding ".repeat(12))).collect();
    std::fs::write(&primary, format!("{text}\n{padding}")).unwrap();
    // Meridian's copy: an older serial (0), as if transferred before.
    std::fs::create_dir_all(c.zones.join("secondary")).unwrap();
    let copy = c.zones.join("secondary/gslb.test.zone");
    std::fs::rename(c.zones.join("gslb.test.zone"), &copy).unwrap();
    let old = std::fs::read_to_string(&copy).unwrap().replace("hostmaster 1 3600", "hostmaster 0 3600");
    std::fs::write(&copy, &old).unwrap();
    let Some(knot) = knot_primary_with(&primary, primary_port, our_port, false) else { return };
    let relay = relay(knot.addr);
    let toml = c.zones.join("gslb.test.toml");
    let definitions = std::fs::read_to_string(&toml).unwrap();
    let declare = |extra: &str| {
        std::fs::write(
            &toml,
            format!("{definitions}\n[secondary]\nprimaries = [\"127.0.0.1:{}\"]\n{extra}", relay.port),
        )
        .unwrap()
    };
    declare("");
    relay.cut.store(3000, std::sync::atomic::Ordering::Relaxed);
    let s = serve(&c, our_port);
    let ours = SocketAddr::from(([127, 0, 0, 1], our_port));
    // Cut after 3000 octets: the copy (serial 0) stays served, the file untouched.
    let said = error_until(&s, "ended during the transfer");
    assert!(said.contains(&format!("127.0.0.1:{}", relay.port)), "{said} {}", status_of(&s));
    assert_eq!(soa_serial(ours), Some(0));
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), old);
    // A NOTIFY (from the primary's address, unsigned: the zone has no key) wakes the task;
    // with max_size below the zone's size the transfer is abandoned, the copy kept.
    let notify = || {
        let mut n = query("gslb.test", 6, Q::default());
        n[2] = 0x20;
        let reply = udp_raw(ours, &n, Duration::from_secs(2)).unwrap();
        assert_eq!(reply[3] & 0x0f, 0, "NOTIFY accepted");
    };
    relay.cut.store(usize::MAX, std::sync::atomic::Ordering::Relaxed);
    declare("max_size = 3000\n");
    assert_eq!(http(api_of(&s), "POST", "/reload", None, None).0, 200);
    notify();
    let said = error_until(&s, "exceeds max_size (3000 octets)");
    assert!(said.contains("exceeds max_size (3000 octets)"), "{said}\n{}", knot.log());
    assert_eq!(soa_serial(ours), Some(0));
    let (_, metrics) = http(api_of(&s), "GET", "/metrics", None, None);
    assert!(!metrics.contains("meridian_secondary_failures_total{zone=\"gslb.test.\"} 0"), "{metrics}");
    // Without the limit, the next NOTIFY brings serial 1.
    declare("");
    assert_eq!(http(api_of(&s), "POST", "/reload", None, None).0, 200);
    notify();
    assert!(wait_until(Duration::from_secs(15), || soa_serial(ours) == Some(1)).is_some(), "{}", status_of(&s));
    assert!(std::fs::read_to_string(&copy).unwrap().contains("host3000.gslb.test."));
}

#[test]
fn writing_the_copy_does_not_set_off_the_file_watcher() {
    let (primary_port, our_port) = (free_port(), free_port());
    let c = secondary_zones(primary_port);
    let Some(_knot) = knot_primary(&c.dir.path().join("primary.zone"), primary_port, our_port) else { return };
    let listen = format!("127.0.0.1:{our_port}");
    let s = Serve::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args(["serve", "--listen", &listen, "--watch-quiet", "0.2", "--zones"])
            .arg(&c.zones)
            .args(["--geo", c.geo.to_str().unwrap()]),
    );
    let ours = SocketAddr::from(([127, 0, 0, 1], our_port));
    assert!(wait_until(Duration::from_secs(15), || soa_serial(ours) == Some(1)).is_some());
    // Well past the quiet time: the transfer's own reload, and no second one from the watcher.
    let mut log = s.seen.join("\n");
    while let Ok(line) = s.lines.recv_timeout(Duration::from_millis(1500)) {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(log.contains("zone transferred in"), "{log}");
    assert!(!log.contains("files changed: reloading"), "{log}");
    // A change the operator makes is still seen.
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("ttl = 30", "ttl = 31")).unwrap();
    let mut seen = false;
    while let Ok(line) = s.lines.recv_timeout(Duration::from_secs(3)) {
        if line.contains("files changed: reloading") {
            seen = true;
            break;
        }
    }
    assert!(seen, "an edit of the definitions was not picked up");
}
