//! End to end: the built `meridian` binary on the shipped example (`zones/`), checked with dig
//! the way an operator would try it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Meridian {
    child: Child,
    port: u16,
}

impl Drop for Meridian {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(zones: &Path) -> Meridian {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--listen", "127.0.0.1:0", "--zones"])
        .arg(zones)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("meridian starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The start-up line names the zones and the address actually bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
        if let Some(rest) = line.split("on 127.0.0.1:").nth(1) {
            assert!(line.contains("example.com."), "start-up line lists the zones: {line}");
            let port = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
            return Meridian { child, port };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("meridian did not report its listen address");
}

fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is not installed: `apt-get install -y dnsutils` (.ci/run does this)");
    assert!(out.status.success(), "dig {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
    v.sort();
    v
}

fn example() -> Meridian {
    start(&Path::new(env!("CARGO_MANIFEST_DIR")).join("zones"))
}

#[test]
fn dig_sees_the_shipped_example() {
    let m = example();
    let p = m.port;
    assert_eq!(sorted_lines(&dig(p, &["www.example.com", "A", "+short"])), ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(sorted_lines(&dig(p, &["www.example.com", "AAAA", "+short"])), ["2001:db8::10"]);
    assert_eq!(
        sorted_lines(&dig(p, &["api.example.com", "A", "+short"])),
        ["192.0.2.10", "192.0.2.11", "www.example.com."]
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

    let tcp = dig(p, &["+tcp", "www.example.com", "A", "+short"]);
    assert_eq!(sorted_lines(&tcp), ["192.0.2.10", "192.0.2.11"]);

    let ecs = dig(p, &["www.example.com", "A", "+norec", "+subnet=198.51.100.0/24"]);
    assert!(ecs.contains("CLIENT-SUBNET: 198.51.100.0/24/0"), "{ecs}");
    assert!(!ecs.contains("WARNING"), "{ecs}");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut m = example();
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
fn a_broken_zone_file_is_refused_at_start_with_file_and_line() {
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
    assert!(
        stderr.contains(&format!("example.com.zone:{line}: '192.0.2.256' is not an IPv4 address")),
        "{stderr}"
    );
}
