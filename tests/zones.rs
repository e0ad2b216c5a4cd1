//! Zones an operator can trust: a broken zone never takes the others down, a reload that
//! breaks a zone keeps its last good version, a file still being written is never served, a
//! changed zone whose serial did not move is reported, `--strict` refuses as before, and DS at
//! a zone cut is answered from the parent's side.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use meridian::config::Config;
use meridian::daemon::Options;

const SOA: &str = "$TTL 300\n@ SOA ns hostmaster SERIAL 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n";

fn zone(serial: u32, body: &str) -> String {
    SOA.replace("SERIAL", &serial.to_string()) + body
}

/// A server on `dir` as `meridian serve` starts one (zones isolated), with the API.
fn serve(dir: &Path, watch: bool) -> (TestServer, std::net::SocketAddr) {
    let config = Config::load_to_serve(dir, &shipped_geo(), false).expect("the good zones start");
    let mut options = Options::new(dir.to_path_buf(), shipped_geo(), vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    options.watch = watch;
    let server = TestServer::start_options(config, options);
    let api = server.daemon.as_ref().unwrap().api.unwrap();
    (server, api)
}

fn rcode(addr: std::net::SocketAddr, name: &str, qtype: u16) -> u16 {
    u16::from(udp(addr, &query(name, qtype, Q::default())).metadata.response_code)
}

fn answers(addr: std::net::SocketAddr, name: &str) -> Vec<String> {
    let mut v: Vec<String> =
        udp(addr, &query(name, 1, Q::default())).answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

fn status_zone(api: std::net::SocketAddr, zone: &str) -> serde_json::Value {
    let (_, body) = http(api, "GET", "/status", None, None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["zones"].as_array().unwrap().iter().find(|z| z["zone"] == zone).cloned().unwrap_or_default()
}

#[test]
fn a_broken_zone_is_not_served_and_the_others_are() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.test.zone"), zone(1, "www A 192.0.2.1\n")).unwrap();
    std::fs::write(dir.path().join("bad.test.zone"), zone(1, "www A 192.0.2.1\nbroken A 192.0.2.300\n")).unwrap();
    // A pool inside the broken zone, named relative to it in the file named after it, is no
    // GSLB error: the zone's own error says what is wrong.
    std::fs::write(
        dir.path().join("bad.test.toml"),
        "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.web]\nnames = [\"pool\"]\n\
         [pools.web.members]\na = { datacenter = \"ams\", ipv4 = \"192.0.2.10\" }\n",
    )
    .unwrap();
    // `meridian check` still fails on any error, and says what serve would do.
    let geo = shipped_geo();
    let (code, _, err) =
        meridian(&["check".as_ref(), "--geo".as_ref(), geo.as_os_str(), "--zones".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad.test.zone:6: '192.0.2.300' is not an IPv4 address"), "{err}");
    assert!(err.contains("serve would serve zone good.test."), "{err}");
    assert!(err.contains("serve would not serve zone bad.test.: SERVFAIL"), "{err}");
    assert!(!err.contains("bad.test.toml"), "no error is blamed on the GSLB file: {err}");

    let (s, api) = serve(dir.path(), false);
    assert_eq!(answers(s.addr, "www.good.test"), ["192.0.2.1"]);
    assert_eq!(rcode(s.addr, "www.bad.test", 1), 2, "SERVFAIL for a zone that failed to load");
    assert_eq!(rcode(s.addr, "pool.bad.test", 1), 2);
    assert_eq!(rcode(s.addr, "www.other.test", 1), 5, "REFUSED for a zone we do not serve at all");
    let bad = status_zone(api, "bad.test.");
    assert_eq!(bad["state"], "failed");
    assert!(bad["errors"][0].as_str().unwrap().contains("bad.test.zone:6:"), "{bad}");
    assert_eq!(status_zone(api, "good.test.")["state"], "loaded");
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_zone_state{zone=\"bad.test.\",state=\"failed\"} 1"), "{metrics}");
    assert!(metrics.contains("meridian_zone_load_errors{zone=\"bad.test.\"} 1"), "{metrics}");
    assert!(metrics.contains("meridian_zone_state{zone=\"good.test.\",state=\"loaded\"} 1"), "{metrics}");

    // Fixing the broken zone brings it, and its pool, in.
    std::fs::write(dir.path().join("bad.test.zone"), zone(2, "www A 192.0.2.2\n")).unwrap();
    let (code, body) = http(api, "POST", "/reload", None, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(answers(s.addr, "www.bad.test"), ["192.0.2.2"]);
    assert_eq!(answers(s.addr, "pool.bad.test"), ["192.0.2.10"]);
    assert_eq!(status_zone(api, "bad.test.")["state"], "loaded");
}

#[test]
fn breaking_a_zone_at_reload_keeps_its_last_good_version_while_others_move_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.test.zone"), zone(1, "www A 192.0.2.1\n")).unwrap();
    std::fs::write(dir.path().join("two.test.zone"), zone(1, "www A 192.0.2.1\n")).unwrap();
    let (s, api) = serve(dir.path(), false);
    // one.test breaks, two.test moves on in the same reload.
    std::fs::write(dir.path().join("one.test.zone"), zone(2, "www A 192.0.2.9\nwww CNAME elsewhere\n")).unwrap();
    std::fs::write(dir.path().join("two.test.zone"), zone(2, "www A 192.0.2.2\n")).unwrap();
    let (code, body) = http(api, "POST", "/reload", None, None);
    assert_eq!(code, 422, "a reload that left a zone behind says so: {body}");
    assert!(body.contains("one.test.zone:6:"), "{body}");
    assert!(!body.contains("two.test.zone"), "errors name only the file that is wrong: {body}");
    assert_eq!(answers(s.addr, "www.one.test"), ["192.0.2.1"], "the last good version still answers");
    assert_eq!(answers(s.addr, "www.two.test"), ["192.0.2.2"], "the other zone moved on");
    let one = status_zone(api, "one.test.");
    assert_eq!((one["state"].as_str(), one["serial"].as_u64()), (Some("kept"), Some(1)), "{one}");
    // Still broken at the next reload: still the good version.
    let (code, _) = http(api, "POST", "/reload", None, None);
    assert_eq!(code, 422);
    assert_eq!(answers(s.addr, "www.one.test"), ["192.0.2.1"]);
    // Fixed: the new version.
    std::fs::write(dir.path().join("one.test.zone"), zone(3, "www A 192.0.2.3\n")).unwrap();
    let (code, body) = http(api, "POST", "/reload", None, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(answers(s.addr, "www.one.test"), ["192.0.2.3"]);
    assert_eq!(status_zone(api, "one.test.")["state"], "loaded");
}

#[test]
fn a_changed_zone_whose_serial_did_not_increase_is_loaded_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.test.zone"), zone(7, "www A 192.0.2.1\n")).unwrap();
    let (s, api) = serve(dir.path(), false);
    // Re-reading an unchanged zone is no warning.
    assert_eq!(http(api, "POST", "/reload", None, None).0, 200);
    std::fs::write(dir.path().join("one.test.zone"), zone(7, "www A 192.0.2.2\n")).unwrap();
    assert_eq!(http(api, "POST", "/reload", None, None).0, 200);
    assert_eq!(answers(s.addr, "www.one.test"), ["192.0.2.2"], "loaded, as BIND and Knot do");
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_zone_serial_not_increased_total 1"), "{metrics}");
}

/// A file written in three pieces a second apart (as a slow `scp` or an editor writing in
/// place would), each piece ending at a line boundary so that every partial file parses: the
/// watcher must wait for the file to settle, so a client asking all the while never sees a
/// name of the zone missing, nor any serial but the old and the new.
#[test]
fn a_zone_file_still_being_written_is_never_served() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..30).map(|i| format!("host{i}")).collect();
    let body = |last: u8| names.iter().map(|n| format!("{n} A 192.0.2.{last}\n")).collect::<String>();
    let path = dir.path().join("slow.test.zone");
    std::fs::write(&path, zone(1, &body(1))).unwrap();
    let (s, _api) = serve(dir.path(), true);
    let text = zone(2, &body(2));
    let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let third = lines.len().div_ceil(3);
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
        for (i, chunk) in lines.chunks(third).enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(1000));
            }
            f.write_all(chunk.concat().as_bytes()).unwrap();
            f.flush().unwrap();
        }
    });
    let started = Instant::now();
    let mut serials = std::collections::BTreeSet::new();
    let mut asked = 0;
    // Bounded: at most 12 s, a query every 15 ms, until the new version has been seen a while.
    let mut new_since = None;
    while started.elapsed() < Duration::from_secs(12) {
        let name = format!("{}.slow.test", names[asked % names.len()]);
        let m = udp(s.addr, &query(&name, 1, Q { id: asked as u16, ..Q::default() }));
        assert_eq!(u16::from(m.metadata.response_code), 0, "{name} at {:?}", started.elapsed());
        assert_eq!(m.answers.len(), 1, "{name} at {:?}: {m:?}", started.elapsed());
        let soa = udp(s.addr, &query("slow.test", 6, Q::default()));
        let serial = soa.answers[0].data.to_string().split_whitespace().nth(2).unwrap().parse::<u32>().unwrap();
        serials.insert(serial);
        if serial == 2 {
            let since = *new_since.get_or_insert(Instant::now());
            if since.elapsed() > Duration::from_millis(500) {
                break;
            }
        }
        asked += 1;
        std::thread::sleep(Duration::from_millis(15));
    }
    writer.join().unwrap();
    assert_eq!(serials.into_iter().collect::<Vec<_>>(), [1, 2], "only the old and the new version were served");
    assert_eq!(answers(s.addr, "host29.slow.test"), ["192.0.2.2"]);
}

#[test]
fn ds_at_a_cut_is_answered_from_the_parent_when_both_sides_are_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parent.test.zone"),
        zone(
            1,
            "child NS ns.child\nns.child A 192.0.2.54\nchild DS 12345 13 2 \
             1F987CC6583E92DF0890718C42A3C8A27AE8E4E2A8E23B0A8DB45A158A8C9B72\nnods NS ns.nods\nns.nods A 192.0.2.55\n",
        ),
    )
    .unwrap();
    for child in ["child.parent.test", "nods.parent.test"] {
        std::fs::write(dir.path().join(format!("{child}.zone")), zone(5, "www A 192.0.2.7\n")).unwrap();
    }
    let s = TestServer::start(dir.path());
    let m = udp(s.addr, &query("child.parent.test", 43, Q::default()));
    assert_eq!(m.answers.len(), 1, "{m:?}");
    assert_eq!(m.answers[0].record_type().to_string(), "DS");
    assert!(m.metadata.authoritative);
    // No DS at the parent: NODATA with the parent's SOA, never the child's.
    let m = udp(s.addr, &query("nods.parent.test", 43, Q::default()));
    assert_eq!(u16::from(m.metadata.response_code), 0);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].name.to_string(), "parent.test.", "{m:?}");
    // Everything else at the child apex is the child's.
    let m = udp(s.addr, &query("child.parent.test", 6, Q::default()));
    assert_eq!(m.answers[0].name.to_string(), "child.parent.test.");
    assert!(m.metadata.authoritative);
}

#[test]
fn strict_refuses_to_start_on_any_error_and_the_default_serves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.test.zone"), zone(1, "www A 192.0.2.1\n")).unwrap();
    std::fs::write(dir.path().join("bad.test.zone"), zone(1, "broken A 192.0.2.300\n")).unwrap();
    let run = |strict: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--no-watch", "--geo"]).arg(shipped_geo());
        cmd.arg("--zones").arg(dir.path()).arg("--state").arg(dir.path().join("state.json"));
        if strict {
            cmd.arg("--strict");
        }
        let mut child = cmd.env("NO_COLOR", "1").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        // A server that starts is stopped by its PID after a moment; one that refuses exits.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let running = child.try_wait().unwrap().is_none();
        if running {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
        let out = child.wait_with_output().unwrap();
        (running, out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (running, code, err) = run(true);
    assert!(!running && code == Some(1), "--strict refuses: {err}");
    assert!(err.contains("refusing to start: 1 error(s)") && err.contains("--strict"), "{err}");
    let (running, _, err) = run(false);
    assert!(running, "the default serves the good zone: {err}");
    assert!(err.contains("bad.test.zone:5: '192.0.2.300' is not an IPv4 address"), "{err}");
    assert!(err.contains("zone bad.test.: 1 error(s)") && err.contains("SERVFAIL"), "{err}");
    assert!(err.contains("serving 1 zone(s): good.test."), "{err}");
}

#[test]
fn a_name_that_looks_absolute_but_lacks_its_final_dot_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dot.test.zone"), zone(1, "www.dot.test A 192.0.2.1\nmail MX 10 mx.dot.test\n"))
        .unwrap();
    std::fs::write(
        dir.path().join("dot.test.toml"),
        "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.web]\nnames = [\"web.dot.test\", \"ok\"]\n\
         [pools.web.members]\na = { datacenter = \"ams\", ipv4 = \"192.0.2.10\" }\n",
    )
    .unwrap();
    let geo = shipped_geo();
    let (code, _, err) =
        meridian(&["check".as_ref(), "--geo".as_ref(), geo.as_os_str(), "--zones".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code, Some(0), "a warning, not an error (BIND loads such names too): {err}");
    for (place, text) in [
        ("dot.test.zone:5:", "'www.dot.test' has no final dot, so it is read as www.dot.test.dot.test."),
        ("dot.test.zone:6:", "'mx.dot.test' has no final dot, so it is read as mx.dot.test.dot.test."),
        (
            "dot.test.toml:5: pools.web.names:",
            "'web.dot.test' has no final dot, so it is read as web.dot.test.dot.test.",
        ),
    ] {
        assert!(err.lines().any(|l| l.contains(place) && l.contains(text)), "{place} {text} in:\n{err}");
    }
    assert!(!err.contains("'ok'"), "a plain relative name is not flagged: {err}");
}

#[test]
fn cds_digests_are_checked_against_the_zones_dnskeys() {
    use meridian::zone::{Name, Zone};
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zones/valid/cds.test.zone");
    let text = std::fs::read_to_string(&corpus).unwrap();
    let origin = Name::parse("cds.test.", None).unwrap();
    let (_, warnings) = Zone::load(&corpus, &origin).expect("a CDS set made by dnssec-dsfromkey loads");
    assert!(warnings.iter().all(|w| !w.message.contains("CDS")), "{warnings:?}");
    // One digit of the SHA-256 digest changed: the algorithm is the key's, so the zone loads
    // (as named-checkzone decides), with a warning that the CDS names no key of the zone.
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("cds.test.zone");
    std::fs::write(&changed, text.replace("13 2 F7A5", "13 2 A7A5")).unwrap();
    let (_, warnings) = Zone::load(&changed, &origin).expect("loads");
    assert!(warnings.iter().any(|w| w.message.contains("CDS at cds.test. matches no DNSKEY")), "{warnings:?}");
}

/// A definitions file named after a zone belongs to it: with an error in it at start, that
/// zone is not served (its pool names would otherwise answer wrongly), and every other zone,
/// with its pools, is.
#[test]
fn a_broken_definitions_file_of_one_zone_takes_only_that_zone_out_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pool = |zone: &str, dc: &str| {
        format!(
            "[datacenters.{dc}]\nlat = 52.37\nlon = 4.90\n[pools.web-{zone}]\nnames = [\"web\"]\n\
             [pools.web-{zone}.members]\na = {{ datacenter = \"{dc}\", ipv4 = \"192.0.2.{}\" }}\n",
            if zone == "one" { 10 } else { 20 }
        )
    };
    for name in ["one", "two"] {
        std::fs::write(dir.path().join(format!("{name}.test.zone")), zone(1, "www A 192.0.2.1\n")).unwrap();
    }
    std::fs::write(dir.path().join("one.test.toml"), pool("one", "ams")).unwrap();
    // A typo in two.test's file: a member in a data center nobody defined.
    std::fs::write(dir.path().join("two.test.toml"), pool("two", "fra").replace("\"fra\", ipv4", "\"frx\", ipv4"))
        .unwrap();
    let config = Config::load_to_serve(dir.path(), &shipped_geo(), false).expect("starts");
    assert!(config.errors.iter().all(|e| e.at.file.ends_with("two.test.toml")), "{:?}", config.errors);
    let mut options = Options::new(dir.path().to_path_buf(), shipped_geo(), vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    let s = TestServer::start_options(config, options);
    let api = s.daemon.as_ref().unwrap().api.unwrap();
    assert_eq!(answers(s.addr, "web.one.test"), ["192.0.2.10"], "the other zone's pool answers");
    assert_eq!(rcode(s.addr, "web.two.test", 1), 2, "SERVFAIL, never a wrong answer for the pool");
    assert_eq!(rcode(s.addr, "www.two.test", 1), 2);
    let two = status_zone(api, "two.test.");
    assert_eq!(two["state"], "failed");
    assert!(two["errors"][0].as_str().unwrap().contains("two.test.toml:"), "{two}");
    // Still broken at a reload: still out. Fixed: in, with its pool.
    assert_eq!(http(api, "POST", "/reload", None, None).0, 422);
    assert_eq!(rcode(s.addr, "web.two.test", 1), 2);
    std::fs::write(dir.path().join("two.test.toml"), pool("two", "fra")).unwrap();
    let (code, body) = http(api, "POST", "/reload", None, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(answers(s.addr, "web.two.test"), ["192.0.2.20"]);
    assert_eq!(answers(s.addr, "web.one.test"), ["192.0.2.10"]);
}

#[test]
fn meridian_check_takes_single_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.test.zone");
    let bad = dir.path().join("bad.test.zone");
    let db = dir.path().join("db.example");
    std::fs::write(&good, zone(1, "www A 192.0.2.1\n")).unwrap();
    std::fs::write(&bad, zone(1, "www A 192.0.2.300\n")).unwrap();
    std::fs::write(&db, zone(1, "www A 192.0.2.1\n")).unwrap();
    std::fs::write(
        dir.path().join("good.test.toml"),
        "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.web]\nnames = [\"web\"]\n\
         [pools.web.members]\na = { datacenter = \"amx\", ipv4 = \"192.0.2.10\" }\n",
    )
    .unwrap();
    let check = |args: &[&std::ffi::OsStr]| meridian(&[&["check".as_ref()], args].concat());
    let (code, out, err) = check(&[good.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("zone good.test. (serial 1)"), "{out}");
    let (code, _, err) = check(&[good.as_os_str(), bad.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("bad.test.zone:5: '192.0.2.300' is not an IPv4 address") && !err.contains("good.test.zone:"),
        "{err}"
    );
    // A file not named after its zone, with --origin.
    let (code, out, err) = check(&["--origin".as_ref(), "example.com".as_ref(), db.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("zone example.com."), "{out}");
    // A definitions file: only its own problems, though the directory holds a broken zone too.
    let geo = shipped_geo();
    let toml = dir.path().join("good.test.toml");
    let (code, _, err) = check(&["--geo".as_ref(), geo.as_os_str(), toml.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("good.test.toml:") && err.contains("amx"), "{err}");
    assert!(!err.contains("bad.test.zone"), "{err}");
}
