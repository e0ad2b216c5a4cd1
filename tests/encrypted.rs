//! DNS over TLS, HTTPS and QUIC: the same answers as UDP byte for byte (padding aside, which
//! only a query that asks gets), real clients (dig, kdig, hickory's DoQ client), the
//! certificate reloaded without a restart and a broken one refused, and the limits.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use common::{Rng, TestServer, dig, shipped_geo};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use meridian::config::Config;
use meridian::daemon::Options;
use meridian::query::{Request, Transport, answer};
use meridian::server::Limits;
use meridian::server::tls::TlsOptions;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A self-signed certificate for `localhost`, written as PEM files `name.crt` and `name.key`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    let (c, k) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k, cert.der().clone())
}

fn client_config(roots: &[CertificateDer<'static>], alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// A server with every encrypted listener, on the shipped example.
struct Encrypted {
    server: TestServer,
    dot: SocketAddr,
    doh: SocketAddr,
    doq: SocketAddr,
    cert: CertificateDer<'static>,
    files: (PathBuf, PathBuf),
    dir: tempfile::TempDir,
}

impl Encrypted {
    fn start(limits: Limits) -> Encrypted {
        Encrypted::start_on(limits, &root().join("zones"))
    }

    fn start_on(limits: Limits, zones: &Path) -> Encrypted {
        Encrypted::start_with(limits, zones, |_| {})
    }

    /// As [`Encrypted::start`], with `tweak` applied to the options last.
    fn start_with(limits: Limits, zones: &Path, tweak: impl FnOnce(&mut Options)) -> Encrypted {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, cert) = certificate(dir.path(), "server");
        let zones = zones.to_path_buf();
        let config = Config::load(&zones, &shipped_geo()).unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut options = Options::new(zones, shipped_geo(), vec![local]);
        // Server cookies depend on the second they are made: off, so that answers over
        // different transports can be compared byte for byte.
        options.cookies = false;
        options.limits = limits;
        options.api = Some(local);
        options.tls = TlsOptions {
            dot: vec![local],
            doh: vec![local],
            doq: vec![local],
            certificate: Some(c.clone()),
            key: Some(k.clone()),
            doh_path: None,
        };
        tweak(&mut options);
        let server = TestServer::start_options(config, options);
        let listeners = server.daemon.as_ref().unwrap().running.shared.listeners.get().unwrap().clone();
        let on = |t: Transport| listeners.iter().find(|(x, _)| *x == t).unwrap().1;
        Encrypted {
            dot: on(Transport::Tls),
            doh: on(Transport::Https),
            doq: on(Transport::Quic),
            server,
            cert,
            files: (c, k),
            dir,
        }
    }

    /// A client configuration trusting the server's certificate, offering `alpn`.
    fn client(&self, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        client_config(std::slice::from_ref(&self.cert), alpn)
    }

    /// What the server answers `query` from `peer` over `transport`, computed in process.
    fn expected(&self, query: &[u8], peer: SocketAddr, transport: Transport) -> Vec<u8> {
        let snapshot = self.server.daemon.as_ref().unwrap().running.shared.snapshot.load_full();
        let mut out = Vec::new();
        answer(&Request::new(&snapshot, query, peer, transport, 0), &mut out).unwrap();
        out
    }

    /// The answer to `query` over UDP from `socket` (so from the same port as an encrypted
    /// client, which the shuffle's seed depends on); the stream answer when UDP's is truncated.
    fn reference(&self, socket: &UdpSocket, query: &[u8]) -> Vec<u8> {
        socket.send_to(query, self.server.addr).unwrap();
        let mut buf = vec![0u8; 65535];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        let udp = buf[..n].to_vec();
        if udp[2] & 0x02 != 0 {
            return self.expected(query, socket.local_addr().unwrap(), Transport::Tcp);
        }
        udp
    }
}

/// Builds a query: `id`, the name, type, and the OPT record's options when `edns`.
fn build(id: u16, name: &str, qtype: u16, edns: Option<&[(u16, &[u8])]>, dnssec_ok: bool) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if let Some(options) = edns {
        let mut rdata = Vec::new();
        for (code, value) in options {
            rdata.extend_from_slice(&code.to_be_bytes());
            rdata.extend_from_slice(&(value.len() as u16).to_be_bytes());
            rdata.extend_from_slice(value);
        }
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
        p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(&rdata);
    }
    p
}

const ECS: u16 = 8;
const NSID: u16 = 3;
const PADDING: u16 = 12;

/// The corpus: the shipped example's names and types, with and without EDNS, ECS from each
/// region, DO and NSID; Message ID 0 (DoQ's rule) for every `id_zero`.
fn corpus(id_zero: bool) -> Vec<Vec<u8>> {
    let names = [
        "example.com",
        "www.example.com",
        "WWW.Example.COM",
        "api.example.com",
        "static.example.com",
        "mail.example.com",
        "ns1.example.com",
        "x.apps.example.com",
        "_sip._udp.example.com",
        "nope.example.com",
        "example.org",
    ];
    let types = [1u16, 28, 2, 6, 15, 16, 33, 255, 257, 5, 99];
    let ecs: [&[u8]; 4] = [
        &[0, 1, 24, 0, 81, 0, 1],
        &[0, 1, 24, 0, 8, 8, 8],
        &[0, 1, 24, 0, 1, 0, 16],
        &[0, 2, 48, 0, 0x2a, 0x00, 0x14, 0x50, 0x40, 0x01],
    ];
    let mut rng = Rng(0xd07_d0e_d0a);
    let mut out = Vec::new();
    for name in names {
        for qtype in types {
            let id = if id_zero { 0 } else { rng.next() as u16 };
            out.push(build(id, name, qtype, None, false));
            out.push(build(id, name, qtype, Some(&[]), false));
            out.push(build(id, name, qtype, Some(&[(NSID, &[])]), true));
            let subnet = ecs[rng.below(ecs.len())];
            out.push(build(id, name, qtype, Some(&[(ECS, subnet)]), false));
        }
    }
    out
}

async fn dot_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> (tokio_rustls::client::TlsStream<tokio::net::TcpStream>, u16) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    (tls, port)
}

async fn stream_query<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    q: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).await?;
    s.flush().await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut msg).await?;
    Ok(msg)
}

type DohSender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

async fn doh_connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> (DohSender, u16) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    (sender, port)
}

/// (status, content type, cache control, body) of one DoH request: POST when `post`, else GET.
async fn doh(sender: &mut DohSender, path: &str, q: &[u8], post: bool) -> (u16, String, String, Vec<u8>) {
    let request = if post {
        hyper::Request::post(format!("https://localhost{path}"))
            .header("content-type", "application/dns-message")
            .body(Full::new(Bytes::from(q.to_vec())))
    } else {
        let dns = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(q);
        hyper::Request::get(format!("https://localhost{path}?dns={dns}")).body(Full::new(Bytes::new()))
    }
    .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (status, media, cache) = (response.status().as_u16(), header("content-type"), header("cache-control"));
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, media, cache, body)
}

fn quic_endpoint(socket: UdpSocket, config: Arc<rustls::ClientConfig>) -> quinn::Endpoint {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(config).unwrap();
    let mut endpoint =
        quinn::Endpoint::new(quinn::EndpointConfig::default(), None, socket, Arc::new(quinn::TokioRuntime)).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    endpoint
}

async fn doq_query(connection: &quinn::Connection, q: &[u8]) -> Result<Vec<u8>, String> {
    let (mut send, mut recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    send.write_all(&framed).await.map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    let data = recv.read_to_end(65537).await.map_err(|e| e.to_string())?;
    assert_eq!(usize::from(u16::from_be_bytes([data[0], data[1]])), data.len() - 2, "one framed message");
    Ok(data[2..].to_vec())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn every_encrypted_transport_answers_byte_for_byte_like_udp() {
    let s = Encrypted::start(Limits::default());
    let rt = runtime();
    let queries = corpus(false);
    let mut compared = 0;
    rt.block_on(async {
        // DoT: one connection, every query.
        let (mut tls, port) = dot_connect(s.dot, s.client(b"dot")).await;
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        for q in &queries {
            let got = stream_query(&mut tls, q).await.unwrap();
            assert_eq!(got, s.reference(&udp, q), "DoT, query {q:02x?}");
            compared += 1;
        }
        // DoH: one HTTP/2 connection, POST and GET.
        let (mut sender, port) = doh_connect(s.doh, s.client(b"h2")).await;
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        for q in &queries {
            let reference = s.reference(&udp, q);
            for post in [true, false] {
                let (status, media, cache, body) = doh(&mut sender, "/dns-query", q, post).await;
                assert_eq!((status, media.as_str()), (200, "application/dns-message"));
                assert_eq!(body, reference, "DoH (POST {post}), query {q:02x?}");
                let age: u32 = cache.strip_prefix("max-age=").unwrap().parse().unwrap();
                let smallest = hickory_proto::op::Message::from_vec(&body)
                    .unwrap()
                    .answers
                    .iter()
                    .map(|r| r.ttl)
                    .min()
                    .unwrap_or(u32::MAX);
                assert!(age <= smallest, "max-age {age} beyond the smallest answer TTL {smallest}");
                compared += 1;
            }
        }
        // DoQ: Message ID 0; the UDP references first, from the socket QUIC then uses.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let queries = corpus(true);
        let references: Vec<Vec<u8>> = queries.iter().map(|q| s.reference(&socket, q)).collect();
        let endpoint = quic_endpoint(socket, s.client(b"doq"));
        let connection = endpoint.connect(s.doq, "localhost").unwrap().await.unwrap();
        for (q, reference) in queries.iter().zip(&references) {
            assert_eq!(&doq_query(&connection, q).await.unwrap(), reference, "DoQ, query {q:02x?}");
            compared += 1;
        }
    });
    assert!(compared > 1500, "{compared} answers compared");
    // Every transport is counted under its own name; the certificate's expiry is a metric.
    let api = s.server.daemon.as_ref().unwrap().api.unwrap();
    let (code, metrics) = common::http(api, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    for t in ["udp", "tls", "https", "quic"] {
        assert!(
            metrics.contains(&format!("meridian_queries_total{{transport=\"{t}\",qtype=\"A\",rcode=\"NOERROR\"}}")),
            "{t}"
        );
    }
    let expiry =
        metrics.lines().find_map(|l| l.strip_prefix("meridian_tls_certificate_expiry_timestamp_seconds ")).unwrap();
    assert!(expiry.parse::<i64>().unwrap() > 1_700_000_000, "{expiry}");
    for counter in ["meridian_tls_messages_total ", "meridian_https_requests_total ", "meridian_quic_streams_total "] {
        let n: u64 = metrics.lines().find_map(|l| l.strip_prefix(counter)).unwrap().parse().unwrap();
        assert!(n >= queries.len() as u64, "{counter}{n}");
    }
    // /status lists the listeners and the certificate.
    let (_, status) = common::http(api, "GET", "/status", None, None);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let listeners: Vec<(String, String)> = status["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["transport"].as_str().unwrap().to_string(), l["address"].as_str().unwrap().to_string()))
        .collect();
    for (t, addr) in [("tls", s.dot), ("https", s.doh), ("quic", s.doq), ("udp", s.server.addr), ("tcp", s.server.addr)]
    {
        assert!(listeners.contains(&(t.to_string(), addr.to_string())), "{t} {addr}: {listeners:?}");
    }
    assert!(status["tls"]["expires_in_days"].as_i64().unwrap() > 300, "{}", status["tls"]);
    assert!(status["tls"]["names"].to_string().contains("localhost"), "{}", status["tls"]);
}

/// The padded answer is the unpadded one with a Padding option added: the same octets but for
/// the OPT record's length, then the option.
fn assert_padded(padded: &[u8], plain: &[u8]) {
    assert_eq!(padded.len() % 468, 0, "padded to the 468-octet block: {} octets", padded.len());
    let p = padded.len() - plain.len() - 4;
    assert_eq!(&padded[plain.len()..plain.len() + 4], &[0, 12, (p >> 8) as u8, p as u8]);
    assert!(padded[plain.len() + 4..].iter().all(|&b| b == 0));
    let differ: Vec<usize> = (0..plain.len()).filter(|&i| padded[i] != plain[i]).collect();
    assert!(differ.len() <= 2 && differ.windows(2).all(|w| w[1] == w[0] + 1), "{differ:?}");
    if let Some(&at) = differ.first() {
        let at = if differ.len() == 1 && at > 0 && padded[at - 1] == plain[at - 1] { at - 1 } else { at };
        let (new, old) =
            (u16::from_be_bytes([padded[at], padded[at + 1]]), u16::from_be_bytes([plain[at], plain[at + 1]]));
        assert_eq!(usize::from(new - old), 4 + p, "the OPT length grows by the option");
    }
}

#[test]
fn a_query_that_asks_for_padding_gets_it_on_encrypted_transports_only() {
    let s = Encrypted::start(Limits::default());
    let rt = runtime();
    rt.block_on(async {
        let (mut tls, port) = dot_connect(s.dot, s.client(b"dot")).await;
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        for (name, qtype) in
            [("www.example.com", 1u16), ("example.com", 255), ("nope.example.com", 1), ("example.com", 16)]
        {
            let q = build(7, name, qtype, Some(&[(ECS, &[0, 1, 24, 0, 81, 0, 1]), (PADDING, &[])]), false);
            let plain = s.reference(&udp, &q);
            // UDP ignores the request: no padding there.
            assert!(!plain.len().is_multiple_of(468));
            let padded = stream_query(&mut tls, &q).await.unwrap();
            assert_padded(&padded, &plain);
            // Without the option, no padding.
            let q = build(7, name, qtype, Some(&[]), false);
            assert_eq!(stream_query(&mut tls, &q).await.unwrap(), s.reference(&udp, &q));
        }
    });
}

/// The sorted addresses of a `+short` answer.
fn short(out: &str) -> Vec<String> {
    let mut v: Vec<String> =
        out.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(';')).map(String::from).collect();
    v.sort();
    v
}

fn kdig(args: &[&str]) -> String {
    let out = std::process::Command::new("kdig")
        .args(["+time=3", "+retry=0"])
        .args(args)
        .output()
        .expect("kdig is not installed: `apt-get install -y knot-dnsutils` (scripts/test.sh does this)");
    assert!(out.status.success(), "kdig {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The UDP answer for each region's client subnet, once dig and kdig over DoT and DoH got the
/// same; `Err` says which differed (a health view that changed while they asked, or a
/// transport that answers otherwise: the caller asks again, and only the first settles).
fn gslb_answers_over_every_client(s: &Encrypted, dot: &str, doh: &str) -> Result<Vec<Vec<String>>, String> {
    let mut regions = Vec::new();
    for subnet in ["81.0.0.0/16", "8.8.8.0/24", "1.0.16.0/24"] {
        let ecs = format!("+subnet={subnet}");
        let udp = short(&dig(s.server.addr.port(), &["www.example.com", "A", &ecs, "+short"]));
        assert!(!udp.is_empty(), "{subnet}: no answer");
        let over = [
            ("dig +tls", short(&dig(s.dot.port(), &["+tls", "www.example.com", "A", &ecs, "+short"]))),
            ("dig +https", short(&dig(s.doh.port(), &["+https", "www.example.com", "A", &ecs, "+short"]))),
            ("kdig +tls", short(&kdig(&["@127.0.0.1", "-p", dot, "+tls", "+short", &ecs, "www.example.com", "A"]))),
            ("kdig +https", short(&kdig(&["@127.0.0.1", "-p", doh, "+https", "+short", &ecs, "www.example.com", "A"]))),
            (
                "kdig +https-get",
                short(&kdig(&["@127.0.0.1", "-p", doh, "+https-get", "+short", &ecs, "www.example.com", "A"])),
            ),
        ];
        let after = short(&dig(s.server.addr.port(), &["www.example.com", "A", &ecs, "+short"]));
        if after != udp {
            return Err(format!("{subnet}: UDP {udp:?} then {after:?}"));
        }
        if let Some((client, got)) = over.iter().find(|(_, got)| *got != udp) {
            return Err(format!("{client} for {subnet}: {got:?}, UDP {udp:?}"));
        }
        regions.push(udp);
    }
    Ok(regions)
}

#[test]
fn dig_and_kdig_get_the_same_gslb_answer_by_ecs_as_udp_with_padding() {
    let s = Encrypted::start(Limits::default());
    let port = s.server.addr.port().to_string();
    let (dot, doh) = (s.dot.port().to_string(), s.doh.port().to_string());
    // The example's members are checked against loopback ports nothing listens on: in the
    // first seconds they go down one by one (each on its own jittered timer), and an answer
    // asked in between may differ from the one asked a moment before over another transport.
    // The comparison is made again (five times at most, two seconds apart) when an answer
    // differed: the health view settles within seconds, a transport that answers otherwise
    // fails every time.
    let mut regions = Vec::new();
    for attempt in 0.. {
        match gslb_answers_over_every_client(&s, &dot, &doh) {
            Ok(found) => {
                regions = found;
                break;
            }
            Err(changed) if attempt < 5 => {
                eprintln!("the health view changed during the comparison ({changed}): again");
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(changed) => panic!("the answers never settled: {changed}"),
        }
    }
    regions.dedup();
    assert_eq!(regions.len(), 3, "each region is answered from its own data center: {regions:?}");
    // Padding, as the clients show it.
    let out = dig(s.dot.port(), &["+tls", "+padding=468", "www.example.com", "A"]);
    assert!(out.contains("; PAD: (") && out.contains("MSG SIZE  rcvd: 468"), "{out}");
    let out = kdig(&["@127.0.0.1", "-p", &dot, "+tls", "+padding", "www.example.com", "A"]);
    assert!(out.to_lowercase().contains("padding"), "{out}");
    // And the plain port does not pad.
    let out = dig(s.server.addr.port(), &["+padding=468", "www.example.com", "A"]);
    assert!(!out.contains("; PAD: ("), "{out}");
    let _ = port;
}

#[test]
fn hickorys_doq_client_gets_the_same_gslb_answer_as_udp() {
    use hickory_net::quic::QuicClientStream;
    use hickory_net::xfer::{DnsRequestSender, FirstAnswer};
    use hickory_proto::op::{DnsRequest, DnsRequestOptions, Edns, Message, Query};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType};
    use std::str::FromStr;
    let s = Encrypted::start(Limits::default());
    let rt = runtime();
    for subnet in ["81.0.0.0/16", "8.8.8.0/24"] {
        let mut message = Message::query();
        message.add_query(Query::query(Name::from_ascii("www.example.com.").unwrap(), RecordType::A));
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::from_str(subnet).unwrap()));
        message.set_edns(edns);
        let got = rt.block_on(async {
            let config = (*s.client(b"doq")).clone();
            let mut stream =
                QuicClientStream::builder().crypto_config(config).build(s.doq, Arc::from("localhost")).await.unwrap();
            let request = DnsRequest::new(message.clone(), DnsRequestOptions::default());
            stream.send_message(request).first_answer().await.unwrap()
        });
        let mut got: Vec<String> = got.answers.iter().map(|r| r.data.to_string()).collect();
        got.sort();
        let udp = short(&dig(s.server.addr.port(), &["www.example.com", "A", &format!("+subnet={subnet}"), "+short"]));
        assert_eq!(got, udp, "{subnet}");
    }
}

/// The certificate a new DoT connection is shown.
fn presented(addr: SocketAddr, roots: &[CertificateDer<'static>]) -> Vec<u8> {
    runtime().block_on(async {
        let (tls, _) = dot_connect(addr, client_config(roots, b"dot")).await;
        tls.get_ref().1.peer_certificates().unwrap()[0].as_ref().to_vec()
    })
}

#[test]
fn a_new_certificate_is_served_after_reload_and_a_broken_one_is_refused() {
    let s = Encrypted::start(Limits::default());
    let (_, _, second) = certificate(s.dir.path(), "second");
    let roots = [s.cert.clone(), second.clone()];
    assert_eq!(presented(s.dot, &roots), s.cert.as_ref());
    let rt = runtime();
    // A connection open across the reloads keeps working.
    let (mut open, _) = rt.block_on(dot_connect(s.dot, client_config(&roots, b"dot")));
    let q = build(1, "www.example.com", 1, Some(&[]), false);
    assert!(rt.block_on(stream_query(&mut open, &q)).is_ok());

    let reload = || {
        let daemon = s.server.daemon.as_ref().unwrap();
        s.server.runtime.block_on(daemon.reloader.reload())
    };
    std::fs::copy(s.dir.path().join("second.crt"), &s.files.0).unwrap();
    std::fs::copy(s.dir.path().join("second.key"), &s.files.1).unwrap();
    let status = reload();
    assert!(status.ok, "{:?}", status.errors);
    assert_eq!(presented(s.dot, &roots), second.as_ref(), "DoT shows the new certificate");
    let quic = runtime().block_on(async {
        let endpoint = quic_endpoint(UdpSocket::bind("127.0.0.1:0").unwrap(), client_config(&roots, b"doq"));
        let c = endpoint.connect(s.doq, "localhost").unwrap().await.unwrap();
        c.peer_identity().unwrap().downcast::<Vec<CertificateDer<'static>>>().unwrap()[0].as_ref().to_vec()
    });
    assert_eq!(quic, second.as_ref(), "DoQ shows the new certificate");

    // A certificate that does not match its key: refused, named, and the last good one kept.
    let (third, _, _) = certificate(s.dir.path(), "third");
    std::fs::copy(&third, &s.files.0).unwrap();
    let status = reload();
    assert!(!status.ok);
    let error = status.errors.join("\n");
    assert!(error.contains("is not the key of tls-certificate") && error.contains("server.crt"), "{error}");
    assert_eq!(presented(s.dot, &roots), second.as_ref(), "the last good certificate stays");
    assert!(rt.block_on(stream_query(&mut open, &q)).is_ok(), "the open connection still answers");
}

#[test]
fn limits_cut_idle_and_slow_clients_and_refuse_the_extra_connection() {
    let limits = Limits {
        tls_connections: 2,
        tls_idle: Duration::from_millis(600),
        tls_handshake: Duration::from_millis(400),
        ..Limits::default()
    };
    let s = Encrypted::start(limits);
    let rt = runtime();
    let config = s.client(b"dot");
    let q = build(1, "www.example.com", 1, Some(&[]), false);
    rt.block_on(async {
        // Two connections are served; the third is closed at once, and the two keep working.
        let (mut a, _) = dot_connect(s.dot, config.clone()).await;
        let (mut b, _) = dot_connect(s.dot, config.clone()).await;
        let tcp = tokio::net::TcpStream::connect(s.dot).await.unwrap();
        let third = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_rustls::TlsConnector::from(config.clone()).connect(ServerName::try_from("localhost").unwrap(), tcp),
        )
        .await
        .expect("the refusal is immediate");
        assert!(third.is_err(), "a third connection is refused");
        assert!(stream_query(&mut a, &q).await.is_ok());
        assert!(stream_query(&mut b, &q).await.is_ok());
        // Idle: a connection without queries is closed after the idle timeout.
        let started = Instant::now();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), a.read(&mut buf)).await.expect("closed in time");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
        drop(b);
    });
    // A client that connects and never starts its handshake is cut at the handshake timeout.
    let mut slow = std::net::TcpStream::connect(s.dot).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1];
    assert!(matches!(slow.read(&mut buf), Ok(0) | Err(_)));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    let _ = slow.write_all(b"x");
    // QUIC: the third connection is refused while two are open.
    rt.block_on(async {
        let endpoint = quic_endpoint(UdpSocket::bind("127.0.0.1:0").unwrap(), s.client(b"doq"));
        let a = endpoint.connect(s.doq, "localhost").unwrap().await.unwrap();
        let b = endpoint.connect(s.doq, "localhost").unwrap().await.unwrap();
        let third = tokio::time::timeout(Duration::from_secs(3), endpoint.connect(s.doq, "localhost").unwrap())
            .await
            .expect("refused at once");
        assert!(third.is_err(), "a third QUIC connection is refused");
        let q0 = build(0, "www.example.com", 1, Some(&[]), false);
        assert!(doq_query(&a, &q0).await.is_ok() && doq_query(&b, &q0).await.is_ok());
        // A query with a Message ID other than 0 closes the connection (RFC 9250 §4.2.1).
        assert!(doq_query(&a, &q).await.is_err());
        match a.close_reason() {
            Some(quinn::ConnectionError::ApplicationClosed(close)) => {
                assert_eq!(close.error_code, quinn::VarInt::from_u32(2), "DOQ_PROTOCOL_ERROR");
                assert_eq!(&close.reason[..], b"message id not 0");
            }
            other => panic!("closed how? {other:?}"),
        }
        assert!(doq_query(&b, &q0).await.is_ok(), "the other connection goes on");
    });
    // DoH: an idle HTTP/2 connection is closed after the idle timeout (GOAWAY).
    rt.block_on(async {
        let (mut sender, _) = doh_connect(s.doh, s.client(b"h2")).await;
        assert_eq!(doh(&mut sender, "/dns-query", &q, true).await.0, 200);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(sender.ready().await.is_err() || sender.is_closed(), "the idle connection was closed");
    });
    let stats = &s.server.daemon.as_ref().unwrap().running.shared.stats;
    assert!(stats.tls_refused.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    assert!(stats.tls_handshakes_failed.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn doh_answers_http_mistakes_with_their_status() {
    let s = Encrypted::start(Limits::default());
    let rt = runtime();
    rt.block_on(async {
        let (mut sender, _) = doh_connect(s.doh, s.client(b"h2")).await;
        let q = build(0, "www.example.com", 1, Some(&[]), false);
        assert_eq!(doh(&mut sender, "/elsewhere", &q, true).await.0, 404);
        let wrong_type = hyper::Request::post("https://localhost/dns-query")
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(q.clone())))
            .unwrap();
        assert_eq!(sender.send_request(wrong_type).await.unwrap().status().as_u16(), 415);
        let put = hyper::Request::put("https://localhost/dns-query").body(Full::new(Bytes::new())).unwrap();
        let response = sender.send_request(put).await.unwrap();
        assert_eq!(response.status().as_u16(), 405);
        assert_eq!(response.headers().get("allow").unwrap(), "GET, POST");
        let bad = hyper::Request::get("https://localhost/dns-query?dns=!!!").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(sender.send_request(bad).await.unwrap().status().as_u16(), 400);
        let missing = hyper::Request::get("https://localhost/dns-query?ct=x").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(sender.send_request(missing).await.unwrap().status().as_u16(), 400);
        // A response is not a query: 400, and the connection goes on.
        let mut response_bytes = q.clone();
        response_bytes[2] |= 0x80;
        assert_eq!(doh(&mut sender, "/dns-query", &response_bytes, true).await.0, 400);
        assert_eq!(doh(&mut sender, "/dns-query", &q, false).await.0, 200);
    });
}

#[test]
fn zones_transfer_over_tls_to_the_permitted_addresses() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["example.com.zone", "example.com.toml"] {
        std::fs::copy(root().join("zones").join(f), dir.path().join(f)).unwrap();
    }
    let mut toml = std::fs::read_to_string(dir.path().join("example.com.toml")).unwrap();
    toml.push_str("\n[transfer]\nallow = [\"127.0.0.1\"]\n");
    std::fs::write(dir.path().join("example.com.toml"), toml).unwrap();
    let s = Encrypted::start_on(Limits::default(), dir.path());
    let records = |out: &str| {
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        v.sort();
        v
    };
    // The same tool both ways: dig and kdig write some records differently (alpn="h2,h3").
    let tcp = records(&kdig(&["@127.0.0.1", "-p", &s.server.addr.port().to_string(), "AXFR", "example.com"]));
    let tls = records(&kdig(&["@127.0.0.1", "-p", &s.dot.port().to_string(), "+tls", "AXFR", "example.com"]));
    assert!(tcp.len() > 20, "{tcp:#?}");
    assert_eq!(tls, tcp, "XFR over TLS sends what TCP does");
    // DoH carries one message per request: a transfer there is refused.
    let out = std::process::Command::new("kdig")
        .args(["@127.0.0.1", "-p", &s.doh.port().to_string(), "+https", "+time=3", "+retry=0", "AXFR", "example.com"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("REFUSED") && !text.contains("\tSOA\t"), "{text}");
}

#[test]
fn rate_limiting_stays_on_udp_and_the_query_log_names_the_transport() {
    let limits = Limits { rrl: Some(meridian::server::rrl::RrlConfig::new(1)), ..Limits::default() };
    let log = tempfile::NamedTempFile::new().unwrap();
    let path = log.path().to_path_buf();
    let s = Encrypted::start_with(limits, &root().join("zones"), |o| {
        o.query_log = Some((path.display().to_string(), 1.0));
    });
    let q = build(9, "static.example.com", 1, Some(&[]), false);
    // Over UDP, past one answer a second, replies are dropped or sent truncated.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut full = 0;
    for _ in 0..10 {
        sock.send_to(&q, s.server.addr).unwrap();
        let mut buf = [0u8; 1500];
        if let Ok((n, _)) = sock.recv_from(&mut buf)
            && n > 12
            && buf[2] & 0x02 == 0
        {
            full += 1;
        }
    }
    assert!(full <= 3, "rate limiting is on for UDP: {full} full answers");
    // Over DoT, DoH and DoQ every query is answered in full.
    runtime().block_on(async {
        let (mut tls, _) = dot_connect(s.dot, s.client(b"dot")).await;
        let (mut sender, _) = doh_connect(s.doh, s.client(b"h2")).await;
        let endpoint = quic_endpoint(UdpSocket::bind("127.0.0.1:0").unwrap(), s.client(b"doq"));
        let quic = endpoint.connect(s.doq, "localhost").unwrap().await.unwrap();
        let q0 = build(0, "static.example.com", 1, Some(&[]), false);
        for _ in 0..10 {
            let answers = [
                stream_query(&mut tls, &q).await.unwrap(),
                doh(&mut sender, "/dns-query", &q, true).await.3,
                doq_query(&quic, &q0).await.unwrap(),
            ];
            for a in answers {
                let m = hickory_proto::op::Message::from_vec(&a).unwrap();
                assert!(!m.metadata.truncation && m.answers.len() == 1, "{m:?}");
            }
        }
    });
    // The query log says which transport each query came over.
    let mut seen = std::collections::BTreeSet::new();
    common::wait_until(Duration::from_secs(5), || {
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            seen.insert(v["transport"].as_str().unwrap_or("none").to_string());
        }
        seen.len() >= 4
    });
    let want: std::collections::BTreeSet<String> = ["udp", "tls", "https", "quic"].map(String::from).into();
    assert_eq!(seen, want);
}

#[test]
fn start_refuses_missing_or_mismatched_certificates_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _, _) = certificate(dir.path(), "a");
    let (_, k2, _) = certificate(dir.path(), "b");
    let zones = root().join("zones");
    let zones = zones.to_str().unwrap();
    let (code, _, err) =
        common::meridian(&["serve", "--zones", zones, "--listen", "127.0.0.1:0", "--dot", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("dot: needs tls-certificate and tls-key"), "{err}");
    let (c, k2) = (c.to_str().unwrap(), k2.to_str().unwrap());
    let args = [
        "serve",
        "--zones",
        zones,
        "--listen",
        "127.0.0.1:0",
        "--no-watch",
        "--doq",
        "127.0.0.1:0",
        "--tls-certificate",
        c,
        "--tls-key",
        k2,
    ];
    let (code, _, err) = common::meridian(&args);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not the key of tls-certificate") && err.contains("a.crt"), "{err}");
    let missing = dir.path().join("missing.crt");
    let args = [
        "serve",
        "--zones",
        zones,
        "--listen",
        "127.0.0.1:0",
        "--no-watch",
        "--doh",
        "127.0.0.1:0",
        "--tls-certificate",
        missing.to_str().unwrap(),
        "--tls-key",
        k2,
    ];
    let (code, _, err) = common::meridian(&args);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("tls-certificate") && err.contains("missing.crt") && err.contains("cannot read"), "{err}");
}
