//! A load generator for DNS over QUIC and over HTTPS, used by `bench/encrypted.sh`: dnsperf
//! has no DoQ, and its DoH client (2.10, Debian 12) sends one request per 100 ms per
//! connection whatever the server does, so it measures itself.
//!
//! ```sh
//! cargo run --release --example encrypted_load -- doq 127.0.0.1:8853 www.example.com A 4 16 10 [ECS-HEX]
//! cargo run --release --example encrypted_load -- doh 127.0.0.1:8443 www.example.com A 4 16 10 [ECS-HEX]
//! ```
//!
//! Opens CONNECTIONS connections to the server (reused for the whole run) and keeps WINDOW
//! queries in flight on each (DoQ: one stream per query as RFC 9250 asks; DoH: HTTP/2 POSTs to
//! /dns-query) for SECONDS; prints `queries answered, seconds, QPS, errors`, counting only
//! NOERROR replies as answered. ECS-HEX is a Client Subnet option's value added to every query
//! (`00011800510001` is family 1, /24, 81.0.1). The server's certificate is not checked: this
//! measures a server you started yourself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn query(name: &str, qtype: u16, ecs: &[u8]) -> Vec<u8> {
    // Message ID 0 (RFC 9250 §4.2.1), RD clear, one question, an OPT record.
    let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    let options: Vec<u8> = if ecs.is_empty() {
        Vec::new()
    } else {
        [&8u16.to_be_bytes()[..], &(ecs.len() as u16).to_be_bytes(), ecs].concat()
    };
    q.extend_from_slice(&(options.len() as u16).to_be_bytes());
    q.extend_from_slice(&options);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    framed
}

/// Length prefix, then a NOERROR reply.
fn noerror(reply: &[u8]) -> Result<(), String> {
    match reply.get(3) {
        Some(flags) if flags & 0x0f == 0 && reply.len() >= 12 => Ok(()),
        _ => Err("not a NOERROR reply".into()),
    }
}

type Sender = hyper::client::conn::http2::SendRequest<http_body_util::Full<bytes::Bytes>>;

async fn one_doh(sender: &mut Sender, query: &bytes::Bytes) -> Result<(), String> {
    use http_body_util::BodyExt;
    let request = hyper::Request::post("https://localhost/dns-query")
        .header("content-type", "application/dns-message")
        .body(http_body_util::Full::new(query.clone()))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    noerror(&body)
}

async fn one(connection: &quinn::Connection, framed: &[u8]) -> Result<(), String> {
    let (mut send, mut recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
    send.write_all(framed).await.map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    let reply = recv.read_to_end(65537).await.map_err(|e| e.to_string())?;
    noerror(reply.get(2..).unwrap_or_default())
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 7 || !["doq", "doh"].contains(&args[0].as_str()) {
        eprintln!("usage: encrypted_load doq|doh ADDR:PORT NAME TYPE CONNECTIONS WINDOW SECONDS [ECS-HEX]");
        std::process::exit(2);
    }
    let doh = args.remove(0) == "doh";
    let addr: SocketAddr = args[0].parse().expect("ADDR:PORT");
    let qtype: u16 = match args[2].as_str() {
        "A" => 1,
        "AAAA" => 28,
        "TXT" => 16,
        other => other.parse().expect("TYPE: A, AAAA, TXT or a number"),
    };
    let (connections, window): (usize, usize) = (args[3].parse().unwrap(), args[4].parse().unwrap());
    let seconds: f64 = args[5].parse().unwrap();
    let ecs: Vec<u8> = args.get(6).map_or_else(Vec::new, |h| {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("ECS-HEX")).collect()
    });
    let framed = Arc::new(query(&args[1], qtype, &ecs));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (answered, errors, took) = runtime.block_on(async move {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        tls.alpn_protocols = vec![if doh { b"h2".to_vec() } else { b"doq".to_vec() }];
        let answered = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        if doh {
            let query = bytes::Bytes::copy_from_slice(&framed[2..]);
            let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
            let started = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let tcp = tokio::net::TcpStream::connect(addr).await.expect("TCP connect");
                tcp.set_nodelay(true).unwrap();
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let stream = connector.connect(name, tcp).await.expect("TLS handshake");
                let (sender, conn) = hyper::client::conn::http2::handshake(
                    hyper_util::rt::TokioExecutor::new(),
                    hyper_util::rt::TokioIo::new(stream),
                )
                .await
                .expect("HTTP/2 handshake");
                tokio::spawn(conn);
                for _ in 0..window {
                    let (mut sender, query) = (sender.clone(), query.clone());
                    let (answered, errors) = (answered.clone(), errors.clone());
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < deadline {
                            match one_doh(&mut sender, &query).await {
                                Ok(()) => answered.fetch_add(1, Ordering::Relaxed),
                                Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
            return (answered.load(Ordering::Relaxed), errors.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
        }
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls)).unwrap();
        let mut endpoint = quinn::Endpoint::client("0.0.0.0:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let connection = endpoint.connect(addr, "localhost").unwrap().await.expect("QUIC handshake");
            for _ in 0..window {
                let (connection, framed) = (connection.clone(), framed.clone());
                let (answered, errors) = (answered.clone(), errors.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        match one(&connection, &framed).await {
                            Ok(()) => answered.fetch_add(1, Ordering::Relaxed),
                            Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                }));
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        (answered.load(Ordering::Relaxed), errors.load(Ordering::Relaxed), started.elapsed().as_secs_f64())
    });
    println!("queries {answered} seconds {took:.2} qps {:.0} errors {errors}", answered as f64 / took);
}
