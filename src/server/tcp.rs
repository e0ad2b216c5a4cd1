//! DNS over TCP (RFC 7766): length-prefixed messages, pipelining, and the limits an exposed
//! server needs.
//!
//! Queries on one connection are read one after another and answered in order as they arrive,
//! so a client may send many before reading any reply (RFC 7766 §6.2.1.1). A connection is
//! closed when it is idle too long, when a message or a reply takes too long to move, or on any
//! framing error. Connections beyond [`MAX_TCP_CONNECTIONS`] are accepted and closed at once,
//! so a client learns immediately instead of waiting in the backlog.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::Tally;
use super::shared::{Shared, answer_guarded};
use crate::query::{MAX_TCP_MESSAGE, Request, Transport};

/// Concurrent TCP connections served. NSD's `tcp-count` default is 100 and BIND's
/// `tcp-clients` 150; an authoritative server sees little TCP, so 100 is ample while keeping
/// memory bounded (each connection holds two 64 KiB buffers at most).
pub const MAX_TCP_CONNECTIONS: usize = 100;

/// How long a connection may wait for the first octet of its next query. RFC 7766 §6.2.3 asks
/// for timeouts of seconds rather than minutes; Knot's `tcp-idle-timeout` default is 10 s.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the rest of a message (or the whole reply) may take once it has started. Knot's
/// `tcp-io-timeout` default is 500 ms; four times that leaves room for slow links while a
/// client dripping one byte at a time is still cut off quickly.
pub const TCP_IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Accepts connections on `listener` until the process stops.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(shared.limits.tcp_connections));
    loop {
        let (stream, peer, permit) = accept(&listener, &permits, &shared.stats.tcp_refused, "tcp").await;
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let mut stream = stream;
            if let Err(e) = connection(&mut stream, peer, &shared, Transport::Tcp, shared.limits.tcp_idle).await {
                tracing::debug!(error = %e, %peer, "tcp connection closed");
            }
            drop(permit);
        });
    }
}

/// The next connection on `listener` within the limit `permits` keeps: connections beyond it
/// are accepted and closed at once (counted in `refused`), so a client learns immediately
/// instead of waiting in the backlog. `what` names the listener in the log.
pub(super) async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    refused: &std::sync::atomic::AtomicU64,
    what: &str,
) -> (tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "{what} accept error");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => return (stream, peer, permit),
            Err(_) => {
                refused.fetch_add(1, Ordering::Relaxed);
                drop(stream);
            }
        }
    }
}

/// Serves one connection of length-prefixed DNS messages: TCP, or DNS over TLS once its
/// handshake is done (`transport` says which). Returns when the peer closes, stays idle past
/// `idle`, or breaks the framing or the timeouts.
pub(super) async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    peer: SocketAddr,
    shared: &Shared,
    transport: Transport,
    idle: Duration,
) -> std::io::Result<()> {
    let mut input = vec![0u8; MAX_TCP_MESSAGE];
    let mut output = Vec::with_capacity(4096);
    loop {
        let mut prefix = [0u8; 2];
        // Idle: waiting for the first octet of the next message.
        match timeout(idle, stream.read(&mut prefix[..1])).await {
            Err(_) => return Ok(()),
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        let len = timeout(shared.limits.tcp_io, async {
            stream.read_exact(&mut prefix[1..]).await?;
            let len = usize::from(u16::from_be_bytes(prefix));
            stream.read_exact(&mut input[..len]).await?;
            Ok::<usize, std::io::Error>(len)
        })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "message not received in time"))??;
        // An Arc, not a guard: a transfer keeps it across its sends (TCP is few messages, so
        // the reference count costs nothing that matters).
        let snapshot = shared.snapshot.load_full();
        let mut tally = Tally::default();
        match transport {
            Transport::Tls => tally.tls_queries += 1,
            _ => tally.tcp_queries += 1,
        }
        if crate::transfer::secondary::is_notify(&input[..len]) {
            tally.flush(shared);
            let answer =
                crate::transfer::secondary::answer_notify(&snapshot.config, &shared.secondaries, &input[..len], peer);
            let Some(answer) = answer else { return Ok(()) };
            send(stream, &answer, shared, "reply not sent in time").await?;
            continue;
        }
        let request = Request::new(&snapshot, &input[..len], peer, transport, crate::cookie::now());
        // A zone transfer: built on a blocking thread from this snapshot (a large zone takes
        // a while, and no query waits for it), at most MAX_TRANSFERS_OUT at once; sent after.
        if request.query().is_some_and(|q| crate::transfer::is_transfer(q.qtype)) {
            match shared.transfers_out.try_acquire() {
                Ok(_permit) => {
                    let (snapshot, packet) = (snapshot.clone(), input[..len].to_vec());
                    let now = request.now;
                    let built = tokio::task::spawn_blocking(move || {
                        crate::transfer::respond(&Request::new(&snapshot, &packet, peer, transport, now))
                    })
                    .await
                    .unwrap_or_else(|_| Err(crate::transfer::Refusal::default()));
                    match built {
                        Ok(messages) => {
                            tally.flush(shared);
                            for message in messages {
                                if let Err(e) = send(stream, &message, shared, "transfer not sent in time").await {
                                    let mut failed = Tally::default();
                                    failed.transfers_failed += 1;
                                    failed.flush(shared);
                                    tracing::warn!(%peer, "transfer out stopped: {e}");
                                    return Err(e);
                                }
                            }
                            let mut served = Tally::default();
                            served.transfers_served += 1;
                            served.flush(shared);
                            continue;
                        }
                        Err(refusal) => {
                            tally.transfers_refused += 1;
                            tally.transfers_tsig_failed += u64::from(refusal.tsig);
                            if let Some(message) = refusal.message {
                                tally.flush(shared);
                                send(stream, &message, shared, "reply not sent in time").await?;
                                continue;
                            }
                        }
                    }
                }
                Err(_) => {
                    tally.transfers_refused += 1;
                    tracing::warn!(
                        %peer,
                        limit = crate::transfer::MAX_TRANSFERS_OUT,
                        "transfer refused: as many transfers as allowed are running"
                    );
                }
            }
        }
        let answered = answer_guarded(shared, &request, &mut output, None, &mut tally);
        tally.flush(shared);
        let Some(_) = answered else {
            // A packet we do not answer on UDP (a response, a runt) ends the TCP session: the
            // peer is not speaking DNS to us.
            return Ok(());
        };
        send(stream, &output, shared, "reply not sent in time").await?;
    }
}

/// Writes one message with its two-octet length within the I/O timeout; `late` says what
/// timed out.
async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    message: &[u8],
    shared: &Shared,
    late: &str,
) -> std::io::Result<()> {
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
    framed.extend_from_slice(message);
    timeout(shared.limits.tcp_io, async {
        stream.write_all(&framed).await?;
        // A TLS stream holds what is written until flushed; a TCP socket has nothing to flush.
        stream.flush().await
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, late.to_string()))?
}
