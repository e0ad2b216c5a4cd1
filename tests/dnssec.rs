//! Online DNSSEC signing, judged by validators that are not ours: a key made with
//! `meridian key generate`, its DS from `meridian key ds` given as the trust anchor to a
//! validating Unbound (Debian `unbound`) with signed.test stubbed to Meridian, and to delv
//! (Debian `bind9-dnsutils`). Every kind of answer validates (AD set): a plain answer, a GSLB
//! pool's answer for two client networks sent as ECS through Unbound, a CNAME, a wildcard,
//! NODATA, a name that does not exist (compact denial, RFC 9824, which Unbound 1.17 takes for
//! NODATA), the apex DNSKEY, the proof that an insecure delegation has no DS and a secure
//! delegation's DS. A trust anchor with a wrong digest, and signatures made by a server whose
//! clock is months behind (libfaketime, Debian `faketime`), make Unbound answer SERVFAIL.

mod common;

use std::ffi::OsStr;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

const A: u16 = 1;
const CNAME: u16 = 5;
const AAAA: u16 = 28;
const DS: u16 = 43;
const DNSKEY: u16 = 48;

/// The DS record of `secure` in tests/data/dnssec/signed.test.zone, as hickory-proto shows it.
const SECURE_DS: &str = "12345 13 2 787698417BDF883CD807229B9A3903B5AE353449BB5C35E6EE692F59EBA77EBE";

/// How far behind the real clock the server runs in `expired_signatures_make_unbound_fail`
/// (libfaketime's relative offset): beyond any signature lifetime an online signer uses (days
/// to a month) plus Unbound's largest allowance for clock skew (a day).
const CLOCK_SHIFT: &str = "-90d";

/// A copy of tests/data/dnssec with a key generated into its `keys/`, and a geo database beside
/// it.
struct Signed {
    _dir: tempfile::TempDir,
    zones: PathBuf,
    geo: PathBuf,
    /// The lines `meridian key ds` printed: the trust anchor.
    ds: Vec<String>,
}

/// A copy of the directory `path` of the checkout (zone files and definitions) in `zones/` of a
/// new temporary directory.
fn copy_of(path: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(path.as_path(), zones.join(path.file_name().unwrap())).unwrap();
    }
    (dir, zones)
}

/// Copies tests/data/dnssec, generates a key for signed.test (with `env` set, for a shifted
/// clock) and reads its DS.
fn signed_zone(env: &[(&str, &OsStr)]) -> Signed {
    let (dir, zones) = copy_of("tests/data/dnssec");
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let key = generate_key(&zones, env);
    let ds = ds_records(&zones);
    assert_eq!(ds.len(), 1, "one key with the SEP flag, one DS: {ds:?}");
    let tag = key.rsplit('+').next().and_then(|t| t.parse::<u16>().ok());
    assert_eq!(ds_rdata(&ds[0]).0.parse::<u16>().ok(), tag, "the DS names the key {key}: {ds:?}");
    Signed { _dir: dir, zones, geo, ds }
}

/// Runs `meridian key generate signed.test` on `zones` with `env` set; the key's base name,
/// whose two files it checks.
fn generate_key(zones: &Path, env: &[(&str, &OsStr)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["key", "generate", "signed.test", "--zones"])
        .arg(zones)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "meridian key generate failed: {stderr}");
    let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(base.starts_with("Ksigned.test.+013+"), "a CSK of algorithm 13 by default: {base:?} {stderr}");
    for ext in ["key", "private"] {
        let file = zones.join("keys").join(format!("{base}.{ext}"));
        assert!(file.is_file(), "{} was not written", file.display());
    }
    base
}

/// `meridian key ds signed.test` on `zones`: its lines.
fn ds_records(zones: &Path) -> Vec<String> {
    let (code, stdout, stderr) = meridian(&["key", "ds", "signed.test", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, Some(0), "meridian key ds failed: {stderr}");
    stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// The data of a DS record in zone-file form: key tag, algorithm, digest type and digest.
fn ds_rdata(line: &str) -> (String, String, String, String) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f.iter().position(|t| t.eq_ignore_ascii_case("DS")).unwrap_or_else(|| panic!("not a DS record: {line}"));
    assert!(f.len() >= at + 5, "a DS record has four fields of data: {line}");
    (f[at + 1].to_string(), f[at + 2].to_string(), f[at + 3].to_string(), f[at + 4..].concat())
}

/// The DS record `line` with the last hex digit of its digest changed.
fn corrupt(line: &str) -> String {
    let line = line.trim_end();
    let last = line.chars().last().unwrap();
    assert!(last.is_ascii_hexdigit(), "a DS record ends with its digest: {line}");
    format!("{}{}", &line[..line.len() - 1], if last == '0' { '1' } else { '0' })
}

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

impl Unbound {
    /// Its log: each validation failure with its reason (`val-log-level: 2`).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }
}

/// A validating Unbound whose only trust anchors are `anchors` (DS records in zone-file form),
/// with signed.test stubbed to `authority` and client subnets (ECS) passed on to it.
fn start_unbound(authority: SocketAddr, anchors: &[String]) -> Unbound {
    start_unbound_with(authority, anchors, "")
}

/// [`start_unbound`] with more `server:` lines (`extra`, each ending in a newline).
fn start_unbound_with(authority: SocketAddr, anchors: &[String], extra: &str) -> Unbound {
    start_unbound_for(authority, anchors, "signed.test", extra)
}

/// A validating Unbound with `zone` stubbed to `authority`, trusting `anchors`.
fn start_unbound_for(authority: SocketAddr, anchors: &[String], zone: &str, extra: &str) -> Unbound {
    let bin = ["/usr/sbin/unbound", "/usr/bin/unbound"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("unbound is not installed: `apt-get install -y unbound` (.ci/run does this)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let anchors: String = anchors.iter().map(|a| format!("    trust-anchor: \"{a}\"\n")).collect();
    for attempt in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "server:\n    interface: 127.0.0.1\n    port: {port}\n    do-daemonize: no\n    username: \"\"\n    \
             chroot: \"\"\n    directory: \"{d}\"\n    pidfile: \"\"\n    use-syslog: no\n    \
             logfile: \"{d}/unbound.log\"\n    verbosity: 1\n    val-log-level: 2\n    \
             do-not-query-localhost: no\n    access-control: 127.0.0.0/8 allow\n    \
             module-config: \"subnetcache validator iterator\"\n    send-client-subnet: 127.0.0.1\n    \
             client-subnet-always-forward: yes\n    max-client-subnet-ipv4: 24\n    qname-minimisation: no\n    \
             num-threads: 1\n    so-reuseport: no\n    trust-anchor-signaling: no\n    \
             local-zone: \"test.\" nodefault\n{extra}{anchors}\
             stub-zone:\n    name: \"{zone}\"\n    stub-addr: {}@{}\n",
            authority.ip(),
            authority.port()
        );
        std::fs::write(dir.path().join("unbound.conf"), conf).unwrap();
        let mut child = spawn_server(bin, &["-d"], &dir.path().join("unbound.conf"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            // Without RD: any reply means Unbound listens, and nothing is resolved or cached.
            if udp_raw(addr, &query(&format!("ns1.{zone}"), A, Q::default()), Duration::from_millis(300)).is_some() {
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

fn u16_at(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

/// The offset just past the name starting at `at` (labels, or labels ending in a pointer).
fn skip_name(p: &[u8], mut at: usize) -> usize {
    loop {
        match p[at] {
            0 => return at + 1,
            len if len & 0xC0 == 0xC0 => return at + 2,
            len => at += 1 + usize::from(len),
        }
    }
}

/// Sets the DO bit (RFC 3225 section 3) in the OPT record of `packet`, found by walking the
/// question and the records: the top bit of the flags in the OPT record's TTL field.
fn set_do(packet: &mut [u8]) {
    set_edns_flags(packet, 0x80);
}

/// Sets `bits` in the high octet of the EDNS flags of `packet`'s OPT record (DO is 0x80, RFC
/// 9824's Compact Answers OK 0x40).
fn set_edns_flags(packet: &mut [u8], bits: u8) {
    let questions = u16_at(packet, 4);
    let before_additional = usize::from(u16_at(packet, 6)) + usize::from(u16_at(packet, 8));
    let records = before_additional + usize::from(u16_at(packet, 10));
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at) + 4;
    }
    for i in 0..records {
        at = skip_name(packet, at);
        // TYPE, CLASS, TTL (extended rcode, version, flags), RDLENGTH.
        if i >= before_additional && u16_at(packet, at) == 41 {
            packet[at + 6] |= bits;
            return;
        }
        at += 10 + usize::from(u16_at(packet, at + 8));
    }
    panic!("the query has no OPT record");
}

/// A query for `name` and `qtype` with EDNS and DO set, and an optional client subnet (a /24).
fn do_query(name: &str, qtype: u16, ecs: Option<&'static [u8]>, id: u16) -> Vec<u8> {
    let mut q = query(name, qtype, Q { id, edns: Some(1232), ecs: ecs.map(|a| (1, 24, a)), ..Q::default() });
    set_do(&mut q);
    q
}

/// A recursive query (RD and DO set) to the resolver; over TCP again when the reply is truncated.
fn ask(resolver: SocketAddr, name: &str, qtype: u16, ecs: Option<&'static [u8]>, id: u16) -> Message {
    let mut q = do_query(name, qtype, ecs, id);
    q[2] |= 0x01; // RD
    let raw = udp_raw(resolver, &q, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no reply from unbound to {name} {qtype} within 10 s"));
    let m = Message::from_vec(&raw).unwrap_or_else(|e| panic!("unbound's reply to {name} {qtype} does not parse: {e}"));
    if m.metadata.truncation { tcp(resolver, &q) } else { m }
}

/// Asks Unbound and requires a validated answer: NOERROR with AD set.
fn validated(unbound: &Unbound, name: &str, qtype: u16, ecs: Option<&'static [u8]>, id: u16) -> Message {
    let m = ask(unbound.addr, name, qtype, ecs, id);
    let log = unbound.log();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name} {qtype}: {m:?}\nunbound's log:\n{log}");
    assert!(m.metadata.authentic_data, "{name} {qtype} did not validate (no AD): {m:?}\nunbound's log:\n{log}");
    m
}

/// The data of the answer's records of type `rtype`, sorted, names lower case without the
/// final dot.
fn data(m: &Message, rtype: u16) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter(|r| u16::from(r.record_type()) == rtype)
        .map(|r| r.data.to_string().to_lowercase().trim_end_matches('.').to_string())
        .collect();
    v.sort();
    v
}

/// Waits up to 5 s for Unbound's log to hold `text` (it is written as Unbound goes).
fn log_shows(unbound: &Unbound, text: &str) -> bool {
    wait_until(Duration::from_secs(5), || unbound.log().contains(text)).is_some()
}

/// Runs `command` for at most `limit`, killing it then: its exit status (`None` when it was
/// killed) and its standard output followed by its standard error.
fn run_bounded(command: &mut Command, limit: Duration) -> (Option<ExitStatus>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let spawned =
        command.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap()).spawn();
    let mut child = spawned.unwrap_or_else(|e| panic!("{:?} starts: {e}", command.get_program()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(out.as_path()).unwrap_or_default()
        + &std::fs::read_to_string(err.as_path()).unwrap_or_default();
    (status, text)
}

/// libfaketime's shared library, preferring the variant for threaded programs.
fn libfaketime() -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/lib/faketime"), PathBuf::from("/usr/local/lib/faketime")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.map_while(Result::ok).map(|e| e.path().join("faketime")));
    }
    dirs.iter().flat_map(|d| [d.join("libfaketimeMT.so.1"), d.join("libfaketime.so.1")]).find(|p| p.is_file())
}

#[test]
fn unbound_validates_every_kind_of_answer() {
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    let unbound = start_unbound(server.addr, &z.ds);

    let m = validated(&unbound, "www.signed.test", A, None, 1);
    assert_eq!(data(&m, A), ["192.0.2.1"], "{m:?}");
    // A pool's answer is chosen per client network and signed as it is sent.
    let m = validated(&unbound, "pool.signed.test", A, Some(&[81, 0, 1]), 2);
    assert_eq!(data(&m, A), ["192.0.2.10"], "Amsterdam gets ams: {m:?}");
    let m = validated(&unbound, "pool.signed.test", A, Some(&[8, 8, 8]), 3);
    assert_eq!(data(&m, A), ["198.51.100.10"], "the US gets iad: {m:?}");
    let m = validated(&unbound, "alias.signed.test", A, None, 4);
    assert_eq!(data(&m, CNAME), ["www.signed.test"], "{m:?}");
    assert_eq!(data(&m, A), ["192.0.2.1"], "{m:?}");
    let m = validated(&unbound, "foo.wild.signed.test", A, None, 5);
    assert_eq!(data(&m, A), ["192.0.2.7"], "{m:?}");
    // NODATA, and a name that does not exist (compact denial: NOERROR with an NSEC at the name).
    let m = validated(&unbound, "txt.signed.test", AAAA, None, 6);
    assert!(m.answers.is_empty(), "{m:?}");
    let m = validated(&unbound, "nothere.signed.test", A, None, 7);
    assert!(m.answers.is_empty(), "{m:?}");
    let m = validated(&unbound, "signed.test", DNSKEY, None, 8);
    assert!(!data(&m, DNSKEY).is_empty(), "{m:?}");
    // Delegations: the proof that there is no DS, and the DS itself.
    let m = validated(&unbound, "insecure.signed.test", DS, None, 9);
    assert!(m.answers.is_empty(), "{m:?}");
    let m = validated(&unbound, "secure.signed.test", DS, None, 10);
    assert_eq!(data(&m, DS), [SECURE_DS.to_lowercase()], "{m:?}");
}

#[test]
fn a_wrong_trust_anchor_makes_unbound_fail() {
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    let wrong: Vec<String> = z.ds.iter().map(String::as_str).map(corrupt).collect();
    let unbound = start_unbound(server.addr, &wrong);
    let m = ask(unbound.addr, "www.signed.test", A, None, 1);
    let log = unbound.log();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{wrong:?}: {m:?}\nunbound's log:\n{log}");
    assert!(!m.metadata.authentic_data, "{m:?}");
    assert!(log_shows(&unbound, "validation failure"), "unbound logged no validation failure:\n{}", unbound.log());
}

#[test]
fn expired_signatures_make_unbound_fail() {
    let Some(lib) = libfaketime() else {
        eprintln!("skipped: libfaketime is not installed (`apt-get install -y faketime`; ./scripts/test.sh does this)");
        return;
    };
    // The faketime wrapper forks and waits, so that killing it would leave the server running:
    // the library is preloaded with the variables the wrapper sets, and the server is stopped
    // by its own PID. The monotonic clock is left alone (timers); the key is made under the
    // same shifted clock, so that it is published and active there.
    let clock = [
        ("LD_PRELOAD", lib.as_os_str()),
        ("FAKETIME", OsStr::new(CLOCK_SHIFT)),
        ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
        ("DONT_FAKE_MONOTONIC", OsStr::new("1")),
    ];
    let z = signed_zone(&clock);
    let serve = Serve::start_env(&z.zones, &["--geo", z.geo.to_str().unwrap()], &clock);

    // Asked directly, the server signs with its shifted clock: the expiration is in the real
    // past, by more than Unbound's largest allowance for skew.
    let m = udp(serve.addr(), &do_query("www.signed.test", A, None, 1));
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let expirations: Vec<u64> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .map(|r| {
            // Type covered, algorithm, labels, original TTL, expiration (seconds), ...
            let text = r.data.to_string();
            text.split_whitespace()
                .nth(4)
                .and_then(|e| e.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("an RRSIG: {text}"))
        })
        .collect();
    assert!(!expirations.is_empty(), "no RRSIG with DO set: {m:?}");
    assert!(
        expirations.iter().all(|&e| e + 86_400 < now),
        "the signatures of a server running {CLOCK_SHIFT} behind have not expired (expirations {expirations:?}, \
         now {now}): is libfaketime at {} working, or are the signatures valid for months?",
        lib.display()
    );

    let unbound = start_unbound(serve.addr(), &z.ds);
    let m = ask(unbound.addr, "www.signed.test", A, None, 2);
    let log = unbound.log();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{m:?}\nunbound's log:\n{log}");
    assert!(log_shows(&unbound, "signature expired"), "not failed for expiry:\n{}", unbound.log());
}

#[test]
fn delv_agrees() {
    if Command::new("delv").arg("-v").output().is_err() {
        eprintln!("skipped: delv is not installed (`apt-get install -y bind9-dnsutils`)");
        return;
    }
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    let anchor = z.zones.parent().unwrap().join("anchor.conf");
    let anchors: String =
        z.ds.iter()
            .map(|l| {
                let (tag, alg, digest_type, digest) = ds_rdata(l);
                format!("    signed.test. static-ds {tag} {alg} {digest_type} \"{digest}\";\n")
            })
            .collect();
    std::fs::write(&anchor, format!("trust-anchors {{\n{anchors}}};\n")).unwrap();
    let (status, out) = run_bounded(
        Command::new("delv")
            .args(["@127.0.0.1", "-p", &server.addr.port().to_string(), "-a"])
            .arg(anchor.as_os_str())
            .args(["+root=signed.test", "www.signed.test", "A"]),
        Duration::from_secs(30),
    );
    assert!(status.is_some(), "delv did not finish within 30 s: {out}");
    assert!(out.contains("; fully validated"), "delv did not validate: {out}");
    assert!(out.contains("192.0.2.1"), "{out}");
}

/// Meridian's own replies, decoded by hickory-proto: signatures only with DO, the key set with
/// or without it, and compact denial (RFC 9824) as the RFC writes it.
#[test]
fn compact_denial_and_key_sets_on_the_wire() {
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    let types = |records: &[hickory_proto::rr::Record]| -> Vec<RecordType> {
        records.iter().map(|r| r.record_type()).collect()
    };
    // Without DO: exactly the unsigned answer.
    let plain = udp(server.addr, &query("www.signed.test", A, Q { id: 1, edns: Some(1232), ..Q::default() }));
    assert_eq!(types(&plain.answers), [RecordType::A], "{plain:?}");
    // With DO: the A record and its RRSIG.
    let m = udp(server.addr, &do_query("www.signed.test", A, None, 2));
    assert_eq!(types(&m.answers), [RecordType::A, RecordType::RRSIG], "{m:?}");
    // The key set is answered from the keys, with or without DO.
    let keys = udp(server.addr, &query("signed.test", DNSKEY, Q { id: 3, edns: Some(1232), ..Q::default() }));
    assert_eq!(types(&keys.answers), [RecordType::DNSKEY], "{keys:?}");
    // A name that does not exist: NOERROR, SOA and one NSEC at the name with RRSIG, NSEC and
    // NXNAME in its bitmap, each signed.
    let m = udp(server.addr, &do_query("nothere.signed.test", A, None, 4));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert!(m.answers.is_empty(), "{m:?}");
    assert_eq!(
        types(&m.authorities),
        [RecordType::SOA, RecordType::RRSIG, RecordType::NSEC, RecordType::RRSIG],
        "{m:?}"
    );
    let nsec = m.authorities.iter().find(|r| r.record_type() == RecordType::NSEC).unwrap();
    assert_eq!(nsec.name.to_string(), "nothere.signed.test.", "{m:?}");
    let (next, bitmap) = nsec_of(nsec);
    assert_eq!(next, "\\000.nothere.signed.test.", "the next name is the name right after");
    assert_eq!(bitmap, [46, 47, 128], "RRSIG, NSEC and NXNAME only");
    // The same with Compact Answers OK: NXDOMAIN, the same proof, and the CO bit echoed.
    let mut q = do_query("nothere.signed.test", A, None, 5);
    set_edns_flags(&mut q, 0x40);
    let raw = udp_raw(server.addr, &q, Duration::from_secs(2)).expect("a reply");
    let m = Message::from_vec(&raw).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
    assert_eq!(types(&m.authorities).len(), 4, "{m:?}");
    let opt_flags = opt_flags(&raw);
    assert_eq!(opt_flags & 0xc000, 0xc000, "DO and CO echoed: {opt_flags:#06x}");
    // NODATA: the NSEC lists the name's real types, never the one asked.
    let m = udp(server.addr, &do_query("txt.signed.test", AAAA, None, 6));
    let nsec = m.authorities.iter().find(|r| r.record_type() == RecordType::NSEC).expect("an NSEC");
    assert_eq!(nsec_of(nsec).1, [16, 46, 47], "TXT, RRSIG and NSEC: {m:?}");
    // A pool name's NSEC lists what the pool answers.
    let m = udp(server.addr, &do_query("pool.signed.test", AAAA, None, 7));
    let nsec = m.authorities.iter().find(|r| r.record_type() == RecordType::NSEC).expect("an NSEC");
    assert_eq!(nsec_of(nsec).1, [1, 46, 47], "A, RRSIG and NSEC: {m:?}");
    // An explicit question for NXNAME is malformed (RFC 9824 §3.5).
    let m = udp(server.addr, &do_query("www.signed.test", 128, None, 8));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr, "{m:?}");
    // A referral: NS unsigned, the NSEC at the cut proving there is no DS, signed; glue unsigned.
    let m = udp(server.addr, &do_query("host.insecure.signed.test", A, None, 9));
    assert_eq!(types(&m.authorities), [RecordType::NS, RecordType::NSEC, RecordType::RRSIG], "{m:?}");
    assert!(!types(&m.additionals).contains(&RecordType::RRSIG), "glue is not signed: {m:?}");
    let m = udp(server.addr, &do_query("host.secure.signed.test", A, None, 10));
    assert_eq!(types(&m.authorities), [RecordType::NS, RecordType::DS, RecordType::RRSIG], "{m:?}");
}

/// An NSEC record's next name and the types of its bitmap, as numbers.
fn nsec_of(record: &hickory_proto::rr::Record) -> (String, Vec<u16>) {
    let hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC(nsec)) = &record.data else {
        panic!("not an NSEC record: {record:?}");
    };
    let mut types: Vec<u16> = nsec.type_bit_maps().map(u16::from).collect();
    types.sort_unstable();
    (nsec.next_domain_name().to_string(), types)
}

/// The flags of the OPT record of a reply (the low half of its TTL field).
fn opt_flags(packet: &[u8]) -> u16 {
    let counts = [4, 6, 8, 10].map(|i| usize::from(u16_at(packet, i)));
    let mut at = 12;
    for _ in 0..counts[0] {
        at = skip_name(packet, at) + 4;
    }
    for i in 0..counts[1] + counts[2] + counts[3] {
        at = skip_name(packet, at);
        if i >= counts[1] + counts[2] && u16_at(packet, at) == 41 {
            return u16_at(packet, at + 6);
        }
        at += 10 + usize::from(u16_at(packet, at + 8));
    }
    panic!("the reply has no OPT record");
}

/// `meridian key generate signed.test` with `args`: the key's base name.
fn generate(zones: &Path, args: &[&str]) -> String {
    let mut all = vec!["key", "generate", "signed.test", "--zones", zones.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = meridian(&all);
    assert_eq!(code, Some(0), "meridian key generate {args:?}: {stderr}");
    stdout.trim().to_string()
}

/// The key tags of the DNSKEY set Meridian serves now.
fn served_key_tags(server: SocketAddr) -> Vec<u16> {
    let m = udp(server, &do_query("signed.test", DNSKEY, None, 99));
    let mut tags: Vec<u16> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(k)) => {
                k.calculate_key_tag().ok()
            }
            _ => None,
        })
        .collect();
    tags.sort_unstable();
    tags
}

fn tag_of(base: &str) -> u16 {
    base.rsplit('+').next().unwrap().parse().unwrap()
}

/// A ZSK roll (pre-publish) and a KSK roll (double-KSK) driven by the keys' timing, the new
/// keys added to a running server and picked up by a reload: a validating Unbound whose trust
/// anchors are both key-signing keys' DS records (the parent's DS set during a double-KSK roll)
/// validates fresh names all through; at the end only the new keys are published, and an
/// Unbound that trusts only the old key's DS fails while one that trusts the new one validates.
#[test]
fn zsk_and_ksk_rolls_by_timing_keep_validating() {
    let (dir, zones) = copy_of("tests/data/dnssec");
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    // The old keys stop signing at `roll` and leave at `gone`; the new ones sign from `roll`.
    let (roll, gone) = (now + 10, now + 16);
    let (roll_at, gone_at) = (meridian::dnssec::keys::stamp(roll), meridian::dnssec::keys::stamp(gone));
    let old_ksk = generate(&zones, &["--ksk", "--inactive", &roll_at, "--delete", &gone_at]);
    let old_zsk = generate(&zones, &["--zsk", "--inactive", &roll_at, "--delete", &gone_at]);
    let serve = Serve::start(&zones, &["--geo", geo.to_str().unwrap()]);
    assert_eq!(served_key_tags(serve.addr()), sorted(&[tag_of(&old_ksk), tag_of(&old_zsk)]));

    // The new keys: published now, signing from the roll; a reload reads them.
    let new_ksk = generate(&zones, &["--ksk", "--publish", "now", "--activate", &roll_at]);
    let new_zsk = generate(&zones, &["--zsk", "--publish", "now", "--activate", &roll_at]);
    serve.signal("HUP");
    let all = sorted(&[tag_of(&old_ksk), tag_of(&old_zsk), tag_of(&new_ksk), tag_of(&new_zsk)]);
    assert!(
        wait_until(Duration::from_secs(5), || served_key_tags(serve.addr()) == all).is_some(),
        "the reload did not publish the new keys: {:?}",
        served_key_tags(serve.addr())
    );
    let ds = ds_records(&zones);
    assert_eq!(ds.len(), 2, "both key-signing keys' DS while both are published: {ds:?}");
    let old_ds: Vec<String> = ds.iter().filter(|l| ds_rdata(l).0 == tag_of(&old_ksk).to_string()).cloned().collect();
    let new_ds: Vec<String> = ds.iter().filter(|l| ds_rdata(l).0 == tag_of(&new_ksk).to_string()).cloned().collect();

    // Unbound keeps nothing longer than a second, so it fetches the key set again and again.
    let unbound = start_unbound_with(serve.addr(), &ds, "    cache-max-ttl: 1\n    cache-min-ttl: 0\n");
    let mut asked = 0u16;
    let mut signers = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() <= gone + 1 {
        assert!(Instant::now() < deadline, "the roll took too long");
        asked += 1;
        let name = format!("n{asked}.wild.signed.test");
        let m = validated(&unbound, &name, A, None, asked);
        assert_eq!(data(&m, A), ["192.0.2.7"], "{m:?}");
        // Who signs the data now, from Meridian itself.
        let direct = udp(serve.addr(), &do_query(&name, A, None, asked));
        for r in direct.answers.iter().filter(|r| r.record_type() == RecordType::RRSIG) {
            if let hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) = &r.data {
                signers.insert(sig.input().key_tag);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(asked >= 10, "only {asked} names asked during the roll");
    assert_eq!(signers, [tag_of(&old_zsk), tag_of(&new_zsk)].into_iter().collect(), "the ZSKs signed in turn");
    assert_eq!(served_key_tags(serve.addr()), sorted(&[tag_of(&new_ksk), tag_of(&new_zsk)]), "the old keys are gone");
    drop(unbound);
    // The log told each step: the new keys became active, the old ones went.
    let log: Vec<String> = serve.lines.try_iter().collect();
    let step = |key: &str, state: &str| {
        log.iter().any(|l| l.contains("DNSSEC key step") && l.contains(key) && l.contains(&format!("state={state}")))
    };
    for (key, state) in [(&new_zsk, "Active"), (&new_ksk, "Active"), (&old_zsk, "Removed"), (&old_ksk, "Removed")] {
        assert!(step(key, state), "no log line for {key} becoming {state}:\n{}", log.join("\n"));
    }
    let old_only = start_unbound(serve.addr(), &old_ds);
    let m = ask(old_only.addr, "www.signed.test", A, None, 1);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "the old KSK's DS no longer leads anywhere: {m:?}");
    let new_only = start_unbound(serve.addr(), &new_ds);
    validated(&new_only, "www.signed.test", A, None, 2);
}

fn sorted(tags: &[u16]) -> Vec<u16> {
    let mut v = tags.to_vec();
    v.sort_unstable();
    v
}

/// Every RRSIG in Meridian's replies to a corpus of questions (each kind of name, each common
/// type, with and without Compact Answers OK, two client networks for the pool) verifies with
/// hickory-proto's verifier against the served DNSKEY set over the records it covers: a check
/// independent of Unbound's, on every record rather than on what a resolver asks.
#[test]
fn every_signature_verifies_with_an_independent_verifier() {
    use hickory_proto::dnssec::Verifier;
    use hickory_proto::dnssec::rdata::DNSSECRData;
    use hickory_proto::rr::RData;
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    let keys: Vec<_> = udp(server.addr, &do_query("signed.test", DNSKEY, None, 1))
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 1, "one CSK");
    let names = [
        "signed.test",
        "www.signed.test",
        "alias.signed.test",
        "x.wild.signed.test",
        "txt.signed.test",
        "nothere.signed.test",
        "insecure.signed.test",
        "a.insecure.signed.test",
        "secure.signed.test",
        "b.secure.signed.test",
        "pool.signed.test",
        "ns1.signed.test",
    ];
    let mut verified = 0;
    for (i, name) in names.iter().enumerate() {
        for qtype in [A, AAAA, 2, 6, 16, DS, DNSKEY, 47, 255] {
            for (ecs, co) in [(None, false), (Some(&[81u8, 0, 1][..]), true), (Some(&[8u8, 8, 8][..]), false)] {
                let mut q = do_query(name, qtype, ecs, i as u16);
                if co {
                    set_edns_flags(&mut q, 0x40);
                }
                let m = tcp(server.addr, &q);
                for section in [&m.answers, &m.authorities, &m.additionals] {
                    for record in section.iter() {
                        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &record.data else { continue };
                        let input = sig.input();
                        let covered: Vec<_> = section
                            .iter()
                            .filter(|r| r.record_type() == input.type_covered && r.name == record.name)
                            .collect();
                        assert!(!covered.is_empty(), "{name} {qtype}: an RRSIG without its records: {m:?}");
                        let key = keys.iter().find(|k| k.calculate_key_tag().ok() == Some(input.key_tag)).unwrap();
                        key.verify_rrsig(&record.name, hickory_proto::rr::DNSClass::IN, sig, covered.into_iter())
                            .unwrap_or_else(|e| {
                                panic!("{name} {qtype}: {} {:?} does not verify: {e}", record.name, input.type_covered)
                            });
                        verified += 1;
                    }
                }
            }
        }
    }
    assert!(verified > 200, "only {verified} signatures seen");
}

/// DNSViz (Debian `dnsviz`), the tool operators check a signed zone with, finds no error and no
/// warning in the shipped example signed with a key `meridian key generate` made. It runs in a
/// network namespace of its own with only loopback (DNSViz would otherwise ask the real root),
/// with Meridian on port 53 there; `dnsviz probe` is given the delegation and the DS, and
/// `dnsviz grok` the key as its trust anchor. Skipped, saying why, without root, `unshare`,
/// DNSViz or BIND's `named` (which DNSViz runs to serve the delegation it is given).
#[test]
fn dnsviz_finds_no_errors_in_the_signed_example() {
    let missing: Vec<&str> = ["unshare", "dnsviz", "named", "ip"]
        .into_iter()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool} || test -x /usr/sbin/{tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {missing:?} not installed (`apt-get install -y dnsviz bind9 python3-pygraphviz`; ./scripts/test.sh does this)"
        );
        return;
    }
    let probe_ns = Command::new("unshare").args(["-n", "true"]).output();
    if !probe_ns.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot make a network namespace here (needs root)");
        return;
    }
    let (dir, zones) = copy_of("zones");
    let (code, _, stderr) = meridian(&["key", "generate", "example.com", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, ds, stderr) = meridian(&["key", "ds", "example.com", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let (tag, alg, digest_type, digest) = ds_rdata(ds.lines().next().unwrap());
    // The trust anchor for grok: the key's DNSKEY record as the .key file has it.
    let key_file = std::fs::read_dir(zones.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "key"))
        .unwrap();
    let dnskey =
        std::fs::read_to_string(&key_file).unwrap().lines().find(|l| l.contains("DNSKEY")).unwrap().to_string();
    std::fs::write(dir.path().join("anchor"), format!("{dnskey}\n")).unwrap();
    // Debian's python3-pygraphviz 1.7 has no `pygraphviz.release`, which dnsviz 0.9.4 imports
    // to check the version: a shim module gives it the version the package does have.
    let shim = dir.path().join("shim");
    std::fs::create_dir(&shim).unwrap();
    std::fs::write(
        shim.join("sitecustomize.py"),
        "import sys, types\ntry:\n    import pygraphviz\n    if not hasattr(pygraphviz, 'release'):\n        m = types.ModuleType('pygraphviz.release')\n        m.version = pygraphviz.__version__\n        sys.modules['pygraphviz.release'] = m\n        pygraphviz.release = m\nexcept ImportError:\n    pass\n",
    )
    .unwrap();
    let d = dir.path().display();
    let servers = "ns1.example.com=127.0.0.1,ns2.example.com=127.0.0.1";
    let script = format!(
        "set -e\nip link set lo up\n\
         {bin} serve --zones {d}/zones --geo {geo} --listen 127.0.0.1:53 --no-watch --state {d}/state.json >{d}/serve.log 2>&1 &\n\
         pid=$!\n\
         for i in $(seq 50); do dig +short +time=1 +tries=1 @127.0.0.1 example.com SOA >/dev/null 2>&1 && break; sleep 0.2; done\n\
         timeout 120 dnsviz probe -A -x example.com:{servers} -N example.com:{servers} -D 'example.com:{tag} {alg} {digest_type} {digest}' \
           example.com www.example.com static.example.com api.example.com x.apps.example.com nothere.example.com \
           >{d}/probe.json 2>{d}/probe.log || status=$?\n\
         kill $pid\n\
         exit ${{status:-0}}\n",
        bin = env!("CARGO_BIN_EXE_meridian"),
        geo = Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb").display(),
    );
    std::fs::write(dir.path().join("run.sh"), script).unwrap();
    let (status, output) = run_bounded(
        Command::new("unshare").args(["-n", "bash"]).arg(dir.path().join("run.sh")),
        Duration::from_secs(180),
    );
    let probe_log = std::fs::read_to_string(dir.path().join("probe.log")).unwrap_or_default();
    assert!(status.is_some_and(|s| s.success()), "dnsviz probe failed: {output}\n{probe_log}");
    let (status, output) = run_bounded(
        Command::new("dnsviz")
            .env("PYTHONPATH", &shim)
            .args(["grok", "-t"])
            .arg(dir.path().join("anchor"))
            .arg("-r")
            .arg(dir.path().join("probe.json"))
            .arg("-o")
            .arg(dir.path().join("grok.json")),
        Duration::from_secs(120),
    );
    assert!(status.is_some_and(|s| s.success()), "dnsviz grok failed: {output}");
    let grok: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("grok.json")).unwrap())
        .expect("grok's output is JSON");
    // Every error and warning DNSViz reports, wherever it reports it.
    fn findings(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if (k == "errors" || k == "warnings") && v.as_array().is_some_and(|a| !a.is_empty()) {
                        out.push(format!("{path}/{k}: {v}"));
                    }
                    findings(v, &format!("{path}/{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    findings(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    findings(&grok, "", &mut found);
    assert!(found.is_empty(), "DNSViz reports:\n{}", found.join("\n"));
    assert_eq!(grok["example.com."]["delegation"]["status"], "SECURE", "{grok}");
    for name in ["www.example.com.", "static.example.com."] {
        let answers = grok[name]["queries"][format!("{name}/IN/A")]["answer"].as_array().cloned().unwrap_or_default();
        assert!(!answers.is_empty() && answers.iter().all(|a| a["status"] == "SECURE"), "{name}: {answers:?}");
    }
}

/// CDS and CDNSKEY (RFC 7344) appear for a key from its SyncPublish time, signed by the
/// key-signing key; without one they are NODATA.
#[test]
fn cds_and_cdnskey_follow_the_sync_publish_time() {
    let z = signed_zone(&[]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    for qtype in [59u16, 60] {
        let m = udp(server.addr, &do_query("signed.test", qtype, None, 1));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
        assert!(m.answers.is_empty(), "no key is synced yet: {m:?}");
    }
    drop(server);
    let synced = generate(&z.zones, &["--ksk", "--sync-publish", "now"]);
    let server = TestServer::start_geo(&z.zones, &z.geo);
    // One record, the synced key's, signed by both key-signing keys (both are active).
    let m = udp(server.addr, &do_query("signed.test", 59, None, 2));
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CDS, RecordType::RRSIG, RecordType::RRSIG], "{m:?}");
    assert!(m.answers[0].data.to_string().starts_with(&format!("{} 13 2 ", tag_of(&synced))), "{m:?}");
    let m = udp(server.addr, &do_query("signed.test", 60, None, 3));
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CDNSKEY, RecordType::RRSIG, RecordType::RRSIG], "{m:?}");
}

/// A key file Meridian cannot read is named with its line by `meridian check`, refuses a
/// start, and on a reload leaves the keys that were read before in force.
#[test]
fn a_bad_key_file_is_named_and_never_unsigns_a_zone() {
    let z = signed_zone(&[]);
    let serve = Serve::start(&z.zones, &["--geo", z.geo.to_str().unwrap()]);
    let before = served_key_tags(serve.addr());
    assert_eq!(before.len(), 1);
    // A second key whose timing line is broken.
    let bad = generate(&z.zones, &["--zsk"]);
    let private = z.zones.join("keys").join(format!("{bad}.private"));
    let text = std::fs::read_to_string(&private).unwrap();
    let line = text.lines().count() + 1;
    std::fs::write(&private, format!("{text}Activate: tomorrow\n")).unwrap();
    let (code, _, stderr) =
        meridian(&["check", "--zones", z.zones.to_str().unwrap(), "--geo", z.geo.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{}:{line}", private.display())) && stderr.contains("Activate"), "{stderr}");
    serve.signal("HUP");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(served_key_tags(serve.addr()), before, "the keys read before are kept");
    validated_direct(serve.addr());
}

/// A signed answer straight from Meridian: the A record and its RRSIG.
fn validated_direct(server: SocketAddr) {
    let m = udp(server, &do_query("www.signed.test", A, None, 77));
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::A, RecordType::RRSIG], "{m:?}");
}

/// The shipped example, signed with a key `meridian key generate` made, validates end to end
/// through Unbound (its DS as the trust anchor): the GSLB name for clients of each region, a
/// static name, the CNAME, the wildcard, NODATA and a name that does not exist. `/status` shows
/// the key, and the metrics count the signatures found and made.
#[test]
fn the_signed_example_validates_through_unbound_and_shows_its_keys() {
    let (dir, zones) = copy_of("zones");
    let (code, key, stderr) = meridian(&["key", "generate", "example.com", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, ds, stderr) = meridian(&["key", "ds", "example.com", "--zones", zones.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let ds: Vec<String> = ds.lines().map(String::from).collect();
    let geo = Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb");
    let config = meridian::config::Config::load(&zones, &geo).unwrap();
    let mut options = meridian::daemon::Options::new(zones.clone(), geo, vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    options.state_file = Some(dir.path().join("state.json"));
    let server = TestServer::start_options(config, options);
    let api = server.daemon.as_ref().unwrap().api.unwrap();
    // The example's members are checked against loopback ports nothing listens on, and go
    // down one by one in the first seconds; while some data centers are down and others not
    // yet, a region is answered by the next one. Wait until every member is down (the
    // fallback: each region's nearest data center answers anyway), as the answers then hold.
    let settled = wait_until(Duration::from_secs(20), || {
        let (_, body) = http(api, "GET", "/status", None, None);
        let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let members: Vec<serde_json::Value> = status["pools"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["members"].as_array().cloned().unwrap_or_default())
            .collect();
        !members.is_empty() && members.iter().all(|m| m["serving"] == "down")
    });
    assert!(settled.is_some(), "the example's members never all went down");
    let unbound = start_unbound_for(server.addr, &ds, "example.com", "");
    let mut seen = std::collections::BTreeSet::new();
    for (i, client) in [[81u8, 0, 1], [8, 8, 8], [1, 0, 16]].iter().enumerate() {
        let m = validated(&unbound, "www.example.com", A, Some(&client[..]), 10 + i as u16);
        let answer = data(&m, A);
        assert!(!answer.is_empty(), "{m:?}");
        seen.insert(answer);
    }
    assert_eq!(seen.len(), 3, "each region its own data center: {seen:?}");
    let m = validated(&unbound, "static.example.com", A, None, 20);
    assert_eq!(data(&m, A), ["192.0.2.100"], "{m:?}");
    let m = validated(&unbound, "api.example.com", A, None, 21);
    assert_eq!(data(&m, CNAME), ["www.example.com"], "{m:?}");
    let m = validated(&unbound, "x.apps.example.com", A, None, 22);
    assert_eq!(data(&m, A), ["203.0.113.80"], "{m:?}");
    let m = validated(&unbound, "static.example.com", 16, None, 23);
    assert!(m.answers.is_empty(), "NODATA: {m:?}");
    let m = validated(&unbound, "nothere.example.com", A, None, 24);
    assert!(m.answers.is_empty(), "compact denial: {m:?}");

    let (status, body) = http(api, "GET", "/status", None, None);
    assert_eq!(status, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let zone = status["zones"].as_array().unwrap().iter().find(|z| z["zone"] == "example.com.").unwrap().clone();
    let keys = zone["dnssec"]["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1, "{zone}");
    assert_eq!(
        (keys[0]["key"].as_str(), keys[0]["role"].as_str(), keys[0]["state"].as_str()),
        (Some(key.trim()), Some("CSK"), Some("active")),
        "{zone}"
    );
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    let count = |result: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("meridian_dnssec_signatures_total{{result=\"{result}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {result} count: {metrics}"))
    };
    // Each answer is signed once; the fast path keeps what it prepared, so found ones may be few.
    assert!(count("made") >= 5.0 && count("hit") >= 0.0, "made {} hit {}", count("made"), count("hit"));
    assert!(
        metrics.contains(&format!(
            "meridian_dnssec_key_state{{zone=\"example.com.\",key=\"{}\",role=\"CSK\",state=\"active\"}} 1",
            key.trim()
        )),
        "{metrics}"
    );
}
