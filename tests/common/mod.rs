//! Helpers shared by the integration tests: start a server on 127.0.0.1:0, send raw queries
//! over UDP and TCP, and read responses with hickory-proto (an independent decoder).
#![allow(dead_code)]

pub mod hostile;
pub mod queries;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use meridian::config::Config;
use meridian::daemon::{Daemon, Options};
use meridian::server::Limits;

/// A server running on its own runtime; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub daemon: Option<Daemon>,
    pub runtime: tokio::runtime::Runtime,
}

/// The shipped geo database.
pub fn shipped_geo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb")
}

impl TestServer {
    pub fn start(zones: &Path) -> TestServer {
        TestServer::start_with(zones, Limits::default())
    }

    pub fn start_with(zones: &Path, limits: Limits) -> TestServer {
        TestServer::start_full(zones, &shipped_geo(), limits, None)
    }

    /// Starts a server on `zones` with the geo database at `geo`.
    pub fn start_geo(zones: &Path, geo: &Path) -> TestServer {
        TestServer::start_full(zones, geo, Limits::default(), None)
    }

    pub fn start_full(zones: &Path, geo: &Path, limits: Limits, state_file: Option<std::path::PathBuf>) -> TestServer {
        let config = Config::load(zones, geo).unwrap_or_else(|e| panic!("test zones do not load:\n{e}"));
        let mut options = Options::new(zones.to_path_buf(), geo.to_path_buf(), vec!["127.0.0.1:0".parse().unwrap()]);
        options.state_file = state_file;
        options.limits = limits;
        TestServer::start_options(config, options)
    }

    /// Starts a server with full control over the options (API, watch, query log).
    pub fn start_options(config: Config, options: Options) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let daemon = runtime.block_on(Daemon::start(config, &options)).unwrap();
        TestServer { addr: daemon.addrs()[0], daemon: Some(daemon), runtime }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(d) = self.daemon.take() {
            let _guard = self.runtime.enter();
            d.stop();
        }
    }
}

/// Options of a query built by [`query`].
#[derive(Clone, Copy, Default)]
pub struct Q {
    pub id: u16,
    /// EDNS UDP payload size; `None` for no OPT record.
    pub edns: Option<u16>,
    pub edns_version: u8,
    /// ECS: (family, source prefix, address octets).
    pub ecs: Option<(u16, u8, &'static [u8])>,
    pub opcode: u8,
    pub class: u16,
}

/// Encodes a query for `name` (presentation format, case kept) and `qtype`.
pub fn query(name: &str, qtype: u16, q: Q) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&q.id.to_be_bytes());
    p.extend_from_slice(&(u16::from(q.opcode) << 11).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
    p.extend_from_slice(&(u16::from(q.edns.is_some())).to_be_bytes());
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&(if q.class == 0 { 1 } else { q.class }).to_be_bytes());
    if let Some(size) = q.edns {
        let mut opts = Vec::new();
        if let Some((family, source, addr)) = q.ecs {
            opts.extend_from_slice(&8u16.to_be_bytes());
            opts.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
            opts.extend_from_slice(&family.to_be_bytes());
            opts.extend_from_slice(&[source, 0]);
            opts.extend_from_slice(addr);
        }
        p.push(0);
        p.extend_from_slice(&41u16.to_be_bytes());
        p.extend_from_slice(&size.to_be_bytes());
        p.extend_from_slice(&[0, q.edns_version, 0, 0]);
        p.extend_from_slice(&(opts.len() as u16).to_be_bytes());
        p.extend_from_slice(&opts);
    }
    p
}

/// Sends `packet` over UDP; `None` when no reply comes within `wait`.
pub fn udp_raw(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.send_to(packet, addr).unwrap();
    let mut buf = vec![0u8; 65535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// Sends `packet` over UDP and decodes the reply.
pub fn udp(addr: SocketAddr, packet: &[u8]) -> Message {
    let raw = udp_raw(addr, packet, Duration::from_secs(3)).expect("no UDP reply");
    Message::from_vec(&raw).expect("reply does not parse")
}

/// Sends each packet over one TCP connection (pipelined in one write) and reads as many
/// replies.
pub fn tcp_raw(addr: SocketAddr, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    s.write_all(&out).unwrap();
    packets
        .iter()
        .map(|_| {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut msg).unwrap();
            msg
        })
        .collect()
}

/// One query over TCP, decoded.
pub fn tcp(addr: SocketAddr, packet: &[u8]) -> Message {
    Message::from_vec(&tcp_raw(addr, &[packet.to_vec()])[0]).expect("reply does not parse")
}

/// Records as sorted "name ttl TYPE data" lines, for comparing sections as sets.
pub fn rrs(section: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = section
        .iter()
        .map(|r| format!("{} {} {} {}", r.name.to_ascii().to_lowercase(), r.ttl, r.record_type(), r.data))
        .collect();
    v.sort();
    v
}

pub fn strs(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub fn serve_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/serve")
}

/// Writes a small geo database in both record layouts the server reads:
/// - GeoIP2 City layout: 81.0.0.0/16 Amsterdam (NL, EU, subdivision NH);
///   2a02:a400::/26 the same; 37.0.0.0/12 Sydney (AU, OC).
/// - flat DB-IP layout with coordinates as strings: 8.8.8.0/24 (US, "37.75", "-97.82");
/// - flat, country only: 1.0.16.0/24 (SG), 2001:200::/32 (JP), 200.0.0.0/8 (BR).
pub fn write_test_geo(path: &Path) {
    use mmdb_writer::{Value, Writer};
    let s = |v: &str| Value::String(v.to_string());
    let mut w =
        Writer::builder("Meridian-Test-City").description(&[("en", "Meridian integration-test database")]).build();
    let amsterdam = Value::map([
        ("continent", Value::map([("code", s("EU"))])),
        ("country", Value::map([("iso_code", s("NL"))])),
        ("location", Value::map([("latitude", Value::Double(52.37)), ("longitude", Value::Double(4.89))])),
        ("subdivisions", Value::array([Value::map([("iso_code", s("NH"))])])),
    ]);
    w.insert_value("81.0.0.0/16".parse::<ipnet::IpNet>().unwrap(), amsterdam.clone()).unwrap();
    w.insert_value("2a02:a400::/26".parse::<ipnet::IpNet>().unwrap(), amsterdam).unwrap();
    let sydney = Value::map([
        ("continent", Value::map([("code", s("OC"))])),
        ("country", Value::map([("iso_code", s("AU"))])),
        ("location", Value::map([("latitude", Value::Float(-33.87)), ("longitude", Value::Float(151.21))])),
    ]);
    w.insert_value("37.0.0.0/12".parse::<ipnet::IpNet>().unwrap(), sydney).unwrap();
    let us = Value::map([("country_code", s("US")), ("latitude", s("37.75")), ("longitude", s("-97.82"))]);
    w.insert_value("8.8.8.0/24".parse::<ipnet::IpNet>().unwrap(), us).unwrap();
    for (net, cc) in [("1.0.16.0/24", "SG"), ("2001:200::/32", "JP"), ("200.0.0.0/8", "BR")] {
        w.insert_value(net.parse::<ipnet::IpNet>().unwrap(), Value::map([("country_code", s(cc))])).unwrap();
    }
    std::fs::write(path, w.to_bytes().unwrap()).unwrap();
}

/// A fake TCP backend on 127.0.0.1 that accepts and closes connections; `stop` closes the
/// port (connections refused), `start` opens it again on the same port.
pub struct TcpBackend {
    pub addr: SocketAddr,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TcpBackend {
    pub fn new() -> TcpBackend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut b = TcpBackend { addr, stop: None, thread: None };
        b.serve(listener);
        b
    }

    fn serve(&mut self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        self.stop = Some(tx);
        self.thread = Some(std::thread::spawn(move || {
            loop {
                if rx.try_recv().is_ok() {
                    return;
                }
                match listener.accept() {
                    Ok((s, _)) => drop(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn start(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => return self.serve(l),
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot reopen {}: {e}", self.addr),
            }
        }
    }
}

impl Drop for TcpBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 20 ms until it returns true or `limit` passes; returns the time taken.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A fake HTTP backend on 127.0.0.1:0 answering `200 OK` to every request, until dropped.
pub struct HttpBackend {
    pub addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpBackend {
    pub fn new() -> HttpBackend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpBackend { addr, stop }
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A copy of the shipped `zones/` whose members are probed on live fake HTTP backends
/// (the shipped example probes fixed loopback ports, which tests must not bind).
pub struct LiveExample {
    pub dir: tempfile::TempDir,
    pub backends: Vec<HttpBackend>,
}

impl LiveExample {
    pub fn new() -> LiveExample {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        let dir = tempfile::tempdir().unwrap();
        let mut backends = Vec::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let mut text = std::fs::read_to_string(&path).unwrap();
            while let Some(at) = text.find("\"127.0.0.1:80") {
                let end = at + 1 + text[at + 1..].find('"').unwrap();
                let b = HttpBackend::new();
                text.replace_range(at + 1..end, &b.addr.to_string());
                backends.push(b);
            }
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
        assert_eq!(backends.len(), 6, "the shipped example probes six members");
        LiveExample { dir, backends }
    }
}

/// A minimal HTTP/1.1 client for the API tests: one request per connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A copy of `tests/data/gslb` (zone, definitions, network file) in a temporary directory that
/// tests may edit, with a generated geo database beside it.
pub struct GslbCopy {
    pub dir: tempfile::TempDir,
    pub zones: std::path::PathBuf,
    pub geo: std::path::PathBuf,
}

pub fn copy_gslb_zones() -> GslbCopy {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(zones.join("networks")).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb");
    for f in ["gslb.test.zone", "gslb.test.toml", "networks/office.toml"] {
        std::fs::copy(src.join(f), zones.join(f)).unwrap();
    }
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    GslbCopy { dir, zones, geo }
}

/// The shipped example's zones in a temporary directory, with `edits` (text to find, text to
/// put after it) applied to example.com.toml, and its members unchecked (always up: the
/// example's probe addresses have nothing behind them here) unless `checked`.
pub fn shipped_example(checked: bool, edits: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    std::fs::copy(root.join("example.com.zone"), zones.join("example.com.zone")).unwrap();
    let mut toml = std::fs::read_to_string(root.join("example.com.toml")).unwrap();
    if !checked {
        let check = toml.lines().find(|l| l.starts_with("check = ")).unwrap().to_string();
        toml = toml.replace(&check, "check = { type = \"none\" }");
    }
    for (find, add) in edits {
        assert!(toml.contains(find), "{find}");
        toml = toml.replacen(find, &format!("{find}{add}"), 1);
    }
    std::fs::write(zones.join("example.com.toml"), toml).unwrap();
    (dir, zones)
}

/// A running `meridian serve` and the lines it logs.
pub struct Serve {
    pub child: std::process::Child,
    pub port: u16,
    pub lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
    /// The directory of the state file given when the test named none.
    pub state_dir: Option<tempfile::TempDir>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `meridian serve` on the GSLB test zones with `args` and waits for its start-up
    /// line.
    pub fn start(zones: &Path, args: &[&str]) -> Serve {
        Serve::start_env(zones, args, &[])
    }

    /// As [`Serve::start`], with environment variables set.
    /// Without `--state` in `args`, the server keeps its state in a directory of its own (the
    /// default, `meridian-state.json` in the working directory, would be shared by every
    /// test: one test's overrides would leak into the next).
    pub fn start_env(zones: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Serve {
        let state_dir = (!args.contains(&"--state")).then(|| tempfile::tempdir().unwrap());
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--no-watch", "--zones"]).arg(zones).args(args);
        if let Some(dir) = &state_dir {
            command.arg("--state").arg(dir.path().join("state.json"));
        }
        let mut serve = Serve::spawn(command.envs(env.iter().copied()));
        serve.state_dir = state_dir;
        serve
    }

    /// Runs `command` (a `meridian` that serves on 127.0.0.1), reading its standard error, and
    /// waits for its start-up line; killed when dropped.
    pub fn spawn(command: &mut std::process::Command) -> Serve {
        let mut child = command
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("meridian starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else { continue };
            seen.push(line.clone());
            // A server's start-up line names its DNS address; a checker's only its API's.
            let marker = if line.contains("serving no DNS") { "API on http://127.0.0.1:" } else { "on 127.0.0.1:" };
            if let Some(rest) = line.split(marker).nth(1) {
                let port = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                return Serve { child, port, lines, seen, state_dir: None };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("meridian did not start: {seen:#?}");
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn signal(&self, name: &str) {
        assert!(
            std::process::Command::new("kill")
                .args([&format!("-{name}"), &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }
}

/// Asks `dig` on 127.0.0.1:`port` (one try of 2 s), failing the test when dig fails; its
/// standard output.
pub fn dig(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is not installed: `apt-get install -y dnsutils` (.ci/run does this)");
    assert!(out.status.success(), "dig {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `meridian` with `args` to the end, as a user at a shell would: (exit code, standard
/// output, standard error).
pub fn meridian<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every zone directory of the test corpus that loads as a configuration.
pub fn corpus() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["zones", "tests/data/serve", "tests/data/gslb", "tests/data/resolver", "tests/data/zones/valid"]
        .iter()
        .map(|d| root.join(d))
        .collect()
}

/// Health states to answer under: all up; the first data center of every pool down; every
/// member down (the fallbacks); one member drained. (A health view of another configuration
/// cannot be made: a snapshot is built from the configuration it is paired with.)
pub fn health_states(config: &std::sync::Arc<Config>) -> Vec<(&'static str, meridian::health::Snapshot)> {
    use meridian::health::Snapshot;
    use meridian::policy::View;
    let pools = &config.gslb.pools;
    let first_dc_down = |p: usize, m: usize| {
        let pool = &pools[p];
        if Some(&pool.members[m].dc) == pool.default_order.first() { View::Down } else { View::Up }
    };
    vec![
        ("all up", Snapshot::all_up(config.clone())),
        ("first data center down", Snapshot::new(config.clone(), first_dc_down, |_, _| None)),
        ("everything down", Snapshot::new(config.clone(), |_, _| View::Down, |_, _| None)),
        (
            "one drained",
            Snapshot::new(config.clone(), |_, m| if m == 0 { View::Drained } else { View::Up }, |_, _| None),
        ),
    ]
}

/// A small deterministic generator (xorshift), so that a failure can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Starts a server `program` in the foreground with `flags` and `-c CONF` (NSD, Unbound and
/// Knot all take their configuration file so), its output discarded; the caller stops it by
/// its PID.
pub fn spawn_server(program: &str, flags: &[&str], conf: &Path) -> std::process::Child {
    std::process::Command::new(program)
        .args(flags)
        .arg("-c")
        .arg(conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} starts: {e}"))
}

/// A port on 127.0.0.1 free for both UDP and TCP now, for a DNS server a test starts (NSD,
/// Knot, Meridian with a fixed port). Taken below the kernel's ephemeral range (32768 and up),
/// so that no client connection of a test running beside it can take it before the server binds.
pub fn free_dns_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    for _ in 0..2000 {
        let port = 10_000 + (seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed) * 97) % 22_000) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port for UDP and TCP below 32768");
}
