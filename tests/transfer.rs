//! Zone transfers out: Meridian as the primary of a real NSD secondary on loopback (initial
//! transfer, then three serial changes followed after NOTIFY), dig's AXFR and IXFR, the
//! address list, and what a refused or UDP transfer gets.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use common::*;

/// The GSLB test zones with `[transfer] allow` for 127.0.0.1 on gslb.test.
fn transferable() -> GslbCopy {
    let c = copy_gslb_zones();
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[transfer]\nallow = [\"127.0.0.1\", \"::1\"]\n")).unwrap();
    c
}

/// The TSIG key of the signed tests, as `tsig-keygen` writes it.
const KEY_NAME: &str = "xfr.gslb.test.";
const SECRET: &str = "dGhpcnR5LXR3by1vY3RldHMtb2Ytc2VjcmV0LWtleSE=";

/// As [`transferable`], and transfers must also be signed with [`KEY_NAME`] (BIND key file
/// `transfer.key` beside the definitions).
fn transferable_signed() -> GslbCopy {
    let c = transferable();
    std::fs::write(
        c.zones.join("transfer.key"),
        format!("key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"),
    )
    .unwrap();
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = format!("tsig_key_files = [\"transfer.key\"]\n{text}")
        .replace("[transfer]\n", &format!("[transfer]\nkeys = [\"{KEY_NAME}\"]\n"));
    std::fs::write(&toml, text).unwrap();
    c
}

fn serve(c: &GslbCopy) -> Serve {
    let state = c.dir.path().join("state.json");
    Serve::start(
        &c.zones,
        &["--geo", c.geo.to_str().unwrap(), "--state", state.to_str().unwrap(), "--api", "127.0.0.1:0"],
    )
}

/// The server's log lines from now until one contains `marker` (at most 5 s).
fn log_until(s: &mut Serve, marker: &str) -> String {
    let mut out = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = s.lines.recv_timeout(Duration::from_millis(100)) {
            out.push_str(&line);
            out.push('\n');
            if line.contains(marker) {
                break;
            }
        }
    }
    out
}

/// The records of a dig answer section as `name ttl class type data` lines, whitespace folded.
fn records(dig_output: &str) -> Vec<String> {
    dig_output
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn a_secondary_on_the_list_gets_the_whole_zone_with_pools_as_their_default_data_center() {
    let c = transferable();
    let s = serve(&c);
    let out = dig(s.port, &["gslb.test", "AXFR"]);
    let rrs = records(&out);
    let soa = "gslb.test. 3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. 1 3600 900 604800 300";
    assert_eq!(rrs.first().map(String::as_str), Some(soa), "{out}");
    assert_eq!(rrs.last().map(String::as_str), Some(soa), "{out}");
    assert_eq!(rrs.iter().filter(|r| r.contains(" SOA ")).count(), 2, "{out}");
    for want in [
        "gslb.test. 3600 IN NS ns1.gslb.test.",
        "ns1.gslb.test. 3600 IN A 192.0.2.53",
        "alias.gslb.test. 3600 IN CNAME www.gslb.test.",
        "www.gslb.test. 3600 IN TXT \"pool names may carry other types\"",
        // www's pool: its default data center (iad) with every member, checks aside.
        "www.gslb.test. 30 IN A 198.51.100.10",
        "www.gslb.test. 30 IN AAAA 2001:db8:b::10",
    ] {
        assert!(rrs.iter().any(|r| r == want), "{want} missing from\n{out}");
    }
    // What was sent is a zone named-checkzone accepts.
    let file = c.dir.path().join("transferred.zone");
    std::fs::write(&file, rrs.join("\n") + "\n").unwrap();
    let check = Command::new("named-checkzone").arg("gslb.test").arg(&file).output().expect("named-checkzone");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    // IXFR (over TCP; over UDP it is refused) without a journal: a current secondary gets the
    // SOA alone, an older one the zone.
    let current = records(&dig(s.port, &["+tcp", "gslb.test", "IXFR=1"]));
    assert_eq!(current, vec![soa.to_string()]);
    let older = records(&dig(s.port, &["+tcp", "gslb.test", "IXFR=0"]));
    assert_eq!(older, rrs, "an older secondary gets what AXFR sends");

    // Not on the list (dig from 127.0.0.3): refused, and nothing of the zone sent.
    let out = dig(s.port, &["-b", "127.0.0.3", "gslb.test", "AXFR"]);
    assert!(out.contains("Transfer failed") || out.contains("REFUSED"), "{out}");
    assert!(!out.contains("198.51.100.10"), "{out}");
    // Over UDP never: REFUSED.
    let reply = udp(s.addr(), &query("gslb.test", 252, Q::default()));
    assert_eq!(reply.metadata.response_code, hickory_proto::op::ResponseCode::Refused);
    // A name below the apex is not a zone: no transfer.
    let out = dig(s.port, &["www.gslb.test", "AXFR"]);
    assert!(!out.contains("198.51.100.10"), "{out}");
    let api = s.seen.iter().find_map(|l| l.split("API on http://").nth(1)).unwrap().to_string();
    let api: SocketAddr = api.trim().parse().unwrap();
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_transfers_served_total 3\n"), "{metrics}");
}

#[test]
fn a_zone_without_transfer_allow_is_not_transferred() {
    let c = copy_gslb_zones();
    let s = serve(&c);
    let out = dig(s.port, &["gslb.test", "AXFR"]);
    assert!(out.contains("Transfer failed") || out.contains("REFUSED"), "{out}");
}

#[test]
fn a_bad_transfer_allow_is_named_with_its_file_and_line() {
    let c = copy_gslb_zones();
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let line = text.lines().count() + 3;
    std::fs::write(
        &toml,
        format!("{text}\n[transfer]\nallow = [\"192.0.2.1/24\", \"ns2\"]\nnotify = [\"ns2.example\"]\n"),
    )
    .unwrap();
    let (code, out, err) = meridian(&["check", "--zones", c.zones.to_str().unwrap(), "--geo", c.geo.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains(&format!("gslb.test.toml:{line}")), "{all}");
    assert!(all.contains("host bits are set; did you mean 192.0.2.0/24?"), "{all}");
    assert!(all.contains("transfer.allow[1]") && all.contains("not an address"), "{all}");
    assert!(all.contains(&format!("gslb.test.toml:{}", line + 1)) && all.contains("transfer.notify[0]"), "{all}");
}

/// A secondary server (NSD or Knot) started by a test, stopped by PID when dropped.
struct Secondary {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Secondary {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// NSD as a secondary of gslb.test from `primary`, on `port`; its zone comes only by transfer
/// (IXFR first, as NSD does by default).
fn nsd_secondary(primary: u16, port: u16, signed: bool) -> Option<Secondary> {
    let nsd = ["/usr/sbin/nsd", "/usr/bin/nsd"].into_iter().find(|p| Path::new(p).exists());
    let Some(nsd) = nsd else {
        eprintln!("skipped: nsd is not installed (./scripts/test.sh installs it)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (key, key_name) = if signed {
        (format!("key:\n  name: {KEY_NAME}\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n"), KEY_NAME)
    } else {
        (String::new(), "NOKEY")
    };
    let conf = format!(
        "{key}server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
         database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  \
         pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 2\n\
         remote-control:\n  control-enable: no\n\
         zone:\n  name: gslb.test\n  zonefile: gslb.test.zone\n  request-xfr: 127.0.0.1@{primary} {key_name}\n  \
         allow-notify: 127.0.0.1 {key_name}\n"
    );
    std::fs::write(dir.path().join("nsd.conf"), conf).unwrap();
    let child = spawn_server(nsd, &["-d"], &dir.path().join("nsd.conf"));
    let log = dir.path().join("nsd.log");
    Some(Secondary { name: "NSD", child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: dir, log })
}

/// Knot as a secondary of gslb.test from `primary`, on `port`, taking NOTIFY from 127.0.0.1.
fn knot_secondary(primary: u16, port: u16, signed: bool) -> Option<Secondary> {
    let knotd = "/usr/sbin/knotd";
    if !Path::new(knotd).exists() {
        eprintln!("skipped: knotd is not installed (./scripts/test.sh installs knot)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (key, use_key) = if signed {
        (
            format!("key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"),
            format!("    key: {KEY_NAME}\n"),
        )
    } else {
        (String::new(), String::new())
    };
    let conf = format!(
        "{key}server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\n\
         log:\n  - target: \"{d}/knot.log\"\n    any: info\n\
         database:\n  storage: \"{d}\"\n\
         remote:\n  - id: meridian\n    address: 127.0.0.1@{primary}\n{use_key}\
         acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n{use_key}\
         template:\n  - id: default\n    storage: \"{d}\"\n\
         zone:\n  - domain: gslb.test\n    master: meridian\n    acl: notify\n    file: gslb.test.zone\n"
    );
    std::fs::write(dir.path().join("knot.conf"), conf).unwrap();
    let child = spawn_server(knotd, &[], &dir.path().join("knot.conf"));
    let log = dir.path().join("knot.log");
    Some(Secondary { name: "Knot", child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: dir, log })
}

/// A secondary started by `start(primary port, its own port)` loads gslb.test from Meridian by
/// transfer, answers as Meridian does for every static name (and the pool's name with its
/// default data center), and follows three serial changes within seconds of each reload:
/// Meridian's NOTIFY, since the SOA refresh is an hour.
fn secondary_follows(start: fn(u16, u16, bool) -> Option<Secondary>, signed: bool) {
    // The secondary's port is chosen first, so that Meridian can be told to NOTIFY it.
    let port = free_dns_port();
    let c = if signed { transferable_signed() } else { transferable() };
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("[transfer]\n", &format!("[transfer]\nnotify = [\"127.0.0.1:{port}\"]\n")))
        .unwrap();
    let s = serve(&c);
    let Some(secondary) = start(s.port, port, signed) else { return };
    let name = secondary.name;
    let loaded = wait_until(Duration::from_secs(20), || {
        udp_raw(secondary.addr, &query("gslb.test", 6, Q::default()), Duration::from_millis(300))
            .and_then(|r| hickory_proto::op::Message::from_vec(&r).ok())
            .is_some_and(|m| !m.answers.is_empty())
    });
    assert!(loaded.is_some(), "{name} did not load the zone by transfer; its log:\n{}", secondary.log());
    // Every static name and type: the same records from both.
    for (qname, qtype) in [
        ("gslb.test", 6),
        ("gslb.test", 2),
        ("ns1.gslb.test", 1),
        ("alias.gslb.test", 5),
        ("www.gslb.test", 16),
        ("nothing.gslb.test", 1),
    ] {
        let ours = udp(s.addr(), &query(qname, qtype, Q::default()));
        let theirs = udp(secondary.addr, &query(qname, qtype, Q::default()));
        assert_eq!(ours.metadata.response_code, theirs.metadata.response_code, "{name}: {qname} {qtype}");
        assert_eq!(rrs(&ours.answers), rrs(&theirs.answers), "{name}: {qname} {qtype}");
    }
    // The pool's name: the secondary answers the default data center's addresses.
    let theirs = udp(secondary.addr, &query("www.gslb.test", 1, Q::default()));
    assert_eq!(rrs(&theirs.answers), strs(&["www.gslb.test. 30 A 198.51.100.10"]));

    let api = s.seen.iter().find_map(|l| l.split("API on http://").nth(1)).unwrap().trim().to_string();
    let api: SocketAddr = api.parse().unwrap();
    let zone = c.zones.join("gslb.test.zone");
    for serial in 2..=4 {
        let text = std::fs::read_to_string(&zone).unwrap();
        let text = text.replace(&format!("hostmaster {} 3600", serial - 1), &format!("hostmaster {serial} 3600"));
        let (old, new) = (format!("192.0.2.{}", 51 + serial), format!("192.0.2.{}", 52 + serial));
        assert!(text.contains(&format!("A    {old}")), "{text}");
        std::fs::write(&zone, text.replace(&format!("A    {old}"), &format!("A    {new}"))).unwrap();
        let (code, body) = http(api, "POST", "/reload", None, None);
        assert_eq!(code, 200, "{body}");
        let address = format!("ns1.gslb.test. 3600 A {new}");
        let followed = wait_until(Duration::from_secs(10), || {
            rrs(&udp(secondary.addr, &query("ns1.gslb.test", 1, Q::default())).answers) == vec![address.clone()]
        });
        assert!(
            followed.is_some(),
            "{name} did not follow serial {serial} after NOTIFY; its log:\n{}",
            secondary.log()
        );
        eprintln!("serial {serial}: {name} answered the new data {:?} after the reload", followed.unwrap());
    }
    // Each change came by IXFR as what changed (the journal has each reload's difference);
    // Meridian logs which it sent.
    let mut log = String::new();
    while let Ok(line) = s.lines.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&line);
        log.push('\n');
    }
    let incremental = log.lines().filter(|l| l.contains("zone transferred (incremental)")).count();
    assert_eq!(incremental, 3, "{name}: incremental transfers in:\n{log}");
}

#[test]
fn ixfr_sends_what_changed_since_the_secondarys_serial() {
    let c = transferable();
    let s = serve(&c);
    let api: SocketAddr = s.seen.iter().find_map(|l| l.split("API on http://").nth(1)).unwrap().trim().parse().unwrap();
    let zone = c.zones.join("gslb.test.zone");
    let soa = |n: u32| format!("gslb.test. 3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. {n} 3600 900 604800 300");
    let ns1 = |last: u8| format!("ns1.gslb.test. 3600 IN A 192.0.2.{last}");
    for (serial, from, to) in [(2, 53, 54), (3, 54, 55)] {
        let text = std::fs::read_to_string(&zone).unwrap();
        let text = text
            .replace(&format!("hostmaster {} 3600", serial - 1), &format!("hostmaster {serial} 3600"))
            .replace(&format!("A    192.0.2.{from}"), &format!("A    192.0.2.{to}"));
        std::fs::write(&zone, text).unwrap();
        assert_eq!(http(api, "POST", "/reload", None, None).0, 200);
    }
    let ixfr = |from: u32| records(&dig(s.port, &["+tcp", "gslb.test", &format!("IXFR={from}")]));
    // From 1: both changes, each as old SOA, what went, new SOA, what came (RFC 1995 §4).
    assert_eq!(ixfr(1), vec![soa(3), soa(1), ns1(53), soa(2), ns1(54), soa(2), ns1(54), soa(3), ns1(55), soa(3)]);
    // From 2: the last change alone.
    assert_eq!(ixfr(2), vec![soa(3), soa(2), ns1(54), soa(3), ns1(55), soa(3)]);
    // From a serial the journal does not know: the whole zone, as AXFR sends it.
    let whole = ixfr(0);
    assert_eq!(whole, records(&dig(s.port, &["gslb.test", "AXFR"])));
    assert!(whole.contains(&ns1(55)) && whole.len() > 10, "{whole:?}");
}

#[test]
fn nsd_as_secondary_loads_the_zone_by_transfer_and_follows_each_notify() {
    secondary_follows(nsd_secondary, false);
}

#[test]
fn knot_as_secondary_loads_the_zone_by_transfer_and_follows_each_notify() {
    secondary_follows(knot_secondary, false);
}

/// The same with TSIG both ways: NSD's transfers signed by it and checked here, our answers
/// and NOTIFY signed here and checked by NSD (which ignores an unsigned NOTIFY when it wants a
/// key).
#[test]
fn nsd_as_secondary_with_tsig_follows_each_signed_notify() {
    secondary_follows(nsd_secondary, true);
}

#[test]
fn knot_as_secondary_with_tsig_follows_each_signed_notify() {
    secondary_follows(knot_secondary, true);
}

#[test]
fn dig_with_the_key_gets_a_signed_transfer_and_without_it_or_with_another_is_refused() {
    let c = transferable_signed();
    // Enough records for several messages, so that the chain of signatures is checked.
    let zone = c.zones.join("gslb.test.zone");
    let text = std::fs::read_to_string(&zone).unwrap();
    std::fs::write(&zone, format!("{text}\n$GENERATE 1-3000 host$ TXT \"{}\"\n", "padding ".repeat(12))).unwrap();
    let mut s = serve(&c);
    let key = format!("hmac-sha256:{KEY_NAME}:{SECRET}");
    // dig checks every message's TSIG and says so when one fails.
    let out = dig(s.port, &["-y", &key, "gslb.test", "AXFR"]);
    let rrs = records(&out);
    assert!(rrs.iter().any(|r| r == "www.gslb.test. 30 IN A 198.51.100.10"), "{out}");
    assert!(!out.contains("failure") && !out.contains("Couldn't verify"), "{out}");
    assert_eq!(rrs.iter().filter(|r| r.contains(" TXT \"padding")).count(), 3000, "{out}");
    // dig shows the TSIG record of every message it received (and verified).
    let signatures = rrs.iter().filter(|r| r.starts_with(&format!("{KEY_NAME} 0 ANY TSIG hmac-sha256."))).count();
    let messages: usize =
        out.lines().find_map(|l| l.split("(messages ").nth(1)?.split(',').next()?.parse().ok()).unwrap_or(0);
    assert!(
        messages > 1 && signatures == messages,
        "{messages} messages, {signatures} signed:\n{}",
        &out[out.len() - 400..]
    );
    // An IXFR with the key, up to date: the SOA alone, signed.
    let out = dig(s.port, &["-y", &key, "+tcp", "gslb.test", "IXFR=1"]);
    assert_eq!(records(&out).iter().filter(|r| !r.contains(" TSIG ")).count(), 1, "{out}");
    // Without a key: refused, though the address is listed.
    let out = dig(s.port, &["gslb.test", "AXFR"]);
    assert!(out.contains("Transfer failed") || out.contains("REFUSED"), "{out}");
    assert!(!out.contains("198.51.100.10"), "{out}");
    // The right name with another secret: NOTAUTH, BADSIG.
    let wrong = format!("hmac-sha256:{KEY_NAME}:b3RoZXItc2VjcmV0LW9mLXRoaXJ0eS10d28tb2N0ZXRzIQ==");
    let out = dig(s.port, &["-y", &wrong, "gslb.test", "AXFR"]);
    assert!(!out.contains("198.51.100.10"), "{out}");
    assert!(out.contains("NOTAUTH") || out.contains("BADSIG") || out.contains("tsig"), "{out}");
    // A key this server does not know: BADKEY.
    let out = dig(s.port, &["-y", &format!("hmac-sha256:other.key.:{SECRET}"), "gslb.test", "AXFR"]);
    assert!(!out.contains("198.51.100.10"), "{out}");
    assert!(out.contains("NOTAUTH") || out.contains("BADKEY") || out.contains("tsig"), "{out}");
    let log = log_until(&mut s, "BADKEY");
    assert!(log.contains("TSIG key other.key. is not known here (BADKEY)"), "{log}");
    // Counted: three refused (no key, a bad signature, an unknown key), two of them for TSIG;
    // one refused from an address outside the list though signed.
    let out = dig(s.port, &["-b", "127.0.0.3", "-y", &key, "gslb.test", "AXFR"]);
    assert!(!out.contains("198.51.100.10"), "{out}");
    let api: SocketAddr = s.seen.iter().find_map(|l| l.split("API on http://").nth(1)).unwrap().trim().parse().unwrap();
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_transfers_refused_total 4\n"), "{metrics}");
    assert!(metrics.contains("meridian_transfers_tsig_failed_total 2\n"), "{metrics}");
    assert!(metrics.contains("meridian_transfers_served_total 2\n"), "{metrics}");
}

#[test]
fn a_transfer_key_that_is_not_defined_is_named_with_its_file_and_line() {
    let c = transferable();
    let toml = c.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("[transfer]\n", "[transfer]\nkeys = [\"nokey.\"]\n")).unwrap();
    let line = std::fs::read_to_string(&toml).unwrap().lines().position(|l| l.contains("nokey")).unwrap() + 1;
    let check = || meridian(&["check", "--zones", c.zones.to_str().unwrap(), "--geo", c.geo.to_str().unwrap()]);
    let (code, out, err) = check();
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains(&format!("gslb.test.toml:{line}: transfer.keys[0]: no TSIG key 'nokey.'")), "{all}");
    // A broken key file: its own file and line.
    std::fs::write(c.zones.join("k.key"), "key \"a.\" {\n algorithm hmac-md5;\n secret \"YQ==\";\n};\n").unwrap();
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("tsig_key_files = [\"k.key\"]\n{text}")).unwrap();
    let (_, out, err) = check();
    let all = format!("{out}{err}");
    assert!(all.contains("k.key:2: key \"a.\": algorithm 'hmac-md5' is not supported"), "{all}");
}
