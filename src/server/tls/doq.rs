//! DNS over QUIC (RFC 9250): one query per client-opened bidirectional stream, framed as over
//! TCP, answered on the same stream, which is then finished. QUIC is quinn's.
//!
//! Limits: connections per listener (the extra one is refused at once), the handshake
//! timeout, the idle timeout (QUIC's own), queries in flight per connection (the streams the
//! client may open at once; no unidirectional ones), and the time a stream may take to
//! deliver its query. A query whose Message ID is not 0, or a stream that is not one DNS
//! message, closes the connection with DOQ_PROTOCOL_ERROR (§4.2.1, §4.3.3).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use quinn::VarInt;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use crate::query::{MAX_TCP_MESSAGE, Request, Transport};
use crate::server::{Shared, Tally};

/// The ALPN token of DNS over QUIC (RFC 9250 §4.1.1).
pub const ALPN: &[u8] = b"doq";

/// RFC 9250 §4.3: no error (an idle connection closed).
const DOQ_NO_ERROR: u32 = 0;
/// RFC 9250 §4.3: the peer broke the protocol.
const DOQ_PROTOCOL_ERROR: u32 = 2;

/// A QUIC endpoint serving DoQ on `socket`, with the listener's limits.
pub fn endpoint(
    socket: std::net::UdpSocket,
    config: Arc<rustls::ServerConfig>,
    limits: &crate::server::Limits,
) -> std::io::Result<quinn::Endpoint> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(config)
        .map_err(|e| std::io::Error::other(format!("QUIC cannot use this TLS configuration: {e}")))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(limits.tls_idle)
        .map_err(|_| std::io::Error::other("tls-idle-timeout is too long for QUIC"))?;
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(limits.tls_streams))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .max_idle_timeout(Some(idle));
    server.transport_config(Arc::new(transport));
    quinn::Endpoint::new(quinn::EndpointConfig::default(), Some(server), socket, Arc::new(quinn::TokioRuntime))
}

/// Accepts connections on `endpoint` until the process stops.
pub async fn serve(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(shared.limits.tls_connections));
    while let Some(incoming) = endpoint.accept().await {
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            shared.stats.tls_refused.fetch_add(1, Ordering::Relaxed);
            incoming.refuse();
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            let handshake = async { incoming.accept()?.await };
            let connection = match timeout(shared.limits.tls_handshake, handshake).await {
                Ok(Ok(c)) => c,
                _ => {
                    shared.stats.tls_handshakes_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "doq handshake failed or not finished in time");
                    return;
                }
            };
            loop {
                match connection.accept_bi().await {
                    Ok((send, recv)) => {
                        let (shared, connection) = (shared.clone(), connection.clone());
                        tokio::spawn(async move { stream(send, recv, &connection, peer, &shared).await });
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "doq connection closed");
                        break;
                    }
                }
            }
            connection.close(VarInt::from_u32(DOQ_NO_ERROR), b"");
            drop(permit);
        });
    }
}

/// Answers the query of one stream.
async fn stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    connection: &quinn::Connection,
    peer: SocketAddr,
    shared: &Shared,
) {
    let mut tally = Tally::default();
    tally.quic_queries += 1;
    // The client finishes the stream after its query (§4.2); a stream that does not within
    // the I/O timeout is dropped (a "dangling" stream, §4.2.1).
    let data = match timeout(shared.limits.tcp_io, recv.read_to_end(2 + MAX_TCP_MESSAGE)).await {
        Ok(Ok(data)) => data,
        _ => {
            tally.flush(shared);
            let _ = send.reset(VarInt::from_u32(DOQ_PROTOCOL_ERROR));
            return;
        }
    };
    let framed = data.len() >= 14 && usize::from(u16::from_be_bytes([data[0], data[1]])) == data.len() - 2;
    if !framed || data[2..4] != [0, 0] {
        tally.dropped += 1;
        tally.flush(shared);
        let why: &[u8] = if framed { b"message id not 0" } else { b"not one length-prefixed DNS message" };
        connection.close(VarInt::from_u32(DOQ_PROTOCOL_ERROR), why);
        return;
    }
    let snapshot = shared.snapshot.load();
    let request = Request::new(&snapshot, &data[2..], peer, Transport::Quic, crate::cookie::now());
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&[0, 0]);
    let mut answer = Vec::with_capacity(512);
    let answered = crate::server::shared::answer_guarded(shared, &request, &mut answer, None, &mut tally);
    tally.flush(shared);
    if answered.is_none() {
        connection.close(VarInt::from_u32(DOQ_PROTOCOL_ERROR), b"not a DNS query");
        return;
    }
    out[..2].copy_from_slice(&(answer.len() as u16).to_be_bytes());
    out.extend_from_slice(&answer);
    let sent = timeout(shared.limits.tcp_io, send.write_all(&out)).await;
    if matches!(sent, Ok(Ok(()))) {
        let _ = send.finish();
    } else {
        let _ = send.reset(VarInt::from_u32(DOQ_PROTOCOL_ERROR));
    }
}
