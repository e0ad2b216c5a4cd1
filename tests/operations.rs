//! Reload under load, reload on file changes, the query log, and `meridian explain`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use meridian::config::Config;
use meridian::daemon::Options;

fn zone_text(version: usize, broken: bool) -> String {
    let base =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb/gslb.test.zone")).unwrap();
    let mut text = base.replace(" 1 3600 900", &format!(" {} 3600 900", version + 1));
    text.push_str(&format!("version TXT \"v{version}\"\n"));
    if broken {
        text.push_str("oops A 192.0.2.999\n");
    }
    text
}

fn served_version(addr: std::net::SocketAddr) -> String {
    let m = udp(addr, &query("version.gslb.test", 16, Q::default()));
    m.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
}

#[test]
fn reloads_under_load_lose_nothing_and_broken_files_change_nothing() {
    let c = copy_gslb_zones();
    std::fs::write(c.zones.join("gslb.test.zone"), zone_text(0, false)).unwrap();
    let config = Config::load(&c.zones, &c.geo).unwrap();
    let server = TestServer::start_options(
        config,
        Options::new(c.zones.clone(), c.geo.clone(), vec!["127.0.0.1:0".parse().unwrap()]),
    );
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Steady queries from one client, bounded in count and time, each waited for.
    let load = std::thread::spawn(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let (mut sent, mut lost, mut bad) = (0u32, 0u32, 0u32);
        let started = Instant::now();
        let mut buf = [0u8; 1500];
        while !flag.load(Ordering::Relaxed) && sent < 200_000 && started.elapsed() < Duration::from_secs(60) {
            let id = (sent % 65536) as u16;
            let name = if sent % 2 == 0 { "www.gslb.test" } else { "alias.gslb.test" };
            let q = query(name, 1, Q { id, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() });
            sock.send_to(&q, addr).unwrap();
            sent += 1;
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
                    if m.metadata.id != id || m.metadata.response_code != ResponseCode::NoError || m.answers.is_empty()
                    {
                        bad += 1;
                    }
                }
                Err(_) => lost += 1,
            }
        }
        (sent, lost, bad)
    });
    let reloader = server.daemon.as_ref().unwrap().reloader.clone();
    for v in 1..=15 {
        std::fs::write(c.zones.join("gslb.test.zone"), zone_text(v, false)).unwrap();
        let st = server.runtime.block_on(reloader.reload());
        assert!(st.ok, "good reload {v} refused: {:?}", st.errors);
        assert_eq!(served_version(addr), format!("v{v}"));
        std::fs::write(c.zones.join("gslb.test.zone"), zone_text(v + 100, true)).unwrap();
        let st = server.runtime.block_on(reloader.reload());
        assert!(!st.ok);
        assert!(st.errors[0].contains("'192.0.2.999' is not an IPv4 address"), "{:?}", st.errors);
        // The broken file changed nothing.
        assert_eq!(served_version(addr), format!("v{v}"));
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, lost, bad) = load.join().unwrap();
    eprintln!("reload under load: {sent} queries, {lost} lost, {bad} wrong, 30 reloads");
    assert!(sent > 100, "the load ran ({sent} queries)");
    assert_eq!((lost, bad), (0, 0), "lost or wrong answers during reloads");
    let status = reloader.status();
    assert_eq!((status.successes, status.failures), (15, 15));
}

#[test]
fn a_burst_of_file_changes_makes_one_reload() {
    let c = copy_gslb_zones();
    let config = Config::load(&c.zones, &c.geo).unwrap();
    let mut options = Options::new(c.zones.clone(), c.geo.clone(), vec!["127.0.0.1:0".parse().unwrap()]);
    options.watch = true;
    let server = TestServer::start_options(config, options);
    let reloader = server.daemon.as_ref().unwrap().reloader.clone();
    std::thread::sleep(Duration::from_millis(200));
    for v in 1..=5 {
        std::fs::write(c.zones.join("gslb.test.zone"), zone_text(v, false)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_until(Duration::from_secs(10), || served_version(server.addr) == "v5").expect("the change is picked up");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(reloader.status().successes, 1, "five writes in a burst made one reload");
    // A broken write is refused and the old data stays.
    std::fs::write(c.zones.join("gslb.test.zone"), zone_text(9, true)).unwrap();
    wait_until(Duration::from_secs(10), || reloader.status().failures == 1).expect("the broken change is seen");
    assert_eq!(served_version(server.addr), "v5");
}

#[test]
fn the_query_log_writes_sampled_queries_as_json_lines() {
    let c = copy_gslb_zones();
    let log = c.dir.path().join("queries.log");
    let config = Config::load(&c.zones, &c.geo).unwrap();
    let mut options = Options::new(c.zones.clone(), c.geo.clone(), vec!["127.0.0.1:0".parse().unwrap()]);
    options.query_log = Some((log.display().to_string(), 0.5));
    let server = TestServer::start_options(config, options);
    for i in 0..4u16 {
        udp(
            server.addr,
            &query("www.gslb.test", 1, Q { id: i, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() }),
        );
    }
    let lines =
        wait_until(Duration::from_secs(5), || std::fs::read_to_string(&log).unwrap_or_default().lines().count() == 2)
            .map(|_| std::fs::read_to_string(&log).unwrap())
            .expect("half of four queries logged");
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["name"], "www.gslb.test.");
        assert_eq!(v["type"], "A");
        assert_eq!(v["rcode"], "NOERROR");
        assert_eq!(v["ecs"], "81.0.1.0/24");
        assert_eq!(v["pool"], "www");
        assert_eq!(v["datacenter"], "ams");
        assert_eq!(v["scope"], 16);
        assert!(v["client"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert!(v["time"].as_f64().unwrap() > 1.7e9);
    }
}

fn explain(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("explain")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn meridian_explain_on_the_shipped_example() {
    // A Dutch client: ams by distance, with the geo database network as scope.
    let (code, out, err) = explain(&["www.example.com", "--subnet", "193.0.0.0/21"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("health: every member assumed up (offline"), "{out}");
    assert!(out.contains("pool: www"), "{out}");
    assert!(out.contains("193.0.0.0 is in a geo database network of /20: country NL"), "{out}");
    assert!(out.contains("order: great-circle distance from the client\n  1. ams (59 km)\n  2. iad"), "{out}");
    assert!(out.contains("answered from: ams"), "{out}");
    assert!(out.contains("answer: www.example.com. 60 A 192.0.2.10"), "{out}");
    // The neighbouring /20 orders alike: the scope is the /19 holding both.
    assert!(
        out.contains(
            "ecs scope: /19 (wider than the /20 that located the client: every address of the /19 gets the same data \
             center order)"
        ),
        "{out}"
    );
    // What if ams were down: iad, with the degraded TTL.
    let (_, out, _) = explain(&["www.example.com", "A", "--subnet", "193.0.0.0/21", "--down", "ams"]);
    assert!(out.contains("skipped ams: every member is down"), "{out}");
    assert!(out.contains("; simulated down: ams"), "{out}");
    assert!(out.contains("answered from: iad"), "{out}");
    assert!(out.contains("answer: www.example.com. 5 A 198.51.100.1"), "{out}");
    // Everything down: the fallback.
    let (_, out, _) =
        explain(&["www.example.com", "--client", "8.8.8.8", "--down", "ams", "--down", "iad", "--down", "sin"]);
    assert!(out.contains("fallback: nearest"), "{out}");
    // A Brazilian client follows the region map; JSON for machines.
    let (_, out, _) = explain(&["www.example.com", "AAAA", "--subnet", "200.160.0.0/20", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["datacenter"], "iad");
    assert_eq!(v["order_reason"], "the region map entry maps.regions.continents.SA pins them, then distance");
    assert_eq!(v["records"].as_array().unwrap().len(), 2);
    // The operator network, and a static name.
    let (_, out, _) = explain(&["www.example.com", "--client", "10.9.8.7"]);
    assert!(out.contains("is in operator network 10.0.0.0/8 (/8), which lists data centers"), "{out}");
    let (_, out, _) = explain(&["static.example.com", "--client", "10.9.8.7"]);
    assert!(out.contains("static data: the name is not a GSLB pool"), "{out}");
    assert!(out.contains("answer: static.example.com. 300 A 192.0.2.100"), "{out}");
    // Mistakes are named.
    let (code, _, err) = explain(&["www.example.com", "--client", "1.2.3.4", "--down", "fra"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown data center 'fra'"), "{err}");
}
