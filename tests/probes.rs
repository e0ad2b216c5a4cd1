//! Each kind of check against fake backends on 127.0.0.1:0: what passes, what fails, and that
//! every failure comes within the check's timeout or byte limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian::config::check::{Check, CheckKind};
use meridian::health::probe::Prober;
use meridian::zone::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn check(kind: CheckKind) -> Check {
    Check {
        kind,
        load: None,
        port: None,
        interval: Duration::from_secs(5),
        timeout: Duration::from_millis(500),
        rise: 2,
        fall: 3,
    }
}

fn http(tls: bool, body: Option<&str>, body_bytes: usize, insecure: bool) -> Check {
    check(CheckKind::Http {
        tls,
        path: "/health".into(),
        host: Some("backend.example".into()),
        statuses: vec![200],
        body: body.map(str::to_string),
        body_bytes,
        insecure,
    })
}

/// How a fake HTTP backend answers.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16, &'static str),
    /// Headers, then the body one byte every 100 ms.
    Slow,
    /// Headers, then an endless body.
    Endless,
}

/// Serves `reply` to every connection; returns the address and the last request's head.
async fn http_backend(reply: Reply) -> (SocketAddr, Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                *seen.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).into_owned();
                match reply {
                    Reply::Status(code, body) => {
                        let r = format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(r.as_bytes()).await;
                    }
                    Reply::Slow => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n").await;
                        for _ in 0..100 {
                            if s.write_all(b"x").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    Reply::Endless => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
                        let chunk = format!("{:x}\r\n{}\r\n", 8192, "y".repeat(8192));
                        // Bounded: at most 1 GiB, but the check stops reading long before.
                        for _ in 0..(1 << 17) {
                            if s.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn tcp_accept_and_refuse() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let p = Prober::new(check(CheckKind::Tcp), addr).unwrap();
        assert!(p.run().await.is_ok());
        drop(listener);
        let err = p.run().await.unwrap_err();
        assert!(err.contains("refused"), "{err}");
    });
}

#[test]
fn http_status_body_and_host() {
    rt().block_on(async {
        let (ok, seen) = http_backend(Reply::Status(200, "status: OK")).await;
        let r = Prober::new(http(false, Some("OK"), 4096, false), ok).unwrap().run().await;
        assert!(r.is_ok(), "{r:?}");
        let head = seen.lock().unwrap().clone();
        assert!(head.starts_with("GET /health HTTP/1.1"), "{head}");
        assert!(head.to_ascii_lowercase().contains(&format!("host: backend.example:{}", ok.port())), "{head}");

        let (bad, _) = http_backend(Reply::Status(500, "oops")).await;
        let err = Prober::new(http(false, None, 4096, false), bad).unwrap().run().await.unwrap_err();
        assert!(err.contains("answered 500"), "{err}");

        let (wrong, _) = http_backend(Reply::Status(200, "status: DEGRADED")).await;
        let err = Prober::new(http(false, Some("OK"), 4096, false), wrong).unwrap().run().await.unwrap_err();
        assert!(err.contains("'OK' is not in the first"), "{err}");

        // A redirect is judged by its status, not followed.
        let (moved, _) = http_backend(Reply::Status(302, "")).await;
        let err = Prober::new(http(false, None, 4096, false), moved).unwrap().run().await.unwrap_err();
        assert!(err.contains("answered 302"), "{err}");
    });
}

#[test]
fn slow_and_endless_bodies_fail_within_their_bounds() {
    rt().block_on(async {
        let (slow, _) = http_backend(Reply::Slow).await;
        let started = Instant::now();
        let err = Prober::new(http(false, Some("never"), 4096, false), slow).unwrap().run().await.unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());

        let (endless, _) = http_backend(Reply::Endless).await;
        let started = Instant::now();
        let err = Prober::new(http(false, Some("never"), 65536, false), endless).unwrap().run().await.unwrap_err();
        assert!(err.contains("not in the first 65536 bytes"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    });
}

#[test]
fn https_with_a_self_signed_certificate() {
    rt().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = rcgen::generate_simple_self_signed(vec!["backend.example".to_string()]).unwrap();
        let der = rustls::pki_types::CertificateDer::from(cert.cert.der().to_vec());
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![der], key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        let r = Prober::new(http(true, Some("OK"), 4096, true), addr).unwrap().run().await;
        assert!(r.is_ok(), "insecure = true accepts a self-signed certificate: {r:?}");
        let err = Prober::new(http(true, Some("OK"), 4096, false), addr).unwrap().run().await.unwrap_err();
        assert!(err.to_lowercase().contains("certificate"), "verification on refuses it: {err}");
    });
}

#[test]
fn dns_rcode() {
    rt().block_on(async {
        // A tiny DNS responder: NXDOMAIN for everything.
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let mut r = buf[..n].to_vec();
                r[2] |= 0x80;
                r[3] = (r[3] & 0xf0) | 3;
                let _ = sock.send_to(&r, peer).await;
            }
        });
        let qname = Name::parse("health.example.", None).unwrap();
        let want = |rcode| check(CheckKind::Dns { qname: qname.clone(), qtype: 1, rcode });
        assert!(Prober::new(want(3), addr).unwrap().run().await.is_ok());
        let err = Prober::new(want(0), addr).unwrap().run().await.unwrap_err();
        assert!(err.contains("answered rcode 3, expected 0"), "{err}");
        // Nothing listening: the check times out (UDP has no refusal to wait for).
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let started = Instant::now();
        let r = Prober::new(want(0), silent.local_addr().unwrap()).unwrap().run().await;
        assert!(r.is_err());
        assert!(started.elapsed() < Duration::from_millis(900));
    });
}

#[test]
fn a_backend_that_resets_the_tls_handshake_fails_fast() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                // Close with linger 0: the kernel answers with a reset. (Deprecated because a
                // non-zero linger blocks on drop; zero does not.)
                #[allow(deprecated)]
                let _ = s.set_linger(Some(Duration::ZERO));
                drop(s);
            }
        });
        let started = Instant::now();
        let r = Prober::new(http(true, None, 4096, true), addr).unwrap().run().await;
        assert!(r.is_err(), "{r:?}");
        assert!(started.elapsed() < Duration::from_millis(450), "{:?}", started.elapsed());
    });
}

#[test]
fn a_load_is_read_from_a_separate_url_after_the_check_passes() {
    use meridian::config::check::{Load, LoadSource};
    rt().block_on(async {
        let (lb, seen) = http_backend(Reply::Status(200, r#"{"cpu": {"load": 0.83}}"#)).await;
        let with = |mut c: Check, source: LoadSource, url: &str| {
            c.load = Some(Load { source, url: Some(url.to_string()) });
            c
        };
        // A TCP check (on the load backend itself) with the load on another URL, `{address}`
        // standing for the member's probe address.
        let url = format!("http://{{address}}:{}/load", lb.port());
        let tcp = with(check(CheckKind::Tcp), LoadSource::Json("cpu.load".into()), &url);
        let (text, load) = Prober::new(tcp, lb).unwrap().run_reading().await.unwrap();
        assert_eq!(load, Some(0.83), "{text}");
        assert!(text.contains(&format!("load 0.83 from http://127.0.0.1:{}/load", lb.port())), "{text}");
        assert!(seen.lock().unwrap().starts_with("GET /load HTTP/1.1"));

        // An HTTP check with a path: the check's own server, then the path.
        let (text, load) =
            Prober::new(with(http(false, None, 4096, false), LoadSource::Json("cpu.load".into()), "/stats"), lb)
                .unwrap()
                .run_reading()
                .await
                .unwrap();
        assert_eq!(load, Some(0.83), "{text}");
        let head = seen.lock().unwrap().clone();
        assert!(head.starts_with("GET /stats HTTP/1.1"), "the load page is read after the check: {head}");
        assert!(head.to_ascii_lowercase().contains("host: backend.example:"), "as the check reaches it: {head}");

        // A load page that cannot be read: the check still passes, the load is unknown, and
        // the text says why.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let gone = with(
            check(CheckKind::Tcp),
            LoadSource::Json("load".into()),
            &format!("http://127.0.0.1:{}/", closed.port()),
        );
        let (text, load) = Prober::new(gone, lb).unwrap().run_reading().await.unwrap();
        assert_eq!(load, None);
        assert!(text.contains("no load: http://127.0.0.1:") && text.contains("refused"), "{text}");
        let (missing, _) = http_backend(Reply::Status(404, "")).await;
        let c = with(check(CheckKind::Tcp), LoadSource::Json("load".into()), &format!("http://{missing}/load"));
        let (text, load) = Prober::new(c, lb).unwrap().run_reading().await.unwrap();
        assert_eq!(load, None);
        assert!(text.contains("answered 404"), "{text}");

        // HAProxy agent words at the load URL: a capacity, or down, which fails the check.
        let (agent, _) = http_backend(Reply::Status(200, "up 25%\n")).await;
        let c = with(check(CheckKind::Tcp), LoadSource::Agent, &format!("http://{agent}/agent"));
        assert_eq!(Prober::new(c, lb).unwrap().run_reading().await.unwrap().1, Some(0.75));
        let (down, _) = http_backend(Reply::Status(200, "down maintenance\n")).await;
        let c = with(check(CheckKind::Tcp), LoadSource::Agent, &format!("http://{down}/agent"));
        let err = Prober::new(c, lb).unwrap().run_reading().await.unwrap_err();
        assert!(err.contains("says 'down'"), "{err}");
    });
}
