//! Failover end to end: a pool over three data centers whose members are probed on local fake
//! backends. Stopping the nearest data center's backends moves answers to the next one within
//! `interval * fall` plus a margin, with the degraded TTL; restarting them brings answers back
//! after `rise` successes; with everything down the fallback answers. Overrides persist across
//! a restart through the state file.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use meridian::health::{Action, Target};

const INTERVAL: f64 = 0.2;
const FALL: u32 = 2;
const RISE: u32 = 2;

struct Setup {
    _dir: tempfile::TempDir,
    zones: std::path::PathBuf,
    geo: std::path::PathBuf,
    backends: Vec<TcpBackend>,
}

/// ams (2 members), iad, sin; each member's check is a TCP connect to its own backend.
fn setup(fallback: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::write(
        zones.join("fo.test.zone"),
        "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n",
    )
    .unwrap();
    let backends: Vec<TcpBackend> = (0..4).map(|_| TcpBackend::new()).collect();
    let toml = format!(
        r#"
[datacenters.ams]
lat = 52.37
lon = 4.90
[datacenters.iad]
lat = 38.95
lon = -77.45
[datacenters.sin]
lat = 1.35
lon = 103.82

[pools.www]
names = ["www"]
ttl = 60
degraded_ttl = 7
fallback = "{fallback}"
check = {{ type = "tcp", interval = {INTERVAL}, timeout = 0.1, rise = {RISE}, fall = {FALL} }}
[pools.www.members]
ams-1 = {{ datacenter = "ams", ipv4 = "192.0.2.10", probe = "{}" }}
ams-2 = {{ datacenter = "ams", ipv4 = "192.0.2.11", probe = "{}" }}
iad-1 = {{ datacenter = "iad", ipv4 = "198.51.100.10", probe = "{}" }}
sin-1 = {{ datacenter = "sin", ipv4 = "203.0.113.10", probe = "{}" }}
"#,
        backends[0].addr, backends[1].addr, backends[2].addr, backends[3].addr
    );
    std::fs::write(zones.join("fo.test.toml"), toml).unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    Setup { _dir: dir, zones, geo, backends }
}

/// An A query from an Amsterdam client (ECS 81.0.1.0/24 in the test database).
fn ask(addr: std::net::SocketAddr) -> Message {
    udp(addr, &query("www.fo.test", 1, Q { id: 5, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() }))
}

fn answered(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

fn ttl(m: &Message) -> u32 {
    m.answers.first().map_or(0, |r| r.ttl)
}

#[test]
fn answers_follow_health_and_come_back_without_flapping() {
    let mut s = setup("nearest");
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), None);
    let ams = vec!["192.0.2.10".to_string(), "192.0.2.11".to_string()];
    let iad = vec!["198.51.100.10".to_string()];
    // Every member checked and up (past the unknown state, so thresholds apply from here).
    let table = server.daemon.as_ref().unwrap().health.clone();
    let all_up = || {
        let now = SystemTime::now();
        let report = table.lock().unwrap().report_all(now);
        report.iter().all(|r| r.state.status == meridian::health::Status::Up)
    };
    wait_until(Duration::from_secs(5), all_up).expect("all members up");
    // Healthy: the nearest data center, at the pool TTL.
    assert_eq!(answered(&ask(server.addr)), ams);
    assert_eq!(ttl(&ask(server.addr)), 60);

    // One of ams's two members fails: ams still serves (min_healthy 1), with the other only.
    s.backends[0].stop();
    wait_until(Duration::from_secs(5), || answered(&ask(server.addr)) == ["192.0.2.11"])
        .expect("ams-1 leaves the answer");

    // Both fail: answers move to iad (the next nearest) within interval * fall + margin, with
    // the degraded TTL.
    s.backends[1].stop();
    let detect = Duration::from_secs_f64(INTERVAL * f64::from(FALL) * 1.1) + Duration::from_millis(900);
    let took = wait_until(Duration::from_secs(10), || answered(&ask(server.addr)) == iad).expect("iad answers");
    eprintln!("failover detected in {took:?} (bound {detect:?})");
    assert!(took <= detect, "failover took {took:?}, more than {detect:?}");
    assert_eq!(ttl(&ask(server.addr)), 7);

    // Back: after `rise` successes, ams answers again at the pool TTL.
    s.backends[0].start();
    s.backends[1].start();
    let back = Duration::from_secs_f64(INTERVAL * f64::from(RISE) * 1.1) + Duration::from_millis(900);
    let took = wait_until(Duration::from_secs(10), || answered(&ask(server.addr)) == ams).expect("ams comes back");
    eprintln!("recovery seen in {took:?} (bound {back:?})");
    assert!(took <= back, "recovery took {took:?}, more than {back:?}");
    assert_eq!(ttl(&ask(server.addr)), 60);
    // And stays: no flapping over the next ten intervals.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_secs_f64(INTERVAL));
        assert_eq!(answered(&ask(server.addr)), ams);
    }

    // Everything down: the fallback (nearest: ams's configured addresses) at the degraded TTL,
    // and it is counted.
    for b in &mut s.backends {
        b.stop();
    }
    let daemon = server.daemon.as_ref().unwrap();
    wait_until(Duration::from_secs(10), || {
        ask(server.addr);
        daemon
            .running
            .shared
            .stats
            .answers
            .per_pool(meridian::server::metrics::PoolCount::Fallbacks)
            .iter()
            .any(|(_, n)| *n > 0)
    })
    .expect("a fallback answer is counted");
    let m = ask(server.addr);
    assert_eq!(answered(&m), ams);
    assert_eq!(ttl(&m), 7);
}

#[test]
fn servfail_and_all_fallbacks() {
    let mut s = setup("servfail");
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), None);
    for b in &mut s.backends {
        b.stop();
    }
    wait_until(Duration::from_secs(10), || ask(server.addr).metadata.response_code == ResponseCode::ServFail)
        .expect("servfail when all are down");
    drop(server);

    let mut s = setup("all");
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), None);
    for b in &mut s.backends {
        b.stop();
    }
    wait_until(Duration::from_secs(10), || answered(&ask(server.addr)).len() == 4)
        .expect("every address when all are down");
}

#[test]
fn unknown_members_answer_as_up_before_the_first_result() {
    // A backend that accepts and never answers an HTTP request: no result can arrive before
    // the check's 20 s timeout, so the member stays unknown for this whole test.
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::write(zones.join("fo.test.zone"), "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n").unwrap();
    std::fs::write(
        zones.join("fo.test.toml"),
        format!(
            "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.www]\nnames = [\"www\"]\ncheck = {{ type = \"http\", interval = 60, timeout = 20 }}\n[pools.www.members]\na = {{ datacenter = \"ams\", ipv4 = \"192.0.2.10\", probe = \"{}\" }}\n",
            silent.local_addr().unwrap()
        ),
    )
    .unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let server = TestServer::start_full(&zones, &geo, Default::default(), None);
    let m = ask(server.addr);
    assert_eq!(answered(&m), ["192.0.2.10"]);
    let table = server.daemon.as_ref().unwrap().health.lock().unwrap().report_all(SystemTime::now());
    assert_eq!(table[0].state.status, meridian::health::Status::Unknown);
}

#[test]
fn overrides_beat_probes_and_survive_a_restart() {
    let s = setup("nearest");
    let state = s._dir.path().join("state.json");
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), Some(state.clone()));
    let iad = vec!["198.51.100.10".to_string()];
    wait_until(Duration::from_secs(5), || answered(&ask(server.addr)).len() == 2).expect("ams answers");
    {
        let mut t = server.daemon.as_ref().unwrap().health.lock().unwrap();
        t.set_override(Target::Datacenter { datacenter: "ams".into() }, Action::Drain, None, SystemTime::now())
            .unwrap();
        // iad-1 forced down for 300 ms: sin answers meanwhile.
        t.set_override(
            Target::Member { pool: "www".into(), member: "iad-1".into() },
            Action::ForceDown,
            Some(Duration::from_millis(300)),
            SystemTime::now(),
        )
        .unwrap();
    }
    // The next query sees both overrides.
    assert_eq!(answered(&ask(server.addr)), ["203.0.113.10"]);
    // The force-down expires by itself; the drain stays.
    wait_until(Duration::from_secs(3), || answered(&ask(server.addr)) == iad).expect("the expiring override ends");
    drop(server);
    assert!(Path::new(&state).exists());

    // A new process with the same state file: the drain is still in force at once.
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), Some(state.clone()));
    assert_eq!(answered(&ask(server.addr)), iad);
    // Clearing it brings ams back.
    server
        .daemon
        .as_ref()
        .unwrap()
        .health
        .lock()
        .unwrap()
        .clear_override(&Target::Datacenter { datacenter: "ams".into() }, SystemTime::now())
        .unwrap();
    assert_eq!(answered(&ask(server.addr)).len(), 2);
}

#[test]
fn a_reload_keeps_states_and_overrides_of_members_that_remain() {
    let mut s = setup("nearest");
    let server = TestServer::start_full(&s.zones, &s.geo, Default::default(), None);
    let daemon = server.daemon.as_ref().unwrap();
    // ams-2's backend is down: wait until its state is known.
    s.backends[1].stop();
    wait_until(Duration::from_secs(5), || answered(&ask(server.addr)) == ["192.0.2.10"]).expect("ams-2 goes down");
    daemon
        .health
        .lock()
        .unwrap()
        .set_override(
            Target::Member { pool: "www".into(), member: "sin-1".into() },
            Action::Drain,
            None,
            SystemTime::now(),
        )
        .unwrap();
    // Reload the same files plus a new member: known states and the override carry over, the
    // new member starts unknown.
    let toml = s.zones.join("fo.test.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("ams-3 = { datacenter = \"ams\", ipv4 = \"192.0.2.12\", check = { type = \"none\" } }\n");
    std::fs::write(&toml, text).unwrap();
    let config = std::sync::Arc::new(meridian::config::Config::load(&s.zones, &s.geo).unwrap());
    {
        let _guard = server.runtime.enter();
        let mut t = daemon.health.lock().unwrap();
        t.reconfigure(config, SystemTime::now());
        let report = t.report_all(SystemTime::now());
        let find = |name: &str| report.iter().find(|r| r.member == name).unwrap().clone();
        assert_eq!(find("ams-2").state.status, meridian::health::Status::Down);
        assert_eq!(find("ams-1").state.status, meridian::health::Status::Up);
        assert_eq!(find("ams-3").state.status, meridian::health::Status::Unknown);
        assert!(!find("ams-3").checked);
        assert_eq!(find("sin-1").override_.map(|o| o.action), Some(Action::Drain));
    }
}

#[test]
fn availability_figures_in_status_metrics_and_meridian_status() {
    let mut s = setup("nearest");
    let config = meridian::config::Config::load(&s.zones, &s.geo).unwrap();
    let mut options =
        meridian::daemon::Options::new(s.zones.clone(), s.geo.clone(), vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    options.state_file = Some(s._dir.path().join("state.json"));
    let server = TestServer::start_options(config, options);
    let daemon = server.daemon.as_ref().unwrap();
    let api = daemon.api.unwrap();
    let table = daemon.health.clone();
    let status_of = |name: &str| {
        let report = table.lock().unwrap().report_all(SystemTime::now());
        report.iter().find(|r| r.member == name).map(|r| r.state.status)
    };
    wait_until(Duration::from_secs(5), || status_of("ams-1") == Some(meridian::health::Status::Up)).expect("up");
    // One outage of ams-1: down, then back.
    s.backends[0].stop();
    wait_until(Duration::from_secs(5), || status_of("ams-1") == Some(meridian::health::Status::Down)).expect("down");
    std::thread::sleep(Duration::from_millis(300));
    s.backends[0].start();
    wait_until(Duration::from_secs(5), || status_of("ams-1") == Some(meridian::health::Status::Up)).expect("back up");

    let (code, body) = http(api, "GET", "/status", None, None);
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let fig =
        v["availability"].as_array().unwrap().iter().find(|f| f["name"] == "www/ams-1").unwrap()["figures"].clone();
    assert_eq!(fig["failures"], 1, "{fig}");
    let mttr = fig["mttr_seconds"].as_f64().unwrap();
    assert!(mttr > 0.2 && mttr < 3.0, "{mttr}");
    let a1h = fig["availability"][0][1].as_f64().unwrap();
    assert!(a1h > 0.0 && a1h < 1.0, "{a1h}");
    // The data center never went down (ams-2 stayed up).
    let dc =
        v["availability"].as_array().unwrap().iter().find(|f| f["kind"] == "datacenter" && f["name"] == "ams").unwrap()
            ["figures"]
            .clone();
    assert_eq!(dc["failures"], 0);
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    // Labelled like meridian_member_up, so the series join on pool, member and datacenter.
    let member = "kind=\"member\",pool=\"www\",member=\"ams-1\",datacenter=\"ams\"";
    assert!(metrics.contains(&format!("meridian_failures{{{member}}} 1")), "{metrics}");
    assert!(metrics.contains(&format!("meridian_mttr_seconds{{{member}}}")));
    assert!(metrics.contains("meridian_availability_ratio{kind=\"pool\",pool=\"www\",window=\"1h\"} 1"));
    assert!(metrics.contains("meridian_member_up{pool=\"www\",member=\"ams-1\",datacenter=\"ams\"}"));
    // The history is in the state file.
    let state = std::fs::read_to_string(s._dir.path().join("state.json")).unwrap();
    assert!(state.contains("\"www/ams-1\""), "{state}");
    // meridian status prints the table; --api takes the ADDR:PORT form serve --api takes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["status", "--api", &api.to_string()])
        .output()
        .unwrap();
    let table_text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(table_text.contains("NAME") && table_text.contains("MTTR"), "{table_text}");
    let line = table_text.lines().find(|l| l.contains("ams-1 (ams)")).unwrap_or_else(|| panic!("{table_text}"));
    assert!(line.contains("up") && line.trim_end().ends_with('1'), "{line}");
    assert!(table_text.contains("datacenter ams"), "{table_text}");
    assert!(table_text.contains("pool www"), "{table_text}");
    // A restart reads the history back from the state file: the figures survive.
    drop(server);
    let config = std::sync::Arc::new(meridian::config::Config::load(&s.zones, &s.geo).unwrap());
    let reread = meridian::health::HealthTable::new(config, Some(s._dir.path().join("state.json"))).unwrap();
    let figures = reread.figures(SystemTime::now());
    let ams1 = figures.iter().find(|(k, n, _)| *k == "member" && n == "www/ams-1").unwrap();
    assert_eq!(ams1.2.failures, 1);
    assert!(ams1.2.mttr_seconds.is_some());
}
