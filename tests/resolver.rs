//! Meridian behind a real recursive resolver (Unbound, Debian `unbound`): a stub zone pointing
//! at two Meridian instances on loopback. Resolution works through it; killing one instance
//! under steady queries loses no resolution; and ECS sent through Unbound's subnet module gets
//! each client network its nearest data center while Unbound's cache honours the scope.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};

struct Unbound {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_unbound(authorities: &[SocketAddr]) -> Unbound {
    let bin = ["/usr/sbin/unbound", "/usr/bin/unbound"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("unbound is not installed: `apt-get install -y unbound` (.ci/run does this)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for attempt in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let stubs: String = authorities.iter().map(|a| format!("    stub-addr: {}@{}\n", a.ip(), a.port())).collect();
        let conf = format!(
            "server:\n    interface: 127.0.0.1\n    port: {port}\n    do-daemonize: no\n    username: \"\"\n    chroot: \"\"\n    directory: \"{d}\"\n    pidfile: \"\"\n    use-syslog: no\n    logfile: \"{d}/unbound.log\"\n    verbosity: 1\n    do-not-query-localhost: no\n    access-control: 127.0.0.0/8 allow\n    module-config: \"subnetcache iterator\"\n    send-client-subnet: 127.0.0.1\n    client-subnet-always-forward: yes\n    max-client-subnet-ipv4: 24\n    qname-minimisation: no\n    num-threads: 1\n    so-reuseport: no\n    local-zone: \"test.\" nodefault\nstub-zone:\n    name: \"res.test\"\n{stubs}"
        );
        std::fs::write(dir.path().join("unbound.conf"), conf).unwrap();
        let mut child = spawn_server(bin, &["-d"], &dir.path().join("unbound.conf"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if udp_raw(addr, &query("ns1.res.test", 1, Q::default()), Duration::from_millis(300)).is_some() {
                return Unbound { child, addr, dir };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "unbound did not start (attempt {attempt}): {}",
            std::fs::read_to_string(dir.path().join("unbound.log")).unwrap_or_default()
        );
    }
    panic!("unbound would not start");
}

fn meridians() -> (TestServer, TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/resolver");
    (TestServer::start_geo(&zones, &geo), TestServer::start_geo(&zones, &geo), dir)
}

/// A recursive query (RD set) to the resolver, with an optional client subnet.
fn ask(resolver: SocketAddr, name: &str, qtype: u16, ecs: Option<&'static [u8]>, id: u16) -> Option<Message> {
    let mut q = query(name, qtype, Q { id, edns: Some(1232), ecs: ecs.map(|a| (1, 24, a)), ..Q::default() });
    q[2] |= 0x01; // RD
    udp_raw(resolver, &q, Duration::from_secs(5)).and_then(|r| Message::from_vec(&r).ok())
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[test]
fn resolution_through_unbound_survives_losing_one_meridian() {
    let (a, b, _dir) = meridians();
    let unbound = start_unbound(&[a.addr, b.addr]);
    let m = ask(unbound.addr, "www.res.test", 1, None, 1).expect("an answer through unbound");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&m).len(), 1);
    // Steady queries for names never asked before (so each goes to an authority); half way,
    // one Meridian instance is stopped.
    let mut a = Some(a);
    let (mut ok, mut failed) = (0, 0);
    let started = Instant::now();
    for i in 0..120u16 {
        if i == 40 {
            drop(a.take());
        }
        match ask(unbound.addr, &format!("n{i}.wild.res.test"), 16, None, 100 + i) {
            Some(m) if m.metadata.response_code == ResponseCode::NoError && m.answers.len() == 1 => ok += 1,
            other => {
                failed += 1;
                eprintln!("query {i} failed: {other:?}");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "through unbound: {ok} resolved, {failed} failed in {:?}, one of two Meridians stopped at query 40",
        started.elapsed()
    );
    assert_eq!(failed, 0, "resolutions were lost");
    drop(b);
    let _ = unbound.dir.path();
}

#[test]
fn ecs_through_unbound_reaches_meridian_and_its_cache_honours_the_scope() {
    let (a, b, _dir) = meridians();
    let unbound = start_unbound(&[a.addr, b.addr]);
    let ams = vec!["192.0.2.10".to_string()];
    let iad = vec!["198.51.100.10".to_string()];
    // Amsterdam first: ams, cached by Unbound for the scope Meridian returned (the /16).
    let m = ask(unbound.addr, "www.res.test", 1, Some(&[81, 0, 1]), 1).unwrap();
    assert_eq!(addresses(&m), ams, "{m:?}");
    // A client in another network, through the same resolver: its own answer, not the
    // cached one.
    let m = ask(unbound.addr, "www.res.test", 1, Some(&[8, 8, 8]), 2).unwrap();
    assert_eq!(addresses(&m), iad, "{m:?}");
    // Another /24 inside the same /16 as the first: served from the cache, still ams.
    let m = ask(unbound.addr, "www.res.test", 1, Some(&[81, 0, 200]), 3).unwrap();
    assert_eq!(addresses(&m), ams, "{m:?}");
    // Repeats come from the cache with the right data center each.
    let m = ask(unbound.addr, "www.res.test", 1, Some(&[8, 8, 8]), 4).unwrap();
    assert_eq!(addresses(&m), iad);
    let queries: u64 = [&a, &b]
        .iter()
        .map(|s| s.daemon.as_ref().unwrap().running.shared.stats.ecs_queries.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert!(queries >= 2, "Meridian saw {queries} ECS queries");
    assert!(queries <= 3, "Unbound did not cache by scope: {queries} ECS queries reached Meridian");
}
