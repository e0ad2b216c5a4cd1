//! Abusive clients and faults: slow and silent TCP clients, a UDP flood under response rate
//! limiting, hostile probe targets, and a geo database broken or replaced while serving.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use meridian::config::Config;
use meridian::daemon::Options;
use meridian::server::Limits;
use meridian::server::rrl::RrlConfig;

fn zones() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb")
}

fn test_geo(dir: &std::path::Path) -> std::path::PathBuf {
    let geo = dir.join("geo.mmdb");
    write_test_geo(&geo);
    geo
}

fn server_with(limits: Limits) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let geo = test_geo(dir.path());
    (TestServer::start_full(&zones(), &geo, limits, None), dir)
}

fn closed_within(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    s.set_read_timeout(Some(limit)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => Some(started.elapsed()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(started.elapsed()),
        _ => None,
    }
}

#[test]
fn silent_and_dripping_tcp_clients_are_cut_off_at_the_message_deadline() {
    let limits = Limits { tcp_io: Duration::from_millis(300), tcp_idle: Duration::from_secs(10), ..Limits::default() };
    let (s, _dir) = server_with(limits);
    // A length prefix, then silence.
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(&[0, 40]).unwrap();
    let took = closed_within(c, Duration::from_secs(3)).expect("closed");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A query dripped one octet every 100 ms: cut off long before it is complete.
    let packet = query("www.gslb.test", 1, Q::default());
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    let mut c = TcpStream::connect(s.addr).unwrap();
    let started = Instant::now();
    let mut cut = false;
    for b in &framed {
        if c.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    let done = cut || closed_within(c, Duration::from_secs(2)).is_some();
    assert!(done, "a dripping client was not cut off");
    // Meanwhile UDP answers as always.
    assert_eq!(udp(s.addr, &query("www.gslb.test", 1, Q::default())).answers.len(), 1);
}

/// Sends `count` queries from `from` as fast as it can for at most `limit`, reading whatever
/// comes back; returns (queries sent, bytes sent, replies, bytes received, truncated replies).
fn flood(from: &str, to: SocketAddr, count: usize, limit: Duration) -> (usize, usize, usize, usize, usize) {
    let sock = UdpSocket::bind(from).unwrap();
    sock.set_nonblocking(true).unwrap();
    let (mut sent, mut out, mut replies, mut inb, mut tc) = (0, 0, 0, 0, 0);
    let started = Instant::now();
    let mut buf = [0u8; 2048];
    let mut drain = |replies: &mut usize, inb: &mut usize, tc: &mut usize| {
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            *replies += 1;
            *inb += n;
            if buf[2] & 0x02 != 0 {
                *tc += 1;
            }
        }
    };
    while sent < count && started.elapsed() < limit {
        let q = query("www.gslb.test", 1, Q { id: sent as u16, ..Q::default() });
        if sock.send_to(&q, to).is_ok() {
            sent += 1;
            out += q.len();
        }
        if sent % 32 == 0 {
            drain(&mut replies, &mut inb, &mut tc);
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    drain(&mut replies, &mut inb, &mut tc);
    (sent, out, replies, inb, tc)
}

#[test]
fn a_flood_from_one_network_is_limited_and_others_keep_their_answers() {
    let limits = Limits { rrl: Some(RrlConfig::new(20)), ..Limits::default() };
    let (s, _dir) = server_with(limits);
    let target = s.addr;
    let flooder = std::thread::spawn(move || flood("127.0.0.1:0", target, 4000, Duration::from_secs(3)));
    // A client in another /24 (127.0.1.0/24) asking at a normal pace gets every answer.
    let other = UdpSocket::bind("127.0.1.1:0").expect("127.0.1.1 is loopback");
    other.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut answered = 0;
    for i in 0..15u16 {
        let id = 1000 + i;
        let q = query("www.gslb.test", 1, Q { id, ..Q::default() });
        // Like a resolver, one retry after a silence: the flood can fill the server's socket
        // buffer, and the kernel drops what does not fit before RRL sees it. A reply that is
        // limited (TC, or no answer) is not retried: it counts as lost.
        'ask: for _try in 0..2 {
            other.send_to(&q, target).unwrap();
            let mut buf = [0u8; 1500];
            loop {
                match other.recv_from(&mut buf) {
                    Ok((n, _)) if n > 12 && buf[0..2] == id.to_be_bytes() => {
                        if buf[2] & 0x02 == 0 && u16::from_be_bytes([buf[6], buf[7]]) > 0 {
                            answered += 1;
                        }
                        break 'ask;
                    }
                    Ok(_) => continue, // a late reply to an earlier try
                    Err(_) => continue 'ask,
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // TCP is never limited, even from the flooding network.
    let m = tcp(target, &query("www.gslb.test", 1, Q::default()));
    assert_eq!(m.answers.len(), 1);
    let (sent, out, replies, inb, tc) = flooder.join().unwrap();
    let stats = &s.daemon.as_ref().unwrap().running.shared.stats;
    let dropped = stats.rrl_dropped.load(Ordering::Relaxed);
    let slipped = stats.rrl_slipped.load(Ordering::Relaxed);
    eprintln!(
        "rrl flood: sent {sent} queries ({out} bytes), got {replies} replies ({inb} bytes, {tc} truncated); server dropped {dropped}, slipped {slipped}; other network answered {answered}/15"
    );
    assert_eq!(answered, 15, "the other network lost answers");
    assert!(sent > 500, "the flood was too small to mean anything ({sent})");
    assert!(dropped > 0 && slipped > 0);
    assert!(replies < sent, "the flood was not limited");
    assert!(inb <= out, "the server sent more bytes ({inb}) than the flood sent it ({out})");
}

#[test]
fn rrl_dry_run_counts_but_limits_nothing() {
    let mut rrl = RrlConfig::new(5);
    rrl.dry_run = true;
    let (s, _dir) = server_with(Limits { rrl: Some(rrl), ..Limits::default() });
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1500];
    for i in 0..40u16 {
        sock.send_to(&query("www.gslb.test", 1, Q { id: i, ..Q::default() }), s.addr).unwrap();
        let (n, _) = sock.recv_from(&mut buf).expect("every query answered in dry run");
        assert!(n > 12 && buf[2] & 0x02 == 0);
    }
    let stats = &s.daemon.as_ref().unwrap().running.shared.stats;
    assert!(stats.rrl_would_limit.load(Ordering::Relaxed) >= 30);
    assert_eq!(stats.rrl_dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn black_holed_probe_targets_fail_within_the_timeout_and_dns_stays_fast() {
    // A listener whose accept queue is full drops new SYNs on Linux: a black hole on loopback.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (hole, _fillers) = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(c)) =
                tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await
            {
                fillers.push(c);
            }
        }
        ((listener, addr), fillers)
    });
    let addr = hole.1;
    let prober = meridian::health::probe::Prober::new(
        meridian::config::check::Check {
            kind: meridian::config::check::CheckKind::Tcp,
            load: None,
            port: None,
            interval: Duration::from_secs(5),
            timeout: Duration::from_millis(400),
            rise: 1,
            fall: 1,
        },
        addr,
    )
    .unwrap();
    let started = Instant::now();
    let r = rt.block_on(prober.run());
    assert!(r.is_err(), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());

    // A pool whose every member probes the black hole: queries are answered at once all the
    // while (the query path never waits for a check).
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("zones");
    std::fs::create_dir(&z).unwrap();
    std::fs::write(z.join("bh.test.zone"), "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n").unwrap();
    let mut toml = String::from(
        "[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[pools.www]\nnames = [\"www\"]\nanswers = 4\ncheck = { type = \"tcp\", interval = 0.5, timeout = 0.4 }\n[pools.www.members]\n",
    );
    for i in 0..40 {
        toml.push_str(&format!(
            "m{i} = {{ datacenter = \"ams\", ipv4 = \"192.0.2.{}\", probe = \"{addr}\" }}\n",
            i + 10
        ));
    }
    std::fs::write(z.join("bh.test.toml"), toml).unwrap();
    let geo = test_geo(dir.path());
    let s = TestServer::start_full(&z, &geo, Limits::default(), None);
    let mut worst = Duration::ZERO;
    for i in 0..50u16 {
        let t = Instant::now();
        let m = udp(s.addr, &query("www.bh.test", 1, Q { id: i, ..Q::default() }));
        assert!(!m.answers.is_empty());
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("worst DNS latency while 40 probes hung: {worst:?}");
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    drop(hole);
}

#[test]
fn a_broken_geo_database_is_refused_at_reload_and_replacing_it_in_place_is_safe() {
    let dir = tempfile::tempdir().unwrap();
    let geo = test_geo(dir.path());
    let config = Config::load(&zones(), &geo).unwrap();
    let s = TestServer::start_options(config, Options::new(zones(), geo.clone(), vec!["127.0.0.1:0".parse().unwrap()]));
    let amsterdam = || {
        let m = udp(
            s.addr,
            &query("www.gslb.test", 1, Q { id: 1, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() }),
        );
        m.answers.iter().all(|r| r.data.to_string().starts_with("192.0.2.1")) && !m.answers.is_empty()
    };
    assert!(amsterdam());
    let reloader = s.daemon.as_ref().unwrap().reloader.clone();
    let good = std::fs::read(&geo).unwrap();
    // Replaced in place with garbage while serving: queries go on from the copy in memory;
    // the reload refuses the file and names it.
    std::fs::write(&geo, b"garbage, not a database").unwrap();
    assert!(amsterdam());
    let st = s.runtime.block_on(reloader.reload());
    assert!(!st.ok);
    assert!(st.errors[0].contains("geo.mmdb: cannot open the geo database"), "{:?}", st.errors);
    assert!(amsterdam());
    // Truncated: refused as well.
    std::fs::write(&geo, &good[..good.len() * 2 / 3]).unwrap();
    let st = s.runtime.block_on(reloader.reload());
    assert!(!st.ok, "a truncated database was accepted");
    assert!(amsterdam());
    // Put back: accepted.
    std::fs::write(&geo, &good).unwrap();
    let st = s.runtime.block_on(reloader.reload());
    assert!(st.ok, "{:?}", st.errors);
    assert!(amsterdam());
}
