//! The UDP loop: receive a datagram, answer it synchronously, send the reply.
//!
//! Each socket is served by a fixed number of worker tasks, each handling one datagram at a
//! time, so the work in flight is bounded by [`udp_workers`] per socket and the kernel's
//! receive buffer is the only queue: under overload, datagrams are dropped by the kernel
//! rather than piling up as tasks in memory.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::Tally;
use super::rrl::Verdict;
use super::shared::{Shared, answer_guarded};
use crate::health::Snapshot;
use crate::query::{self, AnswerCache, MAX_UDP_PAYLOAD, Request, Transport};

/// Largest datagram read. A query is at most a few hundred octets; the buffer is sized to the
/// largest UDP payload so an oversized packet is read whole and refused as malformed rather
/// than cut short and misread.
const RECV_BUFFER: usize = 65_535;

/// Worker tasks per UDP socket: one per core, the most that can run at once. This is the bound
/// on in-flight UDP work (each worker answers one datagram at a time).
pub fn udp_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Serves `socket` with [`udp_workers`] tasks until the process stops.
pub fn spawn(socket: UdpSocket, shared: Arc<Shared>) -> Vec<tokio::task::JoinHandle<()>> {
    let socket = Arc::new(socket);
    (0..udp_workers())
        .map(|_| {
            let socket = socket.clone();
            let shared = shared.clone();
            tokio::spawn(async move { worker(socket, shared).await })
        })
        .collect()
}

async fn worker(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut input = vec![0u8; RECV_BUFFER];
    let mut output = Vec::with_capacity(usize::from(MAX_UDP_PAYLOAD));
    let mut cache = AnswerCache::new();
    let mut tally = Tally::default();
    loop {
        let (len, peer): (usize, SocketAddr) = match socket.recv_from(&mut input).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; they concern
                // one client, never the socket.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        let snapshot = shared.snapshot.load();
        let batch = Batch { snapshot: &snapshot, now: crate::cookie::now() };
        let send = reply(&shared, batch, &input[..len], peer, &mut output, &mut cache, &mut tally);
        tally.flush(&shared);
        if !send {
            continue;
        }
        if let Err(e) = socket.send_to(&output, peer).await {
            tracing::debug!(error = %e, %peer, "udp send error");
        }
    }
}

/// What the datagrams of one batch are answered from: one snapshot and one clock reading
/// (the batched loop reads both once per batch, the tokio loop once per datagram).
#[derive(Clone, Copy)]
pub(super) struct Batch<'a> {
    pub snapshot: &'a Snapshot,
    pub now: u32,
}

/// Answers one datagram into `output` and applies rate limiting; false when nothing is to be
/// sent. Shared by every UDP loop, so they answer exactly alike. The datagram is read once;
/// the answer, the rate limiter and the query log all get that reading.
pub(super) fn reply(
    shared: &Shared,
    batch: Batch<'_>,
    packet: &[u8],
    peer: SocketAddr,
    output: &mut Vec<u8>,
    cache: &mut AnswerCache,
    tally: &mut Tally,
) -> bool {
    tally.udp_queries += 1;
    if crate::transfer::secondary::is_notify(packet) {
        let answer =
            crate::transfer::secondary::answer_notify(&batch.snapshot.config, &shared.secondaries, packet, peer);
        output.clear();
        output.extend_from_slice(answer.as_deref().unwrap_or_default());
        return answer.is_some();
    }
    let request = Request::new(batch.snapshot, packet, peer, Transport::Udp, batch.now);
    let Some(outcome) = answer_guarded(shared, &request, output, Some(cache), tally) else {
        return false;
    };
    let Some(rrl) = &shared.rrl else {
        return true;
    };
    let qname = request.query().map_or(&[][..], |q| q.qname);
    match rrl.check(peer.ip(), qname, outcome.qtype.unwrap_or(0), outcome.rcode) {
        Verdict::Send => true,
        // A valid server cookie proves the source address: no spoofed flood carries one.
        _ if outcome.cookie => {
            tally.rrl_cookie_passed += 1;
            true
        }
        _ if rrl.config().dry_run => {
            tally.rrl_would_limit += 1;
            true
        }
        Verdict::Slip => match query::slip(&request, &outcome, output) {
            Some(_) => {
                tally.rrl_slipped += 1;
                true
            }
            // A reply to a packet that is not a query (FORMERR) has nothing to slip.
            None => {
                tally.rrl_dropped += 1;
                false
            }
        },
        Verdict::Drop => {
            tally.rrl_dropped += 1;
            false
        }
    }
}
