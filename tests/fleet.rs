//! Three Meridians and a three-member etcd on loopback, as a fleet: an override set through
//! one instance applies on all (timed over many trials), survives the loss of the etcd
//! leader and of all of etcd without a lost answer, and an instance restarted from its state
//! file reconciles with the fleet's copy. Skipped, with the reason, where etcd is not
//! installed (`./scripts/test.sh` installs Debian's etcd-server).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ETCD: &str = "/usr/bin/etcd";

/// A free TCP port on 127.0.0.1, probed now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An etcd cluster of local processes, stopped by PID when dropped.
struct Etcd {
    dir: tempfile::TempDir,
    members: Vec<Option<Child>>,
    clients: Vec<u16>,
    peers: Vec<u16>,
    /// Served over TLS with client certificates (the files are in `dir`).
    secure: bool,
}

impl Etcd {
    fn start(n: usize) -> Etcd {
        Etcd::start_as(n, false)
    }

    /// One member serving https only to clients with a certificate of a CA made here:
    /// `ca.pem`, `server.pem`/`server.key`, `client.pem`/`client.key` in `dir`.
    fn start_secure() -> Etcd {
        Etcd::start_as(1, true)
    }

    fn start_as(n: usize, secure: bool) -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        if secure {
            make_certificates(dir.path());
        }
        let clients: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let peers: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut etcd = Etcd { dir, members: (0..n).map(|_| None).collect(), clients, peers, secure };
        for i in 0..n {
            etcd.start_member(i);
        }
        for i in 0..n {
            assert!(
                wait_until(Duration::from_secs(30), || etcd.healthy(i)).is_some(),
                "etcd member {i} did not become healthy"
            );
        }
        etcd
    }

    fn start_member(&mut self, i: usize) {
        let cluster: Vec<String> =
            self.peers.iter().enumerate().map(|(j, p)| format!("m{j}=http://127.0.0.1:{p}")).collect();
        let mut command = Command::new(ETCD);
        if self.secure {
            let file = |name: &str| self.dir.path().join(name);
            command.arg("--cert-file").arg(file("server.pem")).arg("--key-file").arg(file("server.key"));
            command.arg("--trusted-ca-file").arg(file("ca.pem")).arg("--client-cert-auth");
            // Tokens that expire quickly, so the test sees the client authenticate again.
            command.args(["--auth-token", "simple", "--auth-token-ttl", "2"]);
        }
        let child = command
            .args(["--name", &format!("m{i}")])
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("m{i}")))
            .args(["--listen-client-urls", &self.endpoint(i)])
            .args(["--advertise-client-urls", &self.endpoint(i)])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{}", self.peers[i])])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{}", self.peers[i])])
            .args(["--initial-cluster", &cluster.join(",")])
            .args(["--initial-cluster-state", "new", "--initial-cluster-token", "meridian-test"])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts");
        self.members[i] = Some(child);
    }

    fn endpoint(&self, i: usize) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.clients[i])
    }

    /// Runs etcdctl against member 0 (with the client certificate when secure); its output.
    fn ctl(&self, args: &[&str]) -> String {
        let mut command = Command::new("etcdctl");
        command.env("ETCDCTL_API", "3").args(["--endpoints", &self.endpoint(0)]);
        if self.secure {
            let file = |name: &str| self.dir.path().join(name);
            command.arg("--cacert").arg(file("ca.pem"));
            command.arg("--cert").arg(file("client.pem")).arg("--key").arg(file("client.key"));
        }
        let out = command.args(args).output().expect("etcdctl runs");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.clients[i]))
    }

    fn healthy(&self, i: usize) -> bool {
        if self.secure {
            return self.ctl(&["endpoint", "health"]).contains("is healthy");
        }
        std::net::TcpStream::connect(self.addr(i)).is_ok()
            && http(self.addr(i), "GET", "/health", None, None).1.contains("\"true\"")
    }

    /// The index of the member that leads now.
    fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| {
            self.members[i].is_some() && {
                let (_, body) = http(self.addr(i), "POST", "/v3/maintenance/status", None, Some("{}"));
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                v["leader"].is_string() && v["leader"] == v["header"]["member_id"]
            }
        })
    }

    fn stop_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.stop_member(i);
        }
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by that CA,
/// written into `dir`. The client certificate has no common name: etcd's JSON gateway refuses
/// one that has (it would be taken for a user name the gateway cannot pass on).
fn make_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "meridian test CA");
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    // etcd's gateway reaches its own gRPC service with the server certificate, which must
    // therefore be good for client authentication too.
    for (name, san, usage) in [
        ("server", "127.0.0.1", vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]),
        ("client", "client.test", vec![ExtendedKeyUsagePurpose::ClientAuth]),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
        params.extended_key_usages = usage;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if name == "server" {
            params.distinguished_name.push(DnType::CommonName, name);
        }
        std::fs::write(dir.join(format!("{name}.pem")), params.signed_by(&key, &issuer).unwrap().pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

fn have_etcd() -> bool {
    if Path::new(ETCD).exists() {
        return true;
    }
    eprintln!("skipped: no {ETCD} (apt-get install etcd-server; ./scripts/test.sh does)");
    false
}

/// The API address an instance logged.
fn api_of(s: &Serve) -> SocketAddr {
    let port = s.seen.iter().find_map(|l| l.split("API on http://127.0.0.1:").nth(1)).expect("an API");
    let port: u16 = port.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An instance of the fleet named `name`, on the GSLB test zones, with its own state file.
fn instance(c: &GslbCopy, etcd: &Etcd, name: &str) -> Serve {
    let geo = c.geo.to_string_lossy().into_owned();
    let state = c.dir.path().join(format!("{name}.state.json")).to_string_lossy().into_owned();
    let mut args = vec!["--geo".to_string(), geo, "--state".into(), state, "--api".into(), "127.0.0.1:0".into()];
    args.extend(["--cluster-name".into(), name.to_string(), "--cluster-prefix".into(), "/test".into()]);
    for i in 0..etcd.members.len() {
        args.extend(["--cluster-endpoint".into(), etcd.endpoint(i)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(&c.zones, &args)
}

/// The first address `www.gslb.test` answers from 127.0.0.1 (no ECS: the pool's default order,
/// iad first); `None` for no answer.
fn answer(s: &Serve) -> Option<String> {
    let reply = udp_raw(s.addr(), &query("www.gslb.test", 1, Q::default()), Duration::from_secs(2))?;
    let m = hickory_proto::op::Message::from_vec(&reply).ok()?;
    assert_eq!(m.metadata.response_code, hickory_proto::op::ResponseCode::NoError, "never SERVFAIL because of etcd");
    Some(rrs(&m.answers).first()?.rsplit(' ').next()?.to_string())
}

const IAD: &str = "198.51.100.10";

/// Waits until every instance answers `want` (`Some`) or anything but `not` (`None`); the time.
fn until_all(fleet: &[&Serve], ok: impl Fn(&str) -> bool) -> Option<Duration> {
    wait_until(Duration::from_secs(10), || fleet.iter().all(|s| answer(s).is_some_and(|a| ok(&a))))
}

#[test]
fn a_drain_set_through_one_instance_is_applied_by_every_instance() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start(3);
    let c = copy_gslb_zones();
    let (a, b, cc) = (instance(&c, &etcd, "a"), instance(&c, &etcd, "b"), instance(&c, &etcd, "c"));
    let all = [&a, &b, &cc];
    assert!(until_all(&all, |x| x == IAD).is_some(), "iad answers first before any drain");
    // Each trial drains iad through one instance (in turn) and times until the last instance
    // answers without it, then undrains and waits for iad to come back everywhere.
    let mut times = Vec::new();
    for trial in 0..50 {
        let via = all[trial % 3];
        let started = Instant::now();
        let (code, body) = http(api_of(via), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
        assert_eq!(code, 200, "{body}");
        until_all(&all, |x| x != IAD).unwrap_or_else(|| panic!("trial {trial}: not every instance drained iad"));
        times.push(started.elapsed());
        let (code, body) = http(api_of(all[(trial + 1) % 3]), "DELETE", "/overrides/datacenter/iad", None, None);
        assert_eq!(code, 200, "{body}");
        until_all(&all, |x| x == IAD).unwrap_or_else(|| panic!("trial {trial}: iad did not come back everywhere"));
    }
    times.sort();
    eprintln!(
        "drain through one instance to the last instance answering without it, 50 trials: median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    // Who set it, shown by every instance.
    let (code, _) = http(api_of(&b), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200);
    assert!(until_all(&all, |x| x != IAD).is_some());
    let (_, list) = http(api_of(&cc), "GET", "/overrides", None, None);
    assert!(list.contains("\"set_by\":\"b\""), "{list}");
    // A traffic dial set through one instance is shared the same way (it replaces the drain:
    // one override per data center). At 0 every client network goes on to the next.
    let (code, body) =
        http(api_of(&cc), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "dial", "percent": 0}"#));
    assert_eq!(code, 200, "{body}");
    let (_, list) = http(api_of(&a), "GET", "/overrides", None, None);
    assert!(until_all(&all, |x| x != IAD).is_some());
    assert!(
        wait_until(Duration::from_secs(10), || http(api_of(&a), "GET", "/overrides", None, None)
            .1
            .contains("{\"dial\":0}"))
        .is_some(),
        "{list}"
    );
    let (code, _) = http(api_of(&a), "DELETE", "/overrides/datacenter/iad", None, None);
    assert_eq!(code, 200);
    assert!(until_all(&all, |x| x == IAD).is_some(), "the dial removed everywhere");
    // A data center dialed in one pool only travels the same way, and is removed through
    // another instance.
    let (code, body) = http(
        api_of(&b),
        "POST",
        "/overrides/pool/www/datacenter/iad",
        None,
        Some(r#"{"action": "dial", "percent": 0}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert!(until_all(&all, |x| x != IAD).is_some(), "www's dial applied everywhere");
    let (_, list) = http(api_of(&cc), "GET", "/overrides", None, None);
    assert!(list.contains(r#""target":{"datacenter":"iad","kind":"pool-datacenter","pool":"www"}"#), "{list}");
    let (code, _) = http(api_of(&cc), "DELETE", "/overrides/pool/www/datacenter/iad", None, None);
    assert_eq!(code, 200);
    assert!(until_all(&all, |x| x == IAD).is_some(), "www's dial removed everywhere");
}

#[test]
fn the_fleet_keeps_answering_through_the_loss_of_the_etcd_leader_and_of_all_of_etcd() {
    if !have_etcd() {
        return;
    }
    let mut etcd = Etcd::start(3);
    let c = copy_gslb_zones();
    let (a, b, cc) = (instance(&c, &etcd, "a"), instance(&c, &etcd, "b"), instance(&c, &etcd, "c"));
    let all = [&a, &b, &cc];
    let (code, _) = http(api_of(&a), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200);
    assert!(until_all(&all, |x| x != IAD).is_some());
    // Continuous queries (bounded) while the leader goes: every one answered, none with iad.
    // Meanwhile an operator keeps trying a new override through c: the time until etcd takes
    // it again is the write outage (the two left elect a leader).
    let leader = etcd.leader().expect("a leader");
    etcd.stop_member(leader);
    let killed = Instant::now();
    let api_c = api_of(&cc);
    let writer = std::thread::spawn(move || {
        wait_until(Duration::from_secs(15), || {
            http(api_c, "POST", "/overrides/member/www/ams-1", None, Some(r#"{"action": "force-down"}"#)).0 == 200
        })
        .map(|_| killed.elapsed())
    });
    let mut asked = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        for s in all {
            assert_ne!(answer(s).expect("an answer while the etcd leader is gone"), IAD);
            asked += 1;
        }
    }
    assert!(asked > 30);
    let taken = writer.join().unwrap().expect("an override is set once etcd has a leader again");
    eprintln!(
        "etcd leader killed: {asked} queries answered meanwhile, none lost; overrides taken again after {taken:?}"
    );
    let (_, status) = http(api_of(&a), "GET", "/overrides", None, None);
    assert!(
        wait_until(Duration::from_secs(5), || http(api_of(&a), "GET", "/overrides", None, None).1.contains("ams-1"))
            .is_some(),
        "{status}"
    );

    // Now all of etcd: answers go on with the overrides known, new ones are refused (503)
    // rather than applied on one instance alone, and /status says why.
    for i in 0..3 {
        etcd.stop_member(i);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        for s in all {
            assert_ne!(answer(s).expect("an answer while etcd is down"), IAD);
        }
    }
    let (code, body) = http(api_of(&b), "POST", "/overrides/datacenter/sin", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("fleet store"), "{body}");
    let status = |s: &Serve| {
        serde_json::from_str::<serde_json::Value>(&http(api_of(s), "GET", "/status", None, None).1).unwrap()["fleet"]
            .clone()
    };
    assert!(wait_until(Duration::from_secs(5), || status(&b)["store_connected"] == false).is_some(), "{}", status(&b));
    // etcd comes back (same members, same data): the instances reconnect and a change made
    // through one is applied by all again.
    for i in 0..3 {
        etcd.start_member(i);
    }
    assert!(wait_until(Duration::from_secs(30), || all.iter().all(|s| status(s)["store_connected"] == true)).is_some());
    let (code, body) = http(api_of(&b), "DELETE", "/overrides/datacenter/iad", None, None);
    assert_eq!(code, 200, "{body}");
    assert!(until_all(&all, |x| x == IAD).is_some(), "the undrain reaches every instance after the outage");
}

#[test]
fn an_instance_restarted_from_its_state_file_reconciles_with_the_fleet() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start(1);
    let c = copy_gslb_zones();
    let a = instance(&c, &etcd, "a");
    let b = instance(&c, &etcd, "b");
    let (code, _) = http(api_of(&a), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200);
    assert!(until_all(&[&a, &b], |x| x != IAD).is_some());
    // a goes away holding the drain in its state file; the fleet clears it meanwhile.
    drop(a);
    let (code, _) = http(api_of(&b), "DELETE", "/overrides/datacenter/iad", None, None);
    assert_eq!(code, 200);
    let a = instance(&c, &etcd, "a");
    assert!(until_all(&[&a, &b], |x| x == IAD).is_some(), "a follows the fleet's copy, not its stale file");
    let state = std::fs::read_to_string(c.dir.path().join("a.state.json")).unwrap();
    assert!(!state.contains("\"iad\""), "{state}");
}

/// An HTTP health endpoint that answers 503 to the sources in `sick` (all of them while
/// `outage` is set) and 200 to the rest.
struct Backend {
    port: u16,
    outage: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Backend {
    fn start(sick: &'static [[u8; 4]]) -> Backend {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let outage = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let down = outage.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let from = match stream.peer_addr() {
                    Ok(SocketAddr::V4(a)) => a.ip().octets(),
                    _ => [0; 4],
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let bad = down.load(std::sync::atomic::Ordering::Relaxed) || sick.contains(&from);
                let status = if bad { "503 Service Unavailable" } else { "200 OK" };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").as_bytes(),
                );
            }
        });
        Backend { port, outage }
    }
}

/// Zones for the health tests: `majority`, `any` and `all` pools over the same two members,
/// ams-1 checked on the backend and first in the order, iad-1 never checked.
fn health_zones(backend: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.test.zone"),
        "$ORIGIN fleet.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\n",
    )
    .unwrap();
    let mut toml =
        String::from("[datacenters.ams]\nlat = 52.37\nlon = 4.90\n[datacenters.iad]\nlat = 38.95\nlon = -77.45\n");
    for quorum in ["majority", "any", "all"] {
        toml.push_str(&format!(
            "[pools.{quorum}]\nnames = [\"{quorum}\"]\ndefault_order = [\"ams\", \"iad\"]\nhealth_quorum = \"{quorum}\"\n\
             fallback = \"servfail\"\n\
             check = {{ type = \"http\", interval = 0.3, timeout = 0.25, rise = 1, fall = 1 }}\n\
             [pools.{quorum}.members.ams-1]\ndatacenter = \"ams\"\nipv4 = \"192.0.2.10\"\nprobe = \"127.0.0.1:{backend}\"\n\
             [pools.{quorum}.members.iad-1]\ndatacenter = \"iad\"\nipv4 = \"198.51.100.10\"\ncheck = {{ type = \"none\" }}\n"
        ));
    }
    std::fs::write(dir.path().join("fleet.test.toml"), toml).unwrap();
    dir
}

/// `meridian COMMAND` (serve or checker) on the health test `zones` as the fleet instance
/// `name`, probing from `source`, with its own state file and an API.
fn checked(etcd: &Etcd, zones: &Path, command: &str, name: &str, source: &str) -> Serve {
    let state = zones.join(format!("{name}.state"));
    let mut meridian = Command::new(env!("CARGO_BIN_EXE_meridian"));
    meridian.arg(command);
    if command == "serve" {
        meridian.args(["--listen", "127.0.0.1:0"]);
    }
    meridian.arg("--zones").arg(zones).arg("--geo").arg(shipped_geo()).arg("--state").arg(state);
    meridian.args(["--probe-source", source, "--cluster-name", name, "--cluster-endpoint", &etcd.endpoint(0)]);
    Serve::spawn(meridian.args(["--api", "127.0.0.1:0", "--no-watch"]))
}

/// The address `NAME.fleet.test` answers first.
fn first(s: &Serve, name: &str) -> Option<String> {
    let reply = udp_raw(s.addr(), &query(&format!("{name}.fleet.test"), 1, Q::default()), Duration::from_secs(2))?;
    let m = hickory_proto::op::Message::from_vec(&reply).ok()?;
    Some(rrs(&m.answers).first()?.rsplit(' ').next()?.to_string())
}

#[test]
fn one_instances_broken_path_fails_nothing_over_under_majority_and_a_real_outage_fails_over_everywhere() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start(1);
    // The backend refuses only instance a's probes (sent from 127.0.0.2).
    let backend = Backend::start(&[[127, 0, 0, 2]]);
    let zones = health_zones(backend.port);
    let start = |name: &str, source: &str| checked(&etcd, zones.path(), "serve", name, source);
    let (a, b, c) = (start("a", "127.0.0.2"), start("b", "127.0.0.3"), start("c", "127.0.0.4"));
    let all = [&a, &b, &c];
    const AMS: &str = "192.0.2.10";
    const IAD: &str = "198.51.100.10";
    let everywhere = |pool: &str, want: &str| {
        wait_until(Duration::from_secs(10), || all.iter().all(|s| first(s, pool).as_deref() == Some(want)))
    };
    // Every instance shows the others' views: c sees a's ams-1 down and b's up.
    let peers = |s: &Serve| {
        let status: serde_json::Value = serde_json::from_str(&http(api_of(s), "GET", "/status", None, None).1).unwrap();
        status["fleet"]["peers"].clone()
    };
    let seen = wait_until(Duration::from_secs(10), || {
        let p = peers(&c);
        p["a"]["majority/ams-1"] == "down" && p["b"]["majority/ams-1"] == "up"
    });
    assert!(seen.is_some(), "{}", peers(&c));
    // majority: two of three see ams up, so every instance, a included, answers ams.
    assert!(everywhere("majority", AMS).is_some(), "majority keeps ams everywhere");
    // all: one view down is enough to fail over, everywhere alike.
    assert!(everywhere("all", IAD).is_some(), "all fails over everywhere");
    // any: one view up keeps it.
    assert!(everywhere("any", AMS).is_some());
    // Stable, not flapping: a second look gives the same.
    std::thread::sleep(Duration::from_millis(700));
    for s in all {
        assert_eq!(first(s, "majority").as_deref(), Some(AMS));
        assert_eq!(first(s, "all").as_deref(), Some(IAD));
    }
    // explain and status show each instance's view and the verdict.
    let url = format!("http://{}", api_of(&c));
    let (code, out, err) = meridian(&["explain", "majority.fleet.test", "--client", "192.0.2.1", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("health: live: the fleet's views"), "{out}");
    assert!(out.contains("  ams-1: up by majority, 2 of 3 views up (a down, b up, c up)"), "{out}");
    assert!(out.contains("  iad-1: up, no view has a result"), "{out}");
    let (_, out, _) = meridian(&["explain", "all.fleet.test", "--client", "192.0.2.1", "--api", &url]);
    assert!(out.contains("  ams-1: down by all, 2 of 3 views up (a down, b up, c up)"), "{out}");
    let (code, out, err) = meridian(&["status", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("    other instances: a down, b up"), "{out}");
    // A real outage, seen by all: every instance fails over within interval x fall + 1 s.
    let started = Instant::now();
    backend.outage.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(everywhere("majority", IAD).is_some());
    let took = started.elapsed();
    eprintln!("real outage: every instance failed over in {took:?} (interval 0.3 s x fall 1 + 1 s allowed)");
    assert!(took < Duration::from_millis(1300), "{took:?}");
    assert!(everywhere("any", IAD).is_some());
    // An instance killed without warning (SIGKILL: nothing is cleaned up) leaves the quorum
    // when its lease expires.
    backend.outage.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(everywhere("majority", AMS).is_some());
    let killed = Instant::now();
    drop(b);
    assert!(peers(&c)["b"].is_object(), "b's views stay while its lease lives");
    let gone = wait_until(Duration::from_secs(meridian::fleet::LEASE_TTL + 5), || peers(&c)["b"].is_null());
    assert!(gone.is_some(), "b's views outlived its lease: {}", peers(&c));
    eprintln!(
        "a killed instance left the quorum after {:?} (lease {} s)",
        killed.elapsed(),
        meridian::fleet::LEASE_TTL
    );
    // a and c remain, a seeing ams down and c up: one of two is not more than half, so under
    // `majority` a tie fails over (documented).
    assert!(wait_until(Duration::from_secs(5), || first(&c, "majority").as_deref() == Some(IAD)).is_some());
}

#[test]
fn the_fleet_view_lists_every_instance_and_flags_drift() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start(1);
    let one = copy_gslb_zones();
    let two = copy_gslb_zones();
    let a = instance(&one, &etcd, "a");
    let b = instance(&one, &etcd, "b");
    let fleet =
        |s: &Serve| serde_json::from_str::<serde_json::Value>(&http(api_of(s), "GET", "/fleet", None, None).1).unwrap();
    // Each instance sees the other once its watch has delivered the other's record.
    let both = wait_until(Duration::from_secs(10), || {
        [&a, &b].iter().all(|s| fleet(s)["instances"].as_array().is_some_and(|i| i.len() == 2))
    });
    assert!(both.is_some(), "{} {}", fleet(&a), fleet(&b));
    let view = fleet(&b);
    assert_eq!(view["drift"], serde_json::json!([]), "{view}");
    assert_eq!(view["instances"][0]["zones"]["gslb.test."], 1);
    // The CLI prints the same, from the API address given.
    let url = format!("http://{}", api_of(&a));
    let (code, out, err) = meridian(&["status", "--fleet", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("fleet store: connected") && out.contains("no drift"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("a ")) && out.lines().any(|l| l.starts_with("b ")), "{out}");
    let digest = view["instances"][0]["config"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64, "a SHA-256: {view}");
    assert_eq!(view["instances"][1]["config"], digest.as_str(), "same definitions, same hash: {view}");
    assert!(out.contains(&digest[..12]), "{out}");
    // A third instance serving another serial of the zone and other definitions (a TTL
    // changed): drift, in /fleet, the CLI and metrics.
    let zone = two.zones.join("gslb.test.zone");
    let text = std::fs::read_to_string(&zone).unwrap().replace("hostmaster 1 3600", "hostmaster 2 3600");
    std::fs::write(&zone, text).unwrap();
    let definitions = two.zones.join("gslb.test.toml");
    let text = std::fs::read_to_string(&definitions).unwrap().replacen("ttl = 30", "ttl = 31", 1);
    std::fs::write(&definitions, text).unwrap();
    let c = instance(&two, &etcd, "c");
    let drifted = wait_until(Duration::from_secs(10), || fleet(&a)["drift"] == serde_json::json!(["config", "zones"]));
    assert!(drifted.is_some(), "{}", fleet(&a));
    let (_, out, _) = meridian(&["status", "--fleet", "--api", &url]);
    assert!(out.contains("DRIFT: the instances differ in config, zones") && out.contains("gslb.test.=2"), "{out}");
    // c sees the same once its own record and the others' have reached it.
    let metrics = || http(api_of(&c), "GET", "/metrics", None, None).1;
    let seen = wait_until(Duration::from_secs(10), || {
        let m = metrics();
        m.contains("meridian_fleet_drift{what=\"zones\"} 1")
            && m.contains("meridian_fleet_drift{what=\"config\"} 1")
            && m.contains("meridian_fleet_drift{what=\"version\"} 0")
            && m.contains("meridian_fleet_instances 3")
    });
    assert!(seen.is_some(), "{}", metrics());
    // Outside a fleet there is no /fleet.
    let lone = Serve::start(
        &one.zones,
        &[
            "--geo",
            one.geo.to_str().unwrap(),
            "--api",
            "127.0.0.1:0",
            "--state",
            one.dir.path().join("lone.json").to_str().unwrap(),
        ],
    );
    assert_eq!(http(api_of(&lone), "GET", "/fleet", None, None).0, 404);
}

/// The `fleet` object of an instance's `/status`.
fn fleet_status(s: &Serve) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&http(api_of(s), "GET", "/status", None, None).1).unwrap()["fleet"]
        .clone()
}

#[test]
fn a_fleet_reaches_an_etcd_that_wants_tls_client_certificates_and_a_password() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start_secure();
    // An etcd as a careful operator runs it: a user for Meridian allowed only its prefix.
    for step in [
        vec!["user", "add", "root:rootpw"],
        vec!["role", "add", "meridian"],
        vec!["role", "grant-permission", "meridian", "--prefix=true", "readwrite", "/test/"],
        vec!["user", "add", "meridian:s3cret"],
        vec!["user", "grant-role", "meridian", "meridian"],
        vec!["auth", "enable"],
    ] {
        let out = etcd.ctl(&step);
        assert!(!out.contains("Error"), "etcdctl {step:?}: {out}");
    }
    let c = copy_gslb_zones();
    for f in ["ca.pem", "client.pem", "client.key"] {
        std::fs::copy(etcd.dir.path().join(f), c.dir.path().join(f)).unwrap();
    }
    std::fs::write(c.dir.path().join("password"), "s3cret\n").unwrap();
    std::fs::write(c.dir.path().join("wrong"), "guess\n").unwrap();
    // Relative file names in the settings file are the file's directory's.
    let settings = c.dir.path().join("meridian.toml");
    std::fs::write(
        &settings,
        format!(
            "allow-root = true\napi = \"127.0.0.1:0\"\ngeo = \"geo.mmdb\"\nstate = \"a.state.json\"\n[cluster]\nendpoints = [\"{}\"]\n\
             name = \"a\"\nprefix = \"/test\"\nca-file = \"ca.pem\"\ncert-file = \"client.pem\"\n\
             key-file = \"client.key\"\nuser = \"meridian\"\npassword-file = \"password\"\n",
            etcd.endpoint(0)
        ),
    )
    .unwrap();
    let config = settings.to_string_lossy().into_owned();
    let a = Serve::start(&c.zones, &["--config", &config]);
    assert!(
        wait_until(Duration::from_secs(10), || fleet_status(&a)["store_connected"] == true).is_some(),
        "{}",
        fleet_status(&a)
    );
    assert!(until_all(&[&a], |x| x == IAD).is_some());
    let (code, body) = http(api_of(&a), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200, "{body}");
    assert!(until_all(&[&a], |x| x != IAD).is_some());
    let keys = etcd.ctl(&["--user", "root:rootpw", "get", "--prefix", "--keys-only", "/test/overrides/"]);
    assert!(keys.contains("datacenter/iad"), "{keys}");
    // The token lives 2 s here: after it has expired the client authenticates again.
    std::thread::sleep(Duration::from_secs(3));
    let (code, body) = http(api_of(&a), "DELETE", "/overrides/datacenter/iad", None, None);
    assert_eq!(code, 200, "{body}");
    assert!(until_all(&[&a], |x| x == IAD).is_some());

    // What an operator sees when something is wrong: the instance serves and says why.
    let path = |f: &str| c.dir.path().join(f).to_string_lossy().into_owned();
    let endpoint = etcd.endpoint(0);
    let start = |extra: &[&str]| {
        let mut args = vec!["--geo", c.geo.to_str().unwrap(), "--api", "127.0.0.1:0", "--cluster-name", "b"];
        args.extend(["--cluster-prefix", "/test", "--cluster-endpoint", &endpoint]);
        args.extend(extra);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Serve::start(&c.zones, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let error_of = |s: &Serve| {
        wait_until(Duration::from_secs(10), || fleet_status(s)["store_error"].is_string());
        assert!(answer(s).is_some(), "an instance that cannot reach etcd still answers");
        fleet_status(s)["store_error"].as_str().unwrap_or_default().to_string()
    };
    let (ca, cert, key, wrong) = (path("ca.pem"), path("client.pem"), path("client.key"), path("wrong"));
    let untrusted = start(&[]);
    assert!(error_of(&untrusted).contains("UnknownIssuer"), "{}", error_of(&untrusted));
    let tls = ["--cluster-ca-file", &ca, "--cluster-cert-file", &cert, "--cluster-key-file", &key];
    let mut bad_password = tls.to_vec();
    bad_password.extend(["--cluster-user", "meridian", "--cluster-password-file", &wrong]);
    let refused = start(&bad_password);
    assert!(error_of(&refused).contains("authentication failed"), "{}", error_of(&refused));
    let (code, body) =
        http(api_of(&refused), "POST", "/overrides/datacenter/iad", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 503, "{body}");
    // A file that is not there stops the start (exit 1, as any failed start) naming key and file.
    let (code, _, err) = meridian(&["serve", "--config", &config, "--cluster-ca-file", "/nonexistent/ca.pem"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cluster.ca-file: /nonexistent/ca.pem: cannot read"), "{err}");
}

#[test]
fn a_checker_adds_a_view_to_the_quorum_and_serves_no_dns() {
    if !have_etcd() {
        return;
    }
    let etcd = Etcd::start(1);
    // The backend refuses a's probes (from 127.0.0.2) and takes b's and the checker's.
    let backend = Backend::start(&[[127, 0, 0, 2]]);
    let zones = health_zones(backend.port);
    let server = |name: &str, source: &str| checked(&etcd, zones.path(), "serve", name, source);
    let (a, b) = (server("a", "127.0.0.2"), server("b", "127.0.0.3"));
    const AMS: &str = "192.0.2.10";
    const IAD: &str = "198.51.100.10";
    let both = |want: &str| {
        wait_until(Duration::from_secs(10), || [&a, &b].iter().all(|s| first(s, "majority").as_deref() == Some(want)))
    };
    // Two views, one up and one down: a tie is not a majority, so both fail ams over.
    assert!(both(IAD).is_some(), "a tie fails over");
    // A checker that sees ams up makes it two of three.
    let checker = checked(&etcd, zones.path(), "checker", "c", "127.0.0.4");
    assert!(
        checker.seen.iter().any(|l| l.contains("checker: checking 3 member(s)") && l.contains("serving no DNS")),
        "{:?}",
        checker.seen
    );
    assert!(both(AMS).is_some(), "the checker's view tips the majority");
    // The fleet lists it as a checker; it has no DNS listener (its log named only the API).
    let fleet: serde_json::Value = serde_json::from_str(&http(api_of(&a), "GET", "/fleet", None, None).1).unwrap();
    let c = fleet["instances"].as_array().unwrap().iter().find(|i| i["name"] == "c").cloned();
    assert_eq!(c.as_ref().map(|c| c["role"].clone()), Some(serde_json::json!("checker")), "{fleet}");
    let url = format!("http://{}", api_of(&a));
    let (_, out, _) = meridian(&["status", "--fleet", "--api", &url]);
    assert!(out.lines().any(|l| l.starts_with("c (checker)")), "{out}");
    assert!(checker.seen.iter().all(|l| !l.contains("(udp+tcp)")), "{:?}", checker.seen);
    // The checker goes: back to a tie once its lease is gone.
    drop(checker);
    assert!(
        wait_until(Duration::from_secs(20), || [&a, &b].iter().all(|s| first(s, "majority").as_deref() == Some(IAD)))
            .is_some(),
        "without the checker's view the tie fails over again"
    );
    // A checker outside a fleet has nothing to do: refused with the reason.
    let geo = shipped_geo();
    let (code, _, err) =
        meridian(&["checker", "--zones", zones.path().to_str().unwrap(), "--geo", geo.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("checker: needs [cluster] endpoints"), "{err}");
}
