//! NOTIFY (RFC 1996): telling secondaries that a zone's serial moved, so they transfer it now
//! rather than at their next SOA refresh.
//!
//! A zone whose `[transfer] notify` lists addresses is announced when the server starts and
//! after every reload that changed its serial. Each address gets a NOTIFY over UDP (the zone's
//! SOA in the answer section, as BIND and Knot send it), sent again up to [`TRIES`] times, two
//! seconds apart, until it answers; the outcome is logged. Sending happens in its own tasks:
//! nothing waits for a secondary.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::dns::{class, flags, opcode, rcode, rtype};
use crate::query::encode::Writer;
use crate::transfer::tsig::{self, Key};

/// How many times a NOTIFY is sent before the secondary is given up on (BIND sends 5).
pub const TRIES: u32 = 5;
/// How long to wait for an answer before sending again.
const WAIT: Duration = Duration::from_secs(2);

/// Remembers the serial last announced for each zone.
#[derive(Debug, Default)]
pub struct Notifier {
    announced: Mutex<HashMap<Box<[u8]>, u32>>,
}

impl Notifier {
    /// Sends NOTIFY for every zone of `config` with `[transfer] notify` whose serial differs
    /// from the one last announced (every such zone, the first time). Needs a tokio runtime
    /// when there is anything to send.
    pub fn announce(&self, config: &Config) {
        let mut announced = crate::sync::lock(&self.announced);
        for zone in config.zones.zones() {
            let key = zone.origin().key();
            let Some(rules) = config.gslb.transfers.get(&key).filter(|t| !t.notify.is_empty()) else { continue };
            if announced.get(&key) == Some(&zone.serial()) {
                continue;
            }
            announced.insert(key, zone.serial());
            let message = message(zone.origin().wire(), zone.soa().ttl, zone.soa().first());
            for &target in &rules.notify {
                let (zone_name, serial, message) = (zone.origin().to_string(), zone.serial(), message.clone());
                let key = rules.keys.first().cloned();
                tokio::spawn(async move {
                    match send(&message, target, key.as_ref()).await {
                        Ok(code) if code == rcode::NOERROR => {
                            tracing::info!(zone = %zone_name, serial, %target, "NOTIFY acknowledged")
                        }
                        Ok(code) => tracing::warn!(
                            zone = %zone_name, serial, %target, rcode = crate::dns::rcode_to_text(code),
                            "NOTIFY refused by the secondary"
                        ),
                        Err(e) => tracing::warn!(zone = %zone_name, serial, %target, error = %e, "NOTIFY not answered"),
                    }
                });
            }
        }
    }
}

/// A NOTIFY for the zone `apex` with its SOA (`ttl`, `rdata`); the ID is set by [`send`].
fn message(apex: &[u8], ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    let mut w = Writer::new(&mut buf, 512);
    w.header(0, flags::AA | (u16::from(opcode::NOTIFY) << 11));
    w.question(apex, rtype::SOA, class::IN);
    let _ = w.record(0, apex, rtype::SOA, class::IN, ttl, rdata);
    buf
}

/// Sends `message` to `target`, signed with `key` when given, until it answers (at most
/// [`TRIES`] times); the answer's rcode. An answer to a signed NOTIFY must be signed too.
pub async fn send(message: &[u8], target: SocketAddr, key: Option<&Arc<Key>>) -> std::io::Result<u16> {
    let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = tokio::net::UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    let mut message = message.to_vec();
    let mut id = [0u8; 2];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| std::io::Error::other("no random numbers"))?;
    message[..2].copy_from_slice(&id);
    let mac = key.map(|k| tsig::sign(&mut message, k, None, true, tsig::now()));
    let mut reply = [0u8; 1232];
    for _ in 0..TRIES {
        socket.send(&message).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut reply)).await {
            let n = received?;
            let flags_word = if n >= 12 { u16::from_be_bytes([reply[2], reply[3]]) } else { 0 };
            // RFC 1996 §4.7: the answer has our ID, QR and the NOTIFY opcode.
            if n >= 12 && reply[..2] == id && flags_word & flags::QR != 0 && flags::opcode(flags_word) == opcode::NOTIFY
            {
                let rcode = flags_word & 0x000f;
                if let (Some(key), Some(mac)) = (key, &mac)
                    && rcode == rcode::NOERROR
                    && let Err(e) = tsig::Verifier::new(key.clone(), mac.clone()).verify(&reply[..n], tsig::now())
                {
                    return Err(std::io::Error::other(format!("the answer's TSIG: {e}")));
                }
                return Ok(rcode);
            }
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer after {TRIES} tries")))
}
