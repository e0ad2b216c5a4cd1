//! The encrypted transports: DNS over TLS ([`dot`], RFC 7858), over HTTPS ([`doh`], RFC 8484,
//! HTTP/2) and over QUIC ([`doq`], RFC 9250), and the certificate they share.
//!
//! Each listener is a thin loop over a well-kept crate (tokio-rustls, hyper's HTTP/2, quinn)
//! that moves query bytes to the same `answer_guarded` as UDP and TCP and sends back exactly
//! the bytes it writes: there is no second resolver and no second encoder, so an answer over
//! any transport is the UDP answer apart from the transport's own rules (no truncation on
//! streams, padding when asked). ARCHITECTURE.md says why these are not hickory-server's
//! listeners.
//!
//! The certificate and key are read from PEM files at start (a missing, unreadable or
//! mismatched pair stops the start with the file named) and again at every reload; a pair that
//! no longer reads is refused and the one in use kept. Handshakes take whatever pair is
//! current ([`Certificates`] is the listeners' certificate resolver), so a reload never drops
//! a listener or a connection.

pub mod doh;
pub mod doq;
pub mod dot;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The HTTP path DoH is served on unless told otherwise (RFC 8484 §6 leaves it to the server;
/// every public resolver uses this one).
pub const DEFAULT_DOH_PATH: &str = "/dns-query";

/// Concurrent connections per encrypted listener. NSD's `tls` connections share `tcp-count`
/// (100); Knot's QUIC defaults to 10 000 open connections, but an authoritative server's
/// encrypted clients are resolvers, which keep few.
pub const MAX_TLS_CONNECTIONS: usize = 100;

/// How long an encrypted connection may stay without a query. Longer than TCP's: the
/// handshake is what costs, and RFC 7858 §3.4 asks servers to let clients reuse connections
/// (Unbound keeps them 30 s).
pub const TLS_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a TLS or QUIC handshake may take (hickory's and Knot's default is 5 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Queries one HTTP/2 or QUIC connection may have in flight at once (streams).
pub const MAX_TLS_STREAMS: u32 = 100;

/// What the encrypted listeners are started with.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// DNS over TLS addresses.
    pub dot: Vec<SocketAddr>,
    /// DNS over HTTPS addresses.
    pub doh: Vec<SocketAddr>,
    /// DNS over QUIC addresses.
    pub doq: Vec<SocketAddr>,
    /// The certificate chain (PEM), the server's certificate first.
    pub certificate: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// The DoH path ([`DEFAULT_DOH_PATH`] when `None`).
    pub doh_path: Option<String>,
}

impl TlsOptions {
    /// True when any encrypted listener is asked for.
    pub fn any(&self) -> bool {
        !(self.dot.is_empty() && self.doh.is_empty() && self.doq.is_empty())
    }

    /// The DoH path.
    pub fn doh_path(&self) -> &str {
        self.doh_path.as_deref().unwrap_or(DEFAULT_DOH_PATH)
    }
}

/// One certificate and key pair as read, with what `/status` and the metrics show of it.
#[derive(Debug)]
pub struct Loaded {
    /// What handshakes present.
    pub key: Arc<CertifiedKey>,
    /// The subject of the server's certificate.
    pub subject: String,
    /// The names it is valid for (subject alternative names).
    pub names: Vec<String>,
    /// Its validity, in seconds since the Unix epoch.
    pub not_before: i64,
    /// The end of its validity, in seconds since the Unix epoch.
    pub not_after: i64,
    /// When it was read, in seconds since the Unix epoch.
    pub loaded: u64,
}

/// The certificate the encrypted listeners present, swapped whole at reload.
#[derive(Debug)]
pub struct Certificates {
    /// The certificate chain file.
    pub certificate: PathBuf,
    /// The key file.
    pub key: PathBuf,
    current: ArcSwap<Loaded>,
}

impl Certificates {
    /// Reads the pair; the error names the file and what is wrong with it.
    pub fn load(certificate: &Path, key: &Path) -> Result<Certificates, String> {
        let loaded = read(certificate, key)?;
        warn_validity(&loaded, certificate);
        Ok(Certificates {
            certificate: certificate.to_path_buf(),
            key: key.to_path_buf(),
            current: ArcSwap::from_pointee(loaded),
        })
    }

    /// Reads the files again. `Ok(true)` when the pair changed and is now presented,
    /// `Ok(false)` when it is the same; on an error the pair in use stays.
    pub fn reload(&self) -> Result<bool, String> {
        let loaded = read(&self.certificate, &self.key)?;
        let current = self.current.load();
        let same = loaded.key.cert == current.key.cert
            && loaded.key.key.public_key().map(|k| k.as_ref().to_vec())
                == current.key.key.public_key().map(|k| k.as_ref().to_vec());
        if same {
            return Ok(false);
        }
        warn_validity(&loaded, &self.certificate);
        tracing::info!(
            subject = %loaded.subject,
            not_after = %format_time(loaded.not_after),
            "TLS certificate reloaded from {}",
            self.certificate.display()
        );
        self.current.store(Arc::new(loaded));
        Ok(true)
    }

    /// The pair presented now.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load().key.clone())
    }
}

fn read(certificate: &Path, key: &Path) -> Result<Loaded, String> {
    let cert_name = certificate.display();
    let key_name = key.display();
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls-certificate {cert_name}: {}", pem_error(&e)))?;
    let Some(first) = chain.first() else {
        return Err(format!("tls-certificate {cert_name}: no CERTIFICATE in the file (PEM expected)"));
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(first)
        .map_err(|e| format!("tls-certificate {cert_name}: the first certificate does not read: {e}"))?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls-key {key_name}: {}", pem_error(&e)))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&private)
        .map_err(|e| format!("tls-key {key_name}: not a usable key ({e}); RSA, ECDSA P-256/P-384 and Ed25519 are"))?;
    let pair = CertifiedKey::new(chain.clone(), signing);
    pair.keys_match().map_err(|e| format!("tls-key {key_name} is not the key of tls-certificate {cert_name} ({e})"))?;
    let names = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| san.value.general_names.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Ok(Loaded {
        key: Arc::new(pair),
        subject: parsed.subject().to_string(),
        names,
        not_before: parsed.validity().not_before.timestamp(),
        not_after: parsed.validity().not_after.timestamp(),
        loaded: unix_now(),
    })
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot read: {io}"),
        Error::NoItemsFound => "no item of the expected kind in the file (PEM expected)".into(),
        other => format!("not valid PEM: {other:?}"),
    }
}

fn warn_validity(loaded: &Loaded, file: &Path) {
    let now = unix_now() as i64;
    if loaded.not_after < now {
        tracing::warn!(
            "TLS certificate {} expired on {}: clients that check it will refuse the connection",
            file.display(),
            format_time(loaded.not_after)
        );
    } else if loaded.not_before > now {
        tracing::warn!("TLS certificate {} is not valid before {}", file.display(), format_time(loaded.not_before));
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A time as `2026-12-01T05:00:00Z`.
pub fn format_time(t: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(t).map_or_else(|_| t.to_string(), |a| a.to_string())
}

/// The TLS handshake of a connection accepted by a DoT or DoH listener, within the handshake
/// timeout; `None` (counted) when it fails or takes too long.
pub(super) async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: &crate::server::Shared,
    what: &str,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout(shared.limits.tls_handshake, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        failed => {
            shared.stats.tls_handshakes_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match failed {
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "{what} handshake failed"),
                _ => tracing::debug!(%peer, "{what} handshake not finished in time"),
            }
            None
        }
    }
}

/// The rustls configuration of a listener: the certificate from `certificates`, the ALPN
/// protocols offered, TLS 1.3 only when `tls13_only` (QUIC), else 1.2 and 1.3 (RFC 8310 §8.1).
pub fn server_config(certificates: Arc<Certificates>, alpn: &[&[u8]], tls13_only: bool) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()));
    let builder = if tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])
    } else {
        builder.with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }
    .expect("ring's provider supports TLS 1.2 and 1.3");
    let mut config = builder.with_no_client_auth().with_cert_resolver(certificates);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ns1.example.".into(), "localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn a_pair_loads_and_shows_its_names_and_validity() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = pair(dir.path(), "a");
        let certs = Certificates::load(&c, &k).unwrap();
        let now = certs.current();
        assert!(now.names.iter().any(|n| n.contains("localhost")), "{:?}", now.names);
        assert!(now.not_after > now.not_before);
        assert_eq!(certs.reload(), Ok(false), "the same files: nothing changes");
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_the_old_pair_stays() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = pair(dir.path(), "a");
        let (c2, k2) = pair(dir.path(), "b");
        let certs = Certificates::load(&c, &k).unwrap();
        let before = certs.current().key.cert.clone();
        let cases: [(&[u8], &[u8], &str); 4] = [
            (b"", b"", "no CERTIFICATE in the file"),
            (b"not pem\n", b"", "no CERTIFICATE in the file"),
            (&std::fs::read(&c2).unwrap(), &std::fs::read(&k).unwrap(), "is not the key of tls-certificate"),
            (&std::fs::read(&c).unwrap(), b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "tls-key"),
        ];
        for (cert, key, want) in cases {
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            let e = certs.reload().unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(e.contains(&c.display().to_string()) || e.contains(&k.display().to_string()), "{e}");
            assert_eq!(certs.current().key.cert, before, "the pair in use is kept");
        }
        let missing = Certificates::load(&dir.path().join("nope.crt"), &k2).unwrap_err();
        assert!(missing.starts_with("tls-certificate ") && missing.contains("cannot read"), "{missing}");
        // A good new pair replaces the old one.
        std::fs::copy(&c2, &c).unwrap();
        std::fs::copy(&k2, &k).unwrap();
        assert_eq!(certs.reload(), Ok(true));
        assert_ne!(certs.current().key.cert, before);
    }
}
