//! `serve --xdp` on a veth pair between two network namespaces made by the test: the server in
//! one, the client in the other, as a resolver on another host would be. A second Meridian on
//! the same zones listens without XDP on another address of the same interface, so every
//! question can be sent from the same client socket to both: the replies over XDP must be the
//! octets the sockets send (the fast-path corpus, the hostile packet table, dig's GSLB answers
//! by ECS). ARP, ICMP, TCP, IPv4 with options and fragments go on through the kernel.
//!
//! Needs root (namespaces, veth, AF_XDP, the XDP program); skipped with the reason printed
//! where the machine cannot.
#![cfg(target_os = "linux")]

mod common;

use std::io::BufRead;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::queries::{Cookie, Shape, TYPES, V4_CLIENTS, build_query, names, shapes};
use common::{Rng, http};

/// Why XDP cannot be tested here, if it cannot.
fn cannot() -> Option<String> {
    if !meridian::privileges::is_root() {
        return Some("needs root (network namespaces, a veth pair, AF_XDP)".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("no `ip` command (iproute2)".into());
    }
    // SAFETY: a plain socket call; the descriptor is closed at once.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Some(format!("no AF_XDP sockets here: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd) };
    None
}

/// Says why a test does not run, on the test process's standard error itself: the test
/// harness keeps what `println!` and `eprintln!` print of a passing test to itself.
fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "tests/xdp.rs: skipping: {why}");
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Two namespaces joined by a veth pair: `a` (the servers) has 10.77.N.1 and .3, fd77:N::1 and
/// ::3; `b` (the client) 10.77.N.2 and fd77:N::2. Removed when dropped (with the servers,
/// which are dropped first).
struct Net {
    servers: Vec<Server>,
    ns_a: String,
    ns_b: String,
    if_a: String,
    n: u8,
}

impl Drop for Net {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
    }
}

impl Net {
    fn new(n: u8) -> Result<Net, String> {
        let tag = format!("{}{n}", std::process::id());
        let (ns_a, ns_b) = (format!("mxt{tag}a"), format!("mxt{tag}b"));
        let (if_a, if_b) = (format!("mxt{tag}a"), format!("mxt{tag}b"));
        ip(&["netns", "add", &ns_a])?;
        let net = Net { servers: Vec::new(), ns_a: ns_a.clone(), ns_b: ns_b.clone(), if_a: if_a.clone(), n };
        ip(&["netns", "add", &ns_b])?;
        ip(&["link", "add", &if_a, "type", "veth", "peer", "name", &if_b])?;
        ip(&["link", "set", &if_a, "netns", &ns_a])?;
        ip(&["link", "set", &if_b, "netns", &ns_b])?;
        for (ns, ifname, hosts) in [(&ns_a, &if_a, &[1, 3][..]), (&ns_b, &if_b, &[2][..])] {
            for h in hosts {
                ip(&["-n", ns, "addr", "add", &format!("10.77.{n}.{h}/24"), "dev", ifname])?;
                ip(&["-n", ns, "addr", "add", &format!("fd77:{n}::{h}/64"), "dev", ifname, "nodad"])?;
            }
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // Ping sockets (ICMP without a raw socket) for root, as in the host's namespace.
            ip(&["netns", "exec", ns, "sh", "-c", "echo 0 0 > /proc/sys/net/ipv4/ping_group_range"])?;
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
        }
        Ok(net)
    }

    fn addr(&self, host: u8, v6: bool) -> SocketAddr {
        let ip: IpAddr = if v6 {
            format!("fd77:{}::{host}", self.n).parse().unwrap()
        } else {
            format!("10.77.{}.{host}", self.n).parse().unwrap()
        };
        SocketAddr::new(ip, 53)
    }

    /// Runs `f` on a thread inside namespace `ns`: the sockets it makes belong to that
    /// namespace, wherever they are used afterwards.
    fn within<T: Send>(&self, ns: &str, f: impl FnOnce() -> T + Send) -> T {
        let file = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on this thread alone, with a namespace file we hold open.
                assert_eq!(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {ns}");
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// A UDP socket of the client namespace.
    fn client(&self, v6: bool) -> UdpSocket {
        let bind = if v6 { format!("[fd77:{}::2]:0", self.n) } else { format!("10.77.{}.2:0", self.n) };
        let s = self.within(&self.ns_b, || UdpSocket::bind(bind).unwrap());
        s.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
        s
    }

    /// Starts `meridian serve` in the server namespace on `zones`, listening on the addresses
    /// of `host` (and the API on the namespace's loopback), with `extra` flags.
    fn serve(&mut self, zones: &Path, host: u8, extra: &[&str]) -> Result<usize, String> {
        let api = 8053 + u16::from(host);
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.ns_a, env!("CARGO_BIN_EXE_meridian"), "serve", "--no-watch", "--allow-root"])
            .args(["--zones"])
            .arg(zones)
            .args(["--geo"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("geo/dbip-country.mmdb"))
            .args(["--listen", &self.addr(host, false).to_string(), "--listen", &self.addr(host, true).to_string()])
            .args(["--api", &format!("127.0.0.1:{api}"), "--nsid", "ns-test", "--server-id", "ns-test"])
            .args(["--cookie-secret-file"])
            .arg(zones.join("../cookie-secret"))
            .args(["--state"])
            .arg(zones.join(format!("../state-{host}.json")))
            .args(extra);
        let server = Server::start(&mut command)?;
        self.servers.push(server);
        Ok(self.servers.len() - 1)
    }

    fn metrics(&self, host: u8) -> String {
        let api: SocketAddr = format!("127.0.0.1:{}", 8053 + u16::from(host)).parse().unwrap();
        self.within(&self.ns_a, || http(api, "GET", "/metrics", None, None).1)
    }
}

/// A `meridian serve` started through `ip netns exec`, killed when dropped.
struct Server {
    child: Child,
    log: Vec<String>,
    _lines: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command` and waits for the start-up line; the log so far in the error.
    fn start(command: &mut Command) -> Result<Server, String> {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let up = line.contains(" serving ");
                    log.push(line);
                    if up {
                        return Ok(Server { child, log, _lines: lines });
                    }
                }
                Err(_) if child.try_wait().ok().flatten().is_some() => break,
                Err(_) => {}
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        while let Ok(line) = lines.try_recv() {
            log.push(line);
        }
        Err(log.join("\n"))
    }
}

/// The test zones (the serve and GSLB test directories together, no health checks, so both
/// servers see every member up) in a temporary directory, with a cookie secret beside them.
fn zones() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("tests/data/serve"), &zones);
    copy_dir(&root.join("tests/data/gslb"), &zones);
    std::fs::write(dir.path().join("cookie-secret"), "000102030405060708090a0b0c0d0e0f\n").unwrap();
    (dir, zones)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            copy_dir(&path, &to.join(path.file_name().unwrap()));
        } else {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Sends `packet` from `socket` to `to` and returns the reply (None after the socket's
/// timeout). Replies to earlier questions still on their way are skipped by ID.
fn ask(socket: &UdpSocket, to: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    socket.send_to(packet, to).unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = socket.recv_from(&mut buf).ok()?;
        if from == to && (n < 2 || packet.len() < 2 || buf[..2] == packet[..2]) {
            return Some(buf[..n].to_vec());
        }
    }
}

/// A metric's value in a Prometheus text exposition (0 when absent).
fn metric(text: &str, name_and_labels: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0)
}

/// The namespaces and veth pair number `n`; None (the reason printed) when the machine cannot
/// make them or run XDP.
fn net(n: u8) -> Option<Net> {
    if let Some(why) = cannot() {
        skip(&why);
        return None;
    }
    Net::new(n).map_err(|e| skip(&format!("cannot make the namespaces and veth pair: {e}"))).ok()
}

/// Starts the XDP server (host 1, generic mode) and the socket server (host 3) on the test
/// zones; None (the reason printed) when the machine cannot.
fn pair(n: u8) -> Option<(Net, tempfile::TempDir)> {
    let mut net = net(n)?;
    let (dir, zones) = zones();
    let if_a = net.if_a.clone();
    let xdp = net.serve(&zones, 1, &["--xdp", &if_a, "--xdp-mode", "generic"]).unwrap_or_else(|log| {
        panic!("meridian --xdp did not start:\n{log}");
    });
    assert!(
        net.servers[xdp].log.iter().any(|l| l.contains(&format!("XDP on {if_a} (generic mode, 1 queue(s))"))),
        "{:#?}",
        net.servers[xdp].log
    );
    net.serve(&zones, 3, &[]).unwrap_or_else(|log| panic!("meridian did not start:\n{log}"));
    Some((net, dir))
}

#[test]
fn xdp_answers_the_fast_path_corpus_as_the_sockets_do() {
    let Some((net, dir)) = pair(1) else { return };
    let config = meridian::config::Config::load(&dir.path().join("zones"), &common::shipped_geo()).unwrap();
    let mut rng = Rng(0x5eed_0021);
    let shapes: Vec<Shape> = shapes().into_iter().filter(|s| s.cookie == Cookie::None).collect();
    let (v4, v6) = (net.client(false), net.client(true));
    let mut compared = 0;
    let mut id = 0u16;
    for qname in names(&config) {
        for _ in 0..4 {
            let qtype = TYPES[rng.next() as usize % TYPES.len()];
            let shape = shapes[rng.next() as usize % shapes.len()];
            let client = IpAddr::from(V4_CLIENTS[rng.next() as usize % V4_CLIENTS.len()]);
            let v6_path = rng.next().is_multiple_of(3);
            id = id.wrapping_add(1);
            let query = build_query(id, &qname, qtype, shape, client);
            let socket = if v6_path { &v6 } else { &v4 };
            let over_xdp = ask(socket, net.addr(1, v6_path), &query);
            let over_sockets = ask(socket, net.addr(3, v6_path), &query);
            assert_eq!(over_xdp, over_sockets, "query {id} type {qtype} over IPv{}", if v6_path { 6 } else { 4 });
            compared += usize::from(over_xdp.is_some());
        }
    }
    assert!(compared > 300, "only {compared} replies compared");
    let metrics = net.metrics(1);
    let label = format!("{{interface=\"{}\",queue=\"0\"", net.if_a);
    let answered = metric(&metrics, &format!("meridian_xdp_answered_total{label}}}"));
    assert!(answered as usize >= compared, "{answered} answered through XDP, {compared} compared:\n{metrics}");
    assert_eq!(metric(&metrics, &format!("meridian_xdp_dropped_total{label},reason=\"malformed\"}}")), 0);
    // The socket server's interface has no XDP program of its own: its answers came through
    // the kernel, the XDP server's did not.
    assert!(metric(&net.metrics(3), "meridian_udp_datagrams_total") as usize >= compared);
}

#[test]
fn hostile_packets_get_the_same_replies_or_silence_over_xdp() {
    let Some((net, _dir)) = pair(2) else { return };
    let socket = net.client(false);
    socket.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut replies = 0;
    for (what, packet, _) in common::hostile::cases() {
        let over_xdp = ask(&socket, net.addr(1, false), &packet);
        let over_sockets = ask(&socket, net.addr(3, false), &packet);
        assert_eq!(over_xdp, over_sockets, "{what}");
        replies += usize::from(over_xdp.is_some());
    }
    assert!(replies > 20, "{replies} replies");
    // The table's runts and responses were dropped by the query path, not taken for
    // malformed frames: their UDP headers were sound.
    let metrics = net.metrics(1);
    let label = format!("{{interface=\"{}\",queue=\"0\"", net.if_a);
    assert_eq!(metric(&metrics, &format!("meridian_xdp_dropped_total{label},reason=\"malformed\"}}")), 0);
    assert!(metric(&metrics, &format!("meridian_xdp_frames_total{label},verdict=\"redirected\"}}")) > 20);
}

#[test]
fn dig_gets_the_same_gslb_answers_and_the_kernel_keeps_tcp_icmp_and_the_rest() {
    let Some((net, _dir)) = pair(3) else { return };
    let dig = |server: SocketAddr, args: &[&str]| -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &net.ns_b, "dig", &format!("@{}", server.ip()), "+time=2", "+tries=1"])
            .args(args)
            .output()
            .expect("dig (dnsutils) is installed by scripts/test.sh");
        assert!(out.status.success(), "dig {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    // The first question needs ARP: it passes through the program to the kernel.
    for subnet in ["81.0.1.0/24", "8.8.8.0/24", "1.0.16.0/24", "37.1.0.0/16", "2a00:1450::/32"] {
        for name in ["www.gslb.test", "sticky.gslb.test", "noecs.gslb.test"] {
            let subnet = format!("+subnet={subnet}");
            let args = ["+short", &subnet, name, "A"];
            // Each dig has its own ID and port, from which a pool's members are shuffled:
            // the data centers answered are compared (the corpus test compares octets).
            let over_xdp = datacenters(&dig(net.addr(1, false), &args));
            assert!(!over_xdp.is_empty(), "{name} {subnet}: no answer over XDP");
            assert_eq!(over_xdp, datacenters(&dig(net.addr(3, false), &args)), "{name} {subnet}");
            assert_eq!(datacenters(&dig(net.addr(1, true), &args)), over_xdp, "{name} {subnet} over IPv6");
        }
    }
    let server = net.addr(1, false).ip().to_string();
    let neigh = Command::new("ip").args(["-n", &net.ns_b, "neigh", "show", &server]).output().unwrap();
    let neigh = String::from_utf8_lossy(&neigh.stdout);
    assert!(neigh.contains("lladdr"), "the client learned the server's MAC by ARP: {neigh}");
    // TCP to the XDP server's address: the kernel's listener answers.
    let tcp = dig(net.addr(1, false), &["+tcp", "+short", "www.example.test", "A"]);
    assert!(!tcp.trim().is_empty(), "no answer over TCP");
    // ICMP echo (a ping socket of the client namespace) to both families.
    for v6 in [false, true] {
        let to = net.addr(1, v6);
        let answered = net.within(&net.ns_b, || ping(to));
        assert!(answered, "no echo reply from {}", to.ip());
    }
    // IPv4 with options, and fragments: passed to the kernel, answered by the socket there.
    let before = net.metrics(1);
    let label = format!("{{interface=\"{}\",queue=\"0\"", net.if_a);
    let passed = |m: &str| metric(m, &format!("meridian_xdp_frames_total{label},verdict=\"passed\"}}"));
    let redirected = |m: &str| metric(m, &format!("meridian_xdp_frames_total{label},verdict=\"redirected\"}}"));
    let with_options = net.client(false);
    let nops = [1u8, 1, 1, 0]; // NOP, NOP, NOP, end of options
    // SAFETY: IP_OPTIONS on our own socket, with a buffer of its length.
    let set = unsafe {
        libc::setsockopt(
            with_options.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_OPTIONS,
            nops.as_ptr().cast(),
            nops.len() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "IP_OPTIONS: {}", std::io::Error::last_os_error());
    let query = common::query("www.example.test", 1, common::Q { id: 4242, ..common::Q::default() });
    let reply = ask(&with_options, net.addr(1, false), &query).expect("an answer to a query with IP options");
    assert_eq!(reply[..2], query[..2]);
    // A 3000-octet query (EDNS padding) is sent in fragments.
    let mut big =
        common::query("www.example.test", 1, common::Q { id: 4243, edns: Some(1232), ..common::Q::default() });
    let (end, padding) = (big.len(), 3000 - big.len() - 4);
    big[end - 2..].copy_from_slice(&((4 + padding) as u16).to_be_bytes()); // the OPT's RDLENGTH
    big.extend_from_slice(&[0, 12]);
    big.extend_from_slice(&(padding as u16).to_be_bytes());
    big.extend(std::iter::repeat_n(0u8, padding));
    let plain = net.client(false);
    let reply = ask(&plain, net.addr(1, false), &big).expect("an answer to a fragmented query");
    assert_eq!(reply[..2], big[..2]);
    assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
    let after = net.metrics(1);
    assert!(passed(&after) >= passed(&before) + 3, "options and fragments passed:\n{after}");
    assert_eq!(redirected(&after), redirected(&before), "neither went through XDP");
}

/// The data centers of `tests/data/gslb` that dig's short answer names, by address.
fn datacenters(short: &str) -> std::collections::BTreeSet<&'static str> {
    short
        .lines()
        .map(|a| match a {
            _ if a.starts_with("192.0.2.") => "ams",
            _ if a.starts_with("198.51.100.") => "iad",
            _ if a.starts_with("203.0.113.") => "sin",
            _ => panic!("an address of no data center: {a}"),
        })
        .collect()
}

/// Sends an ICMP echo request to `to` from a ping socket and waits for the reply.
fn ping(to: SocketAddr) -> bool {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, protocol, request) =
        if to.is_ipv4() { (Domain::IPV4, Protocol::ICMPV4, 8u8) } else { (Domain::IPV6, Protocol::ICMPV6, 128u8) };
    let socket = Socket::new(domain, Type::DGRAM, Some(protocol)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let echo = [request, 0, 0, 0, 0, 0, 0, 1, b'm', b'x'];
    socket.send_to(&echo, &SocketAddr::new(to.ip(), 0).into()).unwrap();
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 256];
    socket.recv(&mut buf).is_ok_and(|n| n >= 8)
}

/// The XDP program on the server's interface, as `ip link` shows it ("" when none).
fn attached(net: &Net) -> String {
    let out = Command::new("ip").args(["-n", &net.ns_a, "link", "show", &net.if_a]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("prog/xdp")).collect()
}

#[test]
fn a_start_xdp_cannot_make_is_refused_by_name_and_a_crash_leaves_nothing_attached() {
    let Some(mut net) = net(4) else { return };
    let (_dir, zones) = zones();
    let if_a = net.if_a.clone();
    // Refused before anything serves, each with the interface and the reason.
    let refused = |net: &mut Net, host: u8, extra: &[&str]| -> String {
        match net.serve(&zones, host, extra) {
            Ok(i) => panic!("started: {:#?}", net.servers[i].log),
            Err(log) => log,
        }
    };
    let log = refused(&mut net, 1, &["--xdp", "mxt-none0"]);
    assert!(log.contains("--xdp mxt-none0: no such network interface (this system has: "), "{log}");
    let log = refused(&mut net, 9, &["--xdp", &if_a]);
    assert!(
        log.contains(&format!("--xdp {if_a}: none of the listen addresses (10.77.4.9:53, [fd77:4::9]:53) is on this interface (it has: 10.77.4.1")),
        "{log}"
    );
    // Without CAP_BPF and CAP_NET_ADMIN (the bounding set of a child of ip netns exec).
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &net.ns_a, "setpriv", "--bounding-set=-bpf,-net_admin,-sys_admin", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_meridian"))
        .args(["serve", "--no-watch", "--allow-root", "--zones"])
        .arg(&zones)
        .arg("--state")
        .arg(zones.join("../state-setpriv.json"))
        .args(["--listen", &net.addr(1, false).to_string(), "--xdp", &if_a]);
    let log = Server::start(&mut command).err().expect("refused");
    assert!(
        log.contains(&format!("--xdp {if_a}: needs the capabilities CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and CAP_IPC_LOCK (missing: CAP_NET_ADMIN, CAP_BPF)")),
        "{log}"
    );
    assert_eq!(attached(&net), "", "nothing attached by a refused start");
    // One server on the interface; a second is refused; killed without a chance to clean up,
    // the first leaves nothing attached, and the second can start.
    let first = net.serve(&zones, 1, &["--xdp", &if_a, "--xdp-mode", "generic"]).unwrap();
    assert!(attached(&net).contains("name meridian_xdp"), "{}", attached(&net));
    let log = refused(&mut net, 3, &["--xdp", &if_a, "--xdp-mode", "generic"]);
    assert!(
        log.contains(&format!("--xdp {if_a}: receive queue 0 already has an AF_XDP socket: another server")),
        "{log}"
    );
    let pid = net.servers[first].child.id();
    // `ip netns exec` runs meridian in its own process (exec): the PID is meridian's.
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    let _ = net.servers[first].child.wait();
    assert_eq!(attached(&net), "", "the bpf_link went with the process");
    // A program another tool left attached (as Knot 3.2 does when it stops): refused, with the
    // command that removes it.
    let object = Path::new(env!("CARGO_MANIFEST_DIR")).join("xdp/meridian_xdp.o");
    let object = object.to_str().unwrap();
    ip(&["-n", &net.ns_a, "link", "set", "dev", &if_a, "xdpgeneric", "obj", object, "sec", "xdp"]).unwrap();
    let log = refused(&mut net, 3, &["--xdp", &if_a, "--xdp-mode", "generic"]);
    assert!(
        log.contains(&format!("--xdp {if_a}: {if_a} already has an XDP program"))
            && log.contains(&format!("`ip link set dev {if_a} xdp off` removes it")),
        "{log}"
    );
    ip(&["-n", &net.ns_a, "link", "set", "dev", &if_a, "xdpgeneric", "off"]).unwrap();
    let second = net.serve(&zones, 3, &["--xdp", &if_a, "--xdp-mode", "generic"]).unwrap();
    let socket = net.client(false);
    let query = common::query("www.example.test", 1, common::Q { id: 77, ..common::Q::default() });
    assert!(ask(&socket, net.addr(3, false), &query).is_some(), "{:#?}", net.servers[second].log);
}
