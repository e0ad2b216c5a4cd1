//! End to end: the built `meridian` binary on the shipped example (`zones/`), checked with dig
//! the way an operator would try it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::dig;

/// `meridian serve` on `zones`, checked to name the shipped example's zone when it starts.
fn start(zones: &Path) -> common::Serve {
    let s = common::Serve::start(zones, &[]);
    let line = s.seen.last().unwrap();
    assert!(line.contains("example.com."), "start-up line lists the zones: {line}");
    s
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
    v.sort();
    v
}

/// The shipped example, its members probed on live fake backends, so every member is up.
fn example() -> (common::Serve, common::LiveExample) {
    let live = common::LiveExample::new();
    (start(live.dir.path()), live)
}

#[test]
fn dig_sees_the_shipped_example() {
    let (m, _live) = example();
    let p = m.port;
    assert_eq!(sorted_lines(&dig(p, &["static.example.com", "A", "+short"])), ["192.0.2.100"]);
    assert_eq!(sorted_lines(&dig(p, &["static.example.com", "AAAA", "+short"])), ["2001:db8::100"]);
    // api is a CNAME to the GSLB name www; from loopback (not located) www answers from the
    // pool's default order, which starts with iad.
    assert_eq!(
        sorted_lines(&dig(p, &["api.example.com", "A", "+short"])),
        ["198.51.100.10", "198.51.100.11", "www.example.com."]
    );
    assert_eq!(dig(p, &["example.com", "MX", "+short"]).trim(), "10 mail.example.com.");
    assert_eq!(dig(p, &["_sip._udp.example.com", "SRV", "+short"]).trim(), "10 60 5060 sip.example.com.");
    assert_eq!(dig(p, &["example.com", "CAA", "+short"]).trim(), "0 issue \"letsencrypt.org\"");
    assert_eq!(dig(p, &["anything.apps.example.com", "TXT", "+short"]).trim(), "\"served by the wildcard\"");

    let full = dig(p, &["example.com", "SOA", "+norec"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains("flags: qr aa;"), "{full}");
    assert!(!full.contains("WARNING"), "dig warns about the reply: {full}");

    let nx = dig(p, &["missing.example.com", "A", "+norec"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(nx.contains("example.com.\t\t300\tIN\tSOA"), "negative TTL is the SOA minimum: {nx}");

    let referral = dig(p, &["host.lab.example.com", "A", "+norec"]);
    assert!(referral.contains("flags: qr;"), "referral is not authoritative: {referral}");
    assert!(referral.contains("AUTHORITY: 2, ADDITIONAL: 3"), "{referral}");

    let refused = dig(p, &["example.net", "A"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");

    let tcp = dig(p, &["+tcp", "static.example.com", "A", "+short"]);
    assert_eq!(sorted_lines(&tcp), ["192.0.2.100"]);

    // A static answer does not depend on the client: ECS scope 0.
    let ecs = dig(p, &["static.example.com", "A", "+norec", "+subnet=198.51.100.0/24"]);
    assert!(ecs.contains("CLIENT-SUBNET: 198.51.100.0/24/0"), "{ecs}");
    assert!(!ecs.contains("WARNING"), "{ecs}");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let (mut m, _live) = example();
    let pid = m.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = m.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_start_where_no_zone_loads_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.com.zone")).unwrap();
    let broken = text.replace("mail        IN A    192.0.2.25", "mail        IN A    192.0.2.256");
    assert_ne!(text, broken);
    let line = broken.lines().position(|l| l.contains("192.0.2.256")).unwrap() + 1;
    std::fs::write(dir.path().join("example.com.zone"), broken).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--listen", "127.0.0.1:0", "--zones"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("example.com.zone:{line}: '192.0.2.256' is not an IPv4 address")), "{stderr}");
}

#[test]
fn dig_sees_gslb_answers_by_location_with_the_shipped_database() {
    let (m, _live) = example();
    let p = m.port;
    // (client subnet, country in the shipped DB-IP database, expected data center's addresses)
    let cases = [
        ("193.0.0.0/21", "NL", ["192.0.2.10", "192.0.2.11"]),
        ("8.8.8.0/24", "US", ["198.51.100.10", "198.51.100.11"]),
        ("103.1.138.0/24", "SG", ["203.0.113.10", "203.0.113.11"]),
        ("1.0.16.0/24", "JP: nearest is sin", ["203.0.113.10", "203.0.113.11"]),
        ("200.160.0.0/20", "BR: the map pins South America to iad", ["198.51.100.10", "198.51.100.11"]),
        ("210.48.77.0/24", "NZ: the map pins Oceania to sin", ["203.0.113.10", "203.0.113.11"]),
        ("10.1.0.0/16", "the operator network 10/8 pins ams", ["192.0.2.10", "192.0.2.11"]),
    ];
    for (subnet, why, expect) in cases {
        let short = dig(p, &["www.example.com", "A", "+short", &format!("+subnet={subnet}")]);
        assert_eq!(sorted_lines(&short), expect, "{subnet} ({why})");
        let full = dig(p, &["www.example.com", "A", "+norec", &format!("+subnet={subnet}")]);
        assert!(!full.contains("WARNING"), "{subnet}: dig warns: {full}");
        assert!(full.contains(&format!("CLIENT-SUBNET: {subnet}/")), "{subnet}: ECS not echoed: {full}");
        let scope: u8 = full
            .split(&format!("CLIENT-SUBNET: {subnet}/"))
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(scope > 0, "{subnet}: a located answer has a non-zero scope");
    }
    let v6 = dig(p, &["www.example.com", "AAAA", "+short", "+subnet=193.0.0.0/21"]);
    assert_eq!(sorted_lines(&v6), ["2001:db8:a::10", "2001:db8:a::11"]);
    // Without ECS the client is 127.0.0.1: not located, the default order starts with iad.
    let plain = dig(p, &["www.example.com", "A", "+short"]);
    assert_eq!(sorted_lines(&plain), ["198.51.100.10", "198.51.100.11"]);
}

#[test]
fn the_shipped_example_without_backends_falls_back_to_the_nearest_data_center() {
    // As the README runs it: nothing listens on the probe ports, every member goes down
    // after its first check, and the nearest fallback answers with the degraded TTL.
    let m = start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("zones"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = dig(m.port, &["www.example.com", "A", "+noall", "+answer", "+subnet=193.0.0.0/21"]);
        let lines = sorted_lines(&answer);
        if lines.len() == 2 && lines.iter().all(|l| l.contains("\t5\tIN\tA\t192.0.2.1")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no fallback answer: {answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
