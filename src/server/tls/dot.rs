//! DNS over TLS (RFC 7858): the TCP framing inside TLS, served by the TCP loop's own
//! connection code once the handshake is done. Zone transfers are served here as over TCP
//! (XFR over TLS, RFC 9103), to the same addresses and keys.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::query::Transport;
use crate::server::Shared;
use crate::server::tcp::accept;

/// The ALPN token of DNS over TLS (RFC 7858 §3.2, RFC 9103 §7.1).
pub const ALPN: &[u8] = b"dot";

/// Accepts connections on `listener` until the process stops.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, config: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(config);
    let permits = Arc::new(Semaphore::new(shared.limits.tls_connections));
    loop {
        let (stream, peer, permit) = accept(&listener, &permits, &shared.stats.tls_refused, "dot").await;
        let (shared, acceptor) = (shared.clone(), acceptor.clone());
        tokio::spawn(async move {
            let Some(mut tls) = super::handshake(&acceptor, stream, peer, &shared, "dot").await else { return };
            let idle = shared.limits.tls_idle;
            if let Err(e) = crate::server::tcp::connection(&mut tls, peer, &shared, Transport::Tls, idle).await {
                tracing::debug!(error = %e, %peer, "dot connection closed");
            }
            // close_notify, then FIN: a client tells a clean end from a cut one.
            let _ = timeout(shared.limits.tcp_io, tls.shutdown()).await;
            drop(permit);
        });
    }
}
